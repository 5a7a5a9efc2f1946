//! Reductions over axes: ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
//! ReduceLogSum, ReduceLogSumExp, ReduceSumSquare and ReduceMean, with the axes as an
//! attribute or as a run-time input, `keepdims` and `noop_with_empty_axes`.
//! GlobalAveragePool, a mean over the spatial axes, is with the pools in `conv_pool`.

use super::ValueResult;
use super::common::{Res, host_ints, reshape_value, resolve_axes};
use crate::executor::dyn_tensor::{DynTensor, map_tensor};
use crate::executor::value::{Typed, Value};
use crate::format::ReduceFn;

pub(super) fn reduce(
    func: ReduceFn,
    x: Value,
    rest: Vec<Value>,
    axes: Option<&[i64]>,
    keepdims: bool,
    noop_with_empty_axes: bool,
) -> ValueResult {
    let axes: Vec<i64> = match (axes, rest.first()) {
        (Some(a), _) => a.to_vec(),
        (None, Some(v)) => host_ints(v)?,
        (None, None) => Vec::new(),
    };
    let dims = x.dims();
    if axes.is_empty() && noop_with_empty_axes {
        return Ok(x);
    }
    let mut axes = resolve_axes(&axes, dims.len())?;
    if axes.is_empty() {
        axes = (0..dims.len()).collect();
    }
    axes.sort_unstable();
    let kept: Vec<usize> = dims
        .iter()
        .enumerate()
        .map(|(i, d)| if axes.contains(&i) { 1 } else { *d })
        .collect();
    if dims.contains(&0) {
        return Err(format!(
            "reducing shape {dims:?}: {}",
            crate::format::EMPTY_TENSORS
        ));
    }
    // A scalar input has no axes: reduce its one element.
    let burn_axes: Vec<usize> = if dims.is_empty() {
        vec![0]
    } else {
        axes.clone()
    };
    let reduced = match x.t {
        Typed::Float(t) => Value::of_float(float_reduce(func, t, &burn_axes)?, false),
        Typed::Int(t, ty) => {
            let t = match func {
                ReduceFn::ReduceSum => map_tensor!(t, v => v.sum_dims(&burn_axes)),
                ReduceFn::ReduceMax => map_tensor!(t, v => v.max_dims(&burn_axes)),
                ReduceFn::ReduceMin => map_tensor!(t, v => v.min_dims(&burn_axes)),
                ReduceFn::ReduceProd => map_tensor!(t, v => v.prod_dims(&burn_axes)),
                ReduceFn::ReduceL1 => map_tensor!(t, v => v.abs().sum_dims(&burn_axes)),
                ReduceFn::ReduceSumSquare => {
                    map_tensor!(t, v => v.clone().mul(v).sum_dims(&burn_axes))
                }
                other => return Err(format!("{} of integers is not supported", other.name())),
            };
            Value::from(Typed::Int(t, ty))
        }
        Typed::Bool(_) => return Err(format!("{} of booleans is not supported", func.name())),
    };
    if keepdims {
        return reshape_value(reduced, &kept);
    }
    let out: Vec<usize> = dims
        .iter()
        .enumerate()
        .filter(|(i, _)| !axes.contains(i))
        .map(|(_, d)| *d)
        .collect();
    reshape_value(reduced, &out)
}

fn float_reduce(func: ReduceFn, t: DynTensor, axes: &[usize]) -> Res<DynTensor> {
    Ok(match func {
        ReduceFn::ReduceSum => map_tensor!(t, v => v.sum_dims(axes)),
        ReduceFn::ReduceMean => map_tensor!(t, v => v.mean_dims(axes)),
        ReduceFn::ReduceMax => map_tensor!(t, v => v.max_dims(axes)),
        ReduceFn::ReduceMin => map_tensor!(t, v => v.min_dims(axes)),
        ReduceFn::ReduceProd => map_tensor!(t, v => v.prod_dims(axes)),
        ReduceFn::ReduceL1 => map_tensor!(t, v => v.abs().sum_dims(axes)),
        ReduceFn::ReduceL2 => map_tensor!(t, v => v.clone().mul(v).sum_dims(axes).sqrt()),
        ReduceFn::ReduceSumSquare => map_tensor!(t, v => v.clone().mul(v).sum_dims(axes)),
        ReduceFn::ReduceLogSum => map_tensor!(t, v => v.sum_dims(axes).log()),
        // Shifted by the maximum so large inputs do not overflow exp.
        ReduceFn::ReduceLogSumExp => map_tensor!(t, v => {
            let max = v.clone().max_dims(axes);
            let shifted = v.sub(max.clone()).exp().sum_dims(axes).log();
            shifted.add(max)
        }),
    })
}
