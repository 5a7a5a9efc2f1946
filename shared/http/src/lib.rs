//! The HTTP server loop both binaries serve their APIs with (`edged`'s local API, `fleet`'s
//! admin API), instead of `axum::serve`, for the bounds a server on a shared network needs:
//! a cap on open connections, a deadline for a request's headers (`server`) and, for routers
//! that read whole bodies, a size cap and a deadline for the body (`body`). Idle, slow and
//! oversized clients are cut off, so their connections and memory go to real clients.

mod body;
mod server;

pub use body::read_body_first;
pub use server::{Limits, run};
