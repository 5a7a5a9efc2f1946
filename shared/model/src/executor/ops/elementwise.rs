//! Element-wise one-input ops: activations, math functions and predicates (IsNaN, IsInf,
//! Not), and the softmaxes, which normalise along one axis but keep the shape. Floats take
//! every op; integers take Abs, Neg and Sign; booleans take Not.

use burn::tensor::activation;

use super::common::resolve_axis;
use super::{OpResult, ValueResult};
use crate::executor::dyn_tensor::{DynTensor, map_tensor};
use crate::executor::value::{Typed, Value};
use crate::format::{FusedActivation, Op, UnaryFn};

/// Runs a one-input op that keeps the shape (a scalar stays a scalar).
pub(super) fn unary(op: &Op, first: Value) -> ValueResult {
    let scalar = first.scalar;
    let t = match (op, first.t) {
        (Op::Unary { func: UnaryFn::Not }, Typed::Bool(t)) => {
            Typed::Bool(map_tensor!(t, x => x.bool_not()))
        }
        (Op::Relu, Typed::Int(t, ty)) => Typed::Int(map_tensor!(t, x => x.clamp_min(0)), ty),
        (Op::Clip { min, max }, Typed::Int(t, ty)) => {
            // Integer bounds arrive as f32 attributes; they are whole numbers for integer inputs.
            let (lo, hi) = (min.map(|v| v as i64), max.map(|v| v as i64));
            let t = match (lo, hi) {
                (Some(lo), Some(hi)) => map_tensor!(t, x => x.clamp(lo, hi)),
                (Some(lo), None) => map_tensor!(t, x => x.clamp_min(lo)),
                (None, Some(hi)) => map_tensor!(t, x => x.clamp_max(hi)),
                (None, None) => t,
            };
            Typed::Int(t, ty)
        }
        (Op::Unary { func: UnaryFn::Abs }, Typed::Int(t, ty)) => {
            Typed::Int(map_tensor!(t, x => x.abs()), ty)
        }
        (Op::Unary { func: UnaryFn::Neg }, Typed::Int(t, ty)) => {
            Typed::Int(map_tensor!(t, x => x.neg()), ty)
        }
        (
            Op::Unary {
                func: UnaryFn::Sign,
            },
            Typed::Int(t, ty),
        ) => Typed::Int(map_tensor!(t, x => x.sign()), ty),
        (
            Op::Unary {
                func: UnaryFn::IsNaN,
            },
            Typed::Float(t),
        ) => Typed::Bool(map_tensor!(t, x => x.is_nan())),
        (
            Op::IsInf {
                detect_positive,
                detect_negative,
            },
            Typed::Float(t),
        ) => {
            let (pos, neg) = (*detect_positive, *detect_negative);
            Typed::Bool(map_tensor!(t, x => {
                let inf = x.clone().is_inf();
                match (pos, neg) {
                    (true, true) => inf,
                    (true, false) => inf.bool_and(x.greater_elem(0.0)),
                    (false, true) => inf.bool_and(x.lower_elem(0.0)),
                    (false, false) => inf.bool_and(x.clone().not_equal(x)),
                }
            }))
        }
        (Op::Identity | Op::Dropout, t) => t,
        (op, Typed::Float(t)) => Typed::Float(float_unary(op, t)?),
        (op, t) => {
            return Err(format!(
                "{} is not defined for {} inputs",
                op.name(),
                t.dtype()
            ));
        }
    };
    Ok(Value { t, scalar })
}

/// One-input float maps.
fn float_unary(op: &Op, first: DynTensor) -> OpResult {
    match op {
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
        Op::HardSigmoid { alpha, beta } => {
            let (a, b) = (*alpha, *beta);
            Ok(map_tensor!(first, t => t.mul_scalar(a).add_scalar(b).clamp(0.0, 1.0)))
        }
        Op::Elu { alpha } => {
            let a = *alpha;
            Ok(map_tensor!(first, t => {
                let neg = t.clone().lower_elem(0.0);
                let e = t.clone().exp().sub_scalar(1.0).mul_scalar(a);
                t.mask_where(neg, e)
            }))
        }
        Op::Selu { alpha, gamma } => {
            let (a, g) = (*alpha, *gamma);
            Ok(map_tensor!(first, t => {
                let neg = t.clone().lower_equal_elem(0.0);
                let e = t.clone().exp().sub_scalar(1.0).mul_scalar(a);
                t.mask_where(neg, e).mul_scalar(g)
            }))
        }
        Op::Celu { alpha } => {
            let a = *alpha;
            Ok(map_tensor!(first, t => {
                let e = t.clone().div_scalar(a).exp().sub_scalar(1.0).mul_scalar(a).clamp_max(0.0);
                t.clamp_min(0.0).add(e)
            }))
        }
        Op::ThresholdedRelu { alpha } => {
            let a = *alpha;
            Ok(map_tensor!(first, t => {
                let keep = t.clone().greater_elem(a);
                t.clone().zeros_like().mask_where(keep, t)
            }))
        }
        Op::Unary { func } => Ok(float_fn(*func, first)?),
        other => Err(format!("{} is not an element-wise op", other.name())),
    }
}

/// An activation fused into the op before it, on Burn's ops (the GPU path, Burn's
/// convolution, and the activations a host kernel does not apply in registers).
pub(super) fn fused(activation: FusedActivation, y: DynTensor) -> OpResult {
    let op = match activation {
        FusedActivation::Relu => Op::Relu,
        FusedActivation::Clip { min, max } => Op::Clip {
            min: Some(min),
            max: Some(max),
        },
        FusedActivation::LeakyRelu { alpha } => Op::LeakyRelu { alpha },
        FusedActivation::HardSigmoid { alpha, beta } => Op::HardSigmoid { alpha, beta },
        FusedActivation::HardSwish => Op::Unary {
            func: UnaryFn::HardSwish,
        },
        FusedActivation::Sigmoid => Op::Sigmoid,
        FusedActivation::Silu => {
            return Ok(map_tensor!(y, t => t.clone().mul(activation::sigmoid(t))));
        }
        FusedActivation::Gelu { tanh_approximation } => Op::Gelu { tanh_approximation },
    };
    float_unary(&op, y)
}

fn float_fn(func: UnaryFn, first: DynTensor) -> OpResult {
    Ok(match func {
        UnaryFn::Sqrt => map_tensor!(first, t => t.sqrt()),
        UnaryFn::Exp => map_tensor!(first, t => t.exp()),
        UnaryFn::Log => map_tensor!(first, t => t.log()),
        UnaryFn::Abs => map_tensor!(first, t => t.abs()),
        UnaryFn::Neg => map_tensor!(first, t => t.neg()),
        UnaryFn::Reciprocal => map_tensor!(first, t => t.recip()),
        UnaryFn::Floor => map_tensor!(first, t => t.floor()),
        UnaryFn::Ceil => map_tensor!(first, t => t.ceil()),
        UnaryFn::Round => map_tensor!(first, t => t.round()),
        UnaryFn::Sign => map_tensor!(first, t => t.sign()),
        UnaryFn::Sin => map_tensor!(first, t => t.sin()),
        UnaryFn::Cos => map_tensor!(first, t => t.cos()),
        UnaryFn::Tan => map_tensor!(first, t => t.tan()),
        UnaryFn::Asin => map_tensor!(first, t => t.asin()),
        UnaryFn::Acos => map_tensor!(first, t => t.acos()),
        UnaryFn::Atan => map_tensor!(first, t => t.atan()),
        UnaryFn::Sinh => map_tensor!(first, t => t.sinh()),
        UnaryFn::Cosh => map_tensor!(first, t => t.cosh()),
        UnaryFn::Softplus => map_tensor!(first, t => activation::softplus(t, 1.0)),
        UnaryFn::Softsign => map_tensor!(first, t => t.clone().div(t.abs().add_scalar(1.0))),
        UnaryFn::Mish => map_tensor!(first, t => activation::mish(t)),
        UnaryFn::HardSwish => map_tensor!(first, t => {
            let gate = t.clone().div_scalar(6.0).add_scalar(0.5).clamp(0.0, 1.0);
            t.mul(gate)
        }),
        UnaryFn::IsNaN | UnaryFn::Not => {
            return Err(format!("{} does not produce floats", func.name()));
        }
    })
}
