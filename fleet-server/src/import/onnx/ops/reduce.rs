//! Reductions over constant axes. ReduceMean with no axes and `noop_with_empty_axes` is the
//! identity, as ONNX defines it.

use edge_model::format::Op;
use onnx_ir::node::reduce::{ReduceAxes, ReduceMeanNode};

use super::{Lowered, Lowering, runtime_input};

pub(super) fn reduce_mean(n: &ReduceMeanNode) -> Lowering {
    let ReduceAxes::Static(axes) = &n.config.axes else {
        return Err(runtime_input("axes"));
    };
    if axes.is_empty() && n.config.noop_with_empty_axes {
        return Lowered::reads(Op::Identity, 1);
    }
    Lowered::reads(
        Op::ReduceMean {
            axes: axes.iter().map(|&a| a as i64).collect(),
            keepdims: n.config.keepdims,
        },
        1,
    )
}
