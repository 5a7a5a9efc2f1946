//! Reference cases: inputs and the outputs the training framework produced for them.
//!
//! The importer refuses to write a model whose outputs differ from these beyond the stated
//! tolerance, and stores them in the model directory (`checks.json`) so every device can run
//! the same comparison on its own hardware before activating the model.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::oip::RequestTensor;
use crate::weights::HostTensor;

/// Largest check file read (64 MiB).
pub const MAX_CHECKS_BYTES: u64 = 64 << 20;

/// A set of reference cases with the tolerance they must be met within: an output value `a`
/// matches the reference `b` when `|a - b| <= atol + rtol * |b|` (numpy's `allclose`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckCases {
    pub atol: f32,
    pub rtol: f32,
    pub cases: Vec<CheckCase>,
}

/// One reference case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckCase {
    pub name: String,
    pub inputs: Vec<RequestTensor>,
    pub outputs: Vec<RequestTensor>,
}

/// How far one output of one case was from its reference.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputDiff {
    pub case: String,
    pub output: String,
    /// Largest absolute difference.
    pub max_abs: f32,
    /// Largest `|a - b| / (atol + rtol * |b|)`: at most 1 means within tolerance.
    pub worst_ratio: f32,
}

impl OutputDiff {
    pub fn passed(&self) -> bool {
        self.worst_ratio <= 1.0
    }
}

impl CheckCases {
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = crate::read_bounded(path, MAX_CHECKS_BYTES)?;
        let cases: Self = serde_json::from_slice(&bytes).map_err(|e| ModelError::Spec {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if !(cases.atol >= 0.0 && cases.rtol >= 0.0) || cases.cases.is_empty() {
            return Err(ModelError::Spec {
                path: path.to_path_buf(),
                reason: "tolerances must be non-negative and there must be at least one case"
                    .into(),
            });
        }
        Ok(cases)
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_vec(self).map_err(|e| ModelError::Spec {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        std::fs::write(path, text).map_err(|source| ModelError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Compares one produced output with its reference.
pub fn compare(
    case: &str,
    reference: &RequestTensor,
    actual: &HostTensor,
    atol: f32,
    rtol: f32,
) -> Result<OutputDiff> {
    let expected = reference.to_host()?;
    compare_host(case, &reference.name, &expected, actual, atol, rtol)
}

/// Compares one produced output with its reference, both on the host.
pub fn compare_host(
    case: &str,
    name: &str,
    expected: &HostTensor,
    actual: &HostTensor,
    atol: f32,
    rtol: f32,
) -> Result<OutputDiff> {
    if expected.shape != actual.shape {
        return Err(ModelError::Check {
            case: case.into(),
            reason: format!(
                "output '{name}' has shape {:?}, the reference has {:?}",
                actual.shape, expected.shape
            ),
        });
    }
    if expected.dtype() != actual.dtype() {
        return Err(ModelError::Check {
            case: case.into(),
            reason: format!(
                "output '{name}' is {}, the reference is {}",
                actual.dtype(),
                expected.dtype()
            ),
        });
    }
    // Integers and booleans must match exactly; floats within the tolerance, NaN matching
    // NaN and an infinity the same infinity (numpy's `assert_allclose`).
    let exact = !actual.dtype().is_float();
    let mut max_abs = 0f32;
    let mut worst_ratio = 0f32;
    for (a, b) in actual.data.to_f64().into_iter().zip(expected.data.to_f64()) {
        let same = a == b || (a.is_nan() && b.is_nan());
        let diff = if same { 0.0 } else { (a - b).abs() };
        let ratio = if same {
            0.0
        } else if diff.is_nan() || exact {
            f64::INFINITY
        } else {
            diff / (f64::from(atol) + f64::from(rtol) * b.abs()).max(f64::MIN_POSITIVE)
        };
        max_abs = max_abs.max(if diff.is_nan() {
            f32::INFINITY
        } else {
            diff as f32
        });
        worst_ratio = worst_ratio.max(ratio as f32);
    }
    Ok(OutputDiff {
        case: case.into(),
        output: name.to_string(),
        max_abs,
        worst_ratio,
    })
}
