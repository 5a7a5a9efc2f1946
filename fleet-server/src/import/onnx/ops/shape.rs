//! Shape and indexing: Flatten, Reshape, Transpose, Concat, Squeeze, Unsqueeze and Pad.
//! Reshape's shape and Squeeze's and Unsqueeze's axes may be computed at run time (a second
//! input); permutations and paddings must be known at import.

use edge_model::format::{Op, PadMode};
use onnx_ir::node::concat::ConcatNode;
use onnx_ir::node::flatten::FlattenNode;
use onnx_ir::node::pad::{ConstantValueInput, PadInput, PadMode as IrPadMode, PadNode};
use onnx_ir::node::reshape::{ReshapeInput, ReshapeNode};
use onnx_ir::node::squeeze::{SqueezeInput, SqueezeNode};
use onnx_ir::node::transpose::TransposeNode;
use onnx_ir::node::unsqueeze::{UnsqueezeConfig, UnsqueezeNode};

use super::{Lowered, Lowering, Param, runtime_input};

pub(super) fn flatten(n: &FlattenNode) -> Lowering {
    Lowered::reads(
        Op::Flatten {
            axis: n.config.axis as i64,
        },
        1,
    )
}

pub(super) fn reshape(n: &ReshapeNode) -> Lowering {
    match &n.config.shape {
        ReshapeInput::Static(shape) => Lowered::reads(
            Op::Reshape {
                shape: shape.clone(),
            },
            1,
        ),
        ReshapeInput::Runtime(r) => Lowered::with_params(
            Op::ReshapeDynamic { allowzero: false },
            1,
            vec![Param::from_runtime(r)],
        ),
    }
}

pub(super) fn transpose(n: &TransposeNode) -> Lowering {
    let perm = n
        .config
        .perm
        .iter()
        .map(|&p| usize::try_from(p).map_err(|_| format!("negative perm {p}")))
        .collect::<Result<Vec<_>, _>>()?;
    Lowered::reads(Op::Transpose { perm }, 1)
}

/// Reads every input.
pub(super) fn concat(n: &ConcatNode) -> Lowering {
    Lowered::reads(
        Op::Concat {
            axis: n.config.axis as i64,
        },
        usize::MAX,
    )
}

/// No axes: every dimension of size 1.
pub(super) fn squeeze(n: &SqueezeNode) -> Lowering {
    match &n.config.axes {
        None => Lowered::reads(Op::Squeeze { axes: vec![] }, 1),
        Some(SqueezeInput::Static(axes)) => Lowered::reads(Op::Squeeze { axes: axes.clone() }, 1),
        Some(SqueezeInput::Runtime(r)) => {
            Lowered::with_params(Op::SqueezeDynamic, 1, vec![Param::from_runtime(r)])
        }
    }
}

pub(super) fn unsqueeze(n: &UnsqueezeNode) -> Lowering {
    match &n.config {
        UnsqueezeConfig::Static(axes) => Lowered::reads(Op::Unsqueeze { axes: axes.clone() }, 1),
        UnsqueezeConfig::Runtime(r) => {
            Lowered::with_params(Op::UnsqueezeDynamic, 1, vec![Param::from_runtime(r)])
        }
    }
}

/// onnx-ir gives (begin, end) pairs per axis; we store all begins, then all ends, as ONNX does.
pub(super) fn pad(n: &PadNode) -> Lowering {
    let PadInput::Static(pairs) = &n.config.pads else {
        return Err(runtime_input("pads"));
    };
    let ConstantValueInput::Static(value) = n.config.constant_value else {
        return Err(runtime_input("constant value"));
    };
    let mut pads: Vec<usize> = pairs.iter().map(|p| p.0).collect();
    pads.extend(pairs.iter().map(|p| p.1));
    let mode = match n.config.mode {
        IrPadMode::Constant => PadMode::Constant,
        IrPadMode::Reflect => PadMode::Reflect,
        IrPadMode::Edge => PadMode::Edge,
    };
    Lowered::reads(Op::Pad { pads, mode, value }, 1)
}
