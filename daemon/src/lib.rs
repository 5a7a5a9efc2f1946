//! The edge daemon library: `edged run` serves models over HTTP and MQTT, buffers every
//! prediction and label in sled, keeps on-device metrics, and syncs with the fleet;
//! `edged predict` is the by-hand path. `main` only parses arguments and calls [`cli::run`].
//!
//! Layers, each importing only the ones below it:
//! `cli` → `app` → {`http`, `mqtt`, `fleet`, `systemd`} → `service` → {`registry`, `store`,
//! `metrics`, `compute`} → `config` and the shared crates.

pub mod app;
pub mod cli;
pub mod compute;
/// The configuration, in its own Burn-free crate so `fuzz/` can fuzz the checker.
pub use edged_config as config;
pub mod fleet;
pub mod http;
pub mod metrics;
pub mod mqtt;
pub mod registry;
pub mod service;
pub mod store;
pub mod systemd;
