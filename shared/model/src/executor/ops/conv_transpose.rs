//! ConvTranspose (1-D and 2-D) with ONNX's padding rules. Burn computes the full transposed
//! convolution (no padding); the output padding, the crop of `pads` (explicit, or derived
//! from `output_shape` or `auto_pad` as the ONNX operator spec says) and the bias are applied
//! here, so asymmetric pads work too.

use burn::tensor::module::{conv_transpose1d, conv_transpose2d};
use burn::tensor::ops::{ConvTransposeOptions, PadMode};
use burn::tensor::{Slice, Tensor};

use super::OpResult;
use crate::executor::dyn_tensor::{DynTensor, map_tensor};
use crate::format::AutoPad;

/// A ConvTranspose node's attributes (one entry per spatial dimension; `pads` begins then
/// ends).
pub(super) struct Params<'a> {
    pub kernel: &'a [usize],
    pub strides: &'a [usize],
    pub dilations: &'a [usize],
    pub groups: usize,
    pub pads: &'a [usize],
    pub output_padding: &'a [usize],
    pub auto_pad: AutoPad,
    pub output_shape: Option<&'a [usize]>,
}

/// The (begin, end) crop of each spatial dimension of the full output (ONNX ConvTranspose:
/// "total_padding[i] = stride[i] * (input_size[i] - 1) + output_padding[i] +
/// ((kernel_shape[i] - 1) * dilations[i] + 1) - output_shape[i]"). A negative end grows the
/// output there instead: an `output_shape` larger than the natural size is filled at the end,
/// as ONNX Runtime and the reference do.
fn crops(input: &[usize], p: &Params) -> Result<Vec<(usize, i64)>, String> {
    let n = p.kernel.len();
    (0..n)
        .map(|i| {
            let natural: usize = p.strides[i] * (input[i] - 1)
                + p.output_padding[i]
                + (p.kernel[i] - 1) * p.dilations[i]
                + 1;
            let wanted = match (p.output_shape, p.auto_pad) {
                (Some(shape), _) => Some(shape[i]),
                (None, AutoPad::SameUpper | AutoPad::SameLower) => Some(input[i] * p.strides[i]),
                (None, AutoPad::Valid) => return Ok((0, 0)),
                (None, AutoPad::Explicit) => None,
            };
            let Some(wanted) = wanted else {
                let (b, e) = (p.pads[i], p.pads[i + n]);
                if b + e >= natural {
                    return Err(format!("pads {:?} leave nothing of the output", p.pads));
                }
                return Ok((b, e as i64));
            };
            if wanted == 0 {
                return Err("an output size of 0".into());
            }
            let Some(total) = natural.checked_sub(wanted) else {
                return Ok((0, natural as i64 - wanted as i64));
            };
            Ok(if p.auto_pad == AutoPad::SameUpper {
                (total / 2, (total - total / 2) as i64)
            } else {
                (total - total / 2, (total / 2) as i64)
            })
        })
        .collect()
}

pub(super) fn conv_transpose(x: DynTensor, mut rest: Vec<DynTensor>, p: &Params) -> OpResult {
    let bias = if rest.len() == 2 { rest.pop() } else { None };
    let weight = rest.pop().ok_or("missing weight")?;
    let (xd, wd) = (x.dims(), weight.dims());
    let n = p.kernel.len();
    if xd.len() != n + 2 || wd.len() != n + 2 {
        return Err(format!(
            "input {xd:?} and weight {wd:?} must both have rank {}",
            n + 2
        ));
    }
    if xd[1] != wd[0] || !wd[0].is_multiple_of(p.groups) || wd[2..] != *p.kernel {
        return Err(format!(
            "input {xd:?} does not fit weight {wd:?} with {} groups and kernel {:?}",
            p.groups, p.kernel
        ));
    }
    let out_channels = wd[1] * p.groups;
    let crop = crops(&xd[2..], p)?;
    let full = match n {
        1 => {
            let options =
                ConvTransposeOptions::new([p.strides[0]], [0], [0], [p.dilations[0]], p.groups);
            let x = x.into_rank::<3>().map_err(|e| e.to_string())?;
            let w = weight.into_rank::<3>().map_err(|e| e.to_string())?;
            DynTensor::R3(conv_transpose1d(x, w, None, options))
        }
        _ => {
            let options = ConvTransposeOptions::new(
                [p.strides[0], p.strides[1]],
                [0, 0],
                [0, 0],
                [p.dilations[0], p.dilations[1]],
                p.groups,
            );
            let x = x.into_rank::<4>().map_err(|e| e.to_string())?;
            let w = weight.into_rank::<4>().map_err(|e| e.to_string())?;
            DynTensor::R4(conv_transpose2d(x, w, None, options))
        }
    };
    // Output padding adds zeros (then the bias) at the end; then the pads are cropped.
    let mut grow: Vec<(usize, usize)> = vec![(0, 0); n + 2];
    for i in 0..n {
        grow[i + 2] = (0, p.output_padding[i] + (-crop[i].1).max(0) as usize);
    }
    let full = if grow.iter().any(|&(_, e)| e > 0) {
        map_tensor!(full, t => t.pad(grow.clone(), PadMode::Constant(0.0)))
    } else {
        full
    };
    let dims = full.dims();
    let slices: Vec<Slice> = dims
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            if i < 2 {
                Slice::new(0, Some(d as isize), 1)
            } else {
                let (b, e) = crop[i - 2];
                Slice::new(b as isize, Some((d - e.max(0) as usize) as isize), 1)
            }
        })
        .collect();
    let y = map_tensor!(full, t => t.slice(slices.as_slice()));
    let Some(bias) = bias else {
        return Ok(y);
    };
    if bias.dims() != [out_channels] {
        return Err(format!(
            "bias {:?} does not fit {out_channels} output channels",
            bias.dims()
        ));
    }
    let b: Tensor<1> = bias.into_rank::<1>().map_err(|e| e.to_string())?;
    Ok(match y {
        DynTensor::R3(t) => {
            let shape = t.dims();
            DynTensor::R3(t + b.reshape([1, out_channels, 1]).expand(shape))
        }
        DynTensor::R4(t) => {
            let shape = t.dims();
            DynTensor::R4(t + b.reshape([1, out_channels, 1, 1]).expand(shape))
        }
        other => return Err(format!("unexpected rank {}", other.rank())),
    })
}
