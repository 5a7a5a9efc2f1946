//! Shape ops: they move or copy elements without computing on them (Flatten, Reshape,
//! Transpose, Concat, Split, Squeeze, Unsqueeze; Pad has its own file), on values of any
//! element type; Reshape, Squeeze, Unsqueeze and Split also take their shape, axes or sizes
//! as a run-time input.

use burn::tensor::kind::Basic;
use burn::tensor::{Slice, Tensor};

use super::ValueResult;
use super::common::{Res, any_kind, arr_i, host_ints, reshape_value, resolve_axes, resolve_axis};
use crate::executor::dyn_tensor::{DynTensor, map_tensor};
use crate::executor::value::{Typed, Value};

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

/// `Split(x, sizes?)` along `axis` into `outputs` parts: the sizes given, or equal parts of
/// `ceil(dim / outputs)` with the last one smaller (ONNX's rule since opset 18; earlier
/// opsets need an even split, which the same rule gives).
pub(super) fn split(x: Value, rest: Vec<Value>, axis: i64, outputs: usize) -> Res<Vec<Value>> {
    let dims = x.dims();
    let axis = resolve_axis(axis, dims.len())?;
    let d = dims[axis];
    let sizes: Vec<usize> = match rest.first() {
        Some(sizes) => {
            let sizes = host_ints(sizes)?;
            if sizes.len() != outputs {
                return Err(format!("{} split sizes for {outputs} outputs", sizes.len()));
            }
            sizes
                .iter()
                .map(|&s| usize::try_from(s).map_err(|_| format!("negative split size {s}")))
                .collect::<Res<_>>()?
        }
        None => {
            let chunk = d.div_ceil(outputs.max(1));
            (0..outputs)
                .map(|i| chunk.min(d.saturating_sub(i * chunk)))
                .collect()
        }
    };
    if sizes.iter().sum::<usize>() != d {
        return Err(format!(
            "split sizes {sizes:?} do not add up to dimension {axis} of {dims:?}"
        ));
    }
    if sizes.contains(&0) {
        return Err(format!(
            "a split part of size 0: {}",
            crate::format::EMPTY_TENSORS
        ));
    }
    let mut parts = Vec::with_capacity(outputs);
    let mut start = 0;
    for size in sizes {
        let slices: Vec<Slice> = dims
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                if i == axis {
                    Slice::new(start as isize, Some((start + size) as isize), 1)
                } else {
                    Slice::new(0, Some(n as isize), 1)
                }
            })
            .collect();
        let t = any_kind!(x.t.clone(), t => map_tensor!(t, v => v.slice(slices.as_slice())));
        parts.push(Value::from(t));
        start += size;
    }
    Ok(parts)
}

/// DepthToSpace: `[N, C, H, W]` → `[N, C / b², H·b, W·b]`; DCR takes the block from the
/// leading channels, CRD from the trailing ones.
pub(super) fn depth_to_space(x: Value, block: usize, crd: bool) -> ValueResult {
    let dims = x.dims();
    let [n, c, h, w] = dims[..] else {
        return Err(format!("needs [N, C, H, W], got {dims:?}"));
    };
    let b = block;
    if c % (b * b) != 0 {
        return Err(format!(
            "{c} channels are not a multiple of blocksize² = {}",
            b * b
        ));
    }
    let d = c / (b * b);
    let (view, perm): (Vec<usize>, [usize; 6]) = if crd {
        (vec![n, d, b, b, h, w], [0, 1, 4, 2, 5, 3])
    } else {
        (vec![n, b, b, d, h, w], [0, 3, 4, 1, 5, 2])
    };
    let t = transpose(reshape_value(x, &view)?, &perm)?;
    reshape_value(t, &[n, d, h * b, w * b])
}

/// SpaceToDepth: `[N, C, H, W]` → `[N, C·b², H / b, W / b]`.
pub(super) fn space_to_depth(x: Value, block: usize) -> ValueResult {
    let dims = x.dims();
    let [n, c, h, w] = dims[..] else {
        return Err(format!("needs [N, C, H, W], got {dims:?}"));
    };
    let b = block;
    if h % b != 0 || w % b != 0 {
        return Err(format!("blocksize {b} does not divide {h}x{w}"));
    }
    let t = reshape_value(x, &[n, c, h / b, b, w / b, b])?;
    let t = transpose(t, &[0, 3, 5, 1, 2, 4])?;
    reshape_value(t, &[n, c * b * b, h / b, w / b])
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
