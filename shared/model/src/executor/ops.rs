//! One function per graph operation, on run-time-ranked tensors.
//!
//! Burn asserts (panics) on shape mismatches, so every op checks the shapes it relies on
//! first and returns an error naming the problem; the executor additionally turns any panic
//! that slips through into an error (see `Model::run`).

use burn::tensor::Tensor;
use burn::tensor::activation;
use burn::tensor::module::{self, avg_pool1d, avg_pool2d, conv1d, conv2d, max_pool1d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions, PadMode as BurnPadMode};

use super::dyn_tensor::{DynTensor, arr, map_tensor};
use crate::format::{AutoPad, Op, PadMode};

/// The error of an op, before the executor adds the node's name.
pub type OpResult = std::result::Result<DynTensor, String>;

/// Runs `op` on its (already gathered) inputs.
pub fn run(op: &Op, mut inputs: Vec<DynTensor>) -> OpResult {
    let first = inputs.remove(0);
    match op {
        Op::Identity | Op::Dropout => Ok(first),
        Op::Relu => Ok(map_tensor!(first, t => activation::relu(t))),
        Op::Sigmoid => Ok(map_tensor!(first, t => activation::sigmoid(t))),
        Op::Tanh => Ok(map_tensor!(first, t => t.tanh())),
        Op::Erf => Ok(map_tensor!(first, t => t.erf())),
        Op::LeakyRelu { alpha } => {
            let alpha = f64::from(*alpha);
            Ok(map_tensor!(first, t => activation::leaky_relu(t, alpha)))
        }
        Op::Gelu { tanh_approximation } => Ok(if *tanh_approximation {
            map_tensor!(first, t => activation::gelu_approximate(t))
        } else {
            map_tensor!(first, t => activation::gelu(t))
        }),
        Op::Softmax { axis } => {
            let axis = resolve_axis(*axis, first.rank())?;
            Ok(map_tensor!(first, t => activation::softmax(t, axis)))
        }
        Op::LogSoftmax { axis } => {
            let axis = resolve_axis(*axis, first.rank())?;
            Ok(map_tensor!(first, t => activation::log_softmax(t, axis)))
        }
        Op::Clip { min, max } => Ok(match (min, max) {
            (Some(lo), Some(hi)) => map_tensor!(first, t => t.clamp(*lo, *hi)),
            (Some(lo), None) => map_tensor!(first, t => t.clamp_min(*lo)),
            (None, Some(hi)) => map_tensor!(first, t => t.clamp_max(*hi)),
            (None, None) => first,
        }),
        Op::Add | Op::Sub | Op::Mul | Op::Div => binary(op, first, one(inputs)?),
        Op::MatMul => matmul(first, one(inputs)?),
        Op::Linear => linear(first, inputs),
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            trans_b,
        } => gemm(first, inputs, *alpha, *beta, *trans_a, *trans_b),
        Op::Conv {
            kernel,
            strides,
            dilations,
            groups,
            pads,
            auto_pad,
        } => conv(
            first, inputs, kernel, strides, dilations, *groups, pads, *auto_pad,
        ),
        Op::MaxPool {
            kernel,
            strides,
            dilations,
            pads,
            auto_pad,
            ceil_mode,
        } => {
            let padding =
                spatial_padding(&first.dims(), kernel, strides, dilations, pads, *auto_pad)?;
            max_pool(first, kernel, strides, dilations, &padding, *ceil_mode)
        }
        Op::AveragePool {
            kernel,
            strides,
            pads,
            auto_pad,
            ceil_mode,
            count_include_pad,
        } => {
            let ones = vec![1; kernel.len()];
            let padding = spatial_padding(&first.dims(), kernel, strides, &ones, pads, *auto_pad)?;
            avg_pool(
                first,
                kernel,
                strides,
                &padding,
                *ceil_mode,
                *count_include_pad,
            )
        }
        Op::GlobalAveragePool => {
            let rank = first.rank();
            if rank < 3 {
                return Err(format!("needs [N, C, spatial..], got {:?}", first.dims()));
            }
            let dims: Vec<usize> = (2..rank).collect();
            Ok(map_tensor!(first, t => t.mean_dims(&dims)))
        }
        Op::BatchNormalization { epsilon } => batch_norm(first, inputs, *epsilon),
        Op::LayerNormalization { axis, epsilon } => layer_norm(first, inputs, *axis, *epsilon),
        Op::Flatten { axis } => {
            let dims = first.dims();
            let axis = resolve_axis_inclusive(*axis, dims.len())?;
            let outer: usize = dims[..axis].iter().product();
            let inner: usize = dims[axis..].iter().product();
            reshape(first, &[outer, inner])
        }
        Op::Reshape { shape } => {
            let target = reshape_target(&first.dims(), shape)?;
            reshape(first, &target)
        }
        Op::Transpose { perm } => {
            if perm.len() != first.rank() {
                return Err(format!(
                    "perm {perm:?} does not fit shape {:?}",
                    first.dims()
                ));
            }
            Ok(map_tensor!(first, t => t.permute(arr_i(perm))))
        }
        Op::Concat { axis } => concat(first, inputs, *axis),
        Op::Squeeze { axes } => {
            let dims = first.dims();
            let axes = resolve_axes(axes, dims.len())?;
            if let Some(&bad) = axes.iter().find(|&&a| dims[a] != 1) {
                return Err(format!("cannot squeeze axis {bad} of shape {dims:?}"));
            }
            let kept: Vec<usize> = dims
                .iter()
                .enumerate()
                .filter(|(i, d)| {
                    if axes.is_empty() {
                        **d != 1
                    } else {
                        !axes.contains(i)
                    }
                })
                .map(|(_, d)| *d)
                .collect();
            reshape(first, if kept.is_empty() { &[1] } else { &kept })
        }
        Op::Unsqueeze { axes } => {
            let dims = first.dims();
            let out_rank = dims.len() + axes.len();
            let mut axes = resolve_axes(axes, out_rank)?;
            axes.sort_unstable();
            let mut out = Vec::with_capacity(out_rank);
            let mut rest = dims.iter();
            for i in 0..out_rank {
                if axes.contains(&i) {
                    out.push(1);
                } else {
                    out.push(*rest.next().ok_or("duplicate axes")?);
                }
            }
            reshape(first, &out)
        }
        Op::Pad { pads, mode, value } => pad(first, pads, *mode, *value),
        Op::ReduceMean { axes, keepdims } => {
            let dims = first.dims();
            let mut axes = resolve_axes(axes, dims.len())?;
            if axes.is_empty() {
                axes = (0..dims.len()).collect();
            }
            let reduced = map_tensor!(first, t => t.mean_dims(&axes));
            if *keepdims {
                return Ok(reduced);
            }
            let kept: Vec<usize> = dims
                .iter()
                .enumerate()
                .filter(|(i, _)| !axes.contains(i))
                .map(|(_, d)| *d)
                .collect();
            reshape(reduced, if kept.is_empty() { &[1] } else { &kept })
        }
    }
}

fn one(mut inputs: Vec<DynTensor>) -> std::result::Result<DynTensor, String> {
    inputs
        .pop()
        .ok_or_else(|| "missing second input".to_string())
}

fn reshape(t: DynTensor, dims: &[usize]) -> OpResult {
    t.reshape(dims).map_err(|e| e.to_string())
}

fn arr_i<const N: usize>(perm: &[usize]) -> [isize; N] {
    let mut out = [0isize; N];
    for (o, p) in out.iter_mut().zip(perm) {
        *o = *p as isize;
    }
    out
}

fn resolve_axis(axis: i64, rank: usize) -> std::result::Result<usize, String> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(format!("axis {axis} is out of range for rank {rank}"))
    }
}

/// Like `resolve_axis` but `rank` itself is allowed (Flatten).
fn resolve_axis_inclusive(axis: i64, rank: usize) -> std::result::Result<usize, String> {
    if axis == rank as i64 {
        return Ok(rank);
    }
    resolve_axis(axis, rank)
}

fn resolve_axes(axes: &[i64], rank: usize) -> std::result::Result<Vec<usize>, String> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let a = resolve_axis(a, rank)?;
        if out.contains(&a) {
            return Err(format!("axis {a} is repeated"));
        }
        out.push(a);
    }
    Ok(out)
}

/// Numpy-style broadcast of two shapes of equal rank.
fn broadcast_shape(a: &[usize], b: &[usize]) -> std::result::Result<Vec<usize>, String> {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| match (x, y) {
            _ if x == y => Ok(x),
            (1, _) => Ok(y),
            (_, 1) => Ok(x),
            _ => Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        })
        .collect()
}

fn binary(op: &Op, a: DynTensor, b: DynTensor) -> OpResult {
    let rank = a.rank().max(b.rank());
    let a = a.unsqueeze_to(rank).map_err(|e| e.to_string())?;
    let b = b.unsqueeze_to(rank).map_err(|e| e.to_string())?;
    let out = broadcast_shape(&a.dims(), &b.dims())?;
    let a = expand(a, &out)?;
    let b = expand(b, &out)?;
    macro_rules! apply {
        ($f:ident) => {
            match (a, b) {
                (DynTensor::R1(x), DynTensor::R1(y)) => DynTensor::R1(x.$f(y)),
                (DynTensor::R2(x), DynTensor::R2(y)) => DynTensor::R2(x.$f(y)),
                (DynTensor::R3(x), DynTensor::R3(y)) => DynTensor::R3(x.$f(y)),
                (DynTensor::R4(x), DynTensor::R4(y)) => DynTensor::R4(x.$f(y)),
                (DynTensor::R5(x), DynTensor::R5(y)) => DynTensor::R5(x.$f(y)),
                (DynTensor::R6(x), DynTensor::R6(y)) => DynTensor::R6(x.$f(y)),
                _ => return Err("operand ranks differ".into()),
            }
        };
    }
    Ok(match op {
        Op::Add => apply!(add),
        Op::Sub => apply!(sub),
        Op::Mul => apply!(mul),
        _ => apply!(div),
    })
}

/// Broadcasts `t` to `dims` (same rank; size-1 dimensions stretch).
fn expand(t: DynTensor, dims: &[usize]) -> OpResult {
    if t.dims() == dims {
        return Ok(t);
    }
    Ok(map_tensor!(t, x => x.expand(arr(dims))))
}

fn matmul(a: DynTensor, b: DynTensor) -> OpResult {
    let (ad, bd) = (a.dims(), b.dims());
    // numpy semantics: a 1-D left operand is a row, a 1-D right operand a column.
    let a = if ad.len() == 1 {
        reshape(a, &[1, ad[0]])?
    } else {
        a
    };
    let b = if bd.len() == 1 {
        reshape(b, &[bd[0], 1])?
    } else {
        b
    };
    let rank = a.rank().max(b.rank());
    let a = a.unsqueeze_to(rank).map_err(|e| e.to_string())?;
    let b = b.unsqueeze_to(rank).map_err(|e| e.to_string())?;
    let (a_dims, b_dims) = (a.dims(), b.dims());
    let (k1, k2) = (a_dims[rank - 1], b_dims[rank - 2]);
    if k1 != k2 {
        return Err(format!("inner dimensions differ: {ad:?} x {bd:?}"));
    }
    let mut batch = broadcast_shape(&a_dims[..rank - 2], &b_dims[..rank - 2])?;
    let mut a_out = batch.clone();
    a_out.extend([a_dims[rank - 2], k1]);
    let mut b_out = batch.clone();
    b_out.extend([k2, b_dims[rank - 1]]);
    let a = expand(a, &a_out)?;
    let b = expand(b, &b_out)?;
    let product = match (a, b) {
        (DynTensor::R2(x), DynTensor::R2(y)) => DynTensor::R2(x.matmul(y)),
        (DynTensor::R3(x), DynTensor::R3(y)) => DynTensor::R3(x.matmul(y)),
        (DynTensor::R4(x), DynTensor::R4(y)) => DynTensor::R4(x.matmul(y)),
        (DynTensor::R5(x), DynTensor::R5(y)) => DynTensor::R5(x.matmul(y)),
        (DynTensor::R6(x), DynTensor::R6(y)) => DynTensor::R6(x.matmul(y)),
        _ => return Err("unsupported operand ranks".into()),
    };
    // Drop the dimensions added for 1-D operands.
    if ad.len() == 1 || bd.len() == 1 {
        if ad.len() != 1 {
            batch.push(a_dims[rank - 2]);
        }
        if bd.len() != 1 {
            batch.push(b_dims[rank - 1]);
        }
        return reshape(product, if batch.is_empty() { &[1] } else { &batch });
    }
    Ok(product)
}

fn linear(x: DynTensor, mut rest: Vec<DynTensor>) -> OpResult {
    let bias = if rest.len() == 2 { rest.pop() } else { None };
    let weight = rest.pop().ok_or("missing weight")?;
    let (xd, wd) = (x.dims(), weight.dims());
    if wd.len() != 2 || xd.last() != Some(&wd[0]) {
        return Err(format!(
            "input {xd:?} does not fit weight {wd:?} ([in, out])"
        ));
    }
    let bias = match bias {
        Some(b) if b.dims().iter().product::<usize>() == wd[1] => Some(
            b.reshape(&[wd[1]])
                .and_then(|b| b.into_rank::<1>())
                .map_err(|e| e.to_string())?,
        ),
        Some(b) => return Err(format!("bias {:?} does not fit weight {wd:?}", b.dims())),
        None => None,
    };
    let weight = weight.into_rank::<2>().map_err(|e| e.to_string())?;
    Ok(map_tensor!(x, t => module::linear(t, weight.clone(), bias.clone())))
}

fn gemm(
    a: DynTensor,
    mut rest: Vec<DynTensor>,
    alpha: f32,
    beta: f32,
    trans_a: bool,
    trans_b: bool,
) -> OpResult {
    let c = if rest.len() == 2 { rest.pop() } else { None };
    let b = rest.pop().ok_or("missing B")?;
    let a = a.into_rank::<2>().map_err(|e| format!("A: {e}"))?;
    let b = b.into_rank::<2>().map_err(|e| format!("B: {e}"))?;
    let a = if trans_a { a.transpose() } else { a };
    let b = if trans_b { b.transpose() } else { b };
    let ([m, k1], [k2, n]) = (a.dims(), b.dims());
    if k1 != k2 {
        return Err(format!("A is {m}x{k1} but B is {k2}x{n}"));
    }
    let mut y = a.matmul(b);
    if alpha != 1.0 {
        y = y.mul_scalar(alpha);
    }
    if let Some(c) = c {
        let c = c.unsqueeze_to(2).map_err(|e| e.to_string())?;
        broadcast_shape(&c.dims(), &[m, n]).map_err(|e| format!("C: {e}"))?;
        let c = expand(c, &[m, n])?
            .into_rank::<2>()
            .map_err(|e| e.to_string())?;
        y = y.add(if beta != 1.0 { c.mul_scalar(beta) } else { c });
    }
    Ok(DynTensor::R2(y))
}

/// Resolves ONNX padding (explicit or auto) to (begin, end) per spatial dimension.
fn spatial_padding(
    input: &[usize],
    kernel: &[usize],
    strides: &[usize],
    dilations: &[usize],
    pads: &[usize],
    auto_pad: AutoPad,
) -> std::result::Result<Vec<(usize, usize)>, String> {
    let n = kernel.len();
    if input.len() != n + 2 {
        return Err(format!("input {input:?} is not [N, C, {n} spatial dims]"));
    }
    Ok((0..n)
        .map(|i| match auto_pad {
            AutoPad::Explicit => (pads[i], pads[i + n]),
            AutoPad::Valid => (0, 0),
            AutoPad::SameUpper | AutoPad::SameLower => {
                let size = input[i + 2];
                let out = size.div_ceil(strides[i]);
                let needed =
                    (out.saturating_sub(1)) * strides[i] + (kernel[i] - 1) * dilations[i] + 1;
                let total = needed.saturating_sub(size);
                let small = total / 2;
                if auto_pad == AutoPad::SameUpper {
                    (small, total - small)
                } else {
                    (total - small, small)
                }
            }
        })
        .collect())
}

#[allow(clippy::too_many_arguments)]
fn conv(
    x: DynTensor,
    mut rest: Vec<DynTensor>,
    kernel: &[usize],
    strides: &[usize],
    dilations: &[usize],
    groups: usize,
    pads: &[usize],
    auto_pad: AutoPad,
) -> OpResult {
    let bias = if rest.len() == 2 { rest.pop() } else { None };
    let weight = rest.pop().ok_or("missing weight")?;
    let (xd, wd) = (x.dims(), weight.dims());
    let n = kernel.len();
    if xd.len() != n + 2 || wd.len() != n + 2 {
        return Err(format!(
            "input {xd:?} and weight {wd:?} must both have rank {}",
            n + 2
        ));
    }
    if xd[1] != wd[1] * groups || !wd[0].is_multiple_of(groups) || wd[2..] != *kernel {
        return Err(format!(
            "input {xd:?} does not fit weight {wd:?} with {groups} groups and kernel {kernel:?}"
        ));
    }
    let padding = spatial_padding(&xd, kernel, strides, dilations, pads, auto_pad)?;
    for i in 0..n {
        let span = (kernel[i] - 1) * dilations[i] + 1;
        if xd[i + 2] + padding[i].0 + padding[i].1 < span {
            return Err(format!(
                "input {xd:?} is smaller than the kernel {kernel:?}"
            ));
        }
    }
    let bias = match bias {
        Some(b) if b.dims() == [wd[0]] => Some(b.into_rank::<1>().map_err(|e| e.to_string())?),
        Some(b) => {
            return Err(format!(
                "bias {:?} does not fit {} output channels",
                b.dims(),
                wd[0]
            ));
        }
        None => None,
    };
    match n {
        1 => {
            let options = ConvOptions {
                stride: [strides[0]],
                padding: [padding[0]],
                dilation: [dilations[0]],
                groups,
            };
            let x = x.into_rank::<3>().map_err(|e| e.to_string())?;
            let w = weight.into_rank::<3>().map_err(|e| e.to_string())?;
            Ok(DynTensor::R3(conv1d(x, w, bias, options)))
        }
        _ => {
            let options = ConvOptions {
                stride: [strides[0], strides[1]],
                padding: [padding[0], padding[1]],
                dilation: [dilations[0], dilations[1]],
                groups,
            };
            let x = x.into_rank::<4>().map_err(|e| e.to_string())?;
            let w = weight.into_rank::<4>().map_err(|e| e.to_string())?;
            Ok(DynTensor::R4(conv2d(x, w, bias, options)))
        }
    }
}

fn check_pool_fits(
    dims: &[usize],
    kernel: &[usize],
    dilations: &[usize],
    padding: &[(usize, usize)],
) -> std::result::Result<(), String> {
    for i in 0..kernel.len() {
        let span = (kernel[i] - 1) * dilations[i] + 1;
        if dims[i + 2] + padding[i].0 + padding[i].1 < span {
            return Err(format!(
                "input {dims:?} is smaller than the window {kernel:?}"
            ));
        }
        if padding[i].0.max(padding[i].1) >= span {
            return Err(format!(
                "padding {:?} is not smaller than the window",
                padding[i]
            ));
        }
    }
    Ok(())
}

fn max_pool(
    x: DynTensor,
    kernel: &[usize],
    strides: &[usize],
    dilations: &[usize],
    padding: &[(usize, usize)],
    ceil_mode: bool,
) -> OpResult {
    check_pool_fits(&x.dims(), kernel, dilations, padding)?;
    if kernel.len() == 1 {
        let options = MaxPoolOptions {
            kernel_size: [kernel[0]],
            stride: [strides[0]],
            padding: [padding[0]],
            dilation: [dilations[0]],
            ceil_mode,
        };
        let x = x.into_rank::<3>().map_err(|e| e.to_string())?;
        return Ok(DynTensor::R3(max_pool1d(x, options)));
    }
    let options = MaxPoolOptions {
        kernel_size: [kernel[0], kernel[1]],
        stride: [strides[0], strides[1]],
        padding: [padding[0], padding[1]],
        dilation: [dilations[0], dilations[1]],
        ceil_mode,
    };
    let x = x.into_rank::<4>().map_err(|e| e.to_string())?;
    Ok(DynTensor::R4(max_pool2d(x, options)))
}

fn avg_pool(
    x: DynTensor,
    kernel: &[usize],
    strides: &[usize],
    padding: &[(usize, usize)],
    ceil_mode: bool,
    count_include_pad: bool,
) -> OpResult {
    check_pool_fits(&x.dims(), kernel, &vec![1; kernel.len()], padding)?;
    if kernel.len() == 1 {
        let options = AvgPoolOptions {
            kernel_size: [kernel[0]],
            stride: [strides[0]],
            padding: [padding[0]],
            count_include_pad,
            ceil_mode,
        };
        let x = x.into_rank::<3>().map_err(|e| e.to_string())?;
        return Ok(DynTensor::R3(avg_pool1d(x, options)));
    }
    let options = AvgPoolOptions {
        kernel_size: [kernel[0], kernel[1]],
        stride: [strides[0], strides[1]],
        padding: [padding[0], padding[1]],
        count_include_pad,
        ceil_mode,
    };
    let x = x.into_rank::<4>().map_err(|e| e.to_string())?;
    Ok(DynTensor::R4(avg_pool2d(x, options)))
}

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

fn batch_norm(x: DynTensor, mut rest: Vec<DynTensor>, epsilon: f32) -> OpResult {
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

fn layer_norm(x: DynTensor, mut rest: Vec<DynTensor>, axis: i64, epsilon: f32) -> OpResult {
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

fn reshape_target(dims: &[usize], shape: &[i64]) -> std::result::Result<Vec<usize>, String> {
    let total: usize = dims.iter().product();
    let mut out = Vec::with_capacity(shape.len());
    let mut infer = None;
    for (i, &s) in shape.iter().enumerate() {
        match s {
            0 => out.push(
                *dims
                    .get(i)
                    .ok_or_else(|| format!("0 at axis {i} copies a missing dimension"))?,
            ),
            -1 => {
                infer = Some(i);
                out.push(1);
            }
            s => out.push(usize::try_from(s).map_err(|_| format!("invalid dimension {s}"))?),
        }
    }
    let known: usize = out.iter().product();
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot infer -1 reshaping {dims:?} to {shape:?}"));
        }
        out[i] = total / known;
    }
    if out.iter().product::<usize>() != total {
        return Err(format!("cannot reshape {dims:?} to {shape:?}"));
    }
    Ok(out)
}

fn concat(first: DynTensor, rest: Vec<DynTensor>, axis: i64) -> OpResult {
    let dims = first.dims();
    let axis = resolve_axis(axis, dims.len())?;
    for t in &rest {
        let d = t.dims();
        let fits = d.len() == dims.len()
            && d.iter()
                .zip(&dims)
                .enumerate()
                .all(|(i, (a, b))| i == axis || a == b);
        if !fits {
            return Err(format!(
                "cannot concatenate {dims:?} and {d:?} on axis {axis}"
            ));
        }
    }
    macro_rules! cat {
        ($variant:ident, $first:ident) => {{
            let mut all = vec![$first];
            for t in rest {
                match t {
                    DynTensor::$variant(t) => all.push(t),
                    _ => return Err("ranks differ".into()),
                }
            }
            DynTensor::$variant(Tensor::cat(all, axis))
        }};
    }
    Ok(match first {
        DynTensor::R1(f) => cat!(R1, f),
        DynTensor::R2(f) => cat!(R2, f),
        DynTensor::R3(f) => cat!(R3, f),
        DynTensor::R4(f) => cat!(R4, f),
        DynTensor::R5(f) => cat!(R5, f),
        DynTensor::R6(f) => cat!(R6, f),
    })
}

fn pad(x: DynTensor, pads: &[usize], mode: PadMode, value: f32) -> OpResult {
    let dims = x.dims();
    let rank = dims.len();
    if pads.len() != 2 * rank {
        return Err(format!("{} pads for a rank-{rank} input", pads.len()));
    }
    let pairs: Vec<(usize, usize)> = (0..rank).map(|i| (pads[i], pads[i + rank])).collect();
    let mode = match mode {
        PadMode::Constant => BurnPadMode::Constant(value),
        PadMode::Edge => BurnPadMode::Edge,
        PadMode::Reflect => {
            if let Some(i) = (0..rank).find(|&i| pairs[i].0.max(pairs[i].1) >= dims[i]) {
                return Err(format!(
                    "reflect padding {:?} is not smaller than dimension {i} of {dims:?}",
                    pairs[i]
                ));
            }
            BurnPadMode::Reflect
        }
    };
    if mode == BurnPadMode::Edge && (0..rank).any(|i| dims[i] == 0 && pairs[i] != (0, 0)) {
        return Err("edge padding of an empty dimension".into());
    }
    Ok(map_tensor!(x, t => t.pad(pairs.clone(), mode)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_target_follows_onnx_rules() {
        assert_eq!(reshape_target(&[2, 3, 4], &[0, -1]), Ok(vec![2, 12]));
        assert_eq!(reshape_target(&[2, 3, 4], &[-1, 4]), Ok(vec![6, 4]));
        assert!(reshape_target(&[2, 3, 4], &[5, -1]).is_err());
        assert!(reshape_target(&[2, 3, 4], &[7]).is_err());
    }

    #[test]
    fn same_padding_puts_the_odd_pixel_at_the_end_for_upper() {
        let p = spatial_padding(&[1, 1, 7], &[2], &[2], &[1], &[0, 0], AutoPad::SameUpper);
        assert_eq!(p, Ok(vec![(0, 1)]));
        let p = spatial_padding(&[1, 1, 6], &[4], &[1], &[1], &[0, 0], AutoPad::SameLower);
        assert_eq!(p, Ok(vec![(2, 1)]));
    }

    #[test]
    fn broadcast_rejects_incompatible_shapes() {
        assert!(broadcast_shape(&[2, 3], &[3, 3]).is_err());
        assert_eq!(broadcast_shape(&[2, 1], &[1, 3]), Ok(vec![2, 3]));
    }
}
