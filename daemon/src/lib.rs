//! The edge daemon library: `edged run` serves models over HTTP and MQTT, buffers every
//! prediction and label in sled, and keeps on-device metrics; `edged predict` is the by-hand
//! path. `main` only parses arguments and calls [`cli::run`].

pub mod cli;
pub mod config;
pub mod daemon;
pub mod http;
pub mod metrics;
pub mod mqtt;
pub mod predict;
pub mod registry;
pub mod service;
pub mod shadow;
pub mod status;
pub mod store;
pub mod systemd;
pub mod updates;
pub mod uplink;
