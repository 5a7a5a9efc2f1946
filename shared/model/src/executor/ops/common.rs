//! Shape arithmetic every op family shares: ONNX axis resolution, numpy broadcasting, and a
//! reshape whose error is the op's. Kept apart so that the families import only from here,
//! never from each other.

use super::OpResult;
use crate::executor::dyn_tensor::{DynTensor, arr, map_tensor};

pub(super) fn reshape(t: DynTensor, dims: &[usize]) -> OpResult {
    t.reshape(dims).map_err(|e| e.to_string())
}

pub(super) fn resolve_axis(axis: i64, rank: usize) -> std::result::Result<usize, String> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(format!("axis {axis} is out of range for rank {rank}"))
    }
}

pub(super) fn resolve_axes(axes: &[i64], rank: usize) -> std::result::Result<Vec<usize>, String> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let a = resolve_axis(a, rank)?;
        if out.contains(&a) {
            return Err(format!("axis {a} is repeated"));
        }
        out.push(a);
    }
    Ok(out)
}

/// Numpy-style broadcast of two shapes of equal rank.
pub(super) fn broadcast_shape(a: &[usize], b: &[usize]) -> std::result::Result<Vec<usize>, String> {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| match (x, y) {
            _ if x == y => Ok(x),
            (1, _) => Ok(y),
            (_, 1) => Ok(x),
            _ => Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        })
        .collect()
}

/// Broadcasts `t` to `dims` (same rank; size-1 dimensions stretch).
pub(super) fn expand(t: DynTensor, dims: &[usize]) -> OpResult {
    if t.dims() == dims {
        return Ok(t);
    }
    Ok(map_tensor!(t, x => x.expand(arr(dims))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rejects_incompatible_shapes() {
        assert!(broadcast_shape(&[2, 3], &[3, 3]).is_err());
        assert_eq!(broadcast_shape(&[2, 1], &[1, 3]), Ok(vec![2, 3]));
    }
}
