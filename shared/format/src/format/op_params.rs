//! The small enums ops carry as attributes: padding modes and the function families
//! (element-wise, broadcasting, variadic, reductions, scatter reductions), with their ONNX
//! names. Kept apart from [`super::op::Op`] so the op list reads as one table.

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

/// How ScatterND and ScatterElements combine an update with the value it lands on (ONNX
/// `reduction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ScatterReduction {
    /// The update replaces the value.
    #[default]
    None,
    Add,
    Mul,
    Max,
    Min,
}

/// How Resize computes an output element from the input elements around its source
/// coordinate (ONNX `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResizeMode {
    Nearest,
    /// Linear along each resized axis (bilinear in 2-D).
    Linear,
    /// Keys' cubic convolution along each resized axis, with coefficient `cubic_coeff_a`.
    Cubic,
}

/// How Resize maps an output coordinate to an input coordinate (ONNX
/// `coordinate_transformation_mode`; `tf_crop_and_resize` and `half_pixel_symmetric` are not
/// supported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoordinateMode {
    /// `(x + 0.5) / scale - 0.5`.
    HalfPixel,
    /// As `HalfPixel`, but an output length of 1 samples at -0.5.
    PytorchHalfPixel,
    /// `x · (in − 1) / (out − 1)`.
    AlignCorners,
    /// `x / scale`.
    Asymmetric,
    /// `(x + 0.5) / scale` (opsets 11 and 12).
    TfHalfPixelForNn,
}

/// Which input element a `Nearest` Resize picks when the source coordinate is not whole
/// (ONNX `nearest_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NearestMode {
    RoundPreferFloor,
    RoundPreferCeil,
    Floor,
    Ceil,
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

/// The window functions of audio front-ends (ONNX HannWindow, HammingWindow, BlackmanWindow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WindowKind {
    Hann,
    Hamming,
    Blackman,
}

/// An activation the importer fused into the Conv before it (`Conv { activation }`): the
/// executor applies it to each output tile before storing it, instead of a second pass.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum FusedActivation {
    Relu,
    /// `min(max(x, min), max)` (Clip with constant bounds; Relu6 is 0..6).
    Clip {
        min: f32,
        max: f32,
    },
    LeakyRelu {
        alpha: f32,
    },
    /// `max(0, min(1, alpha·x + beta))`.
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    /// `x · max(0, min(1, x/6 + 1/2))`.
    HardSwish,
    Sigmoid,
    /// `x · sigmoid(x)` (SiLU/Swish, exported as Sigmoid then Mul).
    Silu,
    Gelu {
        tanh_approximation: bool,
    },
}
