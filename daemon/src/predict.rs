//! `edged predict`: run one Open Inference Protocol request against a model directory, for an
//! operator checking a model on a box by hand.

use std::path::Path;

use edge_model::oip::{InferenceRequest, InferenceResponse, ResponseTensor};
use edge_model::{LoadOptions, Model, ModelError};

/// Largest request file read (256 MiB).
pub const MAX_REQUEST_BYTES: u64 = 256 << 20;

/// Answers a parsed request with a loaded model. Shared by every front end so they return
/// the same response for the same request.
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

/// Loads the model at `model_dir` and answers the request in `input`.
pub fn predict(
    model_dir: &Path,
    input: &Path,
    options: &LoadOptions,
) -> Result<InferenceResponse, ModelError> {
    let bytes = edge_model::read_bounded(input, MAX_REQUEST_BYTES)?;
    let request = InferenceRequest::from_json(&bytes)?;
    let model = Model::load(model_dir, options)?;
    infer(&model, request)
}
