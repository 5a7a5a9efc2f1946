//! Ground truth: a label names a stored prediction (by its id or the caller's request id) and
//! gives one class per row (a classifier's) or one number per output value (a regression
//! model's: `"label": 3.7`, or a list, rows × targets); it is checked against the prediction,
//! stored durably, and fed into the quality window of the model version that made the
//! prediction. A model without truth (an embedder) refuses labels. After a restart the
//! windows are rebuilt from the labels in the buffer.

use serde::Deserialize;

use super::reply::{json_error, store_error, too_large};
use super::{ApiError, LabelReply, MAX_REQUEST_ID, Service};
use crate::metrics::ErrorKind;
use crate::registry::{ServedModel, Truth};
use crate::store::{LabelTarget, PredictionRecord, StoreError};

/// A label as sent by a caller: the prediction (by its id or by the `id` the caller gave the
/// inference request) and its truth, read by the model's [`Truth`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelRequest {
    #[serde(default)]
    prediction_id: Option<serde_json::Value>,
    #[serde(default)]
    request_id: Option<String>,
    label: serde_json::Value,
}

/// Classes: one non-negative integer or a list of them; values: one finite number or a list.
fn read_label(truth: &Truth, label: &serde_json::Value) -> Result<(Vec<u32>, Vec<f64>), String> {
    let items: Vec<&serde_json::Value> = match label {
        serde_json::Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    match truth {
        Truth::Classes { .. } => items
            .iter()
            .map(|v| {
                v.as_u64()
                    .and_then(|c| u32::try_from(c).ok())
                    .ok_or_else(|| format!("class {v} is not a non-negative integer"))
            })
            .collect::<Result<_, _>>()
            .map(|classes| (classes, Vec::new())),
        Truth::Values { .. } => items
            .iter()
            .map(|v| {
                v.as_f64()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| format!("value {v} is not a finite number"))
            })
            .collect::<Result<_, _>>()
            .map(|values| (Vec::new(), values)),
    }
}

impl Service {
    /// Attaches ground truth to a stored prediction of `model_name`.
    pub async fn label(&self, model_name: &str, body: &[u8]) -> Result<LabelReply, ApiError> {
        let served = self.model(model_name)?;
        let result = self.label_with(&served, body).await;
        if let Err(e) = &result {
            self.metrics
                .record_error(Some((&served.name, served.version)), e.kind);
        }
        result
    }

    async fn label_with(&self, served: &ServedModel, body: &[u8]) -> Result<LabelReply, ApiError> {
        if body.len() > self.max_request_bytes {
            return Err(too_large(body.len(), self.max_request_bytes));
        }
        let request: LabelRequest = serde_json::from_slice(body).map_err(|e| {
            let mut err = json_error(e);
            if err.kind == ErrorKind::BadInput {
                err.kind = ErrorKind::BadLabel;
                err.message = format!(
                    "{}; a label is {{\"prediction_id\": \"42\" or \"request_id\": \"..\", \"label\": 1 or [1, 0, ..] (classes) or 3.7 or [3.7, ..] (values)}}",
                    err.message
                );
            }
            err
        })?;
        let target = match (request.prediction_id, request.request_id) {
            (Some(id), None) => LabelTarget::Id(parse_prediction_id(&id)?),
            (None, Some(key)) if key.len() <= MAX_REQUEST_ID => LabelTarget::Correlation(key),
            (None, Some(_)) => {
                return Err(ApiError::new(ErrorKind::BadLabel, "request_id is too long"));
            }
            _ => {
                return Err(ApiError::new(
                    ErrorKind::BadLabel,
                    "give exactly one of prediction_id and request_id",
                ));
            }
        };
        let Some(truth) = served.truth.clone() else {
            return Err(ApiError::new(
                ErrorKind::BadLabel,
                format!(
                    "model '{}' takes no labels (no class or value output: task \"embedding\")",
                    served.name
                ),
            ));
        };
        let (classes, values) = read_label(&truth, &request.label)
            .map_err(|m| ApiError::new(ErrorKind::BadLabel, m))?;
        let labelled = classes.len().max(values.len());
        let check = |p: &PredictionRecord| -> Result<(), String> {
            let output = truth.output();
            let out = p
                .outputs
                .iter()
                .find(|o| o.name == output)
                .ok_or_else(|| format!("prediction {} has no output '{output}'", p.id))?;
            let expected = match &truth {
                Truth::Classes { .. } => out.shape.first().copied().unwrap_or(1),
                Truth::Values { .. } => out.shape.iter().product(),
            };
            if labelled != expected {
                let what = match &truth {
                    Truth::Classes { .. } => "row(s), one class each",
                    Truth::Values { .. } => "value(s) (rows × targets)",
                };
                return Err(format!(
                    "prediction {} has {expected} {what}, but the label gives {labelled}",
                    p.id
                ));
            }
            if let Truth::Classes { scoring, .. } = &truth
                && let Some(n) = scoring.classes()
                && let Some(bad) = classes.iter().find(|&&c| c as usize >= n)
            {
                return Err(format!(
                    "class {bad} is out of range: model '{}' has {n} classes",
                    p.model
                ));
            }
            Ok(())
        };
        let outcome = self
            .store
            .put_label(
                &served.name,
                &target,
                classes.clone(),
                values.clone(),
                check,
            )
            .await
            .map_err(|e| match e {
                StoreError::UnknownPrediction { .. } => {
                    ApiError::new(ErrorKind::UnknownPrediction, e.to_string())
                }
                StoreError::LabelConflict { .. } => {
                    ApiError::new(ErrorKind::LabelConflict, e.to_string())
                }
                StoreError::BadLabel(m) => ApiError::new(ErrorKind::BadLabel, m),
                other => store_error(other),
            })?;
        let p = &outcome.prediction;
        if outcome.new {
            self.record_quality(p, &outcome.label, true);
        }
        Ok(LabelReply {
            prediction_id: p.id.to_string(),
            model_name: p.model.clone(),
            model_version: p.version.to_string(),
            new: outcome.new,
            durable: self.store.durable_ack(),
        })
    }

    /// Feeds a joined prediction and label into the quality window of its model version.
    fn record_quality(&self, p: &PredictionRecord, label: &crate::store::LabelRecord, count: bool) {
        let Some(served) = self.registry.get(&p.model) else {
            return;
        };
        let Some(truth) = &served.truth else {
            return;
        };
        let find = |name: &str| p.outputs.iter().find(|o| o.name == name);
        let Some(out) = find(truth.output()) else {
            return;
        };
        let metrics = self.metrics.version(&p.model, p.version, &p.device);
        match truth {
            Truth::Classes {
                scores, scoring, ..
            } => {
                let rows = scoring.rows(out, scores.as_deref().and_then(find));
                metrics.record_label(label.time_ms, &rows, &label.classes, count);
            }
            Truth::Values { .. } => {
                metrics.record_values(label.time_ms, &out.data.to_f64(), &label.values, count);
            }
        }
    }

    /// Rebuilds the quality windows from the labels in the buffer (after a restart).
    pub fn restore_quality(&self, since_ms: u64) -> Result<usize, StoreError> {
        let joined = self.store.labelled_since(since_ms)?;
        for (p, label) in &joined {
            self.record_quality(p, label, false);
        }
        Ok(joined.len())
    }
}

fn parse_prediction_id(value: &serde_json::Value) -> Result<u64, ApiError> {
    let parsed = match value {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    };
    parsed.ok_or_else(|| {
        ApiError::new(
            ErrorKind::BadLabel,
            format!("prediction_id {value} is not a prediction id"),
        )
    })
}
