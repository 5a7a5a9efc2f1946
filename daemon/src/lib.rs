//! The edge daemon library. Today: `predict`, the by-hand inference path that the daemon's
//! HTTP and MQTT front ends will share.

pub mod cli;
pub mod predict;
