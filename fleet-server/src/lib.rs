//! The fleet server library. Today: model import (ONNX → verified model directory).
//! The `fleet` binary is a thin CLI over it.

pub mod cli;
pub mod model;
