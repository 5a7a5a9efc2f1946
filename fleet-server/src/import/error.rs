//! The one error type of model import, from reading the ONNX file to writing the model
//! directory, so that `fleet model import`, the demo and the tests match on one enum.
//!
//! Conversion errors name the op and the node (as the file or onnx-ir names it) and what we
//! support instead; verification and write errors name the case or the path.

use std::path::PathBuf;

use edge_model::ModelError;
use edge_model::checks::OutputDiff;
use onnx_ir::Node;

use super::onnx::supported;

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// `reason` (from `edge_model::read_bounded`) names the path already.
    #[error("{reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not a valid ONNX model: {reason}")]
    Parse { path: String, reason: String },
    #[error(
        "node '{node}': op {op} is not supported{detail}. Supported ops (see {}): {} (Conv and pools in 1-D and 2-D)",
        supported::OPS_DOC,
        supported::names().collect::<Vec<_>>().join(", ")
    )]
    UnsupportedOp {
        node: String,
        op: String,
        detail: String,
    },
    #[error(
        "node '{node}': attribute {attribute} of {op} {why}; {} lists what each op supports",
        supported::OPS_DOC
    )]
    UnsupportedAttribute {
        node: String,
        op: String,
        attribute: String,
        why: String,
    },
    #[error("node '{node}' ({op}): {reason}")]
    Unsupported {
        node: String,
        op: String,
        reason: String,
    },
    #[error("graph {what} '{name}': {reason}")]
    Signature {
        what: &'static str,
        name: String,
        reason: String,
    },
    /// Loading, running or storing the converted model (or reading the check file) failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("invalid model name '{0}': use 1-64 letters, digits, '-', '_' or '.'")]
    Name(String),
    #[error(
        "conversion does not match the reference outputs (worst: case '{case}', output '{output}', max |diff| {max_abs:e}); nothing was written"
    )]
    Mismatch {
        case: String,
        output: String,
        max_abs: f32,
        diffs: Vec<OutputDiff>,
    },
    #[error("{path} already exists and is not an empty directory")]
    OutExists { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ImportError {
    /// A parsed node we cannot run exactly, named as onnx-ir names it.
    pub(crate) fn unsupported(node: &Node, reason: impl Into<String>) -> Self {
        Self::Unsupported {
            node: node.name().to_string(),
            op: node.node_type().to_string(),
            reason: reason.into(),
        }
    }
}
