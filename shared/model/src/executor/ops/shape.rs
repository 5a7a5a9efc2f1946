//! Shape ops: they move or copy elements without computing on them (Flatten, Reshape,
//! Transpose, Concat, Squeeze, Unsqueeze, Pad), on values of any element type; Reshape,
//! Squeeze and Unsqueeze also take their shape or axes as a run-time input.

use burn::tensor::Tensor;
use burn::tensor::kind::Basic;
use burn::tensor::ops::PadMode as BurnPadMode;

use super::common::{Res, host_ints, reshape_value, resolve_axes, resolve_axis};
use super::{OpResult, ValueResult};
use crate::executor::dyn_tensor::{DynTensor, map_tensor};
use crate::executor::value::{Typed, Value};
use crate::format::PadMode;

/// Runs a kind-generic `$body` on a value's tensor, keeping its type.
macro_rules! any_kind {
    ($v:expr, $t:ident => $body:expr) => {
        match $v {
            Typed::Float($t) => Typed::Float($body),
            Typed::Int($t, ty) => Typed::Int($body, ty),
            Typed::Bool($t) => Typed::Bool($body),
        }
    };
}

/// Flatten: `[d0 .. d(axis-1)]` and `[d(axis) ..]` each become one dimension.
pub(super) fn flatten(first: Value, axis: i64) -> ValueResult {
    let dims = first.dims();
    let axis = resolve_axis_inclusive(axis, dims.len())?;
    let outer: usize = dims[..axis].iter().product();
    let inner: usize = dims[axis..].iter().product();
    reshape_value(first, &[outer, inner])
}

/// Reshape with ONNX semantics (0 copies the input dimension, -1 is inferred).
pub(super) fn reshape_value_op(first: Value, shape: &[i64]) -> ValueResult {
    let target = reshape_target(&first.dims(), shape, false)?;
    reshape_value(first, &target)
}

/// Reshape to a shape computed at run time; `allowzero` makes 0 a real zero-size dimension.
pub(super) fn reshape_dynamic(first: Value, shape: Value, allowzero: bool) -> ValueResult {
    let shape = host_ints(&shape)?;
    let target = reshape_target(&first.dims(), &shape, allowzero)?;
    reshape_value(first, &target)
}

pub(super) fn unsqueeze_dynamic(first: Value, axes: Value) -> ValueResult {
    unsqueeze(first, &host_ints(&axes)?)
}

pub(super) fn squeeze_dynamic(first: Value, axes: Value) -> ValueResult {
    squeeze(first, &host_ints(&axes)?)
}

pub(super) fn transpose(first: Value, perm: &[usize]) -> ValueResult {
    if first.scalar && perm.is_empty() {
        return Ok(first);
    }
    if perm.len() != first.rank() {
        return Err(format!(
            "perm {perm:?} does not fit shape {:?}",
            first.dims()
        ));
    }
    let t = any_kind!(first.t, t => map_tensor!(t, x => x.permute(arr_i(perm))));
    Ok(Value::from(t))
}

/// Squeeze; empty `axes` removes every dimension of size 1.
pub(super) fn squeeze(first: Value, axes: &[i64]) -> ValueResult {
    let dims = first.dims();
    let axes = resolve_axes(axes, dims.len())?;
    if let Some(&bad) = axes.iter().find(|&&a| dims[a] != 1) {
        return Err(format!("cannot squeeze axis {bad} of shape {dims:?}"));
    }
    let kept: Vec<usize> = dims
        .iter()
        .enumerate()
        .filter(|(i, d)| {
            if axes.is_empty() {
                **d != 1
            } else {
                !axes.contains(i)
            }
        })
        .map(|(_, d)| *d)
        .collect();
    reshape_value(first, &kept)
}

pub(super) fn unsqueeze(first: Value, axes: &[i64]) -> ValueResult {
    let dims = first.dims();
    let out_rank = dims.len() + axes.len();
    let mut axes = resolve_axes(axes, out_rank)?;
    axes.sort_unstable();
    let mut out = Vec::with_capacity(out_rank);
    let mut rest = dims.iter();
    for i in 0..out_rank {
        if axes.contains(&i) {
            out.push(1);
        } else {
            out.push(*rest.next().ok_or("duplicate axes")?);
        }
    }
    reshape_value(first, &out)
}

fn arr_i<const N: usize>(perm: &[usize]) -> [isize; N] {
    let mut out = [0isize; N];
    for (o, p) in out.iter_mut().zip(perm) {
        *o = *p as isize;
    }
    out
}

/// Like `resolve_axis` but `rank` itself is allowed (Flatten).
fn resolve_axis_inclusive(axis: i64, rank: usize) -> std::result::Result<usize, String> {
    if axis == rank as i64 {
        return Ok(rank);
    }
    resolve_axis(axis, rank)
}

fn reshape_target(
    dims: &[usize],
    shape: &[i64],
    allowzero: bool,
) -> std::result::Result<Vec<usize>, String> {
    let total: usize = dims.iter().product();
    let mut out = Vec::with_capacity(shape.len());
    let mut infer = None;
    for (i, &s) in shape.iter().enumerate() {
        match s {
            0 if !allowzero => out.push(
                *dims
                    .get(i)
                    .ok_or_else(|| format!("0 at axis {i} copies a missing dimension"))?,
            ),
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            s => out.push(usize::try_from(s).map_err(|_| format!("invalid dimension {s}"))?),
        }
    }
    let known: usize = out.iter().product();
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot infer -1 reshaping {dims:?} to {shape:?}"));
        }
        out[i] = total / known;
    }
    if out.iter().product::<usize>() != total {
        return Err(format!("cannot reshape {dims:?} to {shape:?}"));
    }
    Ok(out)
}

pub(super) fn concat(first: Value, rest: Vec<Value>, axis: i64) -> ValueResult {
    let dims = first.t.dims();
    let axis = resolve_axis(axis, first.rank().max(1))?;
    for v in &rest {
        let d = v.t.dims();
        let fits = d.len() == dims.len()
            && d.iter()
                .zip(&dims)
                .enumerate()
                .all(|(i, (a, b))| i == axis || a == b);
        if !fits {
            return Err(format!(
                "cannot concatenate {dims:?} and {d:?} on axis {axis}"
            ));
        }
    }
    let t = match first.t {
        Typed::Float(f) => Typed::Float(cat(
            f,
            rest.into_iter().map(|v| v.float()).collect::<Res<_>>()?,
            axis,
        )?),
        Typed::Int(f, ty) => {
            let mut all = Vec::new();
            for v in rest {
                match v.t {
                    Typed::Int(t, _) => all.push(t),
                    other => return Err(format!("cannot concatenate {ty} and {}", other.dtype())),
                }
            }
            Typed::Int(cat(f, all, axis)?, ty)
        }
        Typed::Bool(f) => {
            let mut all = Vec::new();
            for v in rest {
                match v.t {
                    Typed::Bool(t) => all.push(t),
                    other => return Err(format!("cannot concatenate BOOL and {}", other.dtype())),
                }
            }
            Typed::Bool(cat(f, all, axis)?)
        }
    };
    Ok(Value::from(t))
}

fn cat<K: Basic + 'static>(
    first: DynTensor<K>,
    rest: Vec<DynTensor<K>>,
    axis: usize,
) -> Res<DynTensor<K>> {
    macro_rules! cat {
        ($variant:ident, $first:ident) => {{
            let mut all = vec![$first];
            for t in rest {
                match t {
                    DynTensor::$variant(t) => all.push(t),
                    _ => return Err("ranks differ".into()),
                }
            }
            DynTensor::$variant(Tensor::cat(all, axis))
        }};
    }
    Ok(match first {
        DynTensor::R1(f) => cat!(R1, f),
        DynTensor::R2(f) => cat!(R2, f),
        DynTensor::R3(f) => cat!(R3, f),
        DynTensor::R4(f) => cat!(R4, f),
        DynTensor::R5(f) => cat!(R5, f),
        DynTensor::R6(f) => cat!(R6, f),
    })
}

pub(super) fn pad(x: DynTensor, pads: &[usize], mode: PadMode, value: f32) -> OpResult {
    let dims = x.dims();
    let rank = dims.len();
    if pads.len() != 2 * rank {
        return Err(format!("{} pads for a rank-{rank} input", pads.len()));
    }
    let pairs: Vec<(usize, usize)> = (0..rank).map(|i| (pads[i], pads[i + rank])).collect();
    let mode = match mode {
        PadMode::Constant => BurnPadMode::Constant(value),
        PadMode::Edge => BurnPadMode::Edge,
        PadMode::Reflect => {
            if let Some(i) = (0..rank).find(|&i| pairs[i].0.max(pairs[i].1) >= dims[i]) {
                return Err(format!(
                    "reflect padding {:?} is not smaller than dimension {i} of {dims:?}",
                    pairs[i]
                ));
            }
            BurnPadMode::Reflect
        }
    };
    if mode == BurnPadMode::Edge && (0..rank).any(|i| dims[i] == 0 && pairs[i] != (0, 0)) {
        return Err("edge padding of an empty dimension".into());
    }
    Ok(map_tensor!(x, t => t.pad(pairs.clone(), mode)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_target_follows_onnx_rules() {
        assert_eq!(reshape_target(&[2, 3, 4], &[0, -1], false), Ok(vec![2, 12]));
        assert_eq!(reshape_target(&[2, 3, 4], &[-1, 4], false), Ok(vec![6, 4]));
        assert!(reshape_target(&[2, 3, 4], &[5, -1], false).is_err());
        assert!(reshape_target(&[2, 3, 4], &[7], false).is_err());
        assert!(reshape_target(&[2, 3, 4], &[-1, -1], false).is_err());
    }
}
