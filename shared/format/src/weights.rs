//! Constant tensors of a model, stored in the safetensors format.
//!
//! Why safetensors: it is a standard every training stack can read and write (PyTorch,
//! TensorFlow, JAX, Burn), it is a plain header plus raw data with no code execution, and its
//! parser checks every declared offset and shape against the actual byte length before a
//! tensor is handed out, so a forged header cannot cause a large allocation or an
//! out-of-bounds read. We bound the file size before reading it.

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{ModelError, Result};
use crate::format::{DataType, MAX_RANK};

/// Largest weights file a device will read (2 GiB).
pub const MAX_WEIGHTS_BYTES: u64 = 2 << 30;

/// A dense tensor held on the host: its shape and its typed values.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: HostData,
}

/// Row-major values of one element type.
#[derive(Debug, Clone, PartialEq)]
pub enum HostData {
    F32(Vec<f32>),
    /// Half-precision values, held widened to f32 (every f16 is exactly an f32).
    F16(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    Bool(Vec<bool>),
}

macro_rules! host_from {
    ($($t:ty => $v:ident),*) => {$(
        impl From<Vec<$t>> for HostData {
            fn from(v: Vec<$t>) -> Self {
                HostData::$v(v)
            }
        }
    )*};
}
host_from!(f32 => F32, f64 => F64, i64 => I64, i32 => I32, i8 => I8, u8 => U8, bool => Bool);

impl HostData {
    pub fn len(&self) -> usize {
        match self {
            HostData::F32(v) | HostData::F16(v) => v.len(),
            HostData::F64(v) => v.len(),
            HostData::I64(v) => v.len(),
            HostData::I32(v) => v.len(),
            HostData::I8(v) => v.len(),
            HostData::U8(v) => v.len(),
            HostData::Bool(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the host copy takes (FP16 is held as f32 here).
    pub fn bytes(&self) -> usize {
        let size = match self {
            HostData::F32(_) | HostData::F16(_) | HostData::I32(_) => 4,
            HostData::F64(_) | HostData::I64(_) => 8,
            HostData::I8(_) | HostData::U8(_) | HostData::Bool(_) => 1,
        };
        self.len().saturating_mul(size)
    }

    pub fn dtype(&self) -> DataType {
        match self {
            HostData::F32(_) => DataType::Fp32,
            HostData::F16(_) => DataType::Fp16,
            HostData::F64(_) => DataType::Fp64,
            HostData::I64(_) => DataType::Int64,
            HostData::I32(_) => DataType::Int32,
            HostData::I8(_) => DataType::Int8,
            HostData::U8(_) => DataType::Uint8,
            HostData::Bool(_) => DataType::Bool,
        }
    }

    /// The values as f64 (exact for every type but i64 beyond 2^53), for comparisons.
    pub fn to_f64(&self) -> Vec<f64> {
        match self {
            HostData::F32(v) | HostData::F16(v) => v.iter().map(|&x| f64::from(x)).collect(),
            HostData::F64(v) => v.clone(),
            HostData::I64(v) => v.iter().map(|&x| x as f64).collect(),
            HostData::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            HostData::I8(v) => v.iter().map(|&x| f64::from(x)).collect(),
            HostData::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
            HostData::Bool(v) => v.iter().map(|&x| f64::from(u8::from(x))).collect(),
        }
    }

    /// The values as f32: exact for FP32, FP16, INT8, UINT8 and BOOL; rounded for the others.
    /// For consumers that need numbers, not types (accuracy metrics, telemetry records).
    pub fn to_f32_lossy(&self) -> Vec<f32> {
        match self {
            HostData::F32(v) | HostData::F16(v) => v.clone(),
            other => other.to_f64().into_iter().map(|x| x as f32).collect(),
        }
    }

    /// The values as i64, for integer and boolean data.
    pub fn as_i64(&self) -> Option<Vec<i64>> {
        Some(match self {
            HostData::I64(v) => v.clone(),
            HostData::I32(v) => v.iter().map(|&x| i64::from(x)).collect(),
            HostData::I8(v) => v.iter().map(|&x| i64::from(x)).collect(),
            HostData::U8(v) => v.iter().map(|&x| i64::from(x)).collect(),
            HostData::Bool(v) => v.iter().map(|&x| i64::from(x)).collect(),
            _ => return None,
        })
    }
}

/// A flat sequence of the values (JSON: numbers or booleans).
impl serde::Serialize for HostData {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            HostData::F32(v) | HostData::F16(v) => v.serialize(s),
            HostData::F64(v) => v.serialize(s),
            HostData::I64(v) => v.serialize(s),
            HostData::I32(v) => v.serialize(s),
            HostData::I8(v) => v.serialize(s),
            HostData::U8(v) => v.serialize(s),
            HostData::Bool(v) => v.serialize(s),
        }
    }
}

impl HostTensor {
    /// Builds an FP32 tensor, checking that the shape describes exactly `data.len()` elements.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        Self::typed(shape, data)
    }

    /// Builds a tensor of the values' type (`Vec<i64>` is INT64, ...; `HostData::F16` for
    /// half precision), checking that the shape describes exactly `data.len()` elements.
    pub fn typed(shape: Vec<usize>, data: impl Into<HostData>) -> Result<Self> {
        let data = data.into();
        let elements = element_count(&shape)
            .ok_or_else(|| ModelError::request(format!("shape {shape:?} overflows")))?;
        if elements != data.len() {
            return Err(ModelError::request(format!(
                "shape {shape:?} holds {elements} elements but {} values were given",
                data.len()
            )));
        }
        Ok(Self { shape, data })
    }

    /// An f32 tensor (the shape is the caller's to get right; see [`HostTensor::new`]).
    pub fn f32(shape: Vec<usize>, data: Vec<f32>) -> Self {
        Self {
            shape,
            data: HostData::F32(data),
        }
    }

    pub fn dtype(&self) -> DataType {
        self.data.dtype()
    }

    /// The values, if this is an FP32 tensor.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            HostData::F32(v) => Some(v),
            _ => None,
        }
    }
}

/// The product of `shape`, or `None` on overflow.
pub fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Named constant tensors, sorted by name so files are byte-for-byte reproducible.
pub type Weights = BTreeMap<String, HostTensor>;

/// Reads a safetensors file; every tensor must be of a [`DataType`] with rank <= 6.
pub fn read(path: &Path) -> Result<Weights> {
    let bytes = crate::read_bounded(path, MAX_WEIGHTS_BYTES)?;
    parse(&bytes).map_err(|reason| ModelError::Weights {
        path: path.to_path_buf(),
        reason,
    })
}

/// Decodes little-endian values of `N` bytes each (a trailing partial value is ignored).
pub fn decode_le<const N: usize, T>(raw: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
    raw.chunks_exact(N)
        .map(|c| {
            let mut b = [0u8; N];
            b.copy_from_slice(c);
            f(b)
        })
        .collect()
}

/// Parses safetensors bytes.
pub fn parse(bytes: &[u8]) -> std::result::Result<Weights, String> {
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let mut weights = Weights::new();
    for (name, view) in tensors.tensors() {
        if view.shape().len() > MAX_RANK {
            return Err(format!("tensor '{name}' has rank {}", view.shape().len()));
        }
        let raw = view.data();
        let data = match view.dtype() {
            Dtype::F32 => HostData::F32(decode_le(raw, f32::from_le_bytes)),
            Dtype::F16 => HostData::F16(decode_le(raw, |b| half::f16::from_le_bytes(b).to_f32())),
            Dtype::F64 => HostData::F64(decode_le(raw, f64::from_le_bytes)),
            Dtype::I64 => HostData::I64(decode_le(raw, i64::from_le_bytes)),
            Dtype::I32 => HostData::I32(decode_le(raw, i32::from_le_bytes)),
            Dtype::I8 => HostData::I8(decode_le(raw, i8::from_le_bytes)),
            Dtype::U8 => HostData::U8(raw.to_vec()),
            Dtype::BOOL => HostData::Bool(raw.iter().map(|&b| b != 0).collect()),
            other => {
                return Err(format!(
                    "tensor '{name}' is {other:?}; supported: F32, F16, F64, I64, I32, I8, U8, BOOL"
                ));
            }
        };
        weights.insert(
            name,
            HostTensor {
                shape: view.shape().to_vec(),
                data,
            },
        );
    }
    Ok(weights)
}

fn encode(data: &HostData) -> (Dtype, Vec<u8>) {
    match data {
        HostData::F32(v) => (Dtype::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        HostData::F16(v) => (
            Dtype::F16,
            v.iter()
                .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
                .collect(),
        ),
        HostData::F64(v) => (Dtype::F64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        HostData::I64(v) => (Dtype::I64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        HostData::I32(v) => (Dtype::I32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        HostData::I8(v) => (Dtype::I8, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        HostData::U8(v) => (Dtype::U8, v.clone()),
        HostData::Bool(v) => (Dtype::BOOL, v.iter().map(|&b| u8::from(b)).collect()),
    }
}

/// Writes weights as a safetensors file.
pub fn write(path: &Path, weights: &Weights) -> Result<()> {
    let bytes: Vec<(String, Dtype, Vec<u8>, Vec<usize>)> = weights
        .iter()
        .map(|(name, t)| {
            let (dtype, raw) = encode(&t.data);
            (name.clone(), dtype, raw, t.shape.clone())
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, dtype, raw, shape)| {
            TensorView::new(*dtype, shape.clone(), raw).map(|v| (name.as_str(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| ModelError::Weights {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let data = safetensors::serialize(views, None).map_err(|e| ModelError::Weights {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    std::fs::write(path, data).map_err(|source| ModelError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Weights {
        let mut w = Weights::new();
        w.insert(
            "a".into(),
            HostTensor::new(vec![2, 3], (0..6).map(|i| i as f32).collect::<Vec<f32>>()).expect("t"),
        );
        w.insert(
            "b".into(),
            HostTensor::new(vec![4], vec![1.5; 4]).expect("t"),
        );
        w
    }

    #[test]
    fn weights_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.safetensors");
        write(&path, &sample()).expect("write");
        assert_eq!(read(&path).expect("read"), sample());
    }

    #[test]
    fn truncated_weights_file_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.safetensors");
        write(&path, &sample()).expect("write");
        let bytes = std::fs::read(&path).expect("read");
        for cut in [0, 4, 8, 20, bytes.len() - 1] {
            assert!(parse(&bytes[..cut]).is_err(), "truncated at {cut} accepted");
        }
    }

    #[test]
    fn forged_header_with_absurd_shape_is_rejected_without_allocating() {
        let header =
            r#"{"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,16]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(header.as_bytes());
        bytes.extend([0u8; 16]);
        assert!(parse(&bytes).is_err());
    }

    #[test]
    fn forged_header_length_is_rejected() {
        let mut bytes = u64::MAX.to_le_bytes().to_vec();
        bytes.extend(b"{}");
        assert!(parse(&bytes).is_err());
    }

    #[test]
    fn typed_weights_round_trip() {
        let mut w = Weights::new();
        let typed = [
            HostData::F16(vec![0.5, -2.0]),
            HostData::F64(vec![1e-300, 3.0]),
            HostData::I64(vec![i64::MIN, i64::MAX]),
            HostData::I32(vec![-7, 7]),
            HostData::I8(vec![-128, 127]),
            HostData::U8(vec![0, 255]),
            HostData::Bool(vec![true, false]),
        ];
        for (i, data) in typed.into_iter().enumerate() {
            w.insert(
                format!("t{i}"),
                HostTensor::typed(vec![2], data).expect("t"),
            );
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.safetensors");
        write(&path, &w).expect("write");
        assert_eq!(read(&path).expect("read"), w);
    }

    #[test]
    fn unsupported_weight_dtype_is_rejected_with_the_dtype() {
        let raw = [0u8; 8];
        let view = TensorView::new(Dtype::U64, vec![1], &raw).expect("view");
        let bytes = safetensors::serialize([("w", view)], None).expect("serialize");
        let err = parse(&bytes).expect_err("accepted");
        assert!(err.contains("U64"), "{err}");
    }
}
