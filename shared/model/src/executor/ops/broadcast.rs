//! Broadcasting ops of two or more inputs: arithmetic (Add, Sub, Mul, Div, Pow, Mod, PRelu),
//! comparisons (Equal, Less, ...), logic (And, Or, Xor), Min/Max/Sum/Mean, and Where.
//! Inputs are broadcast numpy-style first; a result is a scalar only when every input is.

use burn::tensor::kind::Basic;

use super::ValueResult;
use super::common::{Res, broadcast_shapes, broadcast_to};
use crate::executor::dyn_tensor::DynTensor;
use crate::executor::value::{Typed, Value};
use crate::format::{BinaryFn, Op, VariadicFn};

/// Applies `$body` to two tensors of equal rank, re-wrapping the result.
macro_rules! zip {
    ($a:expr, $b:expr, $x:ident, $y:ident => $body:expr) => {
        match ($a, $b) {
            (DynTensor::R1($x), DynTensor::R1($y)) => DynTensor::R1($body),
            (DynTensor::R2($x), DynTensor::R2($y)) => DynTensor::R2($body),
            (DynTensor::R3($x), DynTensor::R3($y)) => DynTensor::R3($body),
            (DynTensor::R4($x), DynTensor::R4($y)) => DynTensor::R4($body),
            (DynTensor::R5($x), DynTensor::R5($y)) => DynTensor::R5($body),
            (DynTensor::R6($x), DynTensor::R6($y)) => DynTensor::R6($body),
            _ => return Err("operand ranks differ".into()),
        }
    };
}

/// Both tensors broadcast to their common shape.
fn pair<K: Basic + 'static>(a: DynTensor<K>, b: DynTensor<K>) -> Res<(DynTensor<K>, DynTensor<K>)> {
    let out = broadcast_shapes(&[a.dims(), b.dims()])?;
    Ok((broadcast_to(a, &out)?, broadcast_to(b, &out)?))
}

/// The two-input ops, on any mix of element types ONNX allows.
pub(super) fn binary(op: &Op, a: Value, b: Value) -> ValueResult {
    let scalar = a.scalar && b.scalar;
    let name = op.name();
    let func = match op {
        Op::Add => Arith::Add,
        Op::Sub => Arith::Sub,
        Op::Mul => Arith::Mul,
        Op::Div => Arith::Div,
        Op::Binary { func } => match func {
            BinaryFn::Pow => Arith::Pow,
            BinaryFn::Mod => Arith::Mod,
            BinaryFn::Fmod => Arith::Fmod,
            BinaryFn::PRelu => Arith::PRelu,
            BinaryFn::Equal => return compare(Cmp::Eq, a, b, scalar),
            BinaryFn::Less => return compare(Cmp::Lt, a, b, scalar),
            BinaryFn::LessOrEqual => return compare(Cmp::Le, a, b, scalar),
            BinaryFn::Greater => return compare(Cmp::Gt, a, b, scalar),
            BinaryFn::GreaterOrEqual => return compare(Cmp::Ge, a, b, scalar),
            BinaryFn::And | BinaryFn::Or | BinaryFn::Xor => {
                return logic(*func, a, b, scalar);
            }
        },
        other => return Err(format!("{} is not a broadcasting op", other.name())),
    };
    let b = if func == Arith::PRelu {
        channel_slope(&a, b)?
    } else {
        b
    };
    let t = match (a.t, b.t) {
        (Typed::Float(x), Typed::Float(y)) => Typed::Float(float_arith(func, x, y)?),
        // Pow(int, float): computed in float, truncated back to the base's type.
        (Typed::Int(x, ty), Typed::Float(y)) if func == Arith::Pow => {
            let x = crate::executor::dyn_tensor::map_tensor!(x, t => t.float());
            let p = float_arith(func, x, y)?;
            let p = crate::executor::dyn_tensor::map_tensor!(p, t => {
                t.clone().abs().floor().mul(t.sign()).int()
            });
            Typed::Int(p, ty)
        }
        // Pow(float, int): the exponent is converted (ONNX allows mixed types here).
        (Typed::Float(x), Typed::Int(y, _)) if func == Arith::Pow => {
            let y = crate::executor::dyn_tensor::map_tensor!(y, t => t.float());
            Typed::Float(float_arith(func, x, y)?)
        }
        (Typed::Int(x, ty), Typed::Int(y, _)) => Typed::Int(int_arith(func, x, y)?, ty),
        (x, y) => {
            return Err(format!(
                "{name} of {} and {} is not supported",
                x.dtype(),
                y.dtype()
            ));
        }
    };
    Ok(Value { t, scalar })
}

/// PRelu's slope as older exporters wrote it: one value per channel (`[C]` for an input
/// `[N, C, ...]`), which numpy broadcasting would align with the last axis instead.
fn channel_slope(x: &Value, slope: Value) -> Res<Value> {
    let (dims, s) = (x.dims(), slope.dims());
    if broadcast_shapes(&[dims.clone(), s.clone()]).is_ok()
        || s.len() != 1
        || dims.len() < 2
        || dims[1] != s[0]
    {
        return Ok(slope);
    }
    let mut shape = vec![1; dims.len() - 1];
    shape[0] = s[0];
    super::common::reshape_value(slope, &shape)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Mod,
    Fmod,
    PRelu,
    Min,
    Max,
}

fn float_arith(func: Arith, a: DynTensor, b: DynTensor) -> Res<DynTensor> {
    let (a, b) = pair(a, b)?;
    Ok(match func {
        Arith::Add => zip!(a, b, x, y => x.add(y)),
        Arith::Sub => zip!(a, b, x, y => x.sub(y)),
        Arith::Mul => zip!(a, b, x, y => x.mul(y)),
        Arith::Div => zip!(a, b, x, y => x.div(y)),
        Arith::Pow => zip!(a, b, x, y => x.powf(y)),
        Arith::Min => zip!(a, b, x, y => x.min_pair(y)),
        Arith::Max => zip!(a, b, x, y => x.max_pair(y)),
        // C's fmod: the remainder has the dividend's sign.
        Arith::Fmod | Arith::Mod => zip!(a, b, x, y => {
            let q = x.clone().div(y.clone());
            let trunc = q.clone().abs().floor().mul(q.sign());
            x.sub(trunc.mul(y))
        }),
        Arith::PRelu => zip!(a, b, x, y => {
            let neg = x.clone().lower_elem(0.0);
            let scaled = x.clone().mul(y);
            x.mask_where(neg, scaled)
        }),
    })
}

fn int_arith(
    func: Arith,
    a: DynTensor<burn::tensor::Int>,
    b: DynTensor<burn::tensor::Int>,
) -> Res<DynTensor<burn::tensor::Int>> {
    let (a, b) = pair(a, b)?;
    Ok(match func {
        Arith::Add => zip!(a, b, x, y => x.add(y)),
        Arith::Sub => zip!(a, b, x, y => x.sub(y)),
        Arith::Mul => zip!(a, b, x, y => x.mul(y)),
        // Integer division truncates toward zero (C, ONNX Runtime).
        Arith::Div => zip!(a, b, x, y => {
            let q = x.clone().abs().div(y.clone().abs());
            q.mul(x.sign().mul(y.sign()))
        }),
        Arith::Min => zip!(a, b, x, y => x.min_pair(y)),
        Arith::Max => zip!(a, b, x, y => x.max_pair(y)),
        Arith::Pow => zip!(a, b, x, y => x.powi(y)),
        // Python's modulo: the remainder has the divisor's sign.
        Arith::Mod => zip!(a, b, x, y => {
            let r = x.remainder(y.clone());
            let fix = r.clone().not_equal_elem(0).bool_and(r.clone().sign().not_equal(y.clone().sign()));
            r.clone().mask_where(fix, r.add(y))
        }),
        Arith::Fmod => zip!(a, b, x, y => {
            let q = x.clone().abs().div(y.clone().abs()).mul(x.clone().sign().mul(y.clone().sign()));
            x.sub(q.mul(y))
        }),
        Arith::PRelu => zip!(a, b, x, y => {
            let neg = x.clone().lower_elem(0);
            let scaled = x.clone().mul(y);
            x.mask_where(neg, scaled)
        }),
    })
}

#[derive(Debug, Clone, Copy)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

fn compare(cmp: Cmp, a: Value, b: Value, scalar: bool) -> ValueResult {
    macro_rules! ordered {
        ($a:expr, $b:expr) => {{
            let (a, b) = pair($a, $b)?;
            match cmp {
                Cmp::Eq => zip!(a, b, x, y => x.equal(y)),
                Cmp::Lt => zip!(a, b, x, y => x.lower(y)),
                Cmp::Le => zip!(a, b, x, y => x.lower_equal(y)),
                Cmp::Gt => zip!(a, b, x, y => x.greater(y)),
                Cmp::Ge => zip!(a, b, x, y => x.greater_equal(y)),
            }
        }};
    }
    let t = match (a.t, b.t) {
        (Typed::Float(x), Typed::Float(y)) => ordered!(x, y),
        (Typed::Int(x, _), Typed::Int(y, _)) => ordered!(x, y),
        (Typed::Bool(x), Typed::Bool(y)) if matches!(cmp, Cmp::Eq) => {
            let (x, y) = pair(x, y)?;
            zip!(x, y, p, q => p.equal(q))
        }
        (x, y) => {
            return Err(format!(
                "comparing {} with {} is not supported",
                x.dtype(),
                y.dtype()
            ));
        }
    };
    Ok(Value {
        t: Typed::Bool(t),
        scalar,
    })
}

fn logic(func: BinaryFn, a: Value, b: Value, scalar: bool) -> ValueResult {
    let (Typed::Bool(x), Typed::Bool(y)) = (a.t, b.t) else {
        return Err(format!("{} takes boolean inputs", func.name()));
    };
    let (x, y) = pair(x, y)?;
    let t = match func {
        BinaryFn::And => zip!(x, y, p, q => p.bool_and(q)),
        BinaryFn::Or => zip!(x, y, p, q => p.bool_or(q)),
        _ => zip!(x, y, p, q => p.bool_xor(q)),
    };
    Ok(Value {
        t: Typed::Bool(t),
        scalar,
    })
}

/// Min, Max, Sum and Mean of one or more inputs.
pub(super) fn variadic(func: VariadicFn, first: Value, rest: Vec<Value>) -> ValueResult {
    let count = 1 + rest.len();
    let arith = match func {
        VariadicFn::Min => Arith::Min,
        VariadicFn::Max => Arith::Max,
        VariadicFn::Sum | VariadicFn::Mean => Arith::Add,
    };
    let mut acc = first;
    for next in rest {
        let scalar = acc.scalar && next.scalar;
        let t = match (acc.t, next.t) {
            (Typed::Float(x), Typed::Float(y)) => Typed::Float(float_arith(arith, x, y)?),
            (Typed::Int(x, ty), Typed::Int(y, _)) => Typed::Int(int_arith(arith, x, y)?, ty),
            (x, y) => {
                return Err(format!(
                    "{} of {} and {} is not supported",
                    func.name(),
                    x.dtype(),
                    y.dtype()
                ));
            }
        };
        acc = Value { t, scalar };
    }
    if func == VariadicFn::Mean {
        let scalar = acc.scalar;
        let t = acc.float()?;
        let n = count as f32;
        let t = crate::executor::dyn_tensor::map_tensor!(t, x => x.div_scalar(n));
        return Ok(Value::of_float(t, scalar));
    }
    Ok(acc)
}

/// `Clip(x, min?, max?)` with bounds read at run time: `Min(Max(x, min), max)`, so a `min`
/// above `max` gives `max` everywhere, as ONNX says. Each bound is one value.
pub(super) fn clip_bounds(x: Value, rest: Vec<Value>, has_min: bool, has_max: bool) -> ValueResult {
    let mut bounds = rest.into_iter();
    let mut bound = || -> ValueResult {
        let b = bounds.next().ok_or("Clip's bound input is missing")?;
        if b.dims().iter().product::<usize>() != 1 {
            return Err(format!(
                "Clip's bounds must be one value, got shape {:?}",
                b.dims()
            ));
        }
        Ok(Value { scalar: true, ..b })
    };
    let mut x = x;
    if has_min {
        x = variadic(VariadicFn::Max, x, vec![bound()?])?;
    }
    if has_max {
        x = variadic(VariadicFn::Min, x, vec![bound()?])?;
    }
    Ok(x)
}

/// `Where(condition, x, y)`: `x` where the condition holds, else `y`.
pub(super) fn where_op(condition: Value, rest: Vec<Value>) -> ValueResult {
    let mut rest = rest.into_iter();
    let (Some(x), Some(y)) = (rest.next(), rest.next()) else {
        return Err("Where takes three inputs".into());
    };
    let scalar = condition.scalar && x.scalar && y.scalar;
    let Typed::Bool(c) = condition.t else {
        return Err(format!(
            "Where's condition must be boolean, got {}",
            condition.t.dtype()
        ));
    };
    let out = broadcast_shapes(&[c.dims(), x.t.dims(), y.t.dims()])?;
    let c = broadcast_to(c, &out)?;
    macro_rules! select {
        ($x:expr, $y:expr) => {{
            let (x, y) = (broadcast_to($x, &out)?, broadcast_to($y, &out)?);
            match (x, y, c) {
                (DynTensor::R1(x), DynTensor::R1(y), DynTensor::R1(c)) => {
                    DynTensor::R1(y.mask_where(c, x))
                }
                (DynTensor::R2(x), DynTensor::R2(y), DynTensor::R2(c)) => {
                    DynTensor::R2(y.mask_where(c, x))
                }
                (DynTensor::R3(x), DynTensor::R3(y), DynTensor::R3(c)) => {
                    DynTensor::R3(y.mask_where(c, x))
                }
                (DynTensor::R4(x), DynTensor::R4(y), DynTensor::R4(c)) => {
                    DynTensor::R4(y.mask_where(c, x))
                }
                (DynTensor::R5(x), DynTensor::R5(y), DynTensor::R5(c)) => {
                    DynTensor::R5(y.mask_where(c, x))
                }
                (DynTensor::R6(x), DynTensor::R6(y), DynTensor::R6(c)) => {
                    DynTensor::R6(y.mask_where(c, x))
                }
                _ => return Err("operand ranks differ".into()),
            }
        }};
    }
    let t = match (x.t, y.t) {
        (Typed::Float(x), Typed::Float(y)) => Typed::Float(select!(x, y)),
        (Typed::Int(x, ty), Typed::Int(y, _)) => Typed::Int(select!(x, y), ty),
        (Typed::Bool(x), Typed::Bool(y)) => Typed::Bool(select!(x, y)),
        (x, y) => {
            return Err(format!(
                "Where's branches differ in type ({} and {})",
                x.dtype(),
                y.dtype()
            ));
        }
    };
    Ok(Value { t, scalar })
}
