//! ONNX → our model format, through onnx-ir.
//!
//! onnx-ir parses the protobuf, resolves opset differences, infers types and folds constants;
//! we map each of its typed nodes to an [`Op`] with normalised attributes, and move every
//! constant input into the weights file. Anything we cannot run exactly is an error naming the
//! op, the node and what we support: a model is never imported half-right.
//!
//! This module reads and prechecks the file and assembles the result; `signature` reads the
//! graph's inputs and outputs, `converter` keeps the weights and value names, and `ops` holds
//! one converter per op family, behind a dispatch that routes each node type to its family.

mod converter;
mod ops;
mod signature;
pub(crate) mod supported;

pub use supported::SUPPORTED_OPS;

use std::collections::BTreeMap;
use std::path::Path;

use edge_model::format::{FORMAT_VERSION, ModelSpec, NodeSpec, Op};
use edge_model::weights::Weights;
use onnx_ir::{Message, ModelProto, OnnxGraphBuilder};

use crate::import::error::ImportError;
use converter::Converter;
use signature::signature;

/// Largest ONNX file imported (2 GiB, protobuf's own limit).
pub const MAX_ONNX_BYTES: u64 = 2 << 30;

/// A converted model, not yet verified or written.
#[derive(Debug)]
pub struct Converted {
    pub spec: ModelSpec,
    pub weights: Weights,
}

/// Converts the ONNX file at `path`.
pub fn convert(path: &Path, name: &str, version: u64) -> Result<Converted, ImportError> {
    let display = path.display().to_string();
    let bytes = edge_model::read_bounded(path, MAX_ONNX_BYTES).map_err(|e| ImportError::Read {
        path: display.clone(),
        reason: e.to_string(),
    })?;
    let proto = ModelProto::parse_from_bytes(&bytes).map_err(|e| ImportError::Parse {
        path: display.clone(),
        reason: e.to_string(),
    })?;
    let opset = proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .unwrap_or(0);
    precheck(&proto, &display)?;
    // onnx-ir asserts on a few malformed inputs; a hostile file must give an error, not abort.
    let parsed = std::panic::catch_unwind(|| OnnxGraphBuilder::new().parse_bytes(&bytes));
    let graph = match parsed {
        Ok(Ok(graph)) => graph,
        Ok(Err(e)) => {
            return Err(ImportError::Parse {
                path: display,
                reason: e.to_string(),
            });
        }
        Err(_) => {
            return Err(ImportError::Parse {
                path: display,
                reason: "the ONNX parser failed on this file (malformed graph)".into(),
            });
        }
    };
    let mut converter = Converter::new();
    let inputs = signature(&proto, &graph.inputs, "input", &mut converter.renames)?;
    let mut output_renames = BTreeMap::new();
    let outputs = signature(&proto, &graph.outputs, "output", &mut output_renames)?;
    for node in &graph.nodes {
        converter.node(node)?;
    }
    // onnx-ir removes no-op nodes (Identity, Dropout) and may rename values, so a graph output
    // can end up named after the value it copies: an Identity node restores the declared name.
    for (internal, declared) in output_renames {
        let source = converter
            .renames
            .get(&internal)
            .cloned()
            .unwrap_or(internal);
        converter.nodes.push(NodeSpec {
            name: format!("output:{declared}"),
            op: Op::Identity,
            inputs: vec![source],
            outputs: vec![declared],
        });
    }
    crate::import::optimize::optimize(&mut converter.nodes, &mut converter.weights, &outputs);
    let spec = ModelSpec {
        format_version: FORMAT_VERSION,
        name: name.to_string(),
        version,
        producer: format!(
            "onnx-ir 0.22 from {} (opset {opset}, producer {} {})",
            path.file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            proto.producer_name,
            proto.producer_version
        ),
        inputs,
        outputs,
        nodes: converter.nodes,
    };
    Ok(Converted {
        spec,
        weights: converter.weights,
    })
}

/// Refuses files with no graph and ops we do not run, naming the node as the file names it
/// (onnx-ir renames nodes by type and counter).
fn precheck(proto: &ModelProto, path: &str) -> Result<(), ImportError> {
    let graph = proto
        .graph
        .as_ref()
        .filter(|g| !g.node.is_empty() && !g.output.is_empty());
    let Some(graph) = graph else {
        return Err(ImportError::Parse {
            path: path.to_string(),
            reason: "the file holds no graph (no nodes or no outputs)".into(),
        });
    };
    for (index, node) in graph.node.iter().enumerate() {
        let standard = node.domain.is_empty() || node.domain == "ai.onnx";
        if !standard || !SUPPORTED_OPS.contains(&node.op_type.as_str()) {
            let op = if standard {
                node.op_type.clone()
            } else {
                format!("{}::{}", node.domain, node.op_type)
            };
            return Err(ImportError::UnsupportedOp {
                node: if node.name.is_empty() {
                    format!("#{index}")
                } else {
                    node.name.clone()
                },
                op,
                detail: String::new(),
            });
        }
    }
    Ok(())
}
