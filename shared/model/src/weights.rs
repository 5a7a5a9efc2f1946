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
use crate::format::MAX_RANK;

/// Largest weights file a device will read (2 GiB).
pub const MAX_WEIGHTS_BYTES: u64 = 2 << 30;

/// A dense f32 tensor held on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl HostTensor {
    /// Builds a tensor, checking that the shape describes exactly `data.len()` elements.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
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
}

/// The product of `shape`, or `None` on overflow.
pub fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Named constant tensors, sorted by name so files are byte-for-byte reproducible.
pub type Weights = BTreeMap<String, HostTensor>;

/// Reads a safetensors file; every tensor must be F32 with rank <= 6.
pub fn read(path: &Path) -> Result<Weights> {
    let bytes = crate::read_bounded(path, MAX_WEIGHTS_BYTES)?;
    parse(&bytes).map_err(|reason| ModelError::Weights {
        path: path.to_path_buf(),
        reason,
    })
}

/// Parses safetensors bytes.
pub fn parse(bytes: &[u8]) -> std::result::Result<Weights, String> {
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let mut weights = Weights::new();
    for (name, view) in tensors.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(format!(
                "tensor '{name}' is {:?}; only F32 is supported",
                view.dtype()
            ));
        }
        if view.shape().len() > MAX_RANK {
            return Err(format!("tensor '{name}' has rank {}", view.shape().len()));
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
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

/// Writes weights as a safetensors file.
pub fn write(path: &Path, weights: &Weights) -> Result<()> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = weights
        .iter()
        .map(|(name, t)| {
            let raw = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name.clone(), raw, t.shape.clone())
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, raw, shape)| {
            TensorView::new(Dtype::F32, shape.clone(), raw).map(|v| (name.as_str(), v))
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
            HostTensor::new(vec![2, 3], (0..6).map(|i| i as f32).collect()).expect("t"),
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
    fn integer_weights_are_rejected_with_the_dtype() {
        let raw = [0u8; 8];
        let view = TensorView::new(Dtype::I64, vec![1], &raw).expect("view");
        let bytes = safetensors::serialize([("w", view)], None).expect("serialize");
        let err = parse(&bytes).expect_err("accepted");
        assert!(err.contains("I64"), "{err}");
    }
}
