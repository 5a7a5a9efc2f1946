//! Normalisation: BatchNormalization (inference form, with its four statistics inputs; folded
//! into a preceding Conv by `optimize` where it can be) and LayerNormalization (scale and
//! optional bias).

use edge_model::format::Op;
use onnx_ir::node::batch_norm::{BatchNormConfig, BatchNormalizationNode};
use onnx_ir::node::layer_norm::LayerNormalizationNode;

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

pub(super) fn layer_norm(n: &LayerNormalizationNode) -> Lowering {
    Lowered::reads(
        Op::LayerNormalization {
            axis: n.config.axis,
            epsilon: n.config.epsilon as f32,
        },
        3,
    )
}
