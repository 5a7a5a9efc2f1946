//! TopK and OneHot. TopK's `k` and OneHot's depth and values may be known at import (stored as
//! weights, in their own element type) or computed at run time.

use edge_model::format::Op;
use onnx_ir::node::one_hot::OneHotNode;
use onnx_ir::node::topk::{TopKInput, TopKNode};

use super::{Lowered, Lowering, Param};

/// TopK gives two outputs: the values and their INT64 indices.
pub(super) fn top_k(n: &TopKNode) -> Lowering {
    let k = match &n.config.k {
        TopKInput::Static(k) => Param::Ints(vec![*k as i64]),
        TopKInput::Runtime(r) => Param::from_runtime(r),
    };
    Lowered::with_params(
        Op::TopK {
            axis: n.config.axis as i64,
            largest: n.config.largest,
            sorted: n.config.sorted,
        },
        1,
        vec![k],
    )
}

/// OneHot reads its depth and its `[off, on]` values from the node's inputs either way: onnx-ir
/// gives static values as f32, and the output's element type is the values' own.
pub(super) fn one_hot(n: &OneHotNode) -> Lowering {
    Lowered::with_params(
        Op::OneHot {
            axis: n.config.axis,
        },
        1,
        vec![Param::Input(1), Param::Input(2)],
    )
}
