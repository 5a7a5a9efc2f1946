//! `edged predict`: run one Open Inference Protocol request against a model directory, for an
//! operator checking a model on a box by hand (optionally after its stored check cases).
//! Answers with [`crate::service::infer`], the function the daemon serves with.

use std::path::Path;
use std::process::ExitCode;

use edge_model::oip::{InferenceRequest, InferenceResponse};
use edge_model::{DeviceChoice, LoadOptions, Model, ModelError};

use super::{EXIT_DATAERR, EXIT_FAILURE, Outcome, fail};

/// Largest request file read (256 MiB).
pub const MAX_REQUEST_BYTES: u64 = 256 << 20;

pub fn predict(model: &Path, input: &Path, device: DeviceChoice, check: bool) -> Outcome {
    let options = LoadOptions {
        device,
        ..LoadOptions::default()
    };
    if check {
        check_model(model, &options)?;
    }
    let response = answer(model, input, &options).map_err(|e| {
        let code = match e {
            ModelError::Request(_) => EXIT_DATAERR,
            _ => EXIT_FAILURE,
        };
        fail(code)(&e)
    })?;
    let text = serde_json::to_string(&response)
        .map_err(|e| fail(EXIT_FAILURE)(&format!("cannot encode the response: {e}")))?;
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// Runs the check cases stored with the model; fails when one does not pass.
fn check_model(dir: &Path, options: &LoadOptions) -> Result<(), ExitCode> {
    let model = Model::load(dir, options).map_err(|e| fail(EXIT_FAILURE)(&e))?;
    match model
        .check_stored(dir)
        .map_err(|e| fail(EXIT_FAILURE)(&e))?
    {
        None => eprintln!("no check cases stored with this model"),
        Some(diffs) => {
            let failed = diffs.iter().filter(|d| !d.passed()).count();
            eprintln!(
                "checked {} outputs on {}: {} failed",
                diffs.len(),
                model.backend(),
                failed
            );
            if failed > 0 {
                return Err(ExitCode::from(EXIT_FAILURE));
            }
        }
    }
    Ok(())
}

/// Loads the model at `model_dir` and answers the request in `input`.
fn answer(
    model_dir: &Path,
    input: &Path,
    options: &LoadOptions,
) -> Result<InferenceResponse, ModelError> {
    let bytes = edge_model::read_bounded(input, MAX_REQUEST_BYTES)?;
    let request = InferenceRequest::from_json(&bytes)?;
    let model = Model::load(model_dir, options)?;
    crate::service::infer(&model, request)
}
