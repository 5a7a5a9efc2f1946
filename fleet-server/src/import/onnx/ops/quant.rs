//! Quantized interchange: QuantizeLinear, DequantizeLinear, MatMulInteger and QLinearMatMul
//! from onnx-ir's processors; ConvInteger, QLinearConv and DynamicQuantizeLinear, which onnx-ir
//! 0.22 parses as attribute-less placeholders, rerouted into our domain (see `custom.rs`) and
//! read here from the node's own attributes, as the ONNX spec defines them.
//!
//! The executor takes every zero point as an input: an absent one (optional in the spec, 0)
//! is stored as a zero constant of its tensor's type, so inputs never shift position.

use edge_model::format::{AutoPad, ConvAttrs, DataType, Op, quantized_type};
use edge_model::weights::HostTensor;
use onnx_ir::node::dequantize_linear::DequantizeLinearNode;
use onnx_ir::node::quantize_linear::QuantizeLinearNode;
use onnx_ir::{Argument, CustomNode};

use super::{Lowered, Lowering, Param};
use crate::import::onnx::signature::data_type;

/// The op types of the default domain that `custom.rs` reroutes to us.
pub(in crate::import::onnx) const REROUTED: &[&str] =
    &["ConvInteger", "QLinearConv", "DynamicQuantizeLinear"];

pub(super) fn quantize_linear(n: &QuantizeLinearNode) -> Lowering {
    let to = match n.outputs.first().map(|o| o.ty.elem_type()) {
        Some(t) => type_of(t)?,
        None => return Err("QuantizeLinear has no output".into()),
    };
    quantized_type(to)?;
    let zero = zero_point(&n.inputs, 2, to)?;
    Lowered::with_params(
        Op::QuantizeLinear {
            axis: n.config.axis.unwrap_or(1),
            to,
        },
        2,
        vec![zero],
    )
}

pub(super) fn dequantize_linear(n: &DequantizeLinearNode) -> Lowering {
    let zero = zero_point(&n.inputs, 2, input_type(&n.inputs, 0)?)?;
    Lowered::with_params(
        Op::DequantizeLinear {
            axis: n.config.axis.unwrap_or(1),
        },
        2,
        vec![zero],
    )
}

/// `(A, B, a_zero_point?, b_zero_point?)`.
pub(super) fn matmul_integer(inputs: &[Argument]) -> Lowering {
    let a = zero_point(inputs, 2, input_type(inputs, 0)?)?;
    let b = zero_point(inputs, 3, input_type(inputs, 1)?)?;
    Lowered::with_params(Op::MatMulInteger, 2, vec![a, b])
}

/// `(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)`, every one required.
pub(super) fn qlinear_matmul(inputs: &[Argument]) -> Lowering {
    let to = input_type(inputs, 7)?;
    quantized_type(to)?;
    Lowered::reads(Op::QLinearMatMul { to }, 8)
}

/// The rerouted nodes.
pub(super) fn lower_custom(n: &CustomNode) -> Lowering {
    match n.op_type.as_str() {
        "DynamicQuantizeLinear" => {
            if n.inputs.len() != 1 {
                return Err("DynamicQuantizeLinear takes one input".into());
            }
            Lowered::reads(Op::DynamicQuantizeLinear, 1)
        }
        "ConvInteger" => {
            let conv = conv_attrs(n, 1)?;
            let x = zero_point(&n.inputs, 2, input_type(&n.inputs, 0)?)?;
            let w = zero_point(&n.inputs, 3, input_type(&n.inputs, 1)?)?;
            Lowered::with_params(Op::ConvInteger { conv }, 2, vec![x, w])
        }
        "QLinearConv" => {
            let conv = conv_attrs(n, 3)?;
            let to = input_type(&n.inputs, 7)?;
            quantized_type(to)?;
            Lowered::reads(Op::QLinearConv { conv, to }, 9)
        }
        other => Err(format!("{other} is not a quantized op")),
    }
}

/// The convolution attributes of a rerouted node, `weight` being its weight's input index
/// (the kernel comes from the weight's shape when `kernel_shape` is absent).
fn conv_attrs(n: &CustomNode, weight: usize) -> Result<ConvAttrs, String> {
    let a = &n.attrs;
    let kernel = match a.get_i64s("kernel_shape") {
        Some(k) => sizes("kernel_shape", k)?,
        None => weight_kernel(n.inputs.get(weight))?,
    };
    let s = kernel.len();
    if !(1..=2).contains(&s) {
        return Err(format!("{s} spatial dimensions (1 or 2 are supported)"));
    }
    let list = |key: &str, default: usize, len: usize| match a.get_i64s(key) {
        Some(v) if v.len() == len => sizes(key, v),
        Some(v) => Err(format!("{key} has {} entries, not {len}", v.len())),
        None => Ok(vec![default; len]),
    };
    let groups = a.get_i64("group").unwrap_or(1);
    let auto_pad = match a.get_string("auto_pad").unwrap_or("NOTSET") {
        "NOTSET" => AutoPad::Explicit,
        "VALID" => AutoPad::Valid,
        "SAME_UPPER" => AutoPad::SameUpper,
        "SAME_LOWER" => AutoPad::SameLower,
        other => return Err(format!("auto_pad '{other}' is not an ONNX padding mode")),
    };
    Ok(ConvAttrs {
        kernel,
        strides: list("strides", 1, s)?,
        dilations: list("dilations", 1, s)?,
        groups: usize::try_from(groups)
            .ok()
            .filter(|&g| g > 0)
            .ok_or_else(|| format!("group {groups} must be positive"))?,
        pads: list("pads", 0, 2 * s)?,
        auto_pad,
    })
}

fn sizes(key: &str, values: &[i64]) -> Result<Vec<usize>, String> {
    values
        .iter()
        .map(|&v| usize::try_from(v).map_err(|_| format!("{key} has a negative entry {v}")))
        .collect()
}

/// The spatial dims of a weight `[M, C/group, k..]` of known shape.
fn weight_kernel(weight: Option<&Argument>) -> Result<Vec<usize>, String> {
    let missing = || "kernel_shape is absent and the weight's shape is unknown".to_string();
    let w = weight.ok_or_else(missing)?;
    let dims: Vec<usize> = match w.value() {
        Some(data) => data.shape().to_vec(),
        None => match &w.ty {
            onnx_ir::ArgType::Tensor(t) => t
                .static_shape
                .as_ref()
                .and_then(|s| s.iter().copied().collect::<Option<Vec<usize>>>())
                .ok_or_else(missing)?,
            _ => return Err(missing()),
        },
    };
    if dims.len() < 3 {
        return Err(format!("the weight's shape {dims:?} has no spatial dims"));
    }
    Ok(dims[2..].to_vec())
}

/// The zero point at `index`, or a zero of type `dtype` when the node omits it.
fn zero_point(inputs: &[Argument], index: usize, dtype: DataType) -> Result<Param, String> {
    if inputs.get(index).is_some_and(|a| !a.is_optional()) {
        return Ok(Param::Input(index));
    }
    let zero = match dtype {
        DataType::Int8 => HostTensor::typed(vec![], vec![0i8]),
        DataType::Uint8 => HostTensor::typed(vec![], vec![0u8]),
        DataType::Int32 => HostTensor::typed(vec![], vec![0i32]),
        other => {
            return Err(format!(
                "quantized values of type {} are not supported",
                other.oip_name()
            ));
        }
    };
    zero.map(Param::Const).map_err(|e| e.to_string())
}

fn input_type(inputs: &[Argument], index: usize) -> Result<DataType, String> {
    let arg = inputs
        .get(index)
        .filter(|a| !a.is_optional())
        .ok_or_else(|| format!("input {index} is missing"))?;
    type_of(arg.ty.elem_type())
}

fn type_of(dtype: onnx_ir::DType) -> Result<DataType, String> {
    data_type(dtype).ok_or_else(|| format!("element type {dtype:?} is not supported"))
}
