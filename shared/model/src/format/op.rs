//! The operations a graph is made of, with their attributes normalised at import, and what
//! every op declares about itself (its name, its number of inputs). A new op starts here;
//! its attribute checks go in `validate` and its execution in its family's file under
//! `executor/ops/`.

use serde::{Deserialize, Serialize};

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
    pub(super) fn arity(&self) -> (usize, usize) {
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
}
