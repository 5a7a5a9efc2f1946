//! Element-wise ops: the arithmetic binaries (with broadcasting), the unary activations, the
//! softmaxes over one axis, Clip with constant bounds, and the copies (Dropout at inference,
//! Identity).

use edge_model::format::Op;
use onnx_ir::node::clip::{ClipInput, ClipNode};
use onnx_ir::node::gelu::{GeluApproximate, GeluNode};
use onnx_ir::node::leaky_relu::LeakyReluNode;
use onnx_ir::node::log_softmax::LogSoftmaxNode;
use onnx_ir::node::softmax::SoftmaxNode;

use super::{Lowered, Lowering, runtime_input};

/// An op of one input with no attributes.
pub(super) fn unary(op: Op) -> Lowering {
    Lowered::reads(op, 1)
}

/// An op of two inputs with no attributes.
pub(super) fn binary(op: Op) -> Lowering {
    Lowered::reads(op, 2)
}

pub(super) fn leaky_relu(n: &LeakyReluNode) -> Lowering {
    unary(Op::LeakyRelu {
        alpha: n.config.alpha as f32,
    })
}

pub(super) fn gelu(n: &GeluNode) -> Lowering {
    unary(Op::Gelu {
        tanh_approximation: matches!(n.config.approximate, GeluApproximate::Tanh),
    })
}

pub(super) fn softmax(n: &SoftmaxNode) -> Lowering {
    unary(Op::Softmax {
        axis: n.config.axis as i64,
    })
}

pub(super) fn log_softmax(n: &LogSoftmaxNode) -> Lowering {
    unary(Op::LogSoftmax {
        axis: n.config.axis as i64,
    })
}

/// Bounds must be known at import; an absent one is no bound.
pub(super) fn clip(n: &ClipNode) -> Lowering {
    let bound = |b: &Option<ClipInput>| match b {
        None => Ok(None),
        Some(ClipInput::Static(v)) => Ok(Some(*v as f32)),
        Some(ClipInput::Runtime(_)) => Err(runtime_input("bounds")),
    };
    unary(Op::Clip {
        min: bound(&n.config.min)?,
        max: bound(&n.config.max)?,
    })
}
