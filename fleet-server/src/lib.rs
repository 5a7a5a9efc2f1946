//! The fleet server library: model import (ONNX → verified model directory) and `fleet
//! serve` (embedded broker, device ingest, admin API). The `fleet` binary is a thin CLI over it.

pub mod cli;
pub mod demo;
pub mod devices_cli;
pub mod export_cli;
pub mod import;
pub mod release;
pub mod release_cli;
pub mod rollout_cli;
pub mod serve;
