//! Quantized interchange: ONNX QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
//! MatMulInteger, ConvInteger, QLinearMatMul and QLinearConv, by dequantized arithmetic.
//! Integers become floats `(q - zero_point) · scale`, the float op (MatMul, Conv) runs on the
//! model's device, and a quantized result is `saturate(round_half_even(y / scale) +
//! zero_point)`, as the ONNX spec writes it.
//!
//! Why floats: this is the interchange form (models quantized by ONNX Runtime's tools or
//! PyTorch arrive in it); integer kernels are a speed question for later. What it costs in
//! exactness: MatMulInteger and ConvInteger accumulate in f32, exact while every partial sum
//! stays under 2^24 in magnitude (an 8-bit product is under 2^15, so at least 512 terms);
//! QLinearMatMul and QLinearConv rescale in float where ONNX Runtime rescales an integer
//! accumulator, so a result within a rounding error of a step boundary can land one
//! quantization step apart (the tests' tolerance is a few output steps).
//!
//! A scale and a zero point are scalars (per tensor) or 1-D along an axis: `axis` for the Q/DQ
//! pair, the rows of A and the columns of B for the matmuls, the output channels for a
//! convolution's weight. Blocked (N-D) scales are refused at import.

use burn::tensor::Device;

use super::common::{Res, float_value, host_floats, int_value_of, reshape_value, resolve_axis};
use super::{Ctx, broadcast, cast, conv_pool, linalg};
use crate::executor::dyn_tensor::{DynTensor, map_tensor, with_tensor};
use crate::executor::value::{Value, align};
use crate::format::{ConvAttrs, DataType, Op, quantized_range, quantized_type};

/// Whether `op` is one of this family's.
pub(super) fn is_quant(op: &Op) -> bool {
    matches!(
        op,
        Op::QuantizeLinear { .. }
            | Op::DequantizeLinear { .. }
            | Op::DynamicQuantizeLinear
            | Op::MatMulInteger
            | Op::ConvInteger { .. }
            | Op::QLinearMatMul { .. }
            | Op::QLinearConv { .. }
    )
}

/// Runs one of this family's ops (the importer supplies absent zero points as zeros).
pub(super) fn run(op: &Op, inputs: Vec<Value>, ctx: &Ctx) -> Res<Vec<Value>> {
    let device = ctx.device;
    let mut v = align(inputs, device)
        .map_err(|e| e.to_string())?
        .into_iter();
    let mut next = || {
        v.next()
            .ok_or_else(|| format!("{} is missing an input", op.name()))
    };
    let out = match op {
        Op::QuantizeLinear { axis, to } => {
            let (x, scale, zero) = (next()?, next()?, next()?);
            let axis = axis_of(&x, &scale, *axis)?;
            quantize(x, scale, zero, axis, *to, device)?
        }
        Op::DequantizeLinear { axis } => {
            let (x, scale, zero) = (next()?, next()?, next()?);
            let axis = axis_of(&x, &scale, *axis)?;
            dequantize(x, Some(scale), zero, axis, device)?
        }
        Op::DynamicQuantizeLinear => return dynamic(next()?, device),
        Op::MatMulInteger => {
            let (a, b) = (next()?, next()?);
            let (ra, rb) = (a.rank(), b.rank());
            let a = dequantize(a, None, next()?, ra.saturating_sub(2), device)?;
            let b = dequantize(b, None, next()?, rb.saturating_sub(1), device)?;
            let y = linalg::matmul(a.float()?, b.float()?)?;
            to_int32(y, device)?
        }
        Op::ConvInteger { conv } => {
            let (x, w) = (next()?, next()?);
            let x = dequantize(x, None, next()?, 1, device)?;
            let w = dequantize(w, None, next()?, 0, device)?;
            to_int32(convolve(x, w, None, conv)?.float()?, device)?
        }
        Op::QLinearMatMul { to } => {
            let a = next()?;
            let axis = a.rank().saturating_sub(2);
            let a = dequantize(a, Some(next()?), next()?, axis, device)?;
            let b = next()?;
            let axis = b.rank().saturating_sub(1);
            let b = dequantize(b, Some(next()?), next()?, axis, device)?;
            let y = Value::of_float(linalg::matmul(a.float()?, b.float()?)?, false);
            let axis = y.rank().saturating_sub(1);
            quantize(y, next()?, next()?, axis, *to, device)?
        }
        Op::QLinearConv { conv, to } => {
            let x = next()?;
            let x_scale = next()?;
            let x = dequantize(x, Some(x_scale.clone()), next()?, 1, device)?;
            let w = next()?;
            let w_scale = next()?;
            let w = dequantize(w, Some(w_scale.clone()), next()?, 0, device)?;
            let (y_scale, y_zero) = (next()?, next()?);
            // The bias is INT32 at scale x_scale · w_scale (per output channel), zero point 0.
            let bias = match v.next() {
                Some(b) => {
                    let b = cast::cast(b, DataType::Fp32, device)?;
                    let scale = broadcast::binary(&Op::Mul, x_scale, w_scale)?;
                    Some(broadcast::binary(&Op::Mul, b, scale)?)
                }
                None => None,
            };
            let y = convolve(x, w, bias, conv)?;
            quantize(y, y_scale, y_zero, 1, *to, device)?
        }
        other => return Err(format!("{} is not a quantized op", other.name())),
    };
    Ok(vec![out])
}

/// The op's `axis` for `x`, which only a 1-D scale of more than one element reads (ONNX
/// ignores it per tensor: a 1-D bias keeps the default axis 1).
fn axis_of(x: &Value, scale: &Value, axis: i64) -> Res<usize> {
    match scale.dims()[..] {
        [] | [1] => Ok(0),
        _ => resolve_axis(axis, x.rank()),
    }
}

/// A scale or zero point, shaped to broadcast against a value of rank `rank`: a scalar (or
/// one element) as it is, a 1-D one along `axis`.
fn along(p: Value, axis: usize, rank: usize) -> Res<Value> {
    let dims = p.dims();
    match dims[..] {
        [] | [1] => Ok(p),
        [n] if rank > 1 => {
            let mut shape = vec![1; rank];
            shape[axis.min(rank - 1)] = n;
            reshape_value(p, &shape)
        }
        [_] => Ok(p),
        _ => Err(format!(
            "a scale or zero point of shape {dims:?} (blocked quantization) is not supported"
        )),
    }
}

/// `(x - zero) · scale` in FP32 (without `scale`: `x - zero`).
fn dequantize(
    x: Value,
    scale: Option<Value>,
    zero: Value,
    axis: usize,
    device: &Device,
) -> Res<Value> {
    let rank = x.rank();
    let x = cast::cast(x, DataType::Fp32, device)?;
    let zero = cast::cast(along(zero, axis, rank)?, DataType::Fp32, device)?;
    let shifted = broadcast::binary(&Op::Sub, x, zero)?;
    match scale {
        Some(s) => broadcast::binary(&Op::Mul, shifted, along(s, axis, rank)?),
        None => Ok(shifted),
    }
}

/// `saturate(round_half_even(x / scale) + zero)` in the quantized type `to`.
fn quantize(
    x: Value,
    scale: Value,
    zero: Value,
    axis: usize,
    to: DataType,
    device: &Device,
) -> Res<Value> {
    quantized_type(to)?;
    let rank = x.rank();
    let scaled = broadcast::binary(&Op::Div, x, along(scale, axis, rank)?)?;
    let scalar = scaled.scalar;
    let rounded = Value::of_float(map_tensor!(scaled.float()?, t => t.round()), scalar);
    let zero = cast::cast(along(zero, axis, rank)?, DataType::Fp32, device)?;
    let shifted = broadcast::binary(&Op::Add, rounded, zero)?;
    let scalar = shifted.scalar;
    let (lo, hi) = quantized_range(to);
    let clamped = map_tensor!(shifted.float()?, t => t.clamp(lo, hi));
    // Whole numbers within range: the cast's truncation changes nothing.
    cast::cast(Value::of_float(clamped, scalar), to, device)
}

/// ONNX DynamicQuantizeLinear: UINT8 values, their scale and zero point, from x's range
/// widened to include 0. A constant-zero input gets scale 1 (ONNX Runtime's rule; the spec's
/// formula would divide by zero).
fn dynamic(x: Value, device: &Device) -> Res<Vec<Value>> {
    let rank = x.rank();
    let t = x.clone().float()?;
    let bounds = with_tensor!(t, t => burn::tensor::Tensor::cat(vec![t.clone().min(), t.max()], 0));
    let bounds = host_floats(&Value::of_float(DynTensor::R1(bounds), false))?;
    let [lo, hi] = bounds[..] else {
        return Err("DynamicQuantizeLinear: reading the input's range".into());
    };
    let (lo, hi) = ((lo as f32).min(0.0), (hi as f32).max(0.0));
    if !(lo.is_finite() && hi.is_finite()) {
        return Err("DynamicQuantizeLinear: the input has infinite or NaN values".into());
    }
    let scale = if hi == lo { 1.0 } else { (hi - lo) / 255.0 };
    let zero = (0.0 - lo / scale).clamp(0.0, 255.0).round_ties_even();
    let scale_v = float_value(vec![f64::from(scale)], &[], DataType::Fp32, device)?;
    let zero_v = int_value_of(vec![zero as i64], &[], DataType::Uint8)?
        .into_device(device)
        .map_err(|e| e.to_string())?;
    let y = quantize(
        x,
        scale_v.clone(),
        zero_v.clone(),
        rank.saturating_sub(1),
        DataType::Uint8,
        device,
    )?;
    Ok(vec![y, scale_v, zero_v])
}

/// The float convolution of dequantized `x` and `w` (and a float bias).
fn convolve(x: Value, w: Value, bias: Option<Value>, c: &ConvAttrs) -> Res<Value> {
    let mut rest = vec![w.float()?];
    if let Some(b) = bias {
        rest.push(b.float()?);
    }
    let y = conv_pool::conv(
        x.float()?,
        rest,
        &c.kernel,
        &c.strides,
        &c.dilations,
        c.groups,
        &c.pads,
        c.auto_pad,
        None,
    )?;
    Ok(Value::of_float(y, false))
}

/// An integer-valued float result as INT32 (rounded first: the f32 sums are whole numbers
/// while they stay exact).
fn to_int32(y: DynTensor, device: &Device) -> Res<Value> {
    let rounded = map_tensor!(y, t => t.round());
    cast::cast(Value::of_float(rounded, false), DataType::Int32, device)
}
