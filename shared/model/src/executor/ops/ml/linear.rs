//! LinearClassifier and LinearRegressor on the host: `X · Wᵀ + b` in f64, rounded to the FP32
//! scores, with ONNX Runtime's rules for the label (the raw scores' first maximum; a one-row
//! binary classifier thresholds its one score at 0) and for the scores' transform.

use super::post::{f32r, probit, transform};
use crate::format::PostTransform;

/// `x [rows, width] · coefficientsᵀ + intercepts`, `[rows, outputs]`.
fn scores(
    x: &[f64],
    rows: usize,
    width: usize,
    coefficients: &[f32],
    intercepts: &[f32],
) -> Result<(Vec<f64>, usize), String> {
    let outputs = coefficients.len() / width.max(1);
    if width == 0 || outputs * width != coefficients.len() {
        return Err(format!(
            "the input has {width} features; the coefficients are {} values",
            coefficients.len()
        ));
    }
    let mut out = Vec::with_capacity(rows * outputs);
    for r in 0..rows {
        let row = &x[r * width..(r + 1) * width];
        for o in 0..outputs {
            let w = &coefficients[o * width..(o + 1) * width];
            let dot: f64 = row.iter().zip(w).map(|(a, &b)| a * f64::from(b)).sum();
            let b = intercepts.get(o).copied().map_or(0.0, f64::from);
            out.push(f32r(dot + b));
        }
    }
    Ok((out, outputs))
}

/// LinearClassifier: the labels and the scores `[rows, classes]` (two for a one-row binary
/// classifier, `[1 - s, s]`, untransformed, as ONNX Runtime writes them).
pub(crate) fn classifier(
    x: &[f64],
    rows: usize,
    width: usize,
    coefficients: &[f32],
    intercepts: &[f32],
    labels: &[i64],
    post: PostTransform,
) -> Result<(Vec<i64>, Vec<f64>, usize), String> {
    let (raw, classes) = scores(x, rows, width, coefficients, intercepts)?;
    if classes == 1 {
        let (neg, pos) = if labels.len() == 2 {
            (labels[0], labels[1])
        } else {
            (0, 1)
        };
        let out_labels = raw
            .iter()
            .map(|&s| if s > 0.0 { pos } else { neg })
            .collect();
        if labels.len() != 2 {
            let scores = match post {
                PostTransform::Probit => raw.iter().map(|&s| f32r(probit(s))).collect(),
                _ => raw,
            };
            return Ok((out_labels, scores, 1));
        }
        let mut scores = Vec::with_capacity(rows * 2);
        for &s in &raw {
            match post {
                PostTransform::Probit => scores.extend([f32r(probit(s)), 0.0]),
                _ => scores.extend([f32r(1.0 - s), s]),
            }
        }
        return Ok((out_labels, scores, 2));
    }
    let mut out_labels = Vec::with_capacity(rows);
    let mut scores = raw;
    for row in scores.chunks_mut(classes) {
        let mut best = 0;
        for (k, &v) in row.iter().enumerate() {
            if v > row[best] {
                best = k;
            }
        }
        out_labels.push(labels.get(best).copied().unwrap_or(best as i64));
        transform(row, post, f32r);
    }
    Ok((out_labels, scores, classes))
}

/// LinearRegressor: `[rows, targets]`; one target takes only PROBIT, as in ONNX Runtime.
pub(crate) fn regressor(
    x: &[f64],
    rows: usize,
    width: usize,
    coefficients: &[f32],
    intercepts: &[f32],
    post: PostTransform,
) -> Result<(Vec<f64>, usize), String> {
    let (mut out, targets) = scores(x, rows, width, coefficients, intercepts)?;
    if targets == 1 {
        if post == PostTransform::Probit {
            out.iter_mut().for_each(|v| *v = f32r(probit(*v)));
        }
    } else {
        out.chunks_mut(targets)
            .for_each(|row| transform(row, post, f32r));
    }
    Ok((out, targets))
}
