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

/// Element types of graph inputs, outputs, weights and values: the Open Inference Protocol's
/// names, one to one. Half-precision values are widened to f32 when loaded (every f16 is an
/// exact f32) and computed in f32; FP64 is computed in f64 on the CPU and refused on the GPU
/// (WGSL has no f64). Integers of every width are computed as i64 on the host and as i32 on
/// the GPU (range-checked on the way there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataType {
    #[serde(rename = "FP32")]
    Fp32,
    #[serde(rename = "FP16")]
    Fp16,
    #[serde(rename = "FP64")]
    Fp64,
    #[serde(rename = "INT64")]
    Int64,
    #[serde(rename = "INT32")]
    Int32,
    #[serde(rename = "INT8")]
    Int8,
    #[serde(rename = "UINT8")]
    Uint8,
    #[serde(rename = "BOOL")]
    Bool,
}

impl DataType {
    pub const ALL: [DataType; 8] = [
        DataType::Fp32,
        DataType::Fp16,
        DataType::Fp64,
        DataType::Int64,
        DataType::Int32,
        DataType::Int8,
        DataType::Uint8,
        DataType::Bool,
    ];

    /// The Open Inference Protocol name of the type.
    pub fn oip_name(self) -> &'static str {
        match self {
            DataType::Fp32 => "FP32",
            DataType::Fp16 => "FP16",
            DataType::Fp64 => "FP64",
            DataType::Int64 => "INT64",
            DataType::Int32 => "INT32",
            DataType::Int8 => "INT8",
            DataType::Uint8 => "UINT8",
            DataType::Bool => "BOOL",
        }
    }

    /// The type an Open Inference Protocol name stands for.
    pub fn from_oip_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.oip_name() == name)
    }

    pub fn is_float(self) -> bool {
        matches!(self, DataType::Fp32 | DataType::Fp16 | DataType::Fp64)
    }

    pub fn is_int(self) -> bool {
        matches!(
            self,
            DataType::Int64 | DataType::Int32 | DataType::Int8 | DataType::Uint8
        )
    }

    /// The inclusive range of an integer type (i64's for the others).
    pub fn int_range(self) -> (i64, i64) {
        match self {
            DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
            DataType::Int8 => (i8::MIN.into(), i8::MAX.into()),
            DataType::Uint8 => (0, u8::MAX.into()),
            _ => (i64::MIN, i64::MAX),
        }
    }
}

impl std::fmt::Display for DataType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.oip_name())
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
    /// Conditions the node runs under (every one must hold): the nodes of an ONNX `If`
    /// branch, which run only when the branch is taken. Empty for every other node. A reader
    /// that does not know the field refuses the file (`deny_unknown_fields`), never runs both
    /// branches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<Guard>,
}

/// "Run only if the boolean scalar `value` is `is`."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    pub value: String,
    pub is: bool,
}

impl ModelSpec {
    pub fn input(&self, name: &str) -> Option<&TensorSpec> {
        self.inputs.iter().find(|i| i.name == name)
    }
}
