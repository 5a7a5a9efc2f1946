//! Open Inference Protocol v2 (the KServe / Triton "v2" REST protocol) JSON types.
//!
//! `edged predict` reads these from a file and the daemon's HTTP API speaks them, so one
//! definition serves both. Parsing is bounded: a request's declared shapes are checked for
//! overflow and against the number of values actually sent, so a forged shape cannot make us
//! allocate.
//!
//! Request:  `{"id"?: .., "inputs": [{"name", "shape", "datatype": "FP32", "data": [..]}]}`
//! Response: `{"model_name", "model_version", "id"?, "outputs": [{"name", "shape", "datatype", "data"}]}`
//! `data` may be flat (row-major) or nested as the shape; both are accepted.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::format::{MAX_ELEMENTS, MAX_RANK};
use crate::weights::{HostTensor, element_count};

/// An inference request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferenceRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub inputs: Vec<RequestTensor>,
    /// Which outputs to return; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<RequestedOutput>>,
}

/// A named output the caller asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestedOutput {
    pub name: String,
}

/// One tensor of a request or response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestTensor {
    pub name: String,
    pub shape: Vec<u64>,
    pub datatype: String,
    /// Row-major values, flat or nested.
    pub data: serde_json::Value,
}

/// An inference response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferenceResponse {
    pub model_name: String,
    pub model_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub outputs: Vec<ResponseTensor>,
}

/// One output tensor of a response, with flat row-major data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub datatype: String,
    pub data: Vec<f32>,
}

impl ResponseTensor {
    pub fn from_host(name: &str, tensor: HostTensor) -> Self {
        Self {
            name: name.to_string(),
            shape: tensor.shape,
            datatype: "FP32".into(),
            data: tensor.data,
        }
    }
}

impl InferenceRequest {
    /// Parses a request from JSON bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| {
            ModelError::request(format!("not an Open Inference Protocol request: {e}"))
        })
    }
}

impl RequestTensor {
    /// Converts to a host tensor, checking datatype, shape and element count.
    pub fn to_host(&self) -> Result<HostTensor> {
        if self.datatype != "FP32" {
            return Err(ModelError::request(format!(
                "input '{}' has datatype {}; this model takes FP32",
                self.name, self.datatype
            )));
        }
        if self.shape.len() > MAX_RANK {
            return Err(ModelError::request(format!(
                "input '{}' has rank {}, over the limit of {MAX_RANK}",
                self.name,
                self.shape.len()
            )));
        }
        let shape: Vec<usize> = self
            .shape
            .iter()
            .map(|&d| usize::try_from(d).unwrap_or(usize::MAX))
            .collect();
        let elements = element_count(&shape)
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| {
                ModelError::request(format!(
                    "input '{}' declares shape {:?}, over the limit of {MAX_ELEMENTS} elements",
                    self.name, self.shape
                ))
            })?;
        let mut data = Vec::with_capacity(elements.min(1 << 20));
        flatten(&self.data, &mut data, 0, elements)
            .map_err(|reason| ModelError::request(format!("input '{}': {reason}", self.name)))?;
        if data.len() != elements {
            return Err(ModelError::request(format!(
                "input '{}' declares shape {:?} ({elements} values) but carries {} values",
                self.name,
                self.shape,
                data.len()
            )));
        }
        Ok(HostTensor { shape, data })
    }

    pub fn from_host(name: &str, tensor: &HostTensor) -> Self {
        Self {
            name: name.to_string(),
            shape: tensor.shape.iter().map(|&d| d as u64).collect(),
            datatype: "FP32".into(),
            data: serde_json::Value::from(tensor.data.clone()),
        }
    }
}

/// Flattens flat or nested JSON numbers into `out`, stopping as soon as more than `limit`
/// values have been seen.
fn flatten(
    value: &serde_json::Value,
    out: &mut Vec<f32>,
    depth: usize,
    limit: usize,
) -> std::result::Result<(), String> {
    match value {
        serde_json::Value::Number(n) => {
            if out.len() >= limit {
                return Err(format!("more than the {limit} values its shape declares"));
            }
            let v = n.as_f64().ok_or("a number out of range")?;
            out.push(v as f32);
            Ok(())
        }
        serde_json::Value::Array(items) if depth <= MAX_RANK => {
            for item in items {
                flatten(item, out, depth + 1, limit)?;
            }
            Ok(())
        }
        serde_json::Value::Array(_) => Err(format!("data nested deeper than {MAX_RANK} levels")),
        other => Err(format!("data holds {}, not a number", kind(other))),
    }
}

fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Object(_) => "an object",
        _ => "an array",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(shape: &[u64], data: serde_json::Value) -> RequestTensor {
        RequestTensor {
            name: "x".into(),
            shape: shape.to_vec(),
            datatype: "FP32".into(),
            data,
        }
    }

    #[test]
    fn flat_and_nested_data_are_the_same_tensor() {
        let flat = tensor(&[2, 2], serde_json::json!([1, 2, 3, 4])).to_host();
        let nested = tensor(&[2, 2], serde_json::json!([[1, 2], [3, 4]])).to_host();
        assert_eq!(flat.ok(), nested.ok());
    }

    #[test]
    fn wrong_shape_is_rejected() {
        let err = tensor(&[3, 2], serde_json::json!([1, 2, 3, 4])).to_host();
        assert!(err.is_err_and(|e| e.to_string().contains("carries 4 values")));
    }

    #[test]
    fn absurd_declared_dimensions_are_rejected_without_allocating() {
        let err = tensor(&[u64::MAX, u64::MAX], serde_json::json!([1])).to_host();
        assert!(err.is_err_and(|e| e.to_string().contains("over the limit")));
        let err = tensor(&[1 << 27, 1 << 27], serde_json::json!([1])).to_host();
        assert!(err.is_err());
    }

    #[test]
    fn wrong_dtype_and_non_numbers_are_rejected() {
        let mut t = tensor(&[1], serde_json::json!([1]));
        t.datatype = "INT64".into();
        assert!(t.to_host().is_err_and(|e| e.to_string().contains("INT64")));
        let t = tensor(&[2], serde_json::json!([1, "two"]));
        assert!(
            t.to_host()
                .is_err_and(|e| e.to_string().contains("a string"))
        );
    }

    #[test]
    fn more_values_than_declared_stop_early() {
        let t = tensor(&[2], serde_json::json!([1, 2, 3, 4, 5, 6]));
        assert!(
            t.to_host()
                .is_err_and(|e| e.to_string().contains("more than the 2 values"))
        );
    }

    #[test]
    fn malformed_json_is_an_error() {
        assert!(InferenceRequest::from_json(b"{\"inputs\": [").is_err());
        assert!(InferenceRequest::from_json(b"[]").is_err());
    }
}
