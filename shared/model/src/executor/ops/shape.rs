//! Shape and indexing ops: they move or copy elements without computing on them (Flatten,
//! Reshape, Transpose, Concat, Squeeze, Unsqueeze, Pad).

use burn::tensor::Tensor;
use burn::tensor::ops::PadMode as BurnPadMode;

use super::OpResult;
use super::common::{reshape, resolve_axes, resolve_axis};
use crate::executor::dyn_tensor::{DynTensor, map_tensor};
use crate::format::PadMode;

/// Flatten: `[d0 .. d(axis-1)]` and `[d(axis) ..]` each become one dimension.
pub(super) fn flatten(first: DynTensor, axis: i64) -> OpResult {
    let dims = first.dims();
    let axis = resolve_axis_inclusive(axis, dims.len())?;
    let outer: usize = dims[..axis].iter().product();
    let inner: usize = dims[axis..].iter().product();
    reshape(first, &[outer, inner])
}

/// Reshape with ONNX semantics (0 copies the input dimension, -1 is inferred).
pub(super) fn reshape_op(first: DynTensor, shape: &[i64]) -> OpResult {
    let target = reshape_target(&first.dims(), shape)?;
    reshape(first, &target)
}

pub(super) fn transpose(first: DynTensor, perm: &[usize]) -> OpResult {
    if perm.len() != first.rank() {
        return Err(format!(
            "perm {perm:?} does not fit shape {:?}",
            first.dims()
        ));
    }
    Ok(map_tensor!(first, t => t.permute(arr_i(perm))))
}

/// Squeeze; empty `axes` removes every dimension of size 1.
pub(super) fn squeeze(first: DynTensor, axes: &[i64]) -> OpResult {
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
    reshape(first, if kept.is_empty() { &[1] } else { &kept })
}

pub(super) fn unsqueeze(first: DynTensor, axes: &[i64]) -> OpResult {
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
    reshape(first, &out)
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

fn reshape_target(dims: &[usize], shape: &[i64]) -> std::result::Result<Vec<usize>, String> {
    let total: usize = dims.iter().product();
    let mut out = Vec::with_capacity(shape.len());
    let mut infer = None;
    for (i, &s) in shape.iter().enumerate() {
        match s {
            0 => out.push(
                *dims
                    .get(i)
                    .ok_or_else(|| format!("0 at axis {i} copies a missing dimension"))?,
            ),
            -1 => {
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

pub(super) fn concat(first: DynTensor, rest: Vec<DynTensor>, axis: i64) -> OpResult {
    let dims = first.dims();
    let axis = resolve_axis(axis, dims.len())?;
    for t in &rest {
        let d = t.dims();
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
        assert_eq!(reshape_target(&[2, 3, 4], &[0, -1]), Ok(vec![2, 12]));
        assert_eq!(reshape_target(&[2, 3, 4], &[-1, 4]), Ok(vec![6, 4]));
        assert!(reshape_target(&[2, 3, 4], &[5, -1]).is_err());
        assert!(reshape_target(&[2, 3, 4], &[7]).is_err());
    }
}
