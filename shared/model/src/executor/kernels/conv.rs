//! A direct 2-D convolution on the host, for the shapes im2col + gemm serves badly: few
//! channels per group (a stem, a small CNN, depthwise layers), where Burn's CPU backend
//! spends more time building the im2col matrix and dispatching gemm than multiplying.
//!
//! Layout: the input is copied once into a zero-padded scratch whose rows are split by
//! column phase (`column mod stride`), so every kernel tap of a strided or dilated
//! convolution reads `LANES` consecutive floats. The register tile is `OB` output channels
//! times `NV` vectors of consecutive output pixels of one row; the weights are packed so the
//! `OB` values one tap needs are adjacent. Bias and the fused activation are applied to the
//! tile before it is stored ([`super::epilogue`]). Work is split over the compute pool by
//! (image, block of `OB` channels), whose outputs are contiguous, when it is big enough to
//! pay for the fan-out.

use pulp::{Simd, WithSimd};
use rayon::prelude::*;

use super::epilogue::{Activation, apply_simd};

/// Output channels per register tile for grouped and dense convolutions.
const OB: usize = 4;
/// Multiply-adds below which a convolution runs on the calling thread.
const PARALLEL_ABOVE: usize = 1 << 17;

/// The geometry of one 2-D convolution; spatial pairs are (height, width).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2d {
    pub batch: usize,
    pub in_channels: usize,
    pub in_size: (usize, usize),
    pub out_channels: usize,
    pub groups: usize,
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub dilation: (usize, usize),
    /// (top, left); bottom and right follow from the output size.
    pub pad_begin: (usize, usize),
    pub out_size: (usize, usize),
}

impl Conv2d {
    fn in_per_group(&self) -> usize {
        self.in_channels / self.groups
    }

    fn out_per_group(&self) -> usize {
        self.out_channels / self.groups
    }

    /// Output channels per tile: depthwise-like layers (one output per group) take one.
    fn block(&self) -> usize {
        if self.out_per_group() == 1 { 1 } else { OB }
    }

    fn blocks_per_group(&self) -> usize {
        self.out_per_group().div_ceil(self.block())
    }

    /// Multiply-adds of the whole convolution.
    pub fn macs(&self) -> usize {
        self.batch
            * self.out_channels
            * self.out_size.0
            * self.out_size.1
            * self.in_per_group()
            * self.kernel.0
            * self.kernel.1
    }
}

/// Weights in the order the kernel reads them: per group and block of output channels,
/// per input channel and tap, the block's values side by side (zero-filled past the last
/// channel of a group). Built once per weight tensor.
#[derive(Debug, Clone)]
pub struct PackedWeights {
    data: Vec<f32>,
    block: usize,
}

/// Packs `weight` (`[out, in / groups, kh, kw]`, row-major) for `conv`.
pub fn pack(conv: &Conv2d, weight: &[f32]) -> PackedWeights {
    let (kh, kw) = conv.kernel;
    let (icg, ocg, block) = (conv.in_per_group(), conv.out_per_group(), conv.block());
    let blocks = conv.blocks_per_group();
    let taps = icg * kh * kw;
    let mut data = vec![0.0; conv.groups * blocks * taps * block];
    for g in 0..conv.groups {
        for b in 0..blocks {
            let base = (g * blocks + b) * taps * block;
            for o in 0..block {
                let oc = b * block + o;
                if oc >= ocg {
                    continue;
                }
                let src = &weight[(g * ocg + oc) * taps..][..taps];
                for (t, w) in src.iter().enumerate() {
                    data[base + t * block + o] = *w;
                }
            }
        }
    }
    PackedWeights { data, block }
}

/// The phase-split padded copy of the input: per image and channel, `rows` rows of
/// `stride_w` phases of `row_len` floats.
pub(super) struct Padded {
    pub(super) data: Vec<f32>,
    pub(super) rows: usize,
    pub(super) phases: usize,
    pub(super) row_len: usize,
}

impl Padded {
    pub(super) fn plane(&self) -> usize {
        self.rows * self.phases * self.row_len
    }
}

/// Copies `x` into the padded, phase-split layout, the border filled with `fill` (zero for a
/// convolution, -inf for a max pool).
pub(super) fn pad_input(conv: &Conv2d, x: &[f32], lanes: usize, nv: usize, fill: f32) -> Padded {
    let (h, w) = conv.in_size;
    let (oh, ow) = conv.out_size;
    let (kh, kw) = conv.kernel;
    let (sh, sw) = conv.stride;
    let (dh, dw) = conv.dilation;
    let (pt, pl) = conv.pad_begin;
    let rows = (oh - 1) * sh + (kh - 1) * dh + 1;
    // Every tile reads whole vectors: room for the last tile's overhang at the widest tap.
    let row_len = ow.next_multiple_of(lanes * nv) + (kw - 1) * dw / sw + 1;
    let phases = sw;
    let plane = rows * phases * row_len;
    let mut data = vec![fill; conv.batch * conv.in_channels * plane];
    for (ci, out) in data.chunks_exact_mut(plane).enumerate() {
        let src = &x[ci * h * w..][..h * w];
        for r in 0..rows {
            let Some(y) = r.checked_sub(pt).filter(|y| *y < h) else {
                continue;
            };
            let line = &src[y * w..][..w];
            let dst = &mut out[r * phases * row_len..][..phases * row_len];
            if sw == 1 {
                let end = (pl + w).min(row_len);
                dst[pl..end].copy_from_slice(&line[..end - pl]);
            } else {
                // Phase p holds the padded columns p, p + sw, ...: a strided copy per phase.
                for (p, phase) in dst.chunks_exact_mut(row_len).enumerate() {
                    let first = (p + sw - pl % sw) % sw;
                    if first >= w {
                        continue;
                    }
                    let j0 = (first + pl) / sw;
                    for (d, v) in phase[j0..].iter_mut().zip(line[first..].iter().step_by(sw)) {
                        *d = *v;
                    }
                }
            }
        }
    }
    Padded {
        data,
        rows,
        phases,
        row_len,
    }
}

/// Runs the convolution: `x` is `[batch, in, h, w]`, `bias` has one value per output
/// channel (zeros for none), the result is `[batch, out, oh, ow]`.
pub fn conv2d(
    conv: &Conv2d,
    x: &[f32],
    weights: &PackedWeights,
    bias: &[f32],
    activation: Activation,
) -> Vec<f32> {
    super::dispatch(Run {
        conv,
        x,
        weights,
        bias,
        activation,
    })
}

struct Run<'a> {
    conv: &'a Conv2d,
    x: &'a [f32],
    weights: &'a PackedWeights,
    bias: &'a [f32],
    activation: Activation,
}

impl WithSimd for Run<'_> {
    type Output = Vec<f32>;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Vec<f32> {
        match self.weights.block {
            1 => run::<S, 1, 4>(simd, &self),
            _ => run::<S, OB, 2>(simd, &self),
        }
    }
}

#[inline(always)]
fn run<S: Simd, const B: usize, const NV: usize>(simd: S, r: &Run<'_>) -> Vec<f32> {
    let conv = r.conv;
    let padded = pad_input(conv, r.x, S::F32_LANES, NV, 0.0);
    let (oh, ow) = conv.out_size;
    let out_plane = oh * ow;
    let ocg = conv.out_per_group();
    let blocks = conv.blocks_per_group();
    let mut out = vec![0.0; conv.batch * conv.out_channels * out_plane];
    // One task per (image, group, block): its channels are contiguous in the output.
    let mut tasks: Vec<(usize, usize, usize, &mut [f32])> = Vec::new();
    for (n, image) in out.chunks_mut(conv.out_channels * out_plane).enumerate() {
        for (g, group) in image.chunks_mut(ocg * out_plane).enumerate() {
            for (b, slab) in group.chunks_mut(B * out_plane).enumerate() {
                tasks.push((n, g, b, slab));
            }
        }
    }
    // A `WithSimd` value, not a closure: pulp forces `with_simd` inline into its
    // target-feature function, while a closure body would be compiled without AVX2/FMA and
    // call every vector operation out of line.
    let task = |(n, g, b, slab): (usize, usize, usize, &mut [f32])| {
        simd.vectorize(Block::<B, NV> {
            r,
            padded: &padded,
            n,
            packed_block: g * blocks + b,
            first: g * ocg + b * B,
            slab,
        })
    };
    if conv.macs() > PARALLEL_ABOVE && tasks.len() > 1 {
        tasks.into_par_iter().for_each(task);
    } else {
        tasks.into_iter().for_each(task);
    }
    out
}

/// One block of up to `B` output channels (starting at `first`) of image `n`, all rows.
struct Block<'a, 'r, const B: usize, const NV: usize> {
    r: &'a Run<'r>,
    padded: &'a Padded,
    n: usize,
    packed_block: usize,
    first: usize,
    slab: &'a mut [f32],
}

impl<const B: usize, const NV: usize> WithSimd for Block<'_, '_, B, NV> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        block::<S, B, NV>(simd, self);
    }
}

#[inline(always)]
fn block<S: Simd, const B: usize, const NV: usize>(simd: S, task: Block<'_, '_, B, NV>) {
    let Block {
        r,
        padded,
        n,
        packed_block,
        first,
        slab,
    } = task;
    let conv = r.conv;
    let lanes = S::F32_LANES;
    let (oh, ow) = conv.out_size;
    let (kh, kw) = conv.kernel;
    let (sh, sw) = conv.stride;
    let (dh, dw) = conv.dilation;
    let icg = conv.in_per_group();
    let group = first / conv.out_per_group();
    let channels = slab.len() / (oh * ow);
    let taps = icg * kh * kw;
    let weights = &r.weights.data[packed_block * taps * B..][..taps * B];
    let plane = padded.plane();
    let image = &padded.data[(n * conv.in_channels + group * icg) * plane..][..icg * plane];
    let phase_row = padded.phases * padded.row_len;
    let mut bias = [simd.splat_f32s(0.0); B];
    for (o, b) in bias.iter_mut().enumerate().take(channels) {
        *b = simd.splat_f32s(r.bias[first + o]);
    }
    for y in 0..oh {
        let mut x0 = 0;
        while x0 < ow {
            let mut acc = [[simd.splat_f32s(0.0); NV]; B];
            for (o, row) in acc.iter_mut().enumerate() {
                *row = [bias[o]; NV];
            }
            for ic in 0..icg {
                let channel = &image[ic * plane..][..plane];
                for ky in 0..kh {
                    let row = &channel[(y * sh + ky * dh) * phase_row..][..phase_row];
                    for kx in 0..kw {
                        let col = kx * dw;
                        let start = (col % sw) * padded.row_len + col / sw + x0;
                        let src = &row[start..start + lanes * NV];
                        let (vectors, _) = S::as_simd_f32s(src);
                        let w = &weights[((ic * kh + ky) * kw + kx) * B..][..B];
                        for (o, acc) in acc.iter_mut().enumerate() {
                            let wv = simd.splat_f32s(w[o]);
                            for (a, v) in acc.iter_mut().zip(vectors) {
                                *a = simd.mul_add_f32s(*v, wv, *a);
                            }
                        }
                    }
                }
            }
            let width = (ow - x0).min(lanes * NV);
            for (o, acc) in acc.iter().enumerate().take(channels) {
                let dst = &mut slab[(o * oh + y) * ow + x0..][..width];
                store::<S, NV>(simd, acc, dst, r.activation);
            }
            x0 += lanes * NV;
        }
    }
}

/// Stores `NV` vectors (after the vector part of the activation) into `dst`, which may be
/// shorter than `NV` vectors at the end of a row.
#[inline(always)]
pub(super) fn store<S: Simd, const NV: usize>(
    simd: S,
    acc: &[S::f32s; NV],
    dst: &mut [f32],
    activation: Activation,
) {
    let lanes = S::F32_LANES;
    for (v, chunk) in acc.iter().zip(dst.chunks_mut(lanes)) {
        let value = apply_simd(simd, *v, activation);
        if chunk.len() == lanes {
            let (vectors, _) = S::as_mut_simd_f32s(chunk);
            vectors[0] = value;
        } else {
            simd.partial_store_f32s(chunk, value);
        }
    }
}
