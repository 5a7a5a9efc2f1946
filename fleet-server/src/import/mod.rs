//! Model import: ONNX in, a verified model directory out.
//!
//! The conversion is only written when it reproduces the reference outputs (when given), and
//! the reference cases are stored beside the model so devices can repeat the check.
//!
//! [`onnx`] converts the file (one converter per op family, under `onnx/ops/`), [`optimize`]
//! rewrites the converted graph, and this module verifies and writes it; [`ImportError`] is
//! the one error type of all three.

mod error;
mod fuse;
#[cfg(test)]
mod fuse_tests;
pub mod inspect;
pub mod onnx;
pub mod optimize;
#[cfg(test)]
mod optimize_tests;
#[cfg(test)]
mod test_graph;

pub use error::ImportError;

use std::path::{Path, PathBuf};

use edge_model::checks::{CheckCases, OutputDiff};
use edge_model::format::{CHECKS_FILE, WEIGHTS_FILE};
use edge_model::{DeviceChoice, LoadOptions, Model};

/// What `fleet model import` was asked to do.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub onnx: PathBuf,
    pub name: String,
    pub version: u64,
    pub out: PathBuf,
    pub check: Option<PathBuf>,
    /// Override the tolerances stated in the check file.
    pub atol: Option<f32>,
    pub rtol: Option<f32>,
    pub device: DeviceChoice,
    /// Input shapes the operator fixed (`--input-shape`).
    pub input_shapes: Vec<onnx::shapes::InputShape>,
}

/// What an import produced.
#[derive(Debug)]
pub struct ImportSummary {
    pub nodes: usize,
    pub weights: usize,
    pub parameters: usize,
    pub diffs: Vec<OutputDiff>,
    /// What was fixed and folded.
    pub notes: Vec<String>,
}

/// A model name is used in paths and topics: keep it to a safe alphabet.
pub fn valid_model_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Converts, verifies, and writes the model directory.
pub fn import(request: &ImportRequest) -> Result<ImportSummary, ImportError> {
    if !valid_model_name(&request.name) {
        return Err(ImportError::Name(request.name.clone()));
    }
    if request.out.exists()
        && std::fs::read_dir(&request.out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(ImportError::OutExists {
            path: request.out.clone(),
        });
    }
    let converted = onnx::convert_with(
        &request.onnx,
        &request.name,
        request.version,
        &request.input_shapes,
    )?;
    let mut cases = request.check.as_deref().map(CheckCases::read).transpose()?;
    if let Some(cases) = cases.as_mut() {
        cases.atol = request.atol.unwrap_or(cases.atol);
        cases.rtol = request.rtol.unwrap_or(cases.rtol);
    }
    let summary_counts = (
        converted.spec.nodes.len(),
        converted.weights.len(),
        converted.weights.values().map(|w| w.data.len()).sum(),
        converted.notes.clone(),
    );
    // Loading validates the graph and runs it once: a conversion that cannot execute is
    // refused here, not on the device.
    let options = LoadOptions {
        device: request.device,
        warmup_runs: 1,
        ..Default::default()
    };
    let model = Model::from_parts(converted.spec.clone(), converted.weights.clone(), &options)?;
    let diffs = match &cases {
        Some(cases) => model.check(cases)?,
        None => Vec::new(),
    };
    if let Some(worst) = diffs
        .iter()
        .filter(|d| !d.passed())
        .max_by(|a, b| a.worst_ratio.total_cmp(&b.worst_ratio))
    {
        return Err(ImportError::Mismatch {
            case: worst.case.clone(),
            output: worst.output.clone(),
            max_abs: worst.max_abs,
            diffs: diffs.clone(),
        });
    }
    write_dir(&request.out, &converted, cases.as_ref())?;
    Ok(ImportSummary {
        nodes: summary_counts.0,
        weights: summary_counts.1,
        parameters: summary_counts.2,
        diffs,
        notes: summary_counts.3,
    })
}

/// Writes into a temporary sibling directory, then renames it into place, so a crash never
/// leaves a half-written model at `out`.
fn write_dir(
    out: &Path,
    converted: &onnx::Converted,
    cases: Option<&CheckCases>,
) -> Result<(), ImportError> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImportError::Write { path, source }
    };
    std::fs::create_dir_all(parent).map_err(write_err(parent))?;
    let file_name = out
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let staging = parent.join(format!(".{file_name}.importing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir(&staging).map_err(write_err(&staging))?;
    converted.spec.write(&staging)?;
    edge_model::weights::write(&staging.join(WEIGHTS_FILE), &converted.weights)?;
    if let Some(cases) = cases {
        cases.write(&staging.join(CHECKS_FILE))?;
    }
    if out.exists() {
        std::fs::remove_dir(out).map_err(write_err(out))?;
    }
    std::fs::rename(&staging, out).map_err(write_err(out))?;
    Ok(())
}
