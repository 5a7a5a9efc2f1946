//! Reductions (ReduceSum .. ReduceMean): axes known at import become an attribute, axes
//! computed at run time a second input. No axes with `noop_with_empty_axes` is the identity,
//! as ONNX defines it.

use edge_model::format::{Op, ReduceFn};
use onnx_ir::node::reduce::{ReduceAxes, ReduceConfig};

use super::{Lowered, Lowering, Param};

pub(super) fn reduce(func: ReduceFn, config: &ReduceConfig) -> Lowering {
    match &config.axes {
        ReduceAxes::Static(axes) => {
            if axes.is_empty() && config.noop_with_empty_axes {
                return Lowered::reads(Op::Identity, 1);
            }
            Lowered::reads(
                Op::Reduce {
                    func,
                    axes: Some(axes.iter().map(|&a| a as i64).collect()),
                    keepdims: config.keepdims,
                    noop_with_empty_axes: config.noop_with_empty_axes,
                },
                1,
            )
        }
        ReduceAxes::Runtime(r) => Lowered::with_params(
            Op::Reduce {
                func,
                axes: None,
                keepdims: config.keepdims,
                noop_with_empty_axes: config.noop_with_empty_axes,
            },
            1,
            vec![Param::from_runtime(r)],
        ),
    }
}
