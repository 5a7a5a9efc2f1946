//! `fleet model inspect`: what a model is and whether this build can run it, without writing
//! anything. For an ONNX file: its inputs and outputs (with symbolic dimensions), its ops with
//! counts, and every node whose op or attribute this build does not claim (all of them, not
//! just the first, so a user sees the whole gap at once). For a model directory: its
//! signature and op counts as devices will load them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use edge_model::format::{Dim, ModelSpec};
use onnx_ir::{Message, ModelProto, ValueInfoProto};

use super::ImportError;
use super::onnx::{MAX_ONNX_BYTES, refusals};

/// What `inspect` found.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    pub format: String,
    pub inputs: Vec<Signature>,
    pub outputs: Vec<Signature>,
    /// Op type → number of nodes.
    pub ops: BTreeMap<String, usize>,
    /// One line per node this build would refuse (empty: it imports).
    pub refused: Vec<String>,
}

/// One graph input or output.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub name: String,
    pub datatype: String,
    pub dims: Vec<String>,
}

/// Inspects an ONNX file or a model directory.
pub fn inspect(path: &Path) -> Result<Inspection, ImportError> {
    if path.is_dir() {
        let spec = ModelSpec::read(path)?;
        let sig = |t: &edge_model::format::TensorSpec| Signature {
            name: t.name.clone(),
            datatype: t.datatype.oip_name().to_string(),
            dims: t
                .shape
                .iter()
                .map(|d| match d {
                    Dim::Fixed(n) => n.to_string(),
                    Dim::Named(s) => s.clone(),
                })
                .collect(),
        };
        let mut ops = BTreeMap::new();
        for node in &spec.nodes {
            *ops.entry(node.op.name().to_string()).or_insert(0) += 1;
        }
        return Ok(Inspection {
            format: format!("model directory, format version {}", spec.format_version),
            inputs: spec.inputs.iter().map(sig).collect(),
            outputs: spec.outputs.iter().map(sig).collect(),
            ops,
            refused: Vec::new(),
        });
    }
    let display = path.display().to_string();
    let bytes = edge_model::read_bounded(path, MAX_ONNX_BYTES).map_err(|e| ImportError::Read {
        path: display.clone(),
        reason: e.to_string(),
    })?;
    let proto = ModelProto::parse_from_bytes(&bytes).map_err(|e| ImportError::Parse {
        path: display.clone(),
        reason: e.to_string(),
    })?;
    let Some(graph) = proto.graph.as_ref() else {
        return Err(ImportError::Parse {
            path: display,
            reason: "the file holds no graph".into(),
        });
    };
    let initializers: Vec<&str> = graph.initializer.iter().map(|i| i.name.as_str()).collect();
    let mut ops = BTreeMap::new();
    for node in &graph.node {
        let op = if node.domain.is_empty() || node.domain == "ai.onnx" {
            node.op_type.clone()
        } else {
            format!("{}::{}", node.domain, node.op_type)
        };
        *ops.entry(op).or_insert(0) += 1;
    }
    let opset = proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(0, |o| o.version);
    Ok(Inspection {
        format: format!(
            "ONNX, opset {opset}, producer {} {}",
            proto.producer_name, proto.producer_version
        ),
        inputs: graph
            .input
            .iter()
            .filter(|v| !initializers.contains(&v.name.as_str()))
            .map(value_signature)
            .collect(),
        outputs: graph.output.iter().map(value_signature).collect(),
        ops,
        refused: refusals(graph).into_iter().map(|e| e.to_string()).collect(),
    })
}

fn value_signature(v: &ValueInfoProto) -> Signature {
    let tensor = v.type_.as_ref().map(|t| t.tensor_type());
    let datatype = tensor.map_or_else(
        || "?".to_string(),
        |t| super::onnx::signature::onnx_type_name(t.elem_type),
    );
    let dims = tensor
        .and_then(|t| t.shape.as_ref())
        .map(|s| {
            s.dim
                .iter()
                .map(|d| {
                    if d.has_dim_value() {
                        d.dim_value().to_string()
                    } else if d.has_dim_param() && !d.dim_param().is_empty() {
                        d.dim_param().to_string()
                    } else {
                        "?".to_string()
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Signature {
        name: v.name.clone(),
        datatype,
        dims,
    }
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.format)?;
        for (what, list) in [("inputs", &self.inputs), ("outputs", &self.outputs)] {
            writeln!(f, "{what}:")?;
            for s in list.iter() {
                writeln!(f, "  {} {} [{}]", s.name, s.datatype, s.dims.join(", "))?;
            }
        }
        let nodes: usize = self.ops.values().sum();
        writeln!(f, "ops ({nodes} nodes):")?;
        for (op, count) in &self.ops {
            writeln!(f, "  {op:<24} {count}")?;
        }
        if self.refused.is_empty() {
            writeln!(f, "this build runs every op and attribute of this model")
        } else {
            writeln!(f, "this build cannot run ({} nodes):", self.refused.len())?;
            for line in &self.refused {
                writeln!(f, "  {line}")?;
            }
            Ok(())
        }
    }
}
