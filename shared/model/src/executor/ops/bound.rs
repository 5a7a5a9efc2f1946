//! What an op is about to make, checked before it is made. A signed model is still hostile
//! input to the box that runs it: a static Pad of 2^16 on every side, a Concat of many
//! copies, a broadcast `[n, 1] + [1, n]`, a MatMul of `[n, 1]` by `[1, n]` or a
//! ConvTranspose with a large stride all make, from small inputs, a tensor far larger than
//! anything in the graph — and an allocation the process cannot get aborts it. Each such op's
//! output shape follows from its input shapes and attributes alone; [`check_output`] works it
//! out and refuses it when it is over the per-tensor limit or the room left in the model's
//! memory budget ([`check`]), before the op runs. The ops whose output shape comes from an
//! input's values (ConstantOfShape, Expand, Tile, Range, Resize, dynamic Pad, OneHot,
//! GatherND) call [`check`] themselves once they have read it.
//!
//! Bytes are estimated at [`ELEMENT_BYTES`] per element (FP32, the common case) before an op
//! runs; the executor counts the exact bytes of what was made after it (`run.rs`), so an
//! 8-byte tensor can pass the first check at most twice over the room and is then caught.

use super::Ctx;
use super::common::{Res, broadcast_shapes, check_elements};
use crate::executor::value::Value;
use crate::format::Op;

/// Bytes per element assumed before an op runs.
pub const ELEMENT_BYTES: usize = 4;

/// Starts every error that means "the model's memory budget is spent", so the executor can
/// report it as [`crate::ModelError::Memory`] rather than as a failed node.
pub const OVER_BUDGET: &str = "over the model's memory budget";

/// Refuses `dims` over the per-tensor limit or beyond the room left in the budget.
pub fn check(dims: &[usize], ctx: &Ctx) -> Res<()> {
    check_elements(dims, ctx.max_elements)?;
    let elements = crate::weights::element_count(dims).unwrap_or(usize::MAX);
    let bytes = elements.saturating_mul(ELEMENT_BYTES);
    if bytes > ctx.room_bytes {
        return Err(format!(
            "{OVER_BUDGET}: a tensor of shape {dims:?} needs about {bytes} bytes and {} are left",
            ctx.room_bytes
        ));
    }
    Ok(())
}

/// Checks the output of the ops whose output can be much larger than their inputs, from the
/// input shapes and the op's attributes.
pub fn check_output(op: &Op, inputs: &[Value], ctx: &Ctx) -> Res<()> {
    // Every node runs through here: the shapes are read only for the ops checked below.
    if !checked(op) {
        return Ok(());
    }
    let dims: Vec<Vec<usize>> = inputs.iter().map(Value::dims).collect();
    let out = match op {
        Op::Add
        | Op::Sub
        | Op::Mul
        | Op::Div
        | Op::Binary { .. }
        | Op::Variadic { .. }
        | Op::Where
        // Shapes that do not broadcast are the op's to diagnose (PRelu's slope, for one,
        // follows its own rule): only a result that can be worked out is checked.
        | Op::ClipBounds { .. } => match broadcast_shapes(&dims) {
            Ok(out) => out,
            Err(_) => return Ok(()),
        },
        Op::MatMul | Op::MatMulInteger => return matmul(dims.first(), dims.get(1), ctx),
        Op::QLinearMatMul { .. } => return matmul(dims.first(), dims.get(3), ctx),
        // `x [.., in]` by the weight `[in, out]`: the importer's form of Gemm and MatMul + Add.
        Op::Linear { .. } => match (dims.first(), dims.get(1)) {
            (Some(x), Some(w)) if !x.is_empty() && w.len() == 2 => {
                let mut out = x.clone();
                if let Some(last) = out.last_mut() {
                    *last = w[1];
                }
                out
            }
            _ => return Ok(()),
        },
        // `[N, C, spatial..]` to `[N, M or C, at most input + pads + 1 per spatial axis]`.
        Op::Conv { pads, .. } | Op::MaxPool { pads, .. } | Op::AveragePool { pads, .. } => {
            match (dims.first(), dims.get(1)) {
                (Some(x), w) if x.len() >= 3 => {
                    let spatial = x.len() - 2;
                    let channels = match (op, w) {
                        (Op::Conv { .. }, Some(w)) if !w.is_empty() => w[0],
                        _ => x[1],
                    };
                    let mut out = vec![x[0], channels];
                    for i in 0..spatial {
                        let (b, e) = (
                            pads.get(i).copied().unwrap_or(0),
                            pads.get(i + spatial).copied().unwrap_or(0),
                        );
                        out.push(x[i + 2].saturating_add(b).saturating_add(e).saturating_add(1));
                    }
                    out
                }
                _ => return Ok(()),
            }
        }
        // The score matrix: batch x heads x query length x key length.
        Op::Attention { q_heads, .. } => match (dims.first(), dims.get(1)) {
            (Some(q), Some(k)) if q.len() == 4 && k.len() == 4 => vec![q[0], q[1], q[2], k[2]],
            (Some(q), Some(k)) if q.len() == 3 && k.len() == 3 => {
                vec![q[0], q_heads.unwrap_or(1), q[1], k[1]]
            }
            _ => return Ok(()),
        },
        Op::Gemm {
            trans_a, trans_b, ..
        } => match (dims.first(), dims.get(1)) {
            (Some(a), Some(b)) if a.len() == 2 && b.len() == 2 => {
                let m = if *trans_a { a[1] } else { a[0] };
                let n = if *trans_b { b[0] } else { b[1] };
                vec![m, n]
            }
            _ => return Ok(()),
        },
        Op::Concat { axis } => concat(&dims, *axis),
        Op::Pad { pads, .. } => match dims.first() {
            Some(x) if pads.len() == 2 * x.len() => x
                .iter()
                .enumerate()
                .map(|(i, &d)| d.saturating_add(pads[i]).saturating_add(pads[i + x.len()]))
                .collect(),
            _ => return Ok(()),
        },
        Op::ConvTranspose {
            kernel,
            strides,
            dilations,
            groups,
            output_padding,
            output_shape,
            ..
        } => match (dims.first(), dims.get(1)) {
            (Some(x), Some(w)) if x.len() == kernel.len() + 2 && w.len() == x.len() => {
                let mut out = vec![x[0], w[1].saturating_mul(*groups)];
                for i in 0..kernel.len() {
                    let natural = strides[i]
                        .saturating_mul(x[i + 2].saturating_sub(1))
                        .saturating_add(kernel[i].saturating_sub(1).saturating_mul(dilations[i]))
                        .saturating_add(1)
                        .saturating_add(output_padding[i]);
                    let wanted = output_shape.as_ref().map_or(0, |s| s[i]);
                    out.push(natural.max(wanted));
                }
                out
            }
            _ => return Ok(()),
        },
        _ => return Ok(()),
    };
    check(&out, ctx)
}

/// The ops [`check_output`] works out an output for.
fn checked(op: &Op) -> bool {
    matches!(
        op,
        Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Binary { .. }
            | Op::Variadic { .. }
            | Op::Where
            | Op::ClipBounds { .. }
            | Op::MatMul
            | Op::MatMulInteger
            | Op::QLinearMatMul { .. }
            | Op::Linear { .. }
            | Op::Conv { .. }
            | Op::MaxPool { .. }
            | Op::AveragePool { .. }
            | Op::Attention { .. }
            | Op::Gemm { .. }
            | Op::Concat { .. }
            | Op::Pad { .. }
            | Op::ConvTranspose { .. }
    )
}

/// A MatMul of ranks 2 and up (numpy rules: the batch dimensions broadcast): its output and
/// both inputs expanded to the common batch shape, as they are before multiplying. Lower
/// ranks make nothing larger than their inputs.
fn matmul(a: Option<&Vec<usize>>, b: Option<&Vec<usize>>, ctx: &Ctx) -> Res<()> {
    let (Some(a), Some(b)) = (a, b) else {
        return Ok(());
    };
    if a.len() < 2 || b.len() < 2 {
        return Ok(());
    }
    let (ra, rb) = (a.len() - 2, b.len() - 2);
    let Ok(batch) = broadcast_shapes(&[a[..ra].to_vec(), b[..rb].to_vec()]) else {
        return Ok(());
    };
    for tail in [[a[ra], b[rb + 1]], [a[ra], a[ra + 1]], [b[rb], b[rb + 1]]] {
        let mut dims = batch.clone();
        dims.extend(tail);
        check(&dims, ctx)?;
    }
    Ok(())
}

/// The inputs' shape with the concatenation axis summed (the op checks that they fit).
fn concat(dims: &[Vec<usize>], axis: i64) -> Vec<usize> {
    let Some(first) = dims.first() else {
        return Vec::new();
    };
    let rank = first.len().max(1) as i64;
    let axis = if axis < 0 { axis + rank } else { axis };
    let Ok(axis) = usize::try_from(axis) else {
        return Vec::new();
    };
    let mut out = first.clone();
    if let Some(d) = out.get_mut(axis) {
        *d = dims
            .iter()
            .map(|s| s.get(axis).copied().unwrap_or(0))
            .fold(0usize, usize::saturating_add);
    }
    out
}
