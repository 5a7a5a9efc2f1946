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

mod control_flow;
mod converter;
mod custom;
mod ops;
pub mod shapes;
pub(crate) mod signature;
pub(crate) mod supported;
mod zipmap;

pub use supported::{CLAIMS, Claim};

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
    /// What the conversion fixed and folded, for the operator.
    pub notes: Vec<String>,
}

/// Converts the ONNX file at `path`.
pub fn convert(path: &Path, name: &str, version: u64) -> Result<Converted, ImportError> {
    convert_with(path, name, version, &[])
}

/// Converts the ONNX file at `path`, with the input shapes the operator fixed.
pub fn convert_with(
    path: &Path,
    name: &str,
    version: u64,
    input_shapes: &[shapes::InputShape],
) -> Result<Converted, ImportError> {
    let display = path.display().to_string();
    let bytes = edge_model::read_bounded(path, MAX_ONNX_BYTES).map_err(|e| ImportError::Read {
        path: display.clone(),
        reason: e.to_string(),
    })?;
    let mut proto = ModelProto::parse_from_bytes(&bytes).map_err(|e| ImportError::Parse {
        path: display.clone(),
        reason: e.to_string(),
    })?;
    let mut notes = zipmap::strip(&mut proto)?;
    let stripped = !notes.is_empty();
    precheck(&proto, &display)?;
    shapes::apply(&mut proto, input_shapes)?;
    for s in input_shapes {
        notes.push(format!("fixed input {s}"));
    }
    let rerouted = custom::reroute(&mut proto);
    let bytes = if input_shapes.is_empty() && !rerouted && !stripped {
        bytes
    } else {
        proto.write_to_bytes().map_err(|e| ImportError::Parse {
            path: display.clone(),
            reason: e.to_string(),
        })?
    };
    let onnx_nodes = proto.graph.as_ref().map_or(0, |g| g.node.len());
    let opset = proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .unwrap_or(0);
    // onnx-ir asserts on a few malformed inputs; a hostile file must give an error, not abort.
    let parsed = std::panic::catch_unwind(|| {
        OnnxGraphBuilder::new()
            .with_custom_op_inference(custom::Hooks::shared())
            .parse_bytes(&bytes)
    });
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
    control_flow::reads(&graph.nodes, &mut converter.used);
    converter
        .used
        .extend(graph.outputs.iter().map(|a| a.name.clone()));
    let inputs = signature(&proto, &graph.inputs, "input", &mut converter.renames)?;
    if inputs.is_empty() {
        return Err(ImportError::Signature {
            what: "input",
            name: "*".into(),
            reason: "the graph has no inputs (a constant model): nothing to serve".into(),
        });
    }
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
            when: Vec::new(),
        });
    }
    let before = converter.nodes.len();
    crate::import::optimize::optimize(
        &mut converter.nodes,
        &mut converter.weights,
        &inputs,
        &outputs,
    );
    notes.push(format!(
        "{onnx_nodes} ONNX nodes became {before} after onnx-ir's folding and fusions, {} after ours \
         (constants folded, BatchNormalization and per-channel Mul/Add/Sub into Conv and Linear, activations into Conv, Identity removed)",
        converter.nodes.len()
    ));
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
        notes,
    })
}

/// Refuses files with no graph and ops we do not run, naming the node as the file names it
/// (onnx-ir renames nodes).
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
    signature::precheck_types(graph)?;
    match refusals(graph).into_iter().next() {
        Some(refusal) => Err(refusal.into()),
        None => Ok(()),
    }
}

/// A node this build does not run: its op, or one of its attributes, is not claimed.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    Op {
        node: String,
        op: String,
    },
    Attribute {
        node: String,
        op: String,
        attribute: String,
        why: String,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Op { node, op } => write!(f, "node '{node}': op {op} is not supported"),
            Refusal::Attribute {
                node,
                op,
                attribute,
                why,
            } => write!(f, "node '{node}': attribute {attribute} of {op} {why}"),
        }
    }
}

impl From<Refusal> for ImportError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Op { node, op } => ImportError::UnsupportedOp {
                detail: supported::refusal_detail(&op).to_string(),
                node,
                op,
            },
            Refusal::Attribute {
                node,
                op,
                attribute,
                why,
            } => ImportError::UnsupportedAttribute {
                node,
                op,
                attribute,
                why,
            },
        }
    }
}

/// Every node of `graph` whose op or attributes are not claimed (`supported.rs`), in order.
pub fn refusals(graph: &onnx_ir::GraphProto) -> Vec<Refusal> {
    let mut out = Vec::new();
    for (index, node) in graph.node.iter().enumerate() {
        let standard = node.domain.is_empty() || node.domain == "ai.onnx";
        let name = if node.name.is_empty() {
            format!("#{index}")
        } else {
            node.name.clone()
        };
        // Ops of other domains are claimed under their domain's name (`ai.onnx.ml::...`).
        let op = if standard {
            node.op_type.clone()
        } else {
            format!("{}::{}", node.domain, node.op_type)
        };
        let Some(claim) = supported::claim_for(&op) else {
            out.push(Refusal::Op { node: name, op });
            continue;
        };
        // An If's branches are graphs of their own: their nodes are checked the same way.
        for branch in node.attribute.iter().filter_map(|a| a.g.as_ref()) {
            out.extend(refusals(branch));
        }
        // Dropout's third input switches training mode on (random masks): refused unless it
        // is a constant false.
        if node.op_type == "Dropout"
            && let Some(mode) = node.input.get(2).filter(|n| !n.is_empty())
        {
            let off = graph
                .initializer
                .iter()
                .find(|i| &i.name == mode)
                .is_some_and(|i| {
                    i.raw_data.iter().all(|&b| b == 0) && i.int32_data.iter().all(|&v| v == 0)
                });
            if !off {
                out.push(Refusal::Attribute {
                    node: name.clone(),
                    op: node.op_type.clone(),
                    attribute: "training_mode (input 3)".into(),
                    why: "is not supported: only inference (no random dropout)".into(),
                });
                continue;
            }
        }
        for attribute in &node.attribute {
            let key = attribute.name.as_str();
            let why = if !claim.attributes.contains(&key) {
                Some("is not supported".to_string())
            } else {
                supported::ONLY_DEFAULT
                    .iter()
                    .find(|(o, a, _)| *o == op && *a == key)
                    .filter(|(_, _, default)| attribute.i != *default)
                    .map(|(_, _, default)| {
                        format!("= {} is not supported (only {default})", attribute.i)
                    })
            };
            if let Some(why) = why {
                out.push(Refusal::Attribute {
                    node: name.clone(),
                    op: op.clone(),
                    attribute: key.to_string(),
                    why,
                });
                break;
            }
        }
    }
    out
}
