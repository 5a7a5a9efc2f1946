//! The fleet server library: model import (ONNX → verified model directory), signing and
//! publishing releases, `fleet serve` (embedded broker, device ingest, rollouts, admin API),
//! the admin API's client and the demo. The `fleet` binary is a thin CLI over it (`cli/`).

pub mod admin_client;
pub mod cli;
pub mod demo;
pub mod import;
pub mod release;
pub mod serve;
