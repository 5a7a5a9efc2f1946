//! The `ai.onnx.ml` ops other than the tree ensembles (`trees.rs`): linear models and feature
//! transforms, read from the custom nodes onnx-ir hands them over as (it has no processors
//! for this domain; `custom.rs` declares their output types). Each attribute is read as the
//! ONNX-ML spec defines it; string keys, labels and values are refused (we have no string
//! tensors), naming the attribute.

use edge_model::format::{Labels, Norm, Op};
use onnx_ir::{CustomNode, PublicAttributesOwned};

use super::trees::post_transform;
use super::{Lowered, Lowering};

/// The domain these ops are in.
pub(in crate::import::onnx) const ML_DOMAIN: &str = "ai.onnx.ml";

pub(super) fn lower(n: &CustomNode) -> Lowering {
    let a = &n.attrs;
    match n.op_type.as_str() {
        "TreeEnsembleRegressor" | "TreeEnsembleClassifier" | "TreeEnsemble" => {
            super::trees::tree_ensemble(n)
        }
        "LinearClassifier" => linear_classifier(a),
        "LinearRegressor" => linear_regressor(a),
        "Normalizer" => {
            let norm = match a.get_string("norm").unwrap_or("MAX") {
                "MAX" => Norm::Max,
                "L1" => Norm::L1,
                "L2" => Norm::L2,
                other => return Err(format!("norm '{other}' is not MAX, L1 or L2")),
            };
            Lowered::reads(Op::Normalizer { norm }, 1)
        }
        "Binarizer" => Lowered::reads(
            Op::Binarizer {
                threshold: a.get_f32("threshold").unwrap_or(0.0),
            },
            1,
        ),
        "ArrayFeatureExtractor" => Lowered::reads(Op::ArrayFeatureExtractor, 2),
        "LabelEncoder" => label_encoder(a),
        other => Err(format!("ai.onnx.ml::{other} is not supported")),
    }
}

fn linear_classifier(a: &PublicAttributesOwned) -> Lowering {
    if a.get_strings("classlabels_strings").is_some() {
        return Err(
            "string class labels are not supported (we have no string tensors): export \
                    the classifier with integer labels"
                .into(),
        );
    }
    let coefficients = a
        .get_f32s("coefficients")
        .ok_or("coefficients are required")?
        .to_vec();
    let intercepts = a
        .get_f32s("intercepts")
        .map(<[f32]>::to_vec)
        .unwrap_or_default();
    if intercepts.is_empty() {
        return Err("intercepts are required (one per class)".into());
    }
    let labels = a
        .get_i64s("classlabels_ints")
        .map(<[i64]>::to_vec)
        .unwrap_or_default();
    Lowered::reads(
        Op::LinearClassifier {
            coefficients,
            intercepts,
            labels,
            post: post_transform(a)?,
        },
        1,
    )
}

fn linear_regressor(a: &PublicAttributesOwned) -> Lowering {
    let targets = usize::try_from(a.get_i64("targets").unwrap_or(1))
        .map_err(|_| "targets is negative".to_string())?;
    Lowered::reads(
        Op::LinearRegressor {
            coefficients: a
                .get_f32s("coefficients")
                .ok_or("coefficients are required")?
                .to_vec(),
            intercepts: a
                .get_f32s("intercepts")
                .map(<[f32]>::to_vec)
                .unwrap_or_default(),
            targets,
            post: post_transform(a)?,
        },
        1,
    )
}

/// Keys, values or the default of a LabelEncoder: the `_int64s` / `_floats` lists (or one
/// value), or the opset-4 `_tensor` form; strings refused.
fn labels(a: &PublicAttributesOwned, what: &str) -> Result<Option<Labels>, String> {
    let (ints, floats, strings) = if what == "default" {
        ("default_int64", "default_float", "default_string")
    } else if what == "keys" {
        ("keys_int64s", "keys_floats", "keys_strings")
    } else {
        ("values_int64s", "values_floats", "values_strings")
    };
    if a.get_strings(strings).is_some() || (what != "default" && a.get_string(strings).is_some()) {
        return Err(format!(
            "{strings}: string labels are not supported (we have no string tensors)"
        ));
    }
    if let Some(v) = a.get_i64s(ints) {
        return Ok(Some(Labels::Ints(v.to_vec())));
    }
    if let Some(v) = a.get_i64(ints) {
        return Ok(Some(Labels::Ints(vec![v])));
    }
    if let Some(v) = a.get_f32s(floats) {
        return Ok(Some(Labels::Floats(
            v.iter().map(|&x| f64::from(x)).collect(),
        )));
    }
    if let Some(v) = a.get_f32(floats) {
        return Ok(Some(Labels::Floats(vec![f64::from(v)])));
    }
    let tensor = format!("{what}_tensor");
    let Some(t) = a.get_tensor(&tensor) else {
        return Ok(None);
    };
    let dtype = t.dtype();
    if dtype.is_float() {
        t.clone()
            .try_into_vec_as::<f64>()
            .map(|v| Some(Labels::Floats(v)))
            .map_err(|e| format!("{tensor}: {e:?}"))
    } else if dtype.is_int() || dtype.is_uint() {
        t.clone()
            .try_into_vec_as::<i64>()
            .map(|v| Some(Labels::Ints(v)))
            .map_err(|e| format!("{tensor}: {e:?}"))
    } else {
        Err(format!(
            "{tensor}: element type {dtype:?} is not supported (numbers only)"
        ))
    }
}

fn label_encoder(a: &PublicAttributesOwned) -> Lowering {
    let keys = labels(a, "keys")?.ok_or("keys are required")?;
    let values = labels(a, "values")?.ok_or("values are required")?;
    // ONNX's defaults: -1 for integer values, -0.0 for float values.
    let default = match (labels(a, "default")?, &values) {
        (Some(Labels::Ints(d)), Labels::Ints(_)) => Labels::Ints(d),
        (Some(Labels::Floats(d)), Labels::Floats(_)) => Labels::Floats(d),
        (None | Some(Labels::Floats(_)), Labels::Ints(_)) => {
            // default_float is the float-values default; integers take default_int64 (-1).
            Labels::Ints(vec![a.get_i64("default_int64").unwrap_or(-1)])
        }
        (None | Some(Labels::Ints(_)), Labels::Floats(_)) => {
            Labels::Floats(vec![f64::from(a.get_f32("default_float").unwrap_or(-0.0))])
        }
    };
    Lowered::reads(
        Op::LabelEncoder {
            keys,
            values,
            default,
        },
        1,
    )
}

/// Scaler, which onnx-ir parses itself.
pub(super) fn scaler(c: &onnx_ir::node::scaler::ScalerConfig) -> Lowering {
    Lowered::reads(
        Op::Scaler {
            offset: c.offset.clone().unwrap_or_default(),
            scale: c.scale.clone().unwrap_or_default(),
        },
        1,
    )
}

/// Imputer, which onnx-ir parses itself: the float or the integer form.
pub(super) fn imputer(c: &onnx_ir::node::imputer::ImputerConfig) -> Lowering {
    let (imputed, replaced) = match (&c.imputed_value_floats, &c.imputed_value_int64s) {
        (Some(v), _) if !v.is_empty() => (
            v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>(),
            c.replaced_value_float.map_or(f64::NAN, f64::from),
        ),
        (_, Some(v)) if !v.is_empty() => (
            v.iter().map(|&x| x as f64).collect(),
            c.replaced_value_int64.unwrap_or(0) as f64,
        ),
        _ => return Err("imputed_value_floats or imputed_value_int64s is required".into()),
    };
    Lowered::reads(
        Op::Imputer {
            imputed,
            replaced: (!replaced.is_nan()).then_some(replaced),
        },
        1,
    )
}
