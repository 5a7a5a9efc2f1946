//! Scaled dot-product attention (ONNX Attention, and onnx-ir's fusion of the decomposed
//! MatMul → scale → Add(mask) → Softmax → MatMul chain that BERT-style exports carry), on
//! the model's device, following the ONNX reference step by step: split 3-D inputs into
//! heads, scale, `Q·Kᵀ`, add the mask (a boolean mask keeps where true; a float mask is
//! added; a mask shorter than the keys is padded with "masked"), the causal mask, softcap,
//! softmax over the keys, `·V`, and merge the heads back for 3-D inputs. Fewer key/value
//! heads than query heads are repeated, each shared by `q_heads / kv_heads` query heads.

use burn::tensor::{Bool, Tensor, TensorData, activation};

use super::common::{Res, broadcast_shape};
use crate::executor::dyn_tensor::DynTensor;
use crate::executor::value::{Typed, Value};

pub(super) struct Params {
    pub scale: Option<f32>,
    pub causal: bool,
    pub softcap: f32,
    pub q_heads: Option<usize>,
    pub kv_heads: Option<usize>,
}

pub(super) fn attention(inputs: Vec<Value>, p: &Params) -> Res<Value> {
    let mut inputs = inputs.into_iter();
    let (Some(q), Some(k), Some(v)) = (inputs.next(), inputs.next(), inputs.next()) else {
        return Err("needs Q, K and V".into());
    };
    let mask = inputs.next();
    let (q, k, v) = (q.float()?, k.float()?, v.float()?);
    let three_d = q.rank() == 3;
    let (q, k, v) = if three_d {
        let (Some(qh), Some(kvh)) = (p.q_heads, p.kv_heads) else {
            return Err("3-D inputs need q_num_heads and kv_num_heads".into());
        };
        (
            split_heads(q, qh)?,
            split_heads(k, kvh)?,
            split_heads(v, kvh)?,
        )
    } else {
        (four(q, "Q")?, four(k, "K")?, four(v, "V")?)
    };
    let [b, hq, sq, d] = q.dims();
    let [bk, hk, skv, dk] = k.dims();
    let [bv, hv, sv, dv] = v.dims();
    if bk != b || bv != b || dk != d || hv != hk || sv != skv {
        return Err(format!(
            "Q {:?}, K {:?} and V {:?} do not fit together",
            [b, hq, sq, d],
            [bk, hk, skv, dk],
            [bv, hv, sv, dv]
        ));
    }
    let (k, v) = if hk == hq {
        (k, v)
    } else if hk > 0 && hq % hk == 0 {
        (repeat_heads(k, hq / hk), repeat_heads(v, hq / hk))
    } else {
        return Err(format!(
            "{hq} query heads cannot share {hk} key/value heads"
        ));
    };
    let scale = p.scale.unwrap_or(1.0 / (d as f32).sqrt());
    let mut scores = q.mul_scalar(scale).matmul(k.swap_dims(2, 3));
    let shape = [b, hq, sq, skv];
    let device = scores.device();
    if let Some(mask) = mask {
        scores = apply_mask(scores, mask, shape)?;
    }
    if p.causal {
        // Key j is visible from query i when j <= i (the upper-left alignment).
        let hidden: Vec<bool> = (0..sq).flat_map(|i| (0..skv).map(move |j| j > i)).collect();
        let hidden =
            Tensor::<4, Bool>::from_data(TensorData::new(hidden, [1, 1, sq, skv]), &device)
                .expand(shape);
        scores = scores.mask_fill(hidden, f32::NEG_INFINITY);
    }
    if p.softcap > 0.0 {
        scores = scores.div_scalar(p.softcap).tanh().mul_scalar(p.softcap);
    }
    let y = activation::softmax(scores, 3).matmul(v);
    let y = if three_d {
        DynTensor::R3(y.swap_dims(1, 2).reshape([b, sq, hq * dv]))
    } else {
        DynTensor::R4(y)
    };
    Ok(Value::of_float(y, false))
}

fn four(t: DynTensor, what: &str) -> Res<Tensor<4>> {
    t.into_rank::<4>()
        .map_err(|e| format!("{what} must be 3-D or 4-D: {e}"))
}

/// `[B, S, H·D]` → `[B, H, S, D]`.
fn split_heads(t: DynTensor, heads: usize) -> Res<Tensor<4>> {
    let t = t.into_rank::<3>().map_err(|e| e.to_string())?;
    let [b, s, hd] = t.dims();
    if heads == 0 || hd % heads != 0 {
        return Err(format!("{hd} features do not split into {heads} heads"));
    }
    Ok(t.reshape([b, s, heads, hd / heads]).swap_dims(1, 2))
}

/// Each head repeated `n` times in place (`h0, h0, h1, h1, ..`), as the reference does.
fn repeat_heads(t: Tensor<4>, n: usize) -> Tensor<4> {
    let [b, h, s, d] = t.dims();
    t.reshape([b, h, 1, s, d])
        .expand([b, h, n, s, d])
        .reshape([b, h * n, s, d])
}

/// Adds a float mask or masks where a boolean mask is false, broadcast to the scores' shape;
/// a mask with fewer keys than there are is padded with masked positions.
fn apply_mask(scores: Tensor<4>, mask: Value, shape: [usize; 4]) -> Res<Tensor<4>> {
    let dims = mask.dims();
    if dims.len() > 4 || dims.is_empty() {
        return Err(format!("attn_mask of shape {dims:?} is not 1-D to 4-D"));
    }
    let keys = shape[3];
    let mask_keys = dims[dims.len() - 1];
    if mask_keys > keys {
        return Err(format!(
            "attn_mask covers {mask_keys} keys; there are {keys}"
        ));
    }
    let mut full = vec![1; 4 - dims.len()];
    full.extend(&dims);
    let mut target = full.clone();
    target[3] = keys;
    let padded_shape = broadcast_shape(&target, &shape)
        .map_err(|e| format!("attn_mask {dims:?} does not broadcast to {shape:?}: {e}"))?;
    if padded_shape != shape {
        return Err(format!(
            "attn_mask {dims:?} does not broadcast to {shape:?}"
        ));
    }
    let device = scores.device();
    let pad = keys - mask_keys;
    match mask.t {
        Typed::Bool(m) => {
            let m = m.reshape(&full).map_err(|e| e.to_string())?;
            let m = m.into_rank::<4>().map_err(|e| e.to_string())?;
            let m = if pad > 0 {
                let mut extra = full.clone();
                extra[3] = pad;
                let none = Tensor::<4, Bool>::from_data(
                    TensorData::new(vec![false; extra.iter().product()], extra_arr(&extra)),
                    &device,
                );
                Tensor::cat(vec![m, none], 3)
            } else {
                m
            };
            Ok(scores.mask_fill(m.bool_not().expand(shape), f32::NEG_INFINITY))
        }
        Typed::Float(m) => {
            let m = m.reshape(&full).map_err(|e| e.to_string())?;
            let m = m.into_rank::<4>().map_err(|e| e.to_string())?;
            let m = if pad > 0 {
                let mut extra = full.clone();
                extra[3] = pad;
                let dtype = m.dtype();
                let masked =
                    Tensor::<4>::full(extra_arr(&extra), f32::NEG_INFINITY, (&device, dtype));
                Tensor::cat(vec![m, masked], 3)
            } else {
                m
            };
            Ok(scores + m.expand(shape))
        }
        Typed::Int(..) => Err("attn_mask must be boolean or float".into()),
    }
}

fn extra_arr(dims: &[usize]) -> [usize; 4] {
    [dims[0], dims[1], dims[2], dims[3]]
}
