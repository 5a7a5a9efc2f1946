//! Normalisation: BatchNormalization (inference form, per-channel statistics),
//! LayerNormalization (over the trailing axes from `axis`), InstanceNormalization and
//! GroupNormalization (over spatial elements, per channel or per group of channels),
//! LpNormalization and LRN (across neighbouring channels).

use burn::tensor::Tensor;
use burn::tensor::module;
use burn::tensor::ops::PadMode;

use super::OpResult;
use super::common::{broadcast_shape, expand, reshape, resolve_axis};
use crate::executor::dyn_tensor::{DynTensor, map_tensor};

fn channel_vector(
    t: DynTensor,
    channels: usize,
    what: &str,
) -> std::result::Result<Tensor<1>, String> {
    if t.dims() != [channels] {
        return Err(format!(
            "{what} has shape {:?}, expected [{channels}]",
            t.dims()
        ));
    }
    t.into_rank::<1>().map_err(|e| e.to_string())
}

pub(super) fn batch_norm(x: DynTensor, mut rest: Vec<DynTensor>, epsilon: f32) -> OpResult {
    let dims = x.dims();
    if dims.len() < 2 || rest.len() != 4 {
        return Err(format!("needs [N, C, ..] and 4 statistics, got {dims:?}"));
    }
    let c = dims[1];
    let var = channel_vector(rest.pop().ok_or("var")?, c, "variance")?;
    let mean = channel_vector(rest.pop().ok_or("mean")?, c, "mean")?;
    let beta = channel_vector(rest.pop().ok_or("bias")?, c, "bias")?;
    let gamma = channel_vector(rest.pop().ok_or("scale")?, c, "scale")?;
    let eps = f64::from(epsilon);
    Ok(
        map_tensor!(x, t => module::batch_norm(t, gamma.clone(), beta.clone(), mean.clone(), var.clone(), eps)),
    )
}

pub(super) fn layer_norm(
    x: DynTensor,
    mut rest: Vec<DynTensor>,
    axis: i64,
    epsilon: f32,
) -> OpResult {
    let dims = x.dims();
    let axis = resolve_axis(axis, dims.len())?;
    let normalized: usize = dims[axis..].iter().product();
    let bias = if rest.len() == 2 { rest.pop() } else { None };
    let scale = rest.pop().ok_or("missing scale")?;
    // Scale and bias broadcast to the normalised shape; flatten both to one vector.
    let flat = |t: DynTensor, what: &str| -> std::result::Result<Tensor<1>, String> {
        let t = t
            .unsqueeze_to(dims.len() - axis)
            .map_err(|e| e.to_string())?;
        broadcast_shape(&t.dims(), &dims[axis..]).map_err(|e| format!("{what}: {e}"))?;
        expand(t, &dims[axis..])?
            .reshape(&[normalized])
            .and_then(|t| t.into_rank::<1>())
            .map_err(|e| e.to_string())
    };
    let gamma = flat(scale, "scale")?;
    let beta = bias.map(|b| flat(b, "bias")).transpose()?;
    let mut outer = dims[..axis].to_vec();
    outer.push(normalized);
    let y = reshape(x, &outer)?;
    let eps = f64::from(epsilon);
    let y = map_tensor!(y, t => module::layer_norm(t, gamma.clone(), beta.clone(), eps));
    reshape(y, &dims)
}

/// LayerNormalization's Mean and InvStdDev outputs: per row of the axes before `axis`, with
/// the normalised axes kept as 1 (ONNX's shapes).
pub(super) fn layer_norm_stats(
    x: DynTensor,
    axis: i64,
    epsilon: f32,
) -> std::result::Result<(DynTensor, DynTensor), String> {
    let dims = x.dims();
    let axis = resolve_axis(axis, dims.len())?;
    let rows: usize = dims[..axis].iter().product();
    let normalized: usize = dims[axis..].iter().product();
    let t = reshape(x, &[rows, normalized])?
        .into_rank::<2>()
        .map_err(|e| e.to_string())?;
    let mean = t.clone().mean_dim(1);
    let var = (t - mean.clone().expand([rows, normalized]))
        .square()
        .mean_dim(1);
    let inv = var.add_scalar(epsilon).sqrt().recip();
    let kept: Vec<usize> = (0..dims.len())
        .map(|i| if i < axis { dims[i] } else { 1 })
        .collect();
    Ok((
        reshape(DynTensor::R2(mean), &kept)?,
        reshape(DynTensor::R2(inv), &kept)?,
    ))
}

/// `x` viewed as `[N, groups, rest]`, each row normalised to mean 0 and variance 1.
fn normalize_groups(x: DynTensor, groups: usize, epsilon: f32) -> OpResult {
    let dims = x.dims();
    let n = dims[0];
    let total: usize = dims[1..].iter().product();
    if groups == 0 || dims[1] % groups != 0 {
        return Err(format!(
            "{groups} groups do not divide {} channels",
            dims[1]
        ));
    }
    let per = total / groups;
    let t = reshape(x, &[n, groups, per])?
        .into_rank::<3>()
        .map_err(|e| e.to_string())?;
    let shape = [n, groups, per];
    let centered = t.clone() - t.mean_dim(2).expand(shape);
    let var = centered.clone().square().mean_dim(2);
    let y = centered / var.add_scalar(epsilon).sqrt().expand(shape);
    reshape(DynTensor::R3(y), &dims)
}

/// `y · scale + bias` with one scale and bias per channel (dimension 1).
fn per_channel_affine(y: DynTensor, scale: Tensor<1>, bias: Tensor<1>) -> OpResult {
    let dims = y.dims();
    let (n, c) = (dims[0], dims[1]);
    let s: usize = dims[2..].iter().product();
    let t = reshape(y, &[n, c, s])?
        .into_rank::<3>()
        .map_err(|e| e.to_string())?;
    let shape = [n, c, s];
    let t = t * scale.reshape([1, c, 1]).expand(shape) + bias.reshape([1, c, 1]).expand(shape);
    reshape(DynTensor::R3(t), &dims)
}

fn affine_inputs(rest: Vec<DynTensor>) -> std::result::Result<(DynTensor, DynTensor), String> {
    let mut rest = rest.into_iter();
    match (rest.next(), rest.next()) {
        (Some(scale), Some(bias)) => Ok((scale, bias)),
        _ => Err("needs a scale and a bias".into()),
    }
}

/// InstanceNormalization: each (n, c) over its spatial elements, then per-channel scale and
/// bias.
pub(super) fn instance_norm(x: DynTensor, rest: Vec<DynTensor>, epsilon: f32) -> OpResult {
    let dims = x.dims();
    if dims.len() < 3 {
        return Err(format!("needs [N, C, spatial..], got {dims:?}"));
    }
    let c = dims[1];
    let (scale, bias) = affine_inputs(rest)?;
    let scale = channel_vector(scale, c, "scale")?;
    let bias = channel_vector(bias, c, "bias")?;
    per_channel_affine(normalize_groups(x, c, epsilon)?, scale, bias)
}

/// GroupNormalization: `groups` groups of channels; scale and bias per channel (opset 21) or
/// per group (opset 18, each value repeated over its group's channels).
pub(super) fn group_norm(
    x: DynTensor,
    rest: Vec<DynTensor>,
    groups: usize,
    epsilon: f32,
) -> OpResult {
    let dims = x.dims();
    if dims.len() < 2 {
        return Err(format!("needs [N, C, ..], got {dims:?}"));
    }
    let c = dims[1];
    let (scale, bias) = affine_inputs(rest)?;
    let per_channel = |t: DynTensor, what: &str| -> std::result::Result<Tensor<1>, String> {
        if t.dims() == [groups] && groups != c && c % groups == 0 {
            let t = t.into_rank::<1>().map_err(|e| e.to_string())?;
            return Ok(t
                .reshape([groups, 1])
                .expand([groups, c / groups])
                .reshape([c]));
        }
        channel_vector(t, c, what)
    };
    let scale = per_channel(scale, "scale")?;
    let bias = per_channel(bias, "bias")?;
    per_channel_affine(normalize_groups(x, groups, epsilon)?, scale, bias)
}

/// LpNormalization: `x / ‖x‖ₚ` along `axis` (p = 1 or 2).
pub(super) fn lp_norm(x: DynTensor, axis: i64, p: u8) -> OpResult {
    let axis = resolve_axis(axis, x.rank())?;
    Ok(map_tensor!(x, t => {
        let norm = if p == 1 {
            t.clone().abs().sum_dim(axis)
        } else {
            t.clone().square().sum_dim(axis).sqrt()
        };
        let shape = t.dims();
        t / norm.expand(shape)
    }))
}

/// LRN across channels: the window of channel `c` is `c - floor((size-1)/2) ..= c +
/// ceil((size-1)/2)`, clipped to the channels there are (zero padding).
pub(super) fn lrn(x: DynTensor, alpha: f32, beta: f32, bias: f32, size: usize) -> OpResult {
    let dims = x.dims();
    if dims.len() < 3 {
        return Err(format!("needs [N, C, spatial..], got {dims:?}"));
    }
    let c = dims[1];
    let (before, after) = ((size - 1) / 2, size / 2);
    let pads: Vec<(usize, usize)> = (0..dims.len())
        .map(|i| if i == 1 { (before, after) } else { (0, 0) })
        .collect();
    let scale = alpha / size as f32;
    Ok(map_tensor!(x, t => {
        let padded = t.clone().square().pad(pads.clone(), PadMode::Constant(0.0));
        let mut sum = padded.clone().narrow(1, 0, c);
        for k in 1..size {
            sum = sum + padded.clone().narrow(1, k, c);
        }
        t / sum.mul_scalar(scale).add_scalar(bias).powf_scalar(beta)
    }))
}
