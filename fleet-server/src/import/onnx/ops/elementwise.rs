//! Element-wise ops: the arithmetic, comparison and logic binaries (with broadcasting),
//! Min/Max/Sum/Mean, Where, the unary math functions and activations, the softmaxes over one
//! axis, Clip (bounds known at import or read at run time), Cast, and the copies (Dropout at inference, Identity).

use edge_model::format::{BinaryFn, Op, UnaryFn, VariadicFn};
use onnx_ir::DType;
use onnx_ir::node::celu::CeluNode;
use onnx_ir::node::clip::{ClipInput, ClipNode};
use onnx_ir::node::elu::EluNode;
use onnx_ir::node::gelu::{GeluApproximate, GeluNode};
use onnx_ir::node::hard_sigmoid::HardSigmoidNode;
use onnx_ir::node::is_inf::IsInfNode;
use onnx_ir::node::leaky_relu::LeakyReluNode;
use onnx_ir::node::log_softmax::LogSoftmaxNode;
use onnx_ir::node::modulo::ModNode;
use onnx_ir::node::selu::SeluNode;
use onnx_ir::node::softmax::SoftmaxNode;
use onnx_ir::node::thresholded_relu::ThresholdedReluNode;

use super::{Lowered, Lowering, Param};

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
/// Clip with bounds known at import becomes `Clip`; a bound computed at run time (or given as
/// an input, as the node tests do) makes it `ClipBounds`, which reads both as inputs.
pub(super) fn clip(n: &ClipNode) -> Lowering {
    let runtime = |b: &Option<ClipInput>| matches!(b, Some(ClipInput::Runtime(_)));
    if !runtime(&n.config.min) && !runtime(&n.config.max) {
        let bound = |b: &Option<ClipInput>| match b {
            Some(ClipInput::Static(v)) => Some(*v as f32),
            _ => None,
        };
        return unary(Op::Clip {
            min: bound(&n.config.min),
            max: bound(&n.config.max),
        });
    }
    // Static bounds are read from the node's inputs too, keeping their element type.
    let param = |b: &Option<ClipInput>, index: usize| -> Option<Param> {
        match b {
            None => None,
            Some(ClipInput::Runtime(r)) => Some(Param::from_runtime(r)),
            Some(ClipInput::Static(_)) => Some(Param::Input(index)),
        }
    };
    let params: Vec<Param> = [param(&n.config.min, 1), param(&n.config.max, 2)]
        .into_iter()
        .flatten()
        .collect();
    Lowered::with_params(
        Op::ClipBounds {
            min: n.config.min.is_some(),
            max: n.config.max.is_some(),
        },
        1,
        params,
    )
}

/// A parameterless function of one input.
pub(super) fn func(func: UnaryFn) -> Lowering {
    unary(Op::Unary { func })
}

/// A function of two broadcast inputs.
pub(super) fn binary_fn(func: BinaryFn) -> Lowering {
    binary(Op::Binary { func })
}

/// Min, Max, Sum, Mean of every input.
pub(super) fn variadic(func: VariadicFn) -> Lowering {
    Lowered::reads(Op::Variadic { func }, usize::MAX)
}

pub(super) fn modulo(n: &ModNode) -> Lowering {
    binary_fn(if n.config.fmod {
        BinaryFn::Fmod
    } else {
        BinaryFn::Mod
    })
}

pub(super) fn hard_sigmoid(n: &HardSigmoidNode) -> Lowering {
    unary(Op::HardSigmoid {
        alpha: n.config.alpha as f32,
        beta: n.config.beta as f32,
    })
}

pub(super) fn elu(n: &EluNode) -> Lowering {
    unary(Op::Elu {
        alpha: n.config.alpha as f32,
    })
}

pub(super) fn selu(n: &SeluNode) -> Lowering {
    unary(Op::Selu {
        alpha: n.config.alpha as f32,
        gamma: n.config.gamma as f32,
    })
}

pub(super) fn celu(n: &CeluNode) -> Lowering {
    unary(Op::Celu {
        alpha: n.config.alpha as f32,
    })
}

pub(super) fn thresholded_relu(n: &ThresholdedReluNode) -> Lowering {
    unary(Op::ThresholdedRelu {
        alpha: n.config.alpha as f32,
    })
}

pub(super) fn is_inf(n: &IsInfNode) -> Lowering {
    unary(Op::IsInf {
        detect_positive: n.config.detect_positive,
        detect_negative: n.config.detect_negative,
    })
}

/// Cast (and CastLike, whose target type onnx-ir reads from the second input).
pub(super) fn cast(to: DType) -> Lowering {
    let to = crate::import::onnx::signature::data_type(to)
        .ok_or_else(|| format!("a cast to {to:?} is not supported"))?;
    unary(Op::Cast { to })
}
