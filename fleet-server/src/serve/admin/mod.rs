//! The admin API (JSON over HTTP, bearer token): devices, approval, desired versions,
//! rollouts, ingest counters and the records export.
//!
//! `GET /api/devices`, `GET /api/devices/{id}`, `GET /api/devices/{id}/metrics`,
//! `GET|POST /api/devices/{id}/desired`, `POST /api/devices/{id}/approve|revoke`,
//! `GET /api/stats`, `GET|POST /api/rollouts`, `GET /api/rollouts/{id}`,
//! `POST /api/rollouts/{id}/pause|resume|abort|rollback`,
//! `GET /api/records/export?model=M[&since_ms=T][&all=true]` (JSON lines of predictions joined
//! with labels, streamed; `x-records-total` gives the count first).
//! Every request needs `Authorization: Bearer TOKEN` (`auth.rs`, one route layer); every
//! refusal is an [`AdminError`] (`error.rs`); the bodies are in [`types`], shared with
//! `crate::admin_client`.

mod auth;
mod devices;
mod error;
mod records;
mod rollouts;
pub mod types;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

pub use error::AdminError;

use super::broker::FrontStats;
use super::ingest::Ingest;

/// What every handler gets.
#[derive(Debug, Clone)]
struct AdminState {
    ingest: Arc<Ingest>,
    /// The embedded broker front's counters (zero with an external broker).
    broker: Arc<FrontStats>,
    token: Arc<str>,
}

/// The admin API's routes, behind the token check.
/// `bodies`: the largest request body and the time it may take to arrive, checked after the
/// token (an unauthenticated client never makes the fleet buffer a body).
pub fn router(
    ingest: Arc<Ingest>,
    broker: Arc<FrontStats>,
    token: &str,
    bodies: (usize, std::time::Duration),
) -> Router {
    let state = AdminState {
        ingest,
        broker,
        token: token.into(),
    };
    Router::new()
        .route("/api/devices", get(devices::list))
        .route("/api/devices/{id}", get(devices::show))
        .route("/api/devices/{id}/metrics", get(devices::metrics))
        .route(
            "/api/devices/{id}/desired",
            get(devices::desired).post(devices::set_desired),
        )
        .route("/api/devices/{id}/approve", post(devices::approve))
        .route("/api/devices/{id}/revoke", post(devices::revoke))
        .route("/api/stats", get(records::stats))
        .route("/api/rollouts", get(rollouts::list).post(rollouts::create))
        .route("/api/rollouts/{id}", get(rollouts::show))
        .route("/api/rollouts/{id}/{action}", post(rollouts::act))
        .route("/api/records/export", get(records::export))
        .route_layer(axum::middleware::from_fn(move |request, next| {
            edge_http::read_body_first(request, next, bodies.0, bodies.1)
        }))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .fallback(|| async { AdminError::NoEndpoint })
        .with_state(state)
}

/// Parses a JSON request body; a body that does not parse is a 400 saying `what` was expected.
fn parse_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: impl FnOnce(serde_json::Error) -> String,
) -> Result<T, AdminError> {
    serde_json::from_slice(body).map_err(|e| AdminError::BadRequest(what(e)))
}
