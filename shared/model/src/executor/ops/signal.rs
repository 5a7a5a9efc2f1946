//! Audio and signal front-ends: the window functions and MelWeightMatrix (small tables made
//! on the host from scalar inputs), and STFT and DFT as matrix products with a cosine and a
//! sine basis on the model's device. A basis is exact for every length (ONNX Runtime's FFT
//! and ours agree to f32 rounding; keyword spotters use 400-sample frames, not a power of
//! two), costs `length × bins` multiply-adds per frame, and lets a GPU model's spectrogram
//! stay on the GPU for the mel projection and the network after it.

use burn::tensor::{Int, Tensor, TensorData};

use super::common::{arr_i, device_ints, float_value, host_floats, host_ints, reshape};
use super::{Ctx, ValueResult};
use crate::executor::dyn_tensor::{DynTensor, map_tensor};
use crate::executor::value::Value;
use crate::format::{DataType, WindowKind};

type Res<T> = std::result::Result<T, String>;

/// Longest window, frame or transform (a 4-second frame at 16 kHz).
const MAX_LENGTH: usize = 1 << 16;

fn scalar_int(v: &Value, what: &str) -> Res<i64> {
    match host_ints(v)?[..] {
        [n] => Ok(n),
        _ => Err(format!("{what} must be one integer")),
    }
}

fn scalar_float(v: &Value, what: &str) -> Res<f64> {
    match host_floats(v)?[..] {
        [x] => Ok(x),
        _ => Err(format!("{what} must be one number")),
    }
}

/// HannWindow, HammingWindow, BlackmanWindow (the ONNX reference's formulas).
pub(super) fn window(
    kind: WindowKind,
    periodic: bool,
    dtype: DataType,
    size: &Value,
    ctx: &Ctx,
) -> ValueResult {
    let n = scalar_int(size, "the window size")?;
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| (1..=MAX_LENGTH).contains(&n))
        .ok_or_else(|| format!("window size {n} is not 1 to {MAX_LENGTH}"))?;
    let denominator = if periodic { n } else { n - 1 }.max(1) as f64;
    let tau = std::f64::consts::TAU;
    let values = (0..n)
        .map(|i| {
            let t = i as f64 / denominator;
            match kind {
                WindowKind::Hann => (std::f64::consts::PI * t).sin().powi(2),
                WindowKind::Hamming => 25.0 / 46.0 - (21.0 / 46.0) * (tau * t).cos(),
                WindowKind::Blackman => 0.42 - 0.5 * (tau * t).cos() + 0.08 * (2.0 * tau * t).cos(),
            }
        })
        .collect();
    float_value(values, &[n], dtype, ctx.device)
}

/// MelWeightMatrix: triangular filters between mel-spaced edges, on the FFT bins.
pub(super) fn mel_weight_matrix(inputs: &[Value], dtype: DataType, ctx: &Ctx) -> ValueResult {
    let [bins, dft, rate, low, high] = inputs else {
        return Err("MelWeightMatrix takes 5 inputs".into());
    };
    let mels = usize::try_from(scalar_int(bins, "num_mel_bins")?)
        .map_err(|_| "num_mel_bins is negative")?;
    let dft =
        usize::try_from(scalar_int(dft, "dft_length")?).map_err(|_| "dft_length is negative")?;
    let rate = scalar_int(rate, "sample_rate")?;
    if mels == 0 || mels > 4096 || dft == 0 || dft > MAX_LENGTH || rate <= 0 {
        return Err(format!(
            "num_mel_bins {mels}, dft_length {dft}, sample_rate {rate}: out of range"
        ));
    }
    let (low, high) = (
        scalar_float(low, "lower_edge_hertz")?,
        scalar_float(high, "upper_edge_hertz")?,
    );
    let spectrum = dft / 2 + 1;
    let mel = |hz: f64| 2595.0 * (1.0 + hz / 700.0).log10();
    let (low_mel, high_mel) = (mel(low), mel(high));
    let step = (high_mel - low_mel) / (mels + 2) as f64;
    let edges: Vec<i64> = (0..mels + 2)
        .map(|i| {
            let hz = 700.0 * (10f64.powf((i as f64 * step + low_mel) / 2595.0) - 1.0);
            (((dft + 1) as f64 * hz) / rate as f64).floor() as i64
        })
        .collect();
    ctx.check(&[spectrum, mels])?;
    let mut out = vec![0.0; spectrum * mels];
    let mut set = |bin: i64, m: usize, v: f64| -> Res<()> {
        let bin = usize::try_from(bin)
            .ok()
            .filter(|&b| b < spectrum)
            .ok_or_else(|| format!("a mel edge falls on bin {bin}, outside the {spectrum} bins"))?;
        out[bin * mels + m] = v;
        Ok(())
    };
    for m in 0..mels {
        let (left, center, right) = (edges[m], edges[m + 1], edges[m + 2]);
        if center == left {
            set(center, m, 1.0)?;
        } else {
            for j in left..=center {
                set(j, m, (j - left) as f64 / (center - left) as f64)?;
            }
        }
        for j in center..right {
            set(j, m, (right - j) as f64 / (right - center) as f64)?;
        }
    }
    float_value(out, &[spectrum, mels], dtype, ctx.device)
}

/// The DFT basis `[rows, bins]`: `cos(2π k n / length)` and `sin(2π k n / length)`.
fn basis(rows: usize, bins: usize, length: usize, like: &Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let mut cos = Vec::with_capacity(rows * bins);
    let mut sin = Vec::with_capacity(rows * bins);
    for n in 0..rows {
        for k in 0..bins {
            // Reduce k·n modulo the length first, so the angle stays small and exact.
            let angle = std::f64::consts::TAU * ((k * n) % length) as f64 / length as f64;
            cos.push(angle.cos() as f32);
            sin.push(angle.sin() as f32);
        }
    }
    let options = (&like.device(), like.dtype());
    (
        Tensor::from_data(TensorData::new(cos, [rows, bins]), options),
        Tensor::from_data(TensorData::new(sin, [rows, bins]), options),
    )
}

/// `x (real, [M, N]) + i·y` transformed: (real, imaginary) `[M, bins]`.
fn transform(
    re: Tensor<2>,
    im: Option<Tensor<2>>,
    length: usize,
    bins: usize,
    inverse: bool,
) -> (Tensor<2>, Tensor<2>) {
    let rows = re.dims()[1];
    let (c, s) = basis(rows, bins, length, &re);
    // Forward: (a + ib)(cos - i sin); inverse: (a + ib)(cos + i sin) / N.
    let sign = if inverse { -1.0 } else { 1.0 };
    let (mut out_re, mut out_im) = (
        re.clone().matmul(c.clone()),
        re.matmul(s.clone()).mul_scalar(-sign),
    );
    if let Some(im) = im {
        out_re = out_re + im.clone().matmul(s).mul_scalar(sign);
        out_im = out_im + im.matmul(c);
    }
    if inverse {
        let scale = 1.0 / length as f64;
        (out_re.mul_scalar(scale), out_im.mul_scalar(scale))
    } else {
        (out_re, out_im)
    }
}

/// (real, imaginary) `[M, bins]` as `[M, bins, 2]`.
fn complex(re: Tensor<2>, im: Tensor<2>) -> Tensor<3> {
    Tensor::cat(vec![re.unsqueeze_dim::<3>(2), im.unsqueeze_dim::<3>(2)], 2)
}

/// STFT of a real signal.
pub(super) fn stft(
    signal: DynTensor,
    window: Option<DynTensor>,
    onesided: bool,
    step: usize,
    length: usize,
    ctx: &Ctx,
) -> Res<DynTensor> {
    let dims = signal.dims();
    let (batch, samples) = match dims[..] {
        [b, t] | [b, t, 1] => (b, t),
        _ => {
            return Err(format!(
                "STFT takes a real signal [B, T] or [B, T, 1], got {dims:?}"
            ));
        }
    };
    if samples < length {
        return Err(format!(
            "a signal of {samples} samples is shorter than one {length}-sample frame"
        ));
    }
    let frames = (samples - length) / step + 1;
    ctx.check(&[batch.saturating_mul(frames), length])?;
    let x = reshape(signal, &[batch, samples])?
        .into_rank::<2>()
        .map_err(|e| e.to_string())?;
    let device = x.device();
    let index: Vec<i64> = (0..frames)
        .flat_map(|f| (0..length).map(move |l| (f * step + l) as i64))
        .collect();
    let index: Tensor<1, Int> = device_ints(index, &[frames * length], &device)?
        .into_rank::<1>()
        .map_err(|e| e.to_string())?;
    let framed = x.select(1, index).reshape([batch * frames, length]);
    let framed = match window {
        Some(w) => {
            if w.dims() != [length] {
                return Err(format!(
                    "the window has shape {:?}; frames are {length} long",
                    w.dims()
                ));
            }
            framed
                * w.into_rank::<1>()
                    .map_err(|e| e.to_string())?
                    .unsqueeze_dim::<2>(0)
        }
        None => framed,
    };
    let bins = if onesided { length / 2 + 1 } else { length };
    ctx.check(&[length, bins])?;
    ctx.check(&[batch, frames, bins, 2])?;
    let (re, im) = transform(framed, None, length, bins, false);
    Ok(DynTensor::R4(
        complex(re, im).reshape([batch, frames, bins, 2]),
    ))
}

/// DFT along `axis` (which `perm` has moved to just before the complex dimension).
pub(super) fn dft(
    x: DynTensor,
    inverse: bool,
    onesided: bool,
    axis: usize,
    length: Option<usize>,
    ctx: &Ctx,
) -> Res<DynTensor> {
    let dims = x.dims();
    let rank = dims.len();
    let channels = dims[rank - 1];
    if rank < 2 || axis >= rank - 1 || !(channels == 1 || channels == 2) {
        return Err(format!(
            "DFT takes [..., N, ..., 1 or 2] with the axis before the last, got {dims:?} and axis {axis}"
        ));
    }
    if onesided && (inverse || channels == 2) {
        return Err("a one-sided DFT takes a real input, forward only".into());
    }
    // Move the signal axis next to the complex one: [outer..., N, c].
    let mut perm: Vec<usize> = (0..rank - 1).filter(|&d| d != axis).collect();
    perm.extend([axis, rank - 1]);
    let moved = permute(x, &perm);
    let n = dims[axis];
    let length = length.unwrap_or(n);
    if length == 0 || length > MAX_LENGTH {
        return Err(format!("DFT length {length} is not 1 to {MAX_LENGTH}"));
    }
    let outer: usize = perm[..rank - 2].iter().map(|&d| dims[d]).product();
    let rows = n.min(length);
    let flat = reshape(moved, &[outer, n, channels])?
        .into_rank::<3>()
        .map_err(|e| e.to_string())?;
    let part = |c: usize| -> Tensor<2> {
        flat.clone()
            .slice([0..outer, 0..rows, c..c + 1])
            .reshape([outer, rows])
    };
    let im = (channels == 2).then(|| part(1));
    let bins = if onesided { length / 2 + 1 } else { length };
    ctx.check(&[rows, bins])?;
    ctx.check(&[outer, bins, 2])?;
    let (re, im) = transform(part(0), im, length, bins, inverse);
    let mut out_dims: Vec<usize> = perm[..rank - 2].iter().map(|&d| dims[d]).collect();
    out_dims.extend([bins, 2]);
    let out = reshape(DynTensor::R3(complex(re, im)), &out_dims)?;
    // And back: the inverse of `perm`.
    let mut back = vec![0; rank];
    for (i, &p) in perm.iter().enumerate() {
        back[p] = i;
    }
    Ok(permute(out, &back))
}

fn permute(t: DynTensor, perm: &[usize]) -> DynTensor {
    map_tensor!(t, x => x.permute(arr_i(perm)))
}
