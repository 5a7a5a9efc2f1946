//! The score transforms of the classical-ML ops (ONNX `post_transform`), with ONNX Runtime's
//! formulas (`ml_common.h`): a logistic that is exact for large negative scores, softmax over
//! the row's maximum, SOFTMAX_ZERO that leaves zero scores at zero, and PROBIT as √2·erf⁻¹(2p−1)
//! with the same approximation of erf⁻¹ (Winitzki's), so the results agree to f32 rounding.

use crate::format::PostTransform;

/// `v` rounded to f32 and back: the step an FP32 accumulator takes after each operation, so
/// these ops, computed in f64, round where ONNX Runtime's f32 arithmetic does.
pub(crate) fn f32r(v: f64) -> f64 {
    v as f32 as f64
}

pub(crate) fn logistic(v: f64) -> f64 {
    let e = 1.0 / (1.0 + (-v.abs()).exp());
    if v < 0.0 { 1.0 - e } else { e }
}

/// Winitzki's approximation of erf⁻¹ (a = 0.147), as ONNX Runtime computes it.
fn erf_inv(x: f64) -> f64 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let ln = ((1.0 - x) * (1.0 + x)).ln();
    let a = 2.0 / (std::f64::consts::PI * 0.147) + 0.5 * ln;
    let b = ln / 0.147;
    sign * (-a + (a * a - b).sqrt()).sqrt()
}

pub(crate) fn probit(v: f64) -> f64 {
    std::f64::consts::SQRT_2 * erf_inv(2.0 * v - 1.0)
}

/// Transforms one row of scores in place (two or more of them; see the callers for one).
pub(crate) fn transform(row: &mut [f64], post: PostTransform, round: fn(f64) -> f64) {
    match post {
        PostTransform::None => {}
        PostTransform::Logistic => row.iter_mut().for_each(|v| *v = round(logistic(*v))),
        PostTransform::Probit => row.iter_mut().for_each(|v| *v = round(probit(*v))),
        PostTransform::Softmax => {
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut sum = 0.0;
            for v in row.iter_mut() {
                *v = (*v - max).exp();
                sum += *v;
            }
            row.iter_mut().for_each(|v| *v = round(*v / sum));
        }
        PostTransform::SoftmaxZero => {
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let scale = (-max).exp();
            let mut sum = 0.0;
            for v in row.iter_mut() {
                if v.abs() > 1e-7 {
                    *v = (*v - max).exp();
                    sum += *v;
                } else {
                    *v *= scale;
                }
            }
            row.iter_mut().for_each(|v| *v = round(*v / sum));
        }
    }
}
