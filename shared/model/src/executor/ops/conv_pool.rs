//! Convolution and pooling: the ops that slide a window over the spatial dimensions of an
//! `[N, C, spatial..]` input (Conv, MaxPool, AveragePool, GlobalAveragePool), with the ONNX
//! padding rules they share. One or two spatial dimensions (format validation refuses more).

use burn::tensor::module::{avg_pool1d, avg_pool2d, conv1d, conv2d, max_pool1d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions};

use super::{OpResult, elementwise};
use crate::executor::dyn_tensor::{DynTensor, map_tensor};
use crate::executor::kernels::{self, Conv2d};
use crate::format::{AutoPad, FusedActivation};

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
pub(super) fn conv(
    x: DynTensor,
    mut rest: Vec<DynTensor>,
    kernel: &[usize],
    strides: &[usize],
    dilations: &[usize],
    groups: usize,
    pads: &[usize],
    auto_pad: AutoPad,
    activation: Option<FusedActivation>,
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
    if n == 2 {
        let out = |i: usize| {
            (xd[i + 2] + padding[i].0 + padding[i].1 - ((kernel[i] - 1) * dilations[i] + 1))
                / strides[i]
                + 1
        };
        let geometry = Conv2d {
            batch: xd[0],
            in_channels: xd[1],
            in_size: (xd[2], xd[3]),
            out_channels: wd[0],
            groups,
            kernel: (kernel[0], kernel[1]),
            stride: (strides[0], strides[1]),
            dilation: (dilations[0], dilations[1]),
            pad_begin: (padding[0].0, padding[1].0),
            out_size: (out(0), out(1)),
        };
        if kernels::direct_conv_applies(&geometry, &x, &weight) {
            let bias = bias.map(DynTensor::R1);
            let y = kernels::direct_conv(&geometry, x, weight, bias, activation)?;
            return match activation {
                Some(a) if !kernels::in_register(a) => elementwise::fused(a, y),
                _ => Ok(y),
            };
        }
    }
    let y = match n {
        1 => {
            let options = ConvOptions {
                stride: [strides[0]],
                padding: [padding[0]],
                dilation: [dilations[0]],
                groups,
            };
            let x = x.into_rank::<3>().map_err(|e| e.to_string())?;
            let w = weight.into_rank::<3>().map_err(|e| e.to_string())?;
            DynTensor::R3(conv1d(x, w, bias, options))
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
            DynTensor::R4(conv2d(x, w, bias, options))
        }
    };
    match activation {
        Some(a) => elementwise::fused(a, y),
        None => Ok(y),
    }
}

/// The 2-D window geometry of a pool over `dims` (`[N, C, H, W]`), floor-mode sizes.
fn pool_geometry(
    dims: &[usize],
    kernel: &[usize],
    strides: &[usize],
    dilations: &[usize],
    padding: &[(usize, usize)],
) -> Conv2d {
    let out = |i: usize| {
        (dims[i + 2] + padding[i].0 + padding[i].1 - ((kernel[i] - 1) * dilations[i] + 1))
            / strides[i]
            + 1
    };
    Conv2d {
        batch: dims[0],
        in_channels: dims[1],
        in_size: (dims[2], dims[3]),
        out_channels: dims[1],
        groups: dims[1],
        kernel: (kernel[0], kernel[1]),
        stride: (strides[0], strides[1]),
        dilation: (dilations[0], dilations[1]),
        pad_begin: (padding[0].0, padding[1].0),
        out_size: (out(0), out(1)),
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

pub(super) fn max_pool(
    x: DynTensor,
    kernel: &[usize],
    strides: &[usize],
    dilations: &[usize],
    pads: &[usize],
    auto_pad: AutoPad,
    ceil_mode: bool,
) -> OpResult {
    let padding = spatial_padding(&x.dims(), kernel, strides, dilations, pads, auto_pad)?;
    check_pool_fits(&x.dims(), kernel, dilations, &padding)?;
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
    if !ceil_mode && kernels::pool_applies(&x) {
        let geometry = pool_geometry(&x.dims(), kernel, strides, dilations, &padding);
        return kernels::pool(&geometry, x, kernels::Pool::Max);
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

pub(super) fn avg_pool(
    x: DynTensor,
    kernel: &[usize],
    strides: &[usize],
    pads: &[usize],
    auto_pad: AutoPad,
    ceil_mode: bool,
    count_include_pad: bool,
) -> OpResult {
    let ones = vec![1; kernel.len()];
    let padding = spatial_padding(&x.dims(), kernel, strides, &ones, pads, auto_pad)?;
    check_pool_fits(&x.dims(), kernel, &ones, &padding)?;
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
    let unpadded = padding.iter().all(|p| *p == (0, 0));
    if !ceil_mode && (count_include_pad || unpadded) && kernels::pool_applies(&x) {
        let geometry = pool_geometry(&x.dims(), kernel, strides, &ones, &padding);
        return kernels::pool(&geometry, x, kernels::Pool::Average);
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

/// The mean over every spatial dimension, keeping them as size 1.
/// GlobalAveragePool (`max` false) or GlobalMaxPool: over every spatial dimension.
pub(super) fn global_pool(first: DynTensor, max: bool) -> OpResult {
    let rank = first.rank();
    if rank < 3 {
        return Err(format!("needs [N, C, spatial..], got {:?}", first.dims()));
    }
    let dims: Vec<usize> = (2..rank).collect();
    Ok(if max {
        map_tensor!(first, t => t.max_dims(&dims))
    } else {
        map_tensor!(first, t => t.mean_dims(&dims))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_puts_the_odd_pixel_at_the_end_for_upper() {
        let p = spatial_padding(&[1, 1, 7], &[2], &[2], &[1], &[0, 0], AutoPad::SameUpper);
        assert_eq!(p, Ok(vec![(0, 1)]));
        let p = spatial_padding(&[1, 1, 6], &[4], &[1], &[1], &[0, 0], AutoPad::SameLower);
        assert_eq!(p, Ok(vec![(2, 1)]));
    }
}
