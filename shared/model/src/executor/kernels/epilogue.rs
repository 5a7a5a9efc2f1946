//! The activations a host kernel applies to its output tile in registers, before the store:
//! the piecewise-linear ones ([`in_register`]). The others a Conv may carry (Sigmoid, SiLU,
//! GELU) need exp or erf and run as Burn's op over the result instead, so they round as the
//! unfused graph does.

use pulp::Simd;

pub use crate::format::FusedActivation;

/// What the kernel applies itself: `None` or a piecewise-linear activation.
pub type Activation = Option<FusedActivation>;

/// Whether `activation` can be applied in registers.
pub fn in_register(activation: FusedActivation) -> bool {
    matches!(
        activation,
        FusedActivation::Relu
            | FusedActivation::Clip { .. }
            | FusedActivation::LeakyRelu { .. }
            | FusedActivation::HardSigmoid { .. }
            | FusedActivation::HardSwish
    )
}

/// `activation` of one vector. NaN handling follows the comparison: a NaN input stays NaN
/// for Relu and LeakyRelu (the select keeps `x` where `x < 0` is false).
#[inline(always)]
pub fn apply_simd<S: Simd>(simd: S, x: S::f32s, activation: Activation) -> S::f32s {
    match activation {
        None
        | Some(FusedActivation::Sigmoid | FusedActivation::Silu | FusedActivation::Gelu { .. }) => {
            x
        }
        Some(FusedActivation::Relu) => {
            let zero = simd.splat_f32s(0.0);
            simd.select_f32s(simd.less_than_f32s(x, zero), zero, x)
        }
        Some(FusedActivation::Clip { min, max }) => clamp(simd, x, min, max),
        Some(FusedActivation::LeakyRelu { alpha }) => {
            let scaled = simd.mul_f32s(x, simd.splat_f32s(alpha));
            simd.select_f32s(simd.less_than_f32s(x, simd.splat_f32s(0.0)), scaled, x)
        }
        Some(FusedActivation::HardSigmoid { alpha, beta }) => {
            let y = simd.mul_add_f32s(x, simd.splat_f32s(alpha), simd.splat_f32s(beta));
            clamp(simd, y, 0.0, 1.0)
        }
        Some(FusedActivation::HardSwish) => {
            let gate = simd.mul_add_f32s(x, simd.splat_f32s(1.0 / 6.0), simd.splat_f32s(0.5));
            simd.mul_f32s(x, clamp(simd, gate, 0.0, 1.0))
        }
    }
}

#[inline(always)]
fn clamp<S: Simd>(simd: S, x: S::f32s, min: f32, max: f32) -> S::f32s {
    let (lo, hi) = (simd.splat_f32s(min), simd.splat_f32s(max));
    let x = simd.select_f32s(simd.less_than_f32s(x, lo), lo, x);
    simd.select_f32s(simd.greater_than_f32s(x, hi), hi, x)
}
