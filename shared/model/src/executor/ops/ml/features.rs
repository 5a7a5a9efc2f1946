//! The classical-ML feature transforms, on the host: Normalizer, Scaler, Binarizer, Imputer,
//! LabelEncoder (numbers) and ArrayFeatureExtractor, each as ONNX Runtime computes it (which
//! the spec leaves open for Normalizer's MAX norm: the row's maximum, not its largest
//! magnitude, and a zero norm leaves the row as it is).

use super::post::f32r;
use crate::format::{Labels, Norm};

/// Normalizer over rows of `width` (FP32 arithmetic, as ONNX Runtime's).
pub(crate) fn normalize(x: &[f64], width: usize, norm: Norm) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks(width.max(1)) {
        let row: Vec<f64> = row.iter().map(|&v| f32r(v)).collect();
        let z = match norm {
            Norm::Max => row.iter().copied().fold(f64::from(f32::MIN), f64::max),
            Norm::L1 => row.iter().fold(0.0, |s, v| f32r(s + v.abs())),
            Norm::L2 => row.iter().fold(0.0, |s, v| f32r(s + f32r(v * v))),
        };
        if z == 0.0 {
            out.extend(row);
            continue;
        }
        out.extend(row.iter().map(|&v| match norm {
            Norm::Max | Norm::L1 => f32r(v / z),
            Norm::L2 => f32r(f32r(v * v) / z).sqrt().copysign(v),
        }));
    }
    out
}

/// Scaler: `(x - offset) · scale` per column, one value standing for every column.
pub(crate) fn scale(
    x: &[f64],
    width: usize,
    offset: &[f32],
    scale: &[f32],
) -> Result<Vec<f64>, String> {
    for (name, v) in [("offset", offset), ("scale", scale)] {
        if v.len() != 1 && v.len() != width {
            return Err(format!("{} {name} values for {width} columns", v.len()));
        }
    }
    let pick = |v: &[f32], c: usize| f64::from(if v.len() == 1 { v[0] } else { v[c] });
    Ok(x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = i % width.max(1);
            f32r(f32r(f32r(v) - pick(offset, c)) * pick(scale, c))
        })
        .collect())
}

/// Binarizer: 1 above the threshold, else 0 (NaN: 0).
pub(crate) fn binarize(x: &[f64], threshold: f32) -> Vec<f64> {
    let t = f64::from(threshold);
    x.iter().map(|&v| if v > t { 1.0 } else { 0.0 }).collect()
}

/// Imputer: `replaced` (None: NaN) becomes the column's imputed value.
pub(crate) fn impute(
    x: &[f64],
    width: usize,
    imputed: &[f64],
    replaced: Option<f64>,
) -> Result<Vec<f64>, String> {
    if imputed.len() != 1 && imputed.len() != width {
        return Err(format!(
            "{} imputed values for {width} columns",
            imputed.len()
        ));
    }
    Ok(x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let hit = match replaced {
                None => v.is_nan(),
                Some(r) => v == r,
            };
            if hit {
                imputed[if imputed.len() == 1 { 0 } else { i % width }]
            } else {
                v
            }
        })
        .collect())
}

/// A LabelEncoder's input or output elements.
pub(crate) enum Numbers {
    Ints(Vec<i64>),
    Floats(Vec<f64>),
}

/// A float key for hashing: every NaN is one key (ONNX Runtime matches NaN to a NaN key), and
/// -0 is 0.
fn float_key(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}

/// LabelEncoder: each element's value by key, or the default.
pub(crate) fn encode(
    x: Numbers,
    keys: &Labels,
    values: &Labels,
    default: &Labels,
) -> Result<Numbers, String> {
    use std::collections::HashMap;
    let positions: Vec<Option<usize>> = match (x, keys) {
        (Numbers::Ints(x), Labels::Ints(k)) => {
            let index: HashMap<i64, usize> = k
                .iter()
                .enumerate()
                .rev()
                .map(|(i, &key)| (key, i))
                .collect();
            x.iter().map(|v| index.get(v).copied()).collect()
        }
        (Numbers::Floats(x), Labels::Floats(k)) => {
            let index: HashMap<u64, usize> = k
                .iter()
                .enumerate()
                .rev()
                .map(|(i, &key)| (float_key(key), i))
                .collect();
            x.iter()
                .map(|&v| index.get(&float_key(v)).copied())
                .collect()
        }
        _ => return Err("the input's type is not the keys' type".into()),
    };
    Ok(match (values, default) {
        (Labels::Ints(v), Labels::Ints(d)) => {
            Numbers::Ints(positions.iter().map(|p| p.map_or(d[0], |i| v[i])).collect())
        }
        (Labels::Floats(v), Labels::Floats(d)) => {
            Numbers::Floats(positions.iter().map(|p| p.map_or(d[0], |i| v[i])).collect())
        }
        _ => return Err("the default is not of the values' type".into()),
    })
}
