//! Linear algebra: Gemm, MatMul, and onnx-ir's Linear (its fusion of a Gemm with alpha = beta
//! = 1 and transB, or of a MatMul followed by an Add), which becomes our `Linear` with the
//! weight stored transposed when it came from a Gemm; Einsum, which the executor runs as
//! batched matmuls; and Attention (ONNX's, and onnx-ir's fusion of decomposed attention).

use edge_model::format::Op;
use onnx_ir::node::attention::AttentionNode;
use onnx_ir::node::einsum::EinsumNode;
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
            op: Op::Linear { activation: None },
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

/// Einsum: the equation is parsed here, so one we cannot run is refused at import.
pub(super) fn einsum(n: &EinsumNode) -> Lowering {
    edge_model::format::Equation::parse(&n.config.equation)?;
    Lowered::reads(
        Op::Einsum {
            equation: n.config.equation.clone(),
        },
        usize::MAX,
    )
}

/// Attention without a key/value cache: `past_key`, `past_value` and `nonpad_kv_seqlen` are
/// refused (the outputs after Y are refused by the converter when the graph reads them).
pub(super) fn attention(n: &AttentionNode) -> Lowering {
    let present = |i: usize| n.inputs.get(i).is_some_and(|a| !a.is_optional());
    if present(4) || present(5) {
        return Err("past_key / past_value (a key-value cache) are not supported".into());
    }
    if present(6) {
        return Err("nonpad_kv_seqlen is not supported; pass the padding as attn_mask".into());
    }
    let c = &n.config;
    Lowered::reads(
        Op::Attention {
            scale: c.scale.map(|s| s as f32),
            causal: c.is_causal,
            softcap: c.softcap as f32,
            q_heads: c.q_num_heads,
            kv_heads: c.kv_num_heads,
            mask: present(3),
        },
        4,
    )
}
