//! Resize (and Upsample, which the importer expresses as a Resize): every axis is resampled
//! on its own, as the ONNX reference does (linear and cubic interpolation are separable).
//! For each axis the output coordinates are mapped to source coordinates on the host (the
//! coordinate transformation mode), giving each output position one to four input positions
//! with weights ("taps"); the device then gathers those rows along the axis and sums them,
//! weighted. Nothing but the taps (a few numbers per output row) crosses to the device, so a
//! GPU model's feature maps stay on the GPU.
//!
//! Source positions outside the input take the edge value, which is what the reference's edge
//! padding gives for every coordinate these modes produce (they stay within half a pixel of
//! the input). `tf_crop_and_resize`, `exclude_outside` and antialiasing are not implemented
//! (the importer refuses them).

use burn::tensor::kind::Basic;
use burn::tensor::{Int, Tensor, TensorData};

use super::common::{Res, device_ints, host_floats, host_ints, reshape_any};
use super::{Ctx, ValueResult};
use crate::executor::dyn_tensor::{DynTensor, map_tensor};
use crate::executor::value::{Typed, Value};
use crate::format::{CoordinateMode, EMPTY_TENSORS, NearestMode, ResizeMode};

/// A Resize node's attributes.
pub(super) struct Params {
    pub mode: ResizeMode,
    pub coordinates: CoordinateMode,
    pub nearest: NearestMode,
    pub cubic_coeff_a: f32,
    /// The target input holds output sizes, not scales.
    pub sizes: bool,
}

/// `Resize(x, target)`.
pub(super) fn resize(x: Value, target: Value, p: &Params, ctx: &Ctx) -> ValueResult {
    let dims = x.dims();
    if dims.is_empty() {
        return Err("Resize of a scalar".into());
    }
    if p.mode != ResizeMode::Nearest && !matches!(x.t, Typed::Float(_)) {
        return Err(format!(
            "{:?} Resize of a {} tensor: only nearest resizes integers",
            p.mode,
            x.dtype()
        ));
    }
    let (out_dims, scales) = targets(&dims, &target, p.sizes)?;
    ctx.check(&out_dims)?;
    let mut v = x;
    let mut now = dims.clone();
    for axis in 0..dims.len() {
        let Some(taps) = taps(dims[axis], out_dims[axis], scales[axis], p) else {
            continue;
        };
        v = apply(v, &now, axis, &taps)?;
        now[axis] = out_dims[axis];
    }
    Ok(v)
}

/// The output shape and the per-axis scale the coordinate transformation divides by: from
/// scales, `out = ⌊in · scale⌋`; from sizes, `scale = out / in`.
fn targets(dims: &[usize], target: &Value, sizes: bool) -> Res<(Vec<usize>, Vec<f64>)> {
    let rank = dims.len();
    let (out, scales): (Vec<usize>, Vec<f64>) = if sizes {
        let sizes = host_ints(target)?;
        if sizes.len() != rank {
            return Err(format!(
                "sizes {sizes:?} has {} entries for an input of rank {rank}",
                sizes.len()
            ));
        }
        let out = sizes
            .iter()
            .map(|&s| usize::try_from(s).map_err(|_| format!("negative size {s} in {sizes:?}")))
            .collect::<Res<Vec<_>>>()?;
        let scales = out
            .iter()
            .zip(dims)
            .map(|(&o, &i)| o as f64 / i as f64)
            .collect();
        (out, scales)
    } else {
        let scales = host_floats(target)?;
        if scales.len() != rank {
            return Err(format!(
                "scales {scales:?} has {} entries for an input of rank {rank}",
                scales.len()
            ));
        }
        if let Some(bad) = scales.iter().find(|s| !s.is_finite() || **s <= 0.0) {
            return Err(format!("scale {bad} is not a positive number"));
        }
        let out = scales
            .iter()
            .zip(dims)
            .map(|(&s, &i)| {
                let o = (i as f64 * s).floor();
                if o > (1u64 << 40) as f64 {
                    Err(format!("scale {s} is too large"))
                } else {
                    Ok(o as usize)
                }
            })
            .collect::<Res<Vec<_>>>()?;
        (out, scales)
    };
    if out.contains(&0) {
        return Err(format!("an output shape of {out:?}: {EMPTY_TENSORS}"));
    }
    Ok((out, scales))
}

/// For each output position of one axis, the input positions it reads and their weights
/// (`per` of each, row after row).
struct Taps {
    out: usize,
    per: usize,
    index: Vec<i64>,
    weight: Vec<f32>,
}

/// The taps of one axis, or `None` where the axis is left as it is (same length, every
/// output coordinate lands on its own input position).
fn taps(input: usize, out: usize, scale: f64, p: &Params) -> Option<Taps> {
    // The reference's "output_width": the scaled length, which need not be whole.
    let scaled = scale * input as f64;
    let source = |o: usize| -> f64 {
        let o = o as f64;
        match p.coordinates {
            CoordinateMode::HalfPixel => (o + 0.5) / scale - 0.5,
            CoordinateMode::PytorchHalfPixel if scaled == 1.0 => -0.5,
            CoordinateMode::PytorchHalfPixel => (o + 0.5) / scale - 0.5,
            CoordinateMode::AlignCorners if scaled == 1.0 => 0.0,
            CoordinateMode::AlignCorners => o * (input as f64 - 1.0) / (scaled - 1.0),
            CoordinateMode::Asymmetric => o / scale,
            CoordinateMode::TfHalfPixelForNn => (o + 0.5) / scale,
        }
    };
    if input == out && (0..out).all(|o| source(o) == o as f64) {
        return None;
    }
    let last = input as i64 - 1;
    let clamp = |i: i64| i.clamp(0, last);
    let per = match p.mode {
        ResizeMode::Nearest => 1,
        ResizeMode::Linear => 2,
        ResizeMode::Cubic => 4,
    };
    let mut index = Vec::with_capacity(out * per);
    let mut weight = Vec::with_capacity(out * per);
    for o in 0..out {
        let x = source(o);
        let floor = x.floor();
        let t = x - floor;
        let f = floor as i64;
        match p.mode {
            ResizeMode::Nearest => {
                let up = match p.nearest {
                    _ if t == 0.0 => false,
                    NearestMode::RoundPreferFloor => t > 0.5,
                    NearestMode::RoundPreferCeil => t >= 0.5,
                    NearestMode::Floor => false,
                    NearestMode::Ceil => true,
                };
                index.push(clamp(f + i64::from(up)));
                weight.push(1.0);
            }
            ResizeMode::Linear => {
                index.extend([clamp(f), clamp(f + 1)]);
                weight.extend([(1.0 - t) as f32, t as f32]);
            }
            ResizeMode::Cubic => {
                index.extend((-1..=2).map(|d| clamp(f + d)));
                weight.extend(cubic(t, f64::from(p.cubic_coeff_a)).map(|w| w as f32));
            }
        }
    }
    Some(Taps {
        out,
        per,
        index,
        weight,
    })
}

/// Keys' cubic convolution weights of the four neighbours `⌊x⌋ − 1 ..= ⌊x⌋ + 2` of a source
/// coordinate whose fractional part is `t` (the ONNX reference's coefficients).
fn cubic(t: f64, a: f64) -> [f64; 4] {
    // |d| in 1..2 and |d| in 0..1 pieces of the kernel.
    let far = |d: f64| ((a * d - 5.0 * a) * d + 8.0 * a) * d - 4.0 * a;
    let near = |d: f64| ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0;
    [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]
}

/// Resamples axis `axis` of `v` (currently of shape `dims`) with `taps`.
fn apply(v: Value, dims: &[usize], axis: usize, taps: &Taps) -> ValueResult {
    let outer: usize = dims[..axis].iter().product();
    let inner: usize = dims[axis + 1..].iter().product();
    let view = [outer, dims[axis], inner];
    let mut out_dims = dims.to_vec();
    out_dims[axis] = taps.out;
    let device = v.device();
    // Row `k` of the taps: the k-th input position of every output position.
    let column = |k: usize| -> Res<Tensor<1, Int>> {
        let idx: Vec<i64> = (0..taps.out)
            .map(|o| taps.index[o * taps.per + k])
            .collect();
        device_ints(idx, &[taps.out], &device)?
            .into_rank::<1>()
            .map_err(|e| e.to_string())
    };
    fn view3<K: Basic + 'static>(t: DynTensor<K>, view: [usize; 3]) -> Res<Tensor<3, K>> {
        reshape_any(t, &view)?
            .into_rank::<3>()
            .map_err(|e| e.to_string())
    }
    let t = match v.t {
        Typed::Float(t) => {
            let dtype = t.dtype();
            let x = view3(t, view)?;
            let mut sum: Option<Tensor<3>> = None;
            for k in 0..taps.per {
                let rows = x.clone().select(1, column(k)?);
                let rows = if taps.per == 1 {
                    rows
                } else {
                    let w: Vec<f32> = (0..taps.out)
                        .map(|o| taps.weight[o * taps.per + k])
                        .collect();
                    let w = Tensor::<3>::from_data(
                        TensorData::new(w, [1, taps.out, 1]),
                        (&device, dtype),
                    );
                    rows * w.expand([outer, taps.out, inner])
                };
                sum = Some(match sum {
                    Some(s) => s + rows,
                    None => rows,
                });
            }
            let sum = sum.ok_or("no taps")?;
            Typed::Float(reshape_any(DynTensor::R3(sum), &out_dims)?)
        }
        Typed::Int(t, ty) => {
            let rows = view3(t, view)?.select(1, column(0)?);
            Typed::Int(reshape_any(DynTensor::R3(rows), &out_dims)?, ty)
        }
        Typed::Bool(t) => {
            let rows = map_tensor!(t, x => x.int());
            let rows = view3(rows, view)?.select(1, column(0)?);
            Typed::Bool(reshape_any(DynTensor::R3(rows.bool()), &out_dims)?)
        }
    };
    Ok(Value { t, scalar: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(mode: ResizeMode, coordinates: CoordinateMode) -> Params {
        Params {
            mode,
            coordinates,
            nearest: NearestMode::RoundPreferFloor,
            cubic_coeff_a: -0.75,
            sizes: false,
        }
    }

    #[test]
    fn cubic_weights_sum_to_one_and_interpolate_at_whole_coordinates() {
        for t in [0.0, 0.25, 0.5, 0.9] {
            let w = cubic(t, -0.75);
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{t}: {w:?}");
        }
        assert_eq!(cubic(0.0, -0.5), [0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn an_axis_kept_at_its_length_is_left_alone_unless_its_coordinates_move() {
        let p = params(ResizeMode::Linear, CoordinateMode::HalfPixel);
        assert!(taps(5, 5, 1.0, &p).is_none());
        let p = params(ResizeMode::Linear, CoordinateMode::TfHalfPixelForNn);
        assert!(taps(5, 5, 1.0, &p).is_some());
    }

    #[test]
    fn nearest_modes_pick_the_documented_neighbour_at_half_way() {
        // Asymmetric ×2 downscale by 0.4: output 1 maps to 2.5.
        let mut p = params(ResizeMode::Nearest, CoordinateMode::Asymmetric);
        let pick = |p: &Params| taps(10, 4, 0.4, p).map(|t| t.index[1]);
        assert_eq!(pick(&p), Some(2));
        p.nearest = NearestMode::RoundPreferCeil;
        assert_eq!(pick(&p), Some(3));
        p.nearest = NearestMode::Floor;
        assert_eq!(pick(&p), Some(2));
        p.nearest = NearestMode::Ceil;
        assert_eq!(pick(&p), Some(3));
    }
}
