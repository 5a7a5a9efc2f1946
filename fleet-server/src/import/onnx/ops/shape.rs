//! Shape and indexing: Flatten, Reshape, Transpose, Concat, Split, Squeeze, Unsqueeze, Pad,
//! DepthToSpace and SpaceToDepth.
//! Reshape's shape, Squeeze's and Unsqueeze's axes, Split's sizes and Pad's pads, value and
//! axes may be computed at run time (inputs); permutations must be known at import.

use edge_model::format::{Op, PadMode};
use onnx_ir::node::concat::ConcatNode;
use onnx_ir::node::depth_to_space::{DepthToSpaceMode, DepthToSpaceNode};
use onnx_ir::node::flatten::FlattenNode;
use onnx_ir::node::pad::{AxesInput, ConstantValueInput, PadInput, PadMode as IrPadMode, PadNode};
use onnx_ir::node::reshape::{ReshapeInput, ReshapeNode};
use onnx_ir::node::space_to_depth::SpaceToDepthNode;
use onnx_ir::node::split::{SplitNode, SplitSizesInput};
use onnx_ir::node::squeeze::{SqueezeInput, SqueezeNode};
use onnx_ir::node::transpose::TransposeNode;
use onnx_ir::node::unsqueeze::{UnsqueezeConfig, UnsqueezeNode};

use super::{Lowered, Lowering, Param};

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

/// Pads known at import become `Pad` (onnx-ir gives (begin, end) pairs per axis; we store all
/// begins, then all ends, as ONNX does); pads, a fill value or axes computed at run time make
/// it `PadDynamic`, which reads them as inputs.
pub(super) fn pad(n: &PadNode) -> Lowering {
    let mode = match n.config.mode {
        IrPadMode::Constant => PadMode::Constant,
        IrPadMode::Reflect => PadMode::Reflect,
        IrPadMode::Edge => PadMode::Edge,
    };
    if let (PadInput::Static(pairs), ConstantValueInput::Static(value)) =
        (&n.config.pads, &n.config.constant_value)
    {
        let mut pads: Vec<usize> = pairs.iter().map(|p| p.0).collect();
        pads.extend(pairs.iter().map(|p| p.1));
        return Lowered::reads(
            Op::Pad {
                pads,
                mode,
                value: *value,
            },
            1,
        );
    }
    let mut params = Vec::new();
    let mut axes = false;
    match &n.config.pads {
        PadInput::Static(pairs) => {
            let mut pads: Vec<i64> = pairs.iter().map(|p| p.0 as i64).collect();
            pads.extend(pairs.iter().map(|p| p.1 as i64));
            params.push(Param::Ints(pads));
        }
        PadInput::Runtime { input, axes: a } => {
            params.push(Param::from_runtime(input));
            match a {
                None => {}
                Some(AxesInput::Static(list)) => {
                    axes = true;
                    params.push(Param::Ints(list.iter().map(|&x| x as i64).collect()));
                }
                Some(AxesInput::Runtime(r)) => {
                    axes = true;
                    params.push(Param::from_runtime(r));
                }
            }
        }
    }
    // The fill value goes before the axes, as ONNX orders Pad's inputs.
    let value = match &n.config.constant_value {
        ConstantValueInput::Runtime(r) => Some(Param::from_runtime(r)),
        ConstantValueInput::Static(v) if *v != 0.0 => Some(Param::Input(2)),
        ConstantValueInput::Static(_) => None,
    };
    let has_value = value.is_some();
    if let Some(v) = value {
        params.insert(1, v);
    }
    Lowered::with_params(
        Op::PadDynamic {
            mode,
            value: has_value,
            axes,
        },
        1,
        params,
    )
}

/// Split into as many parts as the node has outputs: the sizes given (attribute or input,
/// known at import or computed at run time), or equal parts.
pub(super) fn split(n: &SplitNode) -> Lowering {
    let params = match &n.config.split_sizes {
        None => vec![],
        Some(SplitSizesInput::Static(sizes)) => {
            vec![Param::Ints(sizes.iter().map(|&s| s as i64).collect())]
        }
        Some(SplitSizesInput::Runtime(r)) => vec![Param::from_runtime(r)],
    };
    Lowered::with_params(
        Op::Split {
            axis: n.config.axis as i64,
            outputs: n.outputs.len(),
        },
        1,
        params,
    )
}

pub(super) fn depth_to_space(n: &DepthToSpaceNode) -> Lowering {
    Lowered::reads(
        Op::DepthToSpace {
            block: n.config.block_size,
            crd: matches!(n.config.mode, DepthToSpaceMode::Crd),
        },
        1,
    )
}

pub(super) fn space_to_depth(n: &SpaceToDepthNode) -> Lowering {
    Lowered::reads(
        Op::SpaceToDepth {
            block: n.config.block_size,
        },
        1,
    )
}
