//! Max and average pooling over 2-D windows on the host, on the convolution's padded,
//! phase-split layout (`conv::pad_input`): the border holds -inf for a max pool and zero for
//! an average, so every window reads whole vectors of consecutive outputs. One task per
//! plane (image × channel) when the pool is big enough to fan out. Floor-mode output sizes
//! only; an average that excludes padding from its count is left to Burn's op.

use pulp::{Simd, WithSimd};
use rayon::prelude::*;

use super::conv::{Conv2d, Padded, pad_input, store};

/// Window reads below which a pool runs on the calling thread.
const PARALLEL_ABOVE: usize = 1 << 18;
/// Output vectors per tile.
const NV: usize = 2;

/// Which pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    Max,
    /// Divides by the window's full size (padding counted, or no padding).
    Average,
}

/// Pools `x` (`[batch, channels, h, w]`) over `geometry`'s windows (its `in_channels` and
/// `out_channels` are the channel count); the result is `[batch, channels, oh, ow]`.
pub fn pool2d(geometry: &Conv2d, x: &[f32], pool: Pool) -> Vec<f32> {
    super::dispatch(Run { geometry, x, pool })
}

struct Run<'a> {
    geometry: &'a Conv2d,
    x: &'a [f32],
    pool: Pool,
}

impl WithSimd for Run<'_> {
    type Output = Vec<f32>;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Vec<f32> {
        let g = self.geometry;
        // Windows inside the input: no padding at the start, and none needed at the end
        // (same-upper pads only there).
        let (oh, ow) = g.out_size;
        let inside = (oh - 1) * g.stride.0 + g.kernel.0 <= g.in_size.0
            && (ow - 1) * g.stride.1 + g.kernel.1 <= g.in_size.1;
        if g.pad_begin == (0, 0) && g.dilation == (1, 1) && inside {
            return unpadded(g, self.x, self.pool);
        }
        let fill = match self.pool {
            Pool::Max => f32::NEG_INFINITY,
            Pool::Average => 0.0,
        };
        let padded = pad_input(g, self.x, S::F32_LANES, NV, fill);
        let mut out = vec![0.0; g.batch * g.in_channels * oh * ow];
        let task = |(plane, dst): (usize, &mut [f32])| {
            simd.vectorize(Plane {
                geometry: g,
                padded: &padded,
                plane,
                pool: self.pool,
                dst,
            })
        };
        let reads = out.len() * g.kernel.0 * g.kernel.1;
        if reads > PARALLEL_ABOVE && g.batch * g.in_channels > 1 {
            out.par_chunks_mut(oh * ow).enumerate().for_each(task);
        } else {
            out.chunks_mut(oh * ow).enumerate().for_each(task);
        }
        out
    }
}

/// A pool without padding or dilation (2×2 / 2 is the common one) reads the input where it
/// is: no padded copy, which would cost more than the pool itself. Plain loops, compiled
/// inside the dispatcher's target features, which the compiler vectorises.
#[inline(always)]
fn unpadded(g: &Conv2d, x: &[f32], pool: Pool) -> Vec<f32> {
    let (h, w) = g.in_size;
    let (oh, ow) = g.out_size;
    let (kh, kw) = g.kernel;
    let (sh, sw) = g.stride;
    let scale = 1.0 / (kh * kw) as f32;
    let mut out = vec![0.0; g.batch * g.in_channels * oh * ow];
    let plane = |(src, dst): (&[f32], &mut [f32])| {
        for (y, row) in dst.chunks_exact_mut(ow).enumerate() {
            let top = &src[y * sh * w..][..kh * w];
            for (ox, o) in row.iter_mut().enumerate() {
                let x0 = ox * sw;
                let mut acc = match pool {
                    Pool::Max => f32::NEG_INFINITY,
                    Pool::Average => 0.0,
                };
                for line in top.chunks_exact(w) {
                    for v in &line[x0..x0 + kw] {
                        acc = match pool {
                            Pool::Max => acc.max(*v),
                            Pool::Average => acc + v,
                        };
                    }
                }
                *o = match pool {
                    Pool::Max => acc,
                    Pool::Average => acc * scale,
                };
            }
        }
    };
    if out.len() * kh * kw > PARALLEL_ABOVE {
        x.par_chunks_exact(h * w)
            .zip(out.par_chunks_exact_mut(oh * ow))
            .for_each(plane);
    } else {
        x.chunks_exact(h * w)
            .zip(out.chunks_exact_mut(oh * ow))
            .for_each(plane);
    }
    out
}

struct Plane<'a> {
    geometry: &'a Conv2d,
    padded: &'a Padded,
    plane: usize,
    pool: Pool,
    dst: &'a mut [f32],
}

impl WithSimd for Plane<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Plane {
            geometry: g,
            padded,
            plane,
            pool,
            dst,
        } = self;
        let lanes = S::F32_LANES;
        let (oh, ow) = g.out_size;
        let (kh, kw) = g.kernel;
        let (sh, sw) = g.stride;
        let (dh, dw) = g.dilation;
        let phase_row = padded.phases * padded.row_len;
        let src = &padded.data[plane * padded.plane()..][..padded.plane()];
        let scale = simd.splat_f32s(1.0 / (kh * kw) as f32);
        for y in 0..oh {
            let mut x0 = 0;
            while x0 < ow {
                let start = match pool {
                    Pool::Max => f32::NEG_INFINITY,
                    Pool::Average => 0.0,
                };
                let mut acc = [simd.splat_f32s(start); NV];
                for ky in 0..kh {
                    let row = &src[(y * sh + ky * dh) * phase_row..][..phase_row];
                    for kx in 0..kw {
                        let col = kx * dw;
                        let at = (col % sw) * padded.row_len + col / sw + x0;
                        let (vectors, _) = S::as_simd_f32s(&row[at..at + lanes * NV]);
                        for (a, v) in acc.iter_mut().zip(vectors) {
                            *a = match pool {
                                Pool::Max => simd.max_f32s(*a, *v),
                                Pool::Average => simd.add_f32s(*a, *v),
                            };
                        }
                    }
                }
                if pool == Pool::Average {
                    for a in &mut acc {
                        *a = simd.mul_f32s(*a, scale);
                    }
                }
                let width = (ow - x0).min(lanes * NV);
                store::<S, NV>(simd, &acc, &mut dst[y * ow + x0..][..width], None);
                x0 += lanes * NV;
            }
        }
    }
}
