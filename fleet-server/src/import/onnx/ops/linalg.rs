//! Linear algebra: Gemm, MatMul, and onnx-ir's Linear (its fusion of a Gemm with alpha = beta
//! = 1 and transB, or of a MatMul followed by an Add), which becomes our `Linear` with the
//! weight stored transposed when it came from a Gemm.

use edge_model::format::Op;
use onnx_ir::node::gemm::GemmNode;
use onnx_ir::node::linear::LinearNode;

use super::{Lowered, Lowering};

/// A weight known at import is stored in `Linear`'s layout; one computed at run time keeps the
/// general op it came from.
pub(super) fn linear(n: &LinearNode) -> Lowering {
    let weight_is_static = n
        .inputs
        .get(1)
        .is_some_and(|w| w.is_static() || w.is_constant());
    match (weight_is_static, n.config.transpose_weight) {
        (true, t) => Ok(Lowered {
            op: Op::Linear,
            inputs: 3,
            transpose: t.then_some(1),
            params: Vec::new(),
        }),
        (false, true) => Lowered::reads(
            Op::Gemm {
                alpha: 1.0,
                beta: 1.0,
                trans_a: false,
                trans_b: true,
            },
            3,
        ),
        (false, false) if n.inputs.len() <= 2 => matmul(),
        (false, false) => Err("MatMul + Add with a weight computed at run time".into()),
    }
}

pub(super) fn gemm(n: &GemmNode) -> Lowering {
    Lowered::reads(
        Op::Gemm {
            alpha: n.config.alpha,
            beta: n.config.beta,
            trans_a: n.config.trans_a != 0,
            trans_b: n.config.trans_b != 0,
        },
        3,
    )
}

pub(super) fn matmul() -> Lowering {
    Lowered::reads(Op::MatMul, 2)
}
