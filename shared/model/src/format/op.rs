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

/// One-input element-wise functions without parameters, by their ONNX names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnaryFn {
    Sqrt,
    Exp,
    Log,
    Abs,
    Neg,
    Reciprocal,
    Floor,
    Ceil,
    Round,
    Sign,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Softplus,
    Softsign,
    Mish,
    HardSwish,
    IsNaN,
    Not,
}

/// Two-input broadcasting functions, by their ONNX names (`Mod` with `fmod = 0` is
/// `Mod`, with `fmod = 1` is `Fmod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinaryFn {
    Pow,
    Mod,
    Fmod,
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    And,
    Or,
    Xor,
    PRelu,
}

/// Broadcasting functions of one or more inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VariadicFn {
    Min,
    Max,
    Sum,
    Mean,
}

/// Reductions over axes, by their ONNX names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReduceFn {
    ReduceSum,
    ReduceMax,
    ReduceMin,
    ReduceProd,
    ReduceL1,
    ReduceL2,
    ReduceLogSum,
    ReduceLogSumExp,
    ReduceSumSquare,
    ReduceMean,
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
    /// A parameterless element-wise function.
    Unary {
        func: UnaryFn,
    },
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    Elu {
        alpha: f32,
    },
    Selu {
        alpha: f32,
        gamma: f32,
    },
    Celu {
        alpha: f32,
    },
    ThresholdedRelu {
        alpha: f32,
    },
    IsInf {
        detect_positive: bool,
        detect_negative: bool,
    },
    Binary {
        func: BinaryFn,
    },
    Variadic {
        func: VariadicFn,
    },
    /// `Where(condition, x, y)`.
    Where,
    /// Converts to `to` (float → integer truncates toward zero, as ONNX Runtime does).
    Cast {
        to: super::DataType,
    },
    /// A reduction; `axes: None` reads the axes from the second input at run time, and an
    /// empty list reduces every axis unless `noop_with_empty_axes`.
    Reduce {
        func: ReduceFn,
        axes: Option<Vec<i64>>,
        keepdims: bool,
        noop_with_empty_axes: bool,
    },
    /// The input's shape as INT64, dimensions `start..end` (ONNX rules for negatives).
    Shape {
        start: i64,
        end: Option<i64>,
    },
    /// The number of elements, as an INT64 scalar.
    Size,
    /// A tensor of the shape given by the INT64 input, filled with `value` of `dtype`.
    ConstantOfShape {
        dtype: super::DataType,
        value: f64,
    },
    /// `Gather(data, indices)` along `axis`; negative indices count from the end.
    Gather {
        axis: i64,
    },
    /// `Expand(x, shape)`: broadcast to a shape given at run time.
    Expand,
    /// `Tile(x, repeats)`.
    Tile,
    /// `Range(start, limit, delta)` of the inputs' type.
    Range,
    /// `Slice(data, starts, ends, axes?, steps?)` with ONNX clamping and negative steps.
    Slice,
    /// Reshape to a shape given at run time (second input), ONNX semantics.
    ReshapeDynamic {
        allowzero: bool,
    },
    /// Unsqueeze with axes given at run time (second input).
    UnsqueezeDynamic,
    /// Squeeze with axes given at run time (second input).
    SqueezeDynamic,
    /// Index of the largest value along `axis` (INT64); ties go to the first index, or the
    /// last with `select_last_index`.
    ArgMax {
        axis: i64,
        keepdims: bool,
        select_last_index: bool,
    },
    ArgMin {
        axis: i64,
        keepdims: bool,
        select_last_index: bool,
    },
    /// `CumSum(x, axis)`: running sums along the axis given by the second input.
    CumSum {
        exclusive: bool,
        reverse: bool,
    },
    /// `Trilu(x, k?)`: the upper or lower triangle of the last two dimensions.
    Trilu {
        upper: bool,
    },
    /// `GatherElements(data, indices)` along `axis`.
    GatherElements {
        axis: i64,
    },
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
            Op::Unary { func } => func.name(),
            Op::HardSigmoid { .. } => "HardSigmoid",
            Op::Elu { .. } => "Elu",
            Op::Selu { .. } => "Selu",
            Op::Celu { .. } => "Celu",
            Op::ThresholdedRelu { .. } => "ThresholdedRelu",
            Op::IsInf { .. } => "IsInf",
            Op::Binary { func } => func.name(),
            Op::Variadic { func } => func.name(),
            Op::Where => "Where",
            Op::Cast { .. } => "Cast",
            Op::Reduce { func, .. } => func.name(),
            Op::Shape { .. } => "Shape",
            Op::Size => "Size",
            Op::ConstantOfShape { .. } => "ConstantOfShape",
            Op::Gather { .. } => "Gather",
            Op::Expand => "Expand",
            Op::Tile => "Tile",
            Op::Range => "Range",
            Op::Slice => "Slice",
            Op::ReshapeDynamic { .. } => "Reshape",
            Op::UnsqueezeDynamic => "Unsqueeze",
            Op::SqueezeDynamic => "Squeeze",
            Op::ArgMax { .. } => "ArgMax",
            Op::ArgMin { .. } => "ArgMin",
            Op::CumSum { .. } => "CumSum",
            Op::Trilu { .. } => "Trilu",
            Op::GatherElements { .. } => "GatherElements",
        }
    }

    /// Whether the executor runs this op on a first input of element type `dtype` (the
    /// importer refuses a node otherwise, naming both).
    pub fn accepts(&self, dtype: super::DataType) -> bool {
        use super::DataType as T;
        let float = dtype.is_float();
        let int = dtype.is_int();
        let boolean = dtype == T::Bool;
        match self {
            Op::Identity
            | Op::Dropout
            | Op::Cast { .. }
            | Op::Shape { .. }
            | Op::Size
            | Op::Gather { .. }
            | Op::Expand
            | Op::Tile
            | Op::Slice
            | Op::Reshape { .. }
            | Op::ReshapeDynamic { .. }
            | Op::Transpose { .. }
            | Op::Concat { .. }
            | Op::Squeeze { .. }
            | Op::SqueezeDynamic
            | Op::Unsqueeze { .. }
            | Op::UnsqueezeDynamic
            | Op::Flatten { .. }
            | Op::Where => true,
            Op::ConstantOfShape { .. } => int,
            Op::GatherElements { .. } | Op::Trilu { .. } => true,
            Op::ArgMax { .. } | Op::ArgMin { .. } | Op::CumSum { .. } => float || int,
            Op::Range => float || int,
            Op::Unary { func } => match func {
                UnaryFn::Not => boolean,
                UnaryFn::Abs | UnaryFn::Neg | UnaryFn::Sign => float || int,
                _ => float,
            },
            Op::Binary { func } => match func {
                BinaryFn::And | BinaryFn::Or | BinaryFn::Xor => boolean,
                BinaryFn::Equal => true,
                _ => float || int,
            },
            Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Variadic { .. }
            | Op::Relu
            | Op::Clip { .. } => float || int,
            Op::Reduce {
                func:
                    ReduceFn::ReduceSum
                    | ReduceFn::ReduceMax
                    | ReduceFn::ReduceMin
                    | ReduceFn::ReduceProd
                    | ReduceFn::ReduceL1
                    | ReduceFn::ReduceSumSquare,
                ..
            } => float || int,
            _ => float,
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
            Op::Binary { .. } => (2, 2),
            Op::Variadic { .. } => (1, usize::MAX),
            Op::Where | Op::Range => (3, 3),
            Op::Reduce { axes: None, .. } => (1, 2),
            Op::Gather { .. } | Op::Expand | Op::Tile => (2, 2),
            Op::ReshapeDynamic { .. } | Op::UnsqueezeDynamic | Op::SqueezeDynamic => (2, 2),
            Op::Slice => (3, 5),
            Op::CumSum { .. } | Op::GatherElements { .. } => (2, 2),
            Op::Trilu { .. } => (1, 2),
            _ => (1, 1),
        }
    }
}

/// The ONNX op type of each function (serde writes the same names).
macro_rules! fn_names {
    ($($ty:ident { $($v:ident),* $(,)? })*) => {$(
        impl $ty {
            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$v => stringify!($v),)*
                }
            }
        }
    )*};
}

fn_names! {
    UnaryFn {
        Sqrt, Exp, Log, Abs, Neg, Reciprocal, Floor, Ceil, Round, Sign, Sin, Cos, Tan, Asin,
        Acos, Atan, Sinh, Cosh, Softplus, Softsign, Mish, HardSwish, IsNaN, Not,
    }
    BinaryFn {
        Pow, Mod, Fmod, Equal, Less, LessOrEqual, Greater, GreaterOrEqual, And, Or, Xor, PRelu,
    }
    VariadicFn { Min, Max, Sum, Mean }
    ReduceFn {
        ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum,
        ReduceLogSumExp, ReduceSumSquare, ReduceMean,
    }
}
