//! Element-wise ops: activations and other one-input maps (Relu .. Clip, and the softmaxes,
//! which normalise along one axis but keep the shape), and the broadcasting binary
//! arithmetic (Add, Sub, Mul, Div).

use burn::tensor::activation;

use super::OpResult;
use super::common::{broadcast_shape, expand, resolve_axis};
use crate::executor::dyn_tensor::{DynTensor, map_tensor};
use crate::format::Op;

/// Runs a one-input op that keeps the shape.
pub(super) fn unary(op: &Op, first: DynTensor) -> OpResult {
    match op {
        Op::Identity | Op::Dropout => Ok(first),
        Op::Relu => Ok(map_tensor!(first, t => activation::relu(t))),
        Op::Sigmoid => Ok(map_tensor!(first, t => activation::sigmoid(t))),
        Op::Tanh => Ok(map_tensor!(first, t => t.tanh())),
        Op::Erf => Ok(map_tensor!(first, t => t.erf())),
        Op::LeakyRelu { alpha } => {
            let alpha = f64::from(*alpha);
            Ok(map_tensor!(first, t => activation::leaky_relu(t, alpha)))
        }
        Op::Gelu { tanh_approximation } => Ok(if *tanh_approximation {
            map_tensor!(first, t => activation::gelu_approximate(t))
        } else {
            map_tensor!(first, t => activation::gelu(t))
        }),
        Op::Softmax { axis } => {
            let axis = resolve_axis(*axis, first.rank())?;
            Ok(map_tensor!(first, t => activation::softmax(t, axis)))
        }
        Op::LogSoftmax { axis } => {
            let axis = resolve_axis(*axis, first.rank())?;
            Ok(map_tensor!(first, t => activation::log_softmax(t, axis)))
        }
        Op::Clip { min, max } => Ok(match (min, max) {
            (Some(lo), Some(hi)) => map_tensor!(first, t => t.clamp(*lo, *hi)),
            (Some(lo), None) => map_tensor!(first, t => t.clamp_min(*lo)),
            (None, Some(hi)) => map_tensor!(first, t => t.clamp_max(*hi)),
            (None, None) => first,
        }),
        other => Err(format!("{} is not an element-wise op", other.name())),
    }
}

pub(super) fn binary(op: &Op, a: DynTensor, b: DynTensor) -> OpResult {
    let rank = a.rank().max(b.rank());
    let a = a.unsqueeze_to(rank).map_err(|e| e.to_string())?;
    let b = b.unsqueeze_to(rank).map_err(|e| e.to_string())?;
    let out = broadcast_shape(&a.dims(), &b.dims())?;
    let a = expand(a, &out)?;
    let b = expand(b, &out)?;
    macro_rules! apply {
        ($f:ident) => {
            match (a, b) {
                (DynTensor::R1(x), DynTensor::R1(y)) => DynTensor::R1(x.$f(y)),
                (DynTensor::R2(x), DynTensor::R2(y)) => DynTensor::R2(x.$f(y)),
                (DynTensor::R3(x), DynTensor::R3(y)) => DynTensor::R3(x.$f(y)),
                (DynTensor::R4(x), DynTensor::R4(y)) => DynTensor::R4(x.$f(y)),
                (DynTensor::R5(x), DynTensor::R5(y)) => DynTensor::R5(x.$f(y)),
                (DynTensor::R6(x), DynTensor::R6(y)) => DynTensor::R6(x.$f(y)),
                _ => return Err("operand ranks differ".into()),
            }
        };
    }
    Ok(match op {
        Op::Add => apply!(add),
        Op::Sub => apply!(sub),
        Op::Mul => apply!(mul),
        _ => apply!(div),
    })
}
