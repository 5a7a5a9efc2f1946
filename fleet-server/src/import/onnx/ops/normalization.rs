//! Normalisation: BatchNormalization (inference form, with its four statistics inputs; folded
//! into a preceding Conv by `optimize` where it can be), LayerNormalization (scale and
//! optional bias), InstanceNormalization and GroupNormalization (scale and bias),
//! LpNormalization and LRN.

use edge_model::format::Op;
use onnx_ir::node::batch_norm::{BatchNormConfig, BatchNormalizationNode};
use onnx_ir::node::group_norm::GroupNormalizationNode;
use onnx_ir::node::instance_norm::InstanceNormalizationNode;
use onnx_ir::node::layer_norm::LayerNormalizationNode;
use onnx_ir::node::lp_normalization::LpNormalizationNode;
use onnx_ir::node::lrn::LrnNode;

use super::{Lowered, Lowering};

/// Input, scale, bias, mean and variance, whether onnx-ir found the statistics constant or not.
pub(super) fn batch_norm(n: &BatchNormalizationNode) -> Lowering {
    let epsilon = match &n.config {
        BatchNormConfig::Static(c) => c.epsilon,
        BatchNormConfig::Runtime(c) => c.epsilon,
    };
    Lowered::reads(
        Op::BatchNormalization {
            epsilon: epsilon as f32,
        },
        5,
    )
}

/// With its Mean and InvStdDev outputs when the graph names them.
pub(super) fn layer_norm(n: &LayerNormalizationNode) -> Lowering {
    Lowered::reads(
        Op::LayerNormalization {
            axis: n.config.axis,
            epsilon: n.config.epsilon as f32,
            stats: n.outputs.iter().skip(1).any(|o| !o.name.is_empty()),
        },
        3,
    )
}

pub(super) fn instance_norm(n: &InstanceNormalizationNode) -> Lowering {
    Lowered::reads(
        Op::InstanceNormalization {
            epsilon: n.config.epsilon as f32,
        },
        3,
    )
}

/// Computed in f32 whatever `stash_type` says (its default, 1, is f32).
pub(super) fn group_norm(n: &GroupNormalizationNode) -> Lowering {
    Lowered::reads(
        Op::GroupNormalization {
            groups: n.config.num_groups,
            epsilon: n.config.epsilon as f32,
        },
        3,
    )
}

pub(super) fn lp_norm(n: &LpNormalizationNode) -> Lowering {
    let p = match n.config.p {
        1 => 1,
        2 => 2,
        p => return Err(format!("p = {p} is not supported (1 or 2)")),
    };
    Lowered::reads(
        Op::LpNormalization {
            axis: n.config.axis as i64,
            p,
        },
        1,
    )
}

pub(super) fn lrn(n: &LrnNode) -> Lowering {
    let size = usize::try_from(n.config.size)
        .ok()
        .filter(|&s| s > 0)
        .ok_or_else(|| format!("size {} must be positive", n.config.size))?;
    Lowered::reads(
        Op::Lrn {
            alpha: n.config.alpha,
            beta: n.config.beta,
            bias: n.config.bias,
            size,
        },
        1,
    )
}
