//! Normalisation: BatchNormalization (inference form, per-channel statistics) and
//! LayerNormalization (over the trailing axes from `axis`).

use burn::tensor::Tensor;
use burn::tensor::module;

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
