//! Reductions over axes (ReduceMean). GlobalAveragePool, a mean over the spatial axes, is
//! with the pools in `conv_pool`.

use super::OpResult;
use super::common::{reshape, resolve_axes};
use crate::executor::dyn_tensor::{DynTensor, map_tensor};

/// ReduceMean; empty `axes` reduces over every dimension.
pub(super) fn reduce_mean(first: DynTensor, axes: &[i64], keepdims: bool) -> OpResult {
    let dims = first.dims();
    let mut axes = resolve_axes(axes, dims.len())?;
    if axes.is_empty() {
        axes = (0..dims.len()).collect();
    }
    let reduced = map_tensor!(first, t => t.mean_dims(&axes));
    if keepdims {
        return Ok(reduced);
    }
    let kept: Vec<usize> = dims
        .iter()
        .enumerate()
        .filter(|(i, _)| !axes.contains(i))
        .map(|(_, d)| *d)
        .collect();
    reshape(reduced, if kept.is_empty() { &[1] } else { &kept })
}
