//! The one error type of the model crate: every failure names the file, node or tensor it is
//! about, so an operator reading a log line knows what to fix.

use std::path::PathBuf;

/// Everything that can go wrong loading, validating or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid model description: {reason}")]
    Spec { path: PathBuf, reason: String },
    #[error(
        "{path}: model format version {found} is not supported (this build reads version {supported})"
    )]
    FormatVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("invalid model graph: {0}")]
    Graph(String),
    #[error("{path}: invalid weights file: {reason}")]
    Weights { path: PathBuf, reason: String },
    #[error("{what} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { what: String, size: u64, limit: u64 },
    /// The model needs more memory than its budget (`LoadOptions::max_memory`): at load for
    /// its weights, or in a run (the warm-up's included) for what its ops make.
    #[error("the model's memory budget of {budget} bytes is spent: {reason}")]
    Memory { budget: u64, reason: String },
    #[error("invalid request: {0}")]
    Request(String),
    #[error("node '{node}' ({op}) failed: {reason}")]
    Execution {
        node: String,
        op: &'static str,
        reason: String,
    },
    #[error("device '{device}' is unusable: {reason}")]
    Device { device: String, reason: String },
    #[error("check case '{case}' failed: {reason}")]
    Check { case: String, reason: String },
}

impl ModelError {
    pub fn graph(reason: impl Into<String>) -> Self {
        Self::Graph(reason.into())
    }
    pub fn request(reason: impl Into<String>) -> Self {
        Self::Request(reason.into())
    }
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;
