//! The attributes of the quantized-interchange ops (ONNX QuantizeLinear, DequantizeLinear,
//! DynamicQuantizeLinear, MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv): the
//! convolution attributes the integer convolutions share with `Conv`, and the one check every
//! quantized result type must pass. Why a file of its own: these ops are one family on both
//! sides (the executor's `ops/quant.rs` runs them all), and `op.rs` only names them.

use serde::{Deserialize, Serialize};

use super::graph::DataType;
use super::op_params::AutoPad;

/// A convolution's attributes, as `Op::Conv` has them (one entry per spatial dimension;
/// `pads` ONNX-ordered: all beginnings, then all ends).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvAttrs {
    pub kernel: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    pub groups: usize,
    pub pads: Vec<usize>,
    pub auto_pad: AutoPad,
}

/// The quantized element types the executor produces: 8-bit integers, signed or not (ONNX's
/// 16-bit, 4-bit and float8 forms are refused at import).
pub fn quantized_type(to: DataType) -> std::result::Result<(), String> {
    match to {
        DataType::Int8 | DataType::Uint8 => Ok(()),
        other => Err(format!(
            "quantized values of type {} are not supported (INT8 and UINT8 are)",
            other.oip_name()
        )),
    }
}

/// The range a quantized type saturates to.
pub fn quantized_range(to: DataType) -> (f32, f32) {
    match to {
        DataType::Int8 => (-128.0, 127.0),
        _ => (0.0, 255.0),
    }
}
