//! The ONNX op types the importer accepts: a leaf list, read by the pre-parse check and
//! printed in the refusal of any other op (so the error type can name it without importing
//! the converter).

/// The ONNX op types the importer accepts (Conv and the pools in 1-D and 2-D; the spatial rank
/// is checked after parsing).
pub const SUPPORTED_OPS: &[&str] = &[
    "Gemm",
    "MatMul",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Relu",
    "LeakyRelu",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "LogSoftmax",
    "Erf",
    "Gelu",
    "Conv",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "BatchNormalization",
    "LayerNormalization",
    "Flatten",
    "Reshape",
    "Transpose",
    "Concat",
    "Squeeze",
    "Unsqueeze",
    "Clip",
    "Pad",
    "ReduceMean",
    "Dropout",
    "Identity",
    "Constant",
];
