//! What every op declares about itself: its name as written in `model.json` and errors, the
//! element types it runs on, and how many inputs and outputs it takes. The importer refuses a
//! node against these; `validate` checks a loaded graph against them.

use super::op::Op;
use super::op_params::{BinaryFn, ReduceFn, ResizeMode, ScatterReduction, UnaryFn};

impl Op {
    /// The op's name as written in `model.json` (and in error messages).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Linear { .. } => "Linear",
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
            Op::ClipBounds { .. } => "Clip",
            Op::PadDynamic { .. } => "Pad",
            Op::Split { .. } => "Split",
            Op::TopK { .. } => "TopK",
            Op::OneHot { .. } => "OneHot",
            Op::GatherND { .. } => "GatherND",
            Op::ScatterND { .. } => "ScatterND",
            Op::ScatterElements { .. } => "ScatterElements",
            Op::GlobalMaxPool => "GlobalMaxPool",
            Op::DepthToSpace { .. } => "DepthToSpace",
            Op::SpaceToDepth { .. } => "SpaceToDepth",
            Op::LpNormalization { .. } => "LpNormalization",
            Op::InstanceNormalization { .. } => "InstanceNormalization",
            Op::GroupNormalization { .. } => "GroupNormalization",
            Op::Lrn { .. } => "LRN",
            Op::ConvTranspose { .. } => "ConvTranspose",
            Op::Resize { .. } => "Resize",
            Op::If { .. } => "If",
            Op::Recurrent { cell, .. } => cell.onnx_name(),
            Op::Attention { .. } => "Attention",
            Op::Einsum { .. } => "Einsum",
            Op::TreeEnsemble { trees } => match (&trees.classes, trees.f64_output) {
                (Some(_), _) => "TreeEnsembleClassifier",
                (None, false) => "TreeEnsembleRegressor",
                (None, true) => "TreeEnsemble",
            },
            Op::LinearClassifier { .. } => "LinearClassifier",
            Op::LinearRegressor { .. } => "LinearRegressor",
            Op::Normalizer { .. } => "Normalizer",
            Op::Scaler { .. } => "Scaler",
            Op::Binarizer { .. } => "Binarizer",
            Op::ArrayFeatureExtractor => "ArrayFeatureExtractor",
            Op::LabelEncoder { .. } => "LabelEncoder",
            Op::Imputer { .. } => "Imputer",
            Op::Window { kind, .. } => match kind {
                super::WindowKind::Hann => "HannWindow",
                super::WindowKind::Hamming => "HammingWindow",
                super::WindowKind::Blackman => "BlackmanWindow",
            },
            Op::MelWeightMatrix { .. } => "MelWeightMatrix",
            Op::Stft { .. } => "STFT",
            Op::Dft { .. } => "DFT",
            Op::QuantizeLinear { .. } => "QuantizeLinear",
            Op::DequantizeLinear { .. } => "DequantizeLinear",
            Op::DynamicQuantizeLinear => "DynamicQuantizeLinear",
            Op::MatMulInteger => "MatMulInteger",
            Op::ConvInteger { .. } => "ConvInteger",
            Op::QLinearMatMul { .. } => "QLinearMatMul",
            Op::QLinearConv { .. } => "QLinearConv",
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
            | Op::Where
            | Op::PadDynamic { .. }
            | Op::Split { .. }
            | Op::GatherND { .. }
            | Op::DepthToSpace { .. }
            | Op::SpaceToDepth { .. }
            | Op::ArrayFeatureExtractor => true,
            // The classical-ML ops read their input as numbers, whatever the type.
            Op::TreeEnsemble { .. }
            | Op::LinearClassifier { .. }
            | Op::LinearRegressor { .. }
            | Op::Normalizer { .. }
            | Op::Scaler { .. }
            | Op::Imputer { .. } => float || int,
            Op::Window { .. } | Op::MelWeightMatrix { .. } => int,
            Op::QuantizeLinear { .. } | Op::DynamicQuantizeLinear => float,
            Op::DequantizeLinear { .. }
            | Op::MatMulInteger
            | Op::ConvInteger { .. }
            | Op::QLinearMatMul { .. }
            | Op::QLinearConv { .. } => int,
            Op::LabelEncoder { keys, .. } => match keys {
                super::Labels::Ints(_) => int,
                super::Labels::Floats(_) => float,
            },
            Op::ScatterND { reduction } | Op::ScatterElements { reduction, .. } => {
                *reduction == ScatterReduction::None || float || int
            }
            Op::OneHot { .. } => float || int,
            Op::If { .. } => boolean,
            Op::Resize { mode, .. } => float || (int && *mode == ResizeMode::Nearest),
            Op::TopK { .. } => float || int,
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
            | Op::Clip { .. }
            | Op::ClipBounds { .. } => float || int,
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
            Op::Linear { .. } => (2, 3),
            Op::Gemm { .. } => (2, 3),
            Op::MatMul | Op::Add | Op::Sub | Op::Mul | Op::Div => (2, 2),
            Op::Conv { .. } | Op::ConvTranspose { .. } => (2, 3),
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
            Op::ClipBounds { min, max } => {
                let n = 1 + usize::from(*min) + usize::from(*max);
                (n, n)
            }
            Op::PadDynamic { value, axes, .. } => {
                let n = 2 + usize::from(*value) + usize::from(*axes);
                (n, n)
            }
            Op::Split { .. } => (1, 2),
            Op::If { outputs } => (1 + 2 * outputs, 1 + 2 * outputs),
            Op::Recurrent { optional, .. } => (3 + optional.count(), 3 + optional.count()),
            Op::Attention { mask, .. } => (3 + usize::from(*mask), 3 + usize::from(*mask)),
            Op::Einsum { .. } => (1, usize::MAX),
            Op::TopK { .. } | Op::GatherND { .. } | Op::Resize { .. } => (2, 2),
            Op::ArrayFeatureExtractor => (2, 2),
            Op::MelWeightMatrix { .. } => (5, 5),
            Op::Stft { window, .. } => (1 + usize::from(*window), 1 + usize::from(*window)),
            Op::OneHot { .. } | Op::ScatterND { .. } | Op::ScatterElements { .. } => (3, 3),
            // The importer supplies absent zero points as zeros: every input is present.
            Op::QuantizeLinear { .. } | Op::DequantizeLinear { .. } => (3, 3),
            Op::MatMulInteger | Op::ConvInteger { .. } => (4, 4),
            Op::QLinearMatMul { .. } => (8, 8),
            Op::QLinearConv { .. } => (8, 9),
            Op::InstanceNormalization { .. } | Op::GroupNormalization { .. } => (3, 3),
            _ => (1, 1),
        }
    }

    /// How many outputs the op produces: one, except Split and If (their `outputs`), TopK
    /// (the values and their indices), the recurrent cells (Y, Y_h, and Y_c for an LSTM), a
    /// LayerNormalization asked for its statistics, the classifiers (labels, scores) and
    /// DynamicQuantizeLinear (values, scale, zero point).
    pub fn output_count(&self) -> usize {
        match self {
            Op::Split { outputs, .. } => *outputs,
            Op::TopK { .. } => 2,
            Op::If { outputs } => *outputs,
            Op::Recurrent { cell, .. } => cell.outputs(),
            Op::LayerNormalization { stats: true, .. } => 3,
            Op::TreeEnsemble { trees } if trees.classes.is_some() => 2,
            Op::LinearClassifier { .. } => 2,
            Op::DynamicQuantizeLinear => 3,
            _ => 1,
        }
    }
}
