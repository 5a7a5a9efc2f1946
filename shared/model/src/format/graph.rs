//! The graph description (`model.json`): the model, its named and typed inputs and outputs,
//! and its nodes in topological order. Plain serde data; what makes it valid is in
//! `validate`.

use serde::{Deserialize, Serialize};

use super::op::Op;

/// The description of a model graph (`model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub format_version: u32,
    pub name: String,
    pub version: u64,
    /// Where the graph came from, for people (e.g. "onnx-ir 0.22 from mlp.onnx, opset 17").
    #[serde(default)]
    pub producer: String,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    pub nodes: Vec<NodeSpec>,
}

/// A named graph input or output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorSpec {
    pub name: String,
    pub datatype: DataType,
    pub shape: Vec<Dim>,
}

/// Element types. Only 32-bit floats flow through graphs today; integer shape tensors are
/// folded into attributes at import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataType {
    #[serde(rename = "FP32")]
    Fp32,
}

impl DataType {
    /// The Open Inference Protocol name of the type.
    pub fn oip_name(self) -> &'static str {
        match self {
            DataType::Fp32 => "FP32",
        }
    }
}

/// One dimension of a declared shape: a fixed size or a named, free size (such as the batch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Dim {
    Fixed(usize),
    Named(String),
}

impl Dim {
    pub fn fixed(&self) -> Option<usize> {
        match self {
            Dim::Fixed(n) => Some(*n),
            Dim::Named(_) => None,
        }
    }
}

/// One operation of the graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    pub name: String,
    pub op: Op,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

impl ModelSpec {
    pub fn input(&self, name: &str) -> Option<&TensorSpec> {
        self.inputs.iter().find(|i| i.name == name)
    }
}
