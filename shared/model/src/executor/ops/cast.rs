//! Cast: element type conversions between floats, integers and booleans, as ONNX Runtime
//! does them: float to integer truncates toward zero, a narrower integer type wraps (two's
//! complement), anything to BOOL is "not zero", FP16 rounds to half precision.

use burn::tensor::{DType, Device, FloatDType};

use super::ValueResult;
use super::common::Res;
use crate::executor::device::is_host;
use crate::executor::dyn_tensor::{DynTensor, map_tensor};
use crate::executor::value::{Typed, Value};
use crate::format::DataType;

pub(super) fn cast(x: Value, to: DataType, device: &Device) -> ValueResult {
    let scalar = x.scalar;
    let t = match (x.t, to) {
        (Typed::Float(t), to) if to.is_float() => Typed::Float(float_to_float(t, to, device)?),
        (Typed::Float(t), to) if to.is_int() => {
            // Truncate toward zero in float first: Burn's float-to-int conversion is not
            // specified for fractions on every backend.
            let t = map_tensor!(t, x => {
                let trunc = x.clone().abs().floor().mul(x.sign());
                trunc.int()
            });
            Typed::Int(wrap(host_i64(t), to)?, to)
        }
        (Typed::Float(t), _) => Typed::Bool(map_tensor!(t, x => x.not_equal_elem(0.0))),
        (Typed::Int(t, _), to) if to.is_float() => {
            let t = map_tensor!(t, x => x.float());
            Typed::Float(float_to_float(t, to, device)?)
        }
        (Typed::Int(t, _), to) if to.is_int() => Typed::Int(wrap(t, to)?, to),
        (Typed::Int(t, _), _) => Typed::Bool(map_tensor!(t, x => x.not_equal_elem(0))),
        (Typed::Bool(t), to) if to.is_float() => {
            let t = map_tensor!(t, x => x.float());
            Typed::Float(float_to_float(t, to, device)?)
        }
        (Typed::Bool(t), to) if to.is_int() => {
            Typed::Int(host_i64(map_tensor!(t, x => x.int())), to)
        }
        (Typed::Bool(t), _) => Typed::Bool(t),
    };
    Ok(Value { t, scalar })
}

fn float_to_float(t: DynTensor, to: DataType, device: &Device) -> Res<DynTensor> {
    match to {
        DataType::Fp64 => {
            if !is_host(&t.device()) || !is_host(device) {
                return Err("a cast to FP64 needs the CPU (WGSL has no f64)".into());
            }
            Ok(map_tensor!(t, x => x.cast(FloatDType::F64)))
        }
        DataType::Fp16 => {
            // Half precision is computed in f32 here; the cast rounds the values to f16.
            let t = if t.dtype() == DType::F32 {
                t
            } else {
                map_tensor!(t, x => x.cast(FloatDType::F32))
            };
            Ok(map_tensor!(t, x => x.cast(FloatDType::F16).cast(FloatDType::F32)))
        }
        _ => Ok(if t.dtype() == DType::F32 {
            t
        } else {
            map_tensor!(t, x => x.cast(FloatDType::F32))
        }),
    }
}

/// Integers on the host are I64 (the executor's convention, as `device_ints` makes them); a
/// conversion to integers may give the backend's default (I32 on burn-flex), which would not
/// mix with the others.
fn host_i64(t: DynTensor<burn::tensor::Int>) -> DynTensor<burn::tensor::Int> {
    if t.dtype() == DType::I32 && crate::executor::device::is_host(&t.device()) {
        map_tensor!(t, x => x.cast(burn::tensor::IntDType::I64))
    } else {
        t
    }
}

/// Integers wrapped into `to`'s range, two's-complement style.
fn wrap(t: DynTensor<burn::tensor::Int>, to: DataType) -> Res<DynTensor<burn::tensor::Int>> {
    let bits = match to {
        DataType::Int8 | DataType::Uint8 => 8,
        DataType::Int32 => 32,
        _ => return Ok(t),
    };
    if bits == 32 && t.dtype() == DType::I32 {
        return Ok(t);
    }
    let (lo, _) = to.int_range();
    let span: i64 = 1 << bits;
    // ((x - lo) mod span) + lo, with a modulo whose result is never negative.
    Ok(map_tensor!(t, x => {
        let shifted = x.sub_scalar(lo);
        let r = shifted.remainder_scalar(span);
        let neg = r.clone().lower_elem(0);
        r.clone().mask_where(neg, r.add_scalar(span)).add_scalar(lo)
    }))
}
