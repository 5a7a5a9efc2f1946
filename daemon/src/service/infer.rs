//! The serving hot path: one parsed Open Inference Protocol request through one loaded model.
//! Every front end (HTTP, MQTT, the shadow phase, `edged predict`) answers with this
//! function, so they return the same response for the same request.

use std::sync::Arc;

use edge_model::oip::{InferenceRequest, InferenceResponse, ResponseTensor};
use edge_model::{BackendKind, Model, ModelError};

use crate::registry::ServedModel;

/// Answers a parsed request with a loaded model (blocking for as long as the model runs).
pub fn infer(model: &Model, request: InferenceRequest) -> Result<InferenceResponse, ModelError> {
    let wanted: Option<Vec<String>> = request
        .outputs
        .as_ref()
        .map(|o| o.iter().map(|r| r.name.clone()).collect());
    if let Some(wanted) = &wanted {
        for name in wanted {
            if !model.spec().outputs.iter().any(|o| o.name == *name) {
                return Err(ModelError::Request(format!(
                    "the model has no output '{name}'"
                )));
            }
        }
    }
    let inputs = request
        .inputs
        .iter()
        .map(|t| Ok((t.name.clone(), t.to_host()?)))
        .collect::<Result<Vec<_>, ModelError>>()?;
    let outputs = model.run(inputs)?;
    Ok(InferenceResponse {
        model_name: model.spec().name.clone(),
        model_version: model.spec().version.to_string(),
        id: request.id,
        outputs: outputs
            .into_iter()
            .filter(|(name, _)| wanted.as_ref().is_none_or(|w| w.contains(name)))
            .map(|(name, t)| ResponseTensor::from_host(&name, t))
            .collect(),
    })
}

/// Runs `request` through `served` off the async workers: CPU models on the compute pool,
/// GPU models on tokio's blocking pool (their thread mostly waits on the device). The outer
/// error is a task that gave no answer; the inner one the model's.
pub async fn run_model(
    served: &Arc<ServedModel>,
    request: InferenceRequest,
) -> Result<Result<InferenceResponse, ModelError>, String> {
    let served = served.clone();
    match served.device() {
        BackendKind::Cpu => crate::compute::run(move || infer(&served.model, request))
            .await
            .map_err(|e| e.to_string()),
        BackendKind::Gpu => tokio::task::spawn_blocking(move || infer(&served.model, request))
            .await
            .map_err(|e| e.to_string()),
    }
}
