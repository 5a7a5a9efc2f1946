//! The classical-ML ops (ONNX's `ai.onnx.ml` domain): tree ensembles ([`trees`]), linear
//! models ([`linear`]), their score transforms ([`post`]) and the feature transforms
//! ([`features`]). All run on the host CPU whatever the model's device: they are branchy or
//! tiny, their inputs are a few hundred features per row, and ONNX Runtime's results (which
//! they follow to the rounding) come from plain loops too. Float results go back to the
//! model's device; INT64 labels stay on the host, as every integer value starts.

mod features;
mod linear;
mod post;
mod trees;

use super::Ctx;
use super::common::{float_value, host_floats, host_ints, int_value_of};
use super::host::{Elems, HostValue};
use crate::executor::value::{Typed, Value};
use crate::format::{DataType, Op};
use features::Numbers;

type Res<T> = std::result::Result<T, String>;

/// Whether `op` is one of this family's.
pub(super) fn is_ml(op: &Op) -> bool {
    matches!(
        op,
        Op::TreeEnsemble { .. }
            | Op::LinearClassifier { .. }
            | Op::LinearRegressor { .. }
            | Op::Normalizer { .. }
            | Op::Scaler { .. }
            | Op::Binarizer { .. }
            | Op::ArrayFeatureExtractor
            | Op::LabelEncoder { .. }
            | Op::Imputer { .. }
    )
}

/// A rank-1 or rank-2 input read as `[rows, width]` numbers (a vector is one row).
fn matrix(v: &Value) -> Res<(Vec<f64>, usize, usize)> {
    let dims = v.dims();
    let (rows, width) = match dims[..] {
        [w] if !v.scalar => (1, w),
        [r, w] => (r, w),
        _ => {
            return Err(format!(
                "expected a [rows, features] input, got shape {dims:?}"
            ));
        }
    };
    Ok((host_floats(v)?, rows, width))
}

fn floats_out(values: Vec<f64>, dims: &[usize], dtype: DataType, ctx: &Ctx) -> Res<Value> {
    float_value(values, dims, dtype, ctx.device)
}

/// Runs one of this family's ops: every output, in order.
pub(super) fn run(op: &Op, inputs: Vec<Value>, ctx: &Ctx) -> Res<Vec<Value>> {
    let x = inputs.first().ok_or("no inputs")?;
    match op {
        Op::TreeEnsemble { trees } => {
            let (data, rows, width) = matrix(x)?;
            let out = trees::run(trees, &data, rows, width)?;
            let dtype = if trees.f64_output {
                DataType::Fp64
            } else {
                DataType::Fp32
            };
            let scores = floats_out(out.scores, &[rows, trees.targets], dtype, ctx)?;
            Ok(match out.labels {
                Some(labels) => vec![int_value_of(labels, &[rows], DataType::Int64)?, scores],
                None => vec![scores],
            })
        }
        Op::LinearClassifier {
            coefficients,
            intercepts,
            labels,
            post,
        } => {
            let (data, rows, width) = matrix(x)?;
            let (labels, scores, classes) =
                linear::classifier(&data, rows, width, coefficients, intercepts, labels, *post)?;
            Ok(vec![
                int_value_of(labels, &[rows], DataType::Int64)?,
                floats_out(scores, &[rows, classes], DataType::Fp32, ctx)?,
            ])
        }
        Op::LinearRegressor {
            coefficients,
            intercepts,
            post,
            ..
        } => {
            let (data, rows, width) = matrix(x)?;
            let (y, targets) =
                linear::regressor(&data, rows, width, coefficients, intercepts, *post)?;
            Ok(vec![floats_out(y, &[rows, targets], DataType::Fp32, ctx)?])
        }
        Op::Normalizer { norm } => {
            let (data, _, width) = matrix(x)?;
            let y = features::normalize(&data, width, *norm);
            Ok(vec![floats_out(y, &x.dims(), DataType::Fp32, ctx)?])
        }
        Op::Scaler { offset, scale } => {
            let dims = x.dims();
            let width = dims.last().copied().unwrap_or(1);
            let y = features::scale(&host_floats(x)?, width, offset, scale)?;
            Ok(vec![floats_out(y, &dims, DataType::Fp32, ctx)?])
        }
        Op::Binarizer { threshold } => {
            let y = features::binarize(&host_floats(x)?, *threshold);
            Ok(vec![same_type(x, y, ctx)?])
        }
        Op::Imputer { imputed, replaced } => {
            let dims = x.dims();
            if dims.len() != 2 {
                return Err(format!(
                    "Imputer takes a [rows, columns] input, got {dims:?}"
                ));
            }
            let y = features::impute(&host_floats(x)?, dims[1], imputed, *replaced)?;
            Ok(vec![same_type(x, y, ctx)?])
        }
        Op::LabelEncoder {
            keys,
            values,
            default,
        } => {
            let input = match &x.t {
                Typed::Int(..) => Numbers::Ints(host_ints(x)?),
                _ => Numbers::Floats(host_floats(x)?),
            };
            let dims = x.dims();
            let y = match features::encode(input, keys, values, default)? {
                Numbers::Ints(v) => int_value_of(v, &dims, DataType::Int64)?,
                Numbers::Floats(v) => floats_out(v, &dims, DataType::Fp32, ctx)?,
            };
            Ok(vec![Value {
                scalar: x.scalar,
                ..y
            }])
        }
        Op::ArrayFeatureExtractor => {
            let indices = inputs.get(1).ok_or("missing the indices input")?;
            Ok(vec![extract(x, indices)?])
        }
        other => Err(format!("{} is not a classical-ML op", other.name())),
    }
}

/// A float result in the input's own type (FP64 stays FP64; integers stay integers).
fn same_type(x: &Value, y: Vec<f64>, ctx: &Ctx) -> Res<Value> {
    let dims = x.dims();
    match &x.t {
        Typed::Int(_, dtype) => {
            int_value_of(y.into_iter().map(|v| v as i64).collect(), &dims, *dtype)
        }
        _ => floats_out(y, &dims, x.dtype(), ctx),
    }
}

/// ArrayFeatureExtractor: the last axis's elements at `indices`, for every leading index.
fn extract(x: &Value, indices: &Value) -> Res<Value> {
    let data = HostValue::read(x)?;
    let picks = host_ints(indices)?;
    let dims = data.dims.clone();
    let last = *dims.last().ok_or("the input has no axes")?;
    let picks: Vec<usize> = picks
        .iter()
        .map(|&i| {
            usize::try_from(i)
                .ok()
                .filter(|&i| i < last)
                .ok_or_else(|| format!("index {i} is out of range for {last} features"))
        })
        .collect::<Res<_>>()?;
    let outer: usize = dims[..dims.len() - 1].iter().product();
    let mut at = Vec::with_capacity(outer * picks.len());
    for o in 0..outer {
        at.extend(picks.iter().map(|&p| o * last + p));
    }
    let elems = match &data.elems {
        Elems::Float(v) => Elems::Float(at.iter().map(|&i| v[i]).collect()),
        Elems::Int(v) => Elems::Int(at.iter().map(|&i| v[i]).collect()),
        Elems::Bool(v) => Elems::Bool(at.iter().map(|&i| v[i]).collect()),
    };
    let out_dims = if dims.len() == 1 {
        vec![1, picks.len()]
    } else {
        let mut d = dims[..dims.len() - 1].to_vec();
        d.push(picks.len());
        d
    };
    data.with(out_dims, elems).write()
}
