//! The model runtime shared by `edged` and `fleet`: [`executor`] runs a model of our format
//! on Burn tensors on the CPU (burn-flex) or GPU (burn-wgpu). The format itself — graph,
//! weights, OIP types, check cases, errors — is `edge-format` (no Burn, so the parsers of
//! outside bytes can be fuzzed without building Burn), re-exported here under the same paths.

pub mod executor;

pub use edge_format::{ModelError, Result, checks, error, format, oip, read_bounded, weights};
pub use executor::{BackendKind, DeviceChoice, LoadOptions, LoadReport, Model, NodeTime};
pub use weights::HostTensor;
