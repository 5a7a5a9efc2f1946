//! GatherND, ScatterND and ScatterElements: their indices and updates are graph values (or
//! initializers), read as they are.

use edge_model::format::{Op, ScatterReduction};
use onnx_ir::node::gathernd::GatherNDNode;
use onnx_ir::node::scatter_elements::{ScatterElementsNode, ScatterElementsReduction};
use onnx_ir::node::scatter_nd::{ScatterNDNode, ScatterNDReduction};

use super::{Lowered, Lowering};

pub(super) fn gather_nd(n: &GatherNDNode) -> Lowering {
    Lowered::reads(
        Op::GatherND {
            batch_dims: n.config.batch_dims,
        },
        2,
    )
}

pub(super) fn scatter_nd(n: &ScatterNDNode) -> Lowering {
    let reduction = match n.config.reduction {
        ScatterNDReduction::None => ScatterReduction::None,
        ScatterNDReduction::Add => ScatterReduction::Add,
        ScatterNDReduction::Mul => ScatterReduction::Mul,
        ScatterNDReduction::Max => ScatterReduction::Max,
        ScatterNDReduction::Min => ScatterReduction::Min,
    };
    Lowered::reads(Op::ScatterND { reduction }, 3)
}

pub(super) fn scatter_elements(n: &ScatterElementsNode) -> Lowering {
    let reduction = match n.config.reduction {
        ScatterElementsReduction::None => ScatterReduction::None,
        ScatterElementsReduction::Add => ScatterReduction::Add,
        ScatterElementsReduction::Mul => ScatterReduction::Mul,
        ScatterElementsReduction::Max => ScatterReduction::Max,
        ScatterElementsReduction::Min => ScatterReduction::Min,
    };
    Lowered::reads(
        Op::ScatterElements {
            axis: n.config.axis as i64,
            reduction,
        },
        3,
    )
}
