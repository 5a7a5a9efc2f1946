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
use crate::format::DataType;
use crate::format::{MAX_ELEMENTS, MAX_RANK};
use crate::weights::{HostData, HostTensor, element_count};

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

/// One output tensor of a response, with flat row-major data. Read back by its `datatype`
/// (through the same checks as a request tensor), so an FP32 tensor stays FP32.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RequestTensor")]
pub struct ResponseTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub datatype: String,
    /// Serialised as a flat JSON array of the datatype's values (numbers or booleans).
    pub data: HostData,
}

impl TryFrom<RequestTensor> for ResponseTensor {
    type Error = ModelError;
    fn try_from(raw: RequestTensor) -> Result<Self> {
        let host = raw.to_host()?;
        Ok(Self::from_host(&raw.name, host))
    }
}

impl ResponseTensor {
    pub fn from_host(name: &str, tensor: HostTensor) -> Self {
        Self {
            name: name.to_string(),
            shape: tensor.shape,
            datatype: tensor.data.dtype().oip_name().into(),
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
    /// Converts to a host tensor of the request's datatype, checking the datatype, shape,
    /// element count and that every value fits the type (an integer type never takes a
    /// fraction or an out-of-range number: nothing is silently narrowed).
    pub fn to_host(&self) -> Result<HostTensor> {
        let datatype = DataType::from_oip_name(&self.datatype).ok_or_else(|| {
            ModelError::request(format!(
                "input '{}' has datatype {}; supported: {}",
                self.name,
                self.datatype,
                DataType::ALL.map(DataType::oip_name).join(", ")
            ))
        })?;
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
        let read = |value: &serde_json::Value| -> std::result::Result<HostData, String> {
            fn int<T: TryFrom<i64>>(v: &serde_json::Value, ty: DataType) -> Result<T, String> {
                let n = v.as_i64().ok_or_else(|| format!("{v} is not an integer"))?;
                T::try_from(n).map_err(|_| format!("{n} is out of range for {ty}"))
            }
            Ok(match datatype {
                DataType::Fp32 => {
                    HostData::F32(collect(value, elements, |v| Ok(number(v)? as f32))?)
                }
                DataType::Fp16 => HostData::F16(collect(value, elements, |v| {
                    Ok(half::f16::from_f64(number(v)?).to_f32())
                })?),
                DataType::Fp64 => HostData::F64(collect(value, elements, number)?),
                DataType::Int64 => HostData::I64(collect(value, elements, |v| int(v, datatype))?),
                DataType::Int32 => HostData::I32(collect(value, elements, |v| int(v, datatype))?),
                DataType::Int8 => HostData::I8(collect(value, elements, |v| int(v, datatype))?),
                DataType::Uint8 => HostData::U8(collect(value, elements, |v| int(v, datatype))?),
                DataType::Bool => HostData::Bool(collect(value, elements, |v| {
                    v.as_bool()
                        .ok_or_else(|| format!("data holds {}, not a boolean", kind(v)))
                })?),
            })
        };
        let data = read(&self.data)
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
            datatype: tensor.data.dtype().oip_name().into(),
            data: serde_json::to_value(&tensor.data).unwrap_or_default(),
        }
    }
}

/// A float element: a JSON number, or one of the strings JSON needs for the values it has no
/// literal for (`"NaN"`, `"Infinity"`, `"-Infinity"`, as JavaScript and Python's `json` spell
/// them, or `"nan"`, `"inf"`, `"-inf"`): a missing feature is sent as NaN.
fn number(v: &serde_json::Value) -> std::result::Result<f64, String> {
    match v {
        serde_json::Value::Number(n) => n.as_f64().ok_or_else(|| "a number out of range".into()),
        serde_json::Value::String(s) => match s.as_str() {
            "NaN" | "nan" => Ok(f64::NAN),
            "Infinity" | "inf" => Ok(f64::INFINITY),
            "-Infinity" | "-inf" => Ok(f64::NEG_INFINITY),
            other => Err(format!(
                "data holds the string '{other}', not a number (nor NaN, Infinity, -Infinity)"
            )),
        },
        other => Err(format!("data holds {}, not a number", kind(other))),
    }
}

/// Flattens flat or nested JSON values into a vector, stopping as soon as more than `limit`
/// values have been seen.
fn collect<T>(
    value: &serde_json::Value,
    limit: usize,
    item: impl Fn(&serde_json::Value) -> std::result::Result<T, String>,
) -> std::result::Result<Vec<T>, String> {
    fn walk<T>(
        value: &serde_json::Value,
        out: &mut Vec<T>,
        depth: usize,
        limit: usize,
        item: &dyn Fn(&serde_json::Value) -> std::result::Result<T, String>,
    ) -> std::result::Result<(), String> {
        match value {
            serde_json::Value::Array(items) if depth <= MAX_RANK => {
                for v in items {
                    walk(v, out, depth + 1, limit, item)?;
                }
                Ok(())
            }
            serde_json::Value::Array(_) => {
                Err(format!("data nested deeper than {MAX_RANK} levels"))
            }
            v => {
                if out.len() >= limit {
                    return Err(format!("more than the {limit} values its shape declares"));
                }
                out.push(item(v)?);
                Ok(())
            }
        }
    }
    let mut out = Vec::with_capacity(limit.min(1 << 20));
    walk(value, &mut out, 0, limit, &item)?;
    Ok(out)
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
    fn nan_and_infinities_are_read_from_their_string_spellings() {
        let t = tensor(&[4], serde_json::json!(["NaN", "Infinity", "-inf", 1.5]))
            .to_host()
            .expect("read");
        let v = t.as_f32().expect("f32");
        assert!(v[0].is_nan() && v[1] == f32::INFINITY && v[2] == f32::NEG_INFINITY);
        assert_eq!(v[3], 1.5);
        let err = tensor(&[1], serde_json::json!(["1.5"])).to_host();
        assert!(err.is_err_and(|e| e.to_string().contains("not a number")));
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
        t.datatype = "BYTES".into();
        assert!(t.to_host().is_err_and(|e| e.to_string().contains("BYTES")));
        let t = tensor(&[2], serde_json::json!([1, "two"]));
        assert!(
            t.to_host()
                .is_err_and(|e| e.to_string().contains("the string 'two'"))
        );
    }

    #[test]
    fn typed_inputs_keep_their_type_and_refuse_what_does_not_fit() {
        let mut t = tensor(&[2], serde_json::json!([9007199254740993i64, -1]));
        t.datatype = "INT64".into();
        assert_eq!(
            t.to_host().expect("int64").data,
            HostData::I64(vec![9007199254740993, -1])
        );
        t.datatype = "UINT8".into();
        assert!(
            t.to_host()
                .is_err_and(|e| e.to_string().contains("out of range for UINT8"))
        );
        let mut t = tensor(&[1], serde_json::json!([1.5]));
        t.datatype = "INT32".into();
        assert!(
            t.to_host()
                .is_err_and(|e| e.to_string().contains("not an integer"))
        );
        let mut t = tensor(&[2], serde_json::json!([true, false]));
        t.datatype = "BOOL".into();
        assert_eq!(
            t.to_host().expect("bool").data,
            HostData::Bool(vec![true, false])
        );
        let mut t = tensor(&[1], serde_json::json!([0.1]));
        t.datatype = "FP64".into();
        assert_eq!(t.to_host().expect("fp64").data, HostData::F64(vec![0.1]));
    }

    #[test]
    fn response_data_serialises_as_its_type() {
        let out = ResponseTensor::from_host(
            "y",
            HostTensor::typed(vec![2], vec![3i64, -4]).expect("tensor"),
        );
        let json = serde_json::to_value(&out).expect("json");
        assert_eq!(json["datatype"], "INT64");
        assert_eq!(json["data"], serde_json::json!([3, -4]));
        let back: ResponseTensor = serde_json::from_value(json).expect("parse");
        assert_eq!(back.data, HostData::I64(vec![3, -4]));
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
