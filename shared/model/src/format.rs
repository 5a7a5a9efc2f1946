//! The on-disk model format that devices load: a directory holding
//!
//! * `model.json` — a versioned, serde-described DAG: named, typed, shaped graph inputs and
//!   outputs and a list of nodes (op with normalised attributes, named inputs and outputs) in
//!   topological order;
//! * `weights.safetensors` — every constant tensor of the graph, by name, in the standard
//!   safetensors format (a JSON header plus raw little-endian data: no code execution, no
//!   pickle, offsets checked against the file length before anything is read);
//! * `checks.json` (optional) — the reference cases the conversion was verified with, so any
//!   device can repeat the check on its own hardware before activating the model.
//!
//! Devices never parse ONNX: the fleet converts once, and this small format is all the daemon
//! has to trust. Its validation ([`ModelSpec::validate`]) is the first line of defence against a
//! malformed or hostile model: sizes are bounded, names are unique, and every node only reads
//! values produced before it, which rules out cycles.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// File names inside a model directory.
pub const SPEC_FILE: &str = "model.json";
pub const WEIGHTS_FILE: &str = "weights.safetensors";
pub const CHECKS_FILE: &str = "checks.json";

/// Hard limits that keep a hostile model from exhausting the box.
pub const MAX_SPEC_BYTES: u64 = 16 * 1024 * 1024;
pub const MAX_NODES: usize = 100_000;
pub const MAX_RANK: usize = 6;
/// Largest number of elements any declared or requested tensor may have (1 Gi floats = 4 GiB).
pub const MAX_ELEMENTS: usize = 1 << 28;

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

/// Auto-padding modes of convolutions and pools (ONNX `auto_pad`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AutoPad {
    /// Use the explicit `pads`.
    #[default]
    Explicit,
    /// No padding.
    Valid,
    /// Output size = ceil(input / stride); odd padding goes at the end.
    SameUpper,
    /// As `SameUpper`, odd padding at the beginning.
    SameLower,
}

/// How `Pad` fills the new border.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PadMode {
    Constant,
    Reflect,
    Edge,
}

/// The operations the executor runs, with attributes normalised at import (ONNX opset
/// differences, attribute-vs-input forms and defaults are resolved by the importer).
/// Spatial vectors (`kernel`, `strides`, ...) have one entry per spatial dimension; `pads` is
/// ONNX-ordered: all beginnings, then all ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum Op {
    /// `x · W (+ b)` with `W` stored as `[in, out]` (Gemm with constant weights, MatMul + Add).
    Linear,
    Gemm {
        alpha: f32,
        beta: f32,
        trans_a: bool,
        trans_b: bool,
    },
    MatMul,
    Add,
    Sub,
    Mul,
    Div,
    Relu,
    LeakyRelu {
        alpha: f32,
    },
    Sigmoid,
    Tanh,
    Erf,
    Gelu {
        tanh_approximation: bool,
    },
    Softmax {
        axis: i64,
    },
    LogSoftmax {
        axis: i64,
    },
    Conv {
        kernel: Vec<usize>,
        strides: Vec<usize>,
        dilations: Vec<usize>,
        groups: usize,
        pads: Vec<usize>,
        auto_pad: AutoPad,
    },
    MaxPool {
        kernel: Vec<usize>,
        strides: Vec<usize>,
        dilations: Vec<usize>,
        pads: Vec<usize>,
        auto_pad: AutoPad,
        ceil_mode: bool,
    },
    AveragePool {
        kernel: Vec<usize>,
        strides: Vec<usize>,
        pads: Vec<usize>,
        auto_pad: AutoPad,
        ceil_mode: bool,
        count_include_pad: bool,
    },
    GlobalAveragePool,
    BatchNormalization {
        epsilon: f32,
    },
    LayerNormalization {
        axis: i64,
        epsilon: f32,
    },
    Flatten {
        axis: i64,
    },
    /// ONNX semantics: 0 copies the input dimension, -1 is inferred.
    Reshape {
        shape: Vec<i64>,
    },
    Transpose {
        perm: Vec<usize>,
    },
    Concat {
        axis: i64,
    },
    /// Empty `axes` removes every dimension of size 1.
    Squeeze {
        axes: Vec<i64>,
    },
    Unsqueeze {
        axes: Vec<i64>,
    },
    Clip {
        min: Option<f32>,
        max: Option<f32>,
    },
    /// `pads` has 2 × rank entries, ONNX-ordered.
    Pad {
        pads: Vec<usize>,
        mode: PadMode,
        value: f32,
    },
    /// Empty `axes` reduces over every dimension.
    ReduceMean {
        axes: Vec<i64>,
        keepdims: bool,
    },
    Dropout,
    Identity,
}

impl Op {
    /// The op's name as written in `model.json` (and in error messages).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Linear => "Linear",
            Op::Gemm { .. } => "Gemm",
            Op::MatMul => "MatMul",
            Op::Add => "Add",
            Op::Sub => "Sub",
            Op::Mul => "Mul",
            Op::Div => "Div",
            Op::Relu => "Relu",
            Op::LeakyRelu { .. } => "LeakyRelu",
            Op::Sigmoid => "Sigmoid",
            Op::Tanh => "Tanh",
            Op::Erf => "Erf",
            Op::Gelu { .. } => "Gelu",
            Op::Softmax { .. } => "Softmax",
            Op::LogSoftmax { .. } => "LogSoftmax",
            Op::Conv { .. } => "Conv",
            Op::MaxPool { .. } => "MaxPool",
            Op::AveragePool { .. } => "AveragePool",
            Op::GlobalAveragePool => "GlobalAveragePool",
            Op::BatchNormalization { .. } => "BatchNormalization",
            Op::LayerNormalization { .. } => "LayerNormalization",
            Op::Flatten { .. } => "Flatten",
            Op::Reshape { .. } => "Reshape",
            Op::Transpose { .. } => "Transpose",
            Op::Concat { .. } => "Concat",
            Op::Squeeze { .. } => "Squeeze",
            Op::Unsqueeze { .. } => "Unsqueeze",
            Op::Clip { .. } => "Clip",
            Op::Pad { .. } => "Pad",
            Op::ReduceMean { .. } => "ReduceMean",
            Op::Dropout => "Dropout",
            Op::Identity => "Identity",
        }
    }

    /// How many inputs the op takes: (minimum, maximum).
    fn arity(&self) -> (usize, usize) {
        match self {
            Op::Linear => (2, 3),
            Op::Gemm { .. } => (2, 3),
            Op::MatMul | Op::Add | Op::Sub | Op::Mul | Op::Div => (2, 2),
            Op::Conv { .. } => (2, 3),
            Op::BatchNormalization { .. } => (5, 5),
            Op::LayerNormalization { .. } => (2, 3),
            Op::Concat { .. } => (1, usize::MAX),
            _ => (1, 1),
        }
    }

    /// Checks attribute values that would otherwise make the executor divide by zero or
    /// allocate without bound.
    fn validate(&self) -> std::result::Result<(), String> {
        let spatial = |kernel: &[usize], strides: &[usize], dilations: &[usize], pads: &[usize]| {
            let n = kernel.len();
            if !(1..=2).contains(&n) {
                return Err(format!("{n} spatial dimensions (1 or 2 are supported)"));
            }
            if strides.len() != n || dilations.len() != n || pads.len() != 2 * n {
                return Err("kernel, strides, dilations and pads lengths disagree".into());
            }
            if kernel
                .iter()
                .chain(strides)
                .chain(dilations)
                .any(|&v| v == 0)
            {
                return Err("kernel, strides and dilations must be positive".into());
            }
            if kernel
                .iter()
                .chain(strides)
                .chain(dilations)
                .chain(pads)
                .any(|&v| v > 1 << 16)
            {
                return Err("kernel, stride, dilation or pad over 65536".into());
            }
            Ok(())
        };
        match self {
            Op::Conv {
                kernel,
                strides,
                dilations,
                groups,
                pads,
                ..
            } => {
                spatial(kernel, strides, dilations, pads)?;
                if *groups == 0 {
                    return Err("groups must be positive".into());
                }
                Ok(())
            }
            Op::MaxPool {
                kernel,
                strides,
                dilations,
                pads,
                ..
            } => spatial(kernel, strides, dilations, pads),
            Op::AveragePool {
                kernel,
                strides,
                pads,
                ..
            } => spatial(kernel, strides, &vec![1; kernel.len()], pads),
            Op::Reshape { shape } => {
                if shape.len() > MAX_RANK || shape.iter().any(|&d| d < -1) {
                    return Err(format!("invalid target shape {shape:?}"));
                }
                if shape.iter().filter(|&&d| d == -1).count() > 1 {
                    return Err("more than one -1 in the target shape".into());
                }
                Ok(())
            }
            Op::Transpose { perm } => {
                let mut seen = perm.clone();
                seen.sort_unstable();
                if perm.len() > MAX_RANK || seen != (0..perm.len()).collect::<Vec<_>>() {
                    return Err(format!("{perm:?} is not a permutation"));
                }
                Ok(())
            }
            Op::Pad { pads, .. } => {
                if pads.len() % 2 != 0
                    || pads.len() > 2 * MAX_RANK
                    || pads.iter().any(|&p| p > 1 << 16)
                {
                    return Err(format!("invalid pads {pads:?}"));
                }
                Ok(())
            }
            Op::Unsqueeze { axes } if axes.is_empty() || axes.len() > MAX_RANK => {
                Err("Unsqueeze needs between 1 and 6 axes".into())
            }
            _ => Ok(()),
        }
    }
}

impl ModelSpec {
    /// Reads and validates `model.json` in `dir`. Weight names are checked by
    /// [`ModelSpec::validate`] once the weights are known.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(SPEC_FILE);
        let bytes = crate::read_bounded(&path, MAX_SPEC_BYTES)?;
        // Read the version first, so a newer format gets a clear message instead of a
        // confusing field error.
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let version: Version = serde_json::from_slice(&bytes).map_err(|e| ModelError::Spec {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if version.format_version != FORMAT_VERSION {
            return Err(ModelError::FormatVersion {
                path,
                found: version.format_version,
                supported: FORMAT_VERSION,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ModelError::Spec {
            path,
            reason: e.to_string(),
        })
    }

    /// Writes `model.json` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(SPEC_FILE);
        let text = serde_json::to_vec_pretty(self).map_err(|e| ModelError::Spec {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        std::fs::write(&path, text).map_err(|source| ModelError::Write { path, source })
    }

    /// Structural validation: limits, unique names, every value defined before use (so no
    /// cycles), outputs produced, attributes sane. `weights` are the constant tensors' names.
    pub fn validate(&self, weights: &HashSet<String>) -> Result<()> {
        if self.nodes.len() > MAX_NODES {
            return Err(ModelError::graph(format!(
                "{} nodes, over the limit of {MAX_NODES}",
                self.nodes.len()
            )));
        }
        if self.inputs.is_empty() || self.outputs.is_empty() {
            return Err(ModelError::graph(
                "a model needs at least one input and one output",
            ));
        }
        let mut defined: HashSet<&str> = HashSet::new();
        for w in weights {
            defined.insert(w);
        }
        for input in &self.inputs {
            validate_declared_shape(input)?;
            if !defined.insert(&input.name) {
                return Err(ModelError::graph(format!(
                    "graph input '{}' is declared twice or shadows a weight",
                    input.name
                )));
            }
        }
        for node in &self.nodes {
            let (min, max) = node.op.arity();
            if node.inputs.len() < min || node.inputs.len() > max || node.outputs.len() != 1 {
                return Err(ModelError::graph(format!(
                    "node '{}' ({}) has {} inputs and {} outputs; it takes {min} to {max} inputs and 1 output",
                    node.name,
                    node.op.name(),
                    node.inputs.len(),
                    node.outputs.len()
                )));
            }
            node.op.validate().map_err(|reason| {
                ModelError::graph(format!(
                    "node '{}' ({}): {reason}",
                    node.name,
                    node.op.name()
                ))
            })?;
            for input in &node.inputs {
                if !defined.contains(input.as_str()) {
                    return Err(ModelError::graph(format!(
                        "node '{}' reads '{input}', which no graph input, weight or earlier node \
                         provides (the graph has a cycle, is out of order, or names an unknown value)",
                        node.name
                    )));
                }
            }
            for output in &node.outputs {
                if !defined.insert(output) {
                    return Err(ModelError::graph(format!(
                        "node '{}' writes '{output}', which is already defined",
                        node.name
                    )));
                }
            }
        }
        let mut seen = HashSet::new();
        for output in &self.outputs {
            validate_declared_shape(output)?;
            if !defined.contains(output.name.as_str()) || !seen.insert(&output.name) {
                return Err(ModelError::graph(format!(
                    "graph output '{}' is never produced or is declared twice",
                    output.name
                )));
            }
        }
        Ok(())
    }

    pub fn input(&self, name: &str) -> Option<&TensorSpec> {
        self.inputs.iter().find(|i| i.name == name)
    }
}

fn validate_declared_shape(spec: &TensorSpec) -> Result<()> {
    if spec.shape.len() > MAX_RANK || spec.shape.is_empty() {
        return Err(ModelError::graph(format!(
            "'{}' has rank {}; ranks 1 to {MAX_RANK} are supported",
            spec.name,
            spec.shape.len()
        )));
    }
    let fixed = spec.shape.iter().filter_map(Dim::fixed);
    let mut elements: usize = 1;
    for d in fixed {
        elements = elements
            .checked_mul(d)
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| {
                ModelError::graph(format!(
                    "'{}' declares shape {:?}, over the limit of {MAX_ELEMENTS} elements",
                    spec.name, spec.shape
                ))
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(name: &str, shape: Vec<Dim>) -> TensorSpec {
        TensorSpec {
            name: name.into(),
            datatype: DataType::Fp32,
            shape,
        }
    }

    fn node(name: &str, op: Op, inputs: &[&str], output: &str) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            op,
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: vec![output.into()],
        }
    }

    fn spec(nodes: Vec<NodeSpec>) -> ModelSpec {
        ModelSpec {
            format_version: FORMAT_VERSION,
            name: "m".into(),
            version: 1,
            producer: String::new(),
            inputs: vec![tensor("x", vec![Dim::Named("batch".into()), Dim::Fixed(4)])],
            outputs: vec![tensor("y", vec![Dim::Named("batch".into()), Dim::Fixed(4)])],
            nodes,
        }
    }

    #[test]
    fn a_valid_chain_passes() {
        let s = spec(vec![
            node("a", Op::Relu, &["x"], "h"),
            node("b", Op::Tanh, &["h"], "y"),
        ]);
        assert!(s.validate(&HashSet::new()).is_ok());
    }

    #[test]
    fn cyclic_graph_is_rejected() {
        // a reads b's output, b reads a's: whichever comes first reads an undefined value.
        let s = spec(vec![
            node("a", Op::Add, &["x", "y"], "h"),
            node("b", Op::Relu, &["h"], "y"),
        ]);
        let err = s
            .validate(&HashSet::new())
            .expect_err("cycle accepted")
            .to_string();
        assert!(err.contains("cycle"), "{err}");
    }

    #[test]
    fn duplicate_output_names_are_rejected() {
        let s = spec(vec![
            node("a", Op::Relu, &["x"], "y"),
            node("b", Op::Relu, &["x"], "y"),
        ]);
        assert!(s.validate(&HashSet::new()).is_err());
    }

    #[test]
    fn absurd_declared_dimensions_are_rejected() {
        let mut s = spec(vec![node("a", Op::Relu, &["x"], "y")]);
        s.inputs[0].shape = vec![Dim::Fixed(1 << 40), Dim::Fixed(1 << 40)];
        let err = s
            .validate(&HashSet::new())
            .expect_err("accepted")
            .to_string();
        assert!(err.contains("over the limit"), "{err}");
        s.inputs[0].shape = vec![Dim::Fixed(1); 7];
        assert!(s.validate(&HashSet::new()).is_err());
    }

    #[test]
    fn zero_stride_or_kernel_is_rejected_before_it_reaches_burn() {
        let conv = Op::Conv {
            kernel: vec![3, 3],
            strides: vec![0, 1],
            dilations: vec![1, 1],
            groups: 1,
            pads: vec![0; 4],
            auto_pad: AutoPad::Explicit,
        };
        let s = spec(vec![node("c", conv, &["x", "w"], "y")]);
        let weights: HashSet<String> = ["w".to_string()].into();
        let err = s.validate(&weights).expect_err("accepted").to_string();
        assert!(err.contains("positive"), "{err}");
    }

    #[test]
    fn wrong_arity_and_unproduced_outputs_are_rejected() {
        let s = spec(vec![node("a", Op::Add, &["x"], "y")]);
        assert!(s.validate(&HashSet::new()).is_err());
        let s = spec(vec![node("a", Op::Relu, &["x"], "z")]);
        assert!(s.validate(&HashSet::new()).is_err());
    }

    #[test]
    fn spec_files_round_trip_and_unknown_versions_and_fields_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = spec(vec![node("a", Op::Softmax { axis: -1 }, &["x"], "y")]);
        s.write(dir.path()).expect("write");
        assert_eq!(ModelSpec::read(dir.path()).expect("read"), s);

        let text = std::fs::read_to_string(dir.path().join(SPEC_FILE)).expect("read");
        std::fs::write(
            dir.path().join(SPEC_FILE),
            text.replace("\"format_version\": 1", "\"format_version\": 2"),
        )
        .expect("write");
        let err = ModelSpec::read(dir.path()).expect_err("v2 accepted");
        assert!(
            matches!(err, ModelError::FormatVersion { found: 2, .. }),
            "{err}"
        );

        std::fs::write(
            dir.path().join(SPEC_FILE),
            text.replace("\"producer\"", "\"unknown_key\""),
        )
        .expect("write");
        assert!(ModelSpec::read(dir.path()).is_err());

        std::fs::write(dir.path().join(SPEC_FILE), &text[..text.len() / 2]).expect("write");
        let err = ModelSpec::read(dir.path()).expect_err("truncated accepted");
        assert!(matches!(err, ModelError::Spec { .. }), "{err}");
    }
}
