//! A tensor whose rank is known only at run time.
//!
//! Burn's `Tensor<D, K>` carries its rank and kind (float, int, bool) in the type; a model
//! graph decides ranks at run time. `DynTensor<K>` holds one of `Tensor<1, K>` ..
//! `Tensor<6, K>`, and the macros below run a generic body on whichever it is. Changing rank
//! goes through `reshape`, which is a metadata operation for contiguous tensors on both
//! backends. Which kind a graph value has, and its element type, is `value::Value`'s business.

use burn::tensor::kind::Basic;
use burn::tensor::{DType, Device, Float, Tensor, TensorData};

use crate::error::{ModelError, Result};

/// A tensor of kind `K` (float by default) and rank 1 to 6.
#[derive(Debug, Clone)]
pub enum DynTensor<K: Basic = Float> {
    R1(Tensor<1, K>),
    R2(Tensor<2, K>),
    R3(Tensor<3, K>),
    R4(Tensor<4, K>),
    R5(Tensor<5, K>),
    R6(Tensor<6, K>),
}

/// Runs `$body` with `$t` bound to the inner `Tensor<D>`; the body must return the same type
/// for every rank.
macro_rules! with_tensor {
    ($value:expr, $t:ident => $body:expr) => {
        match $value {
            $crate::executor::dyn_tensor::DynTensor::R1($t) => $body,
            $crate::executor::dyn_tensor::DynTensor::R2($t) => $body,
            $crate::executor::dyn_tensor::DynTensor::R3($t) => $body,
            $crate::executor::dyn_tensor::DynTensor::R4($t) => $body,
            $crate::executor::dyn_tensor::DynTensor::R5($t) => $body,
            $crate::executor::dyn_tensor::DynTensor::R6($t) => $body,
        }
    };
}

/// Runs a rank-preserving `$body` (returning `Tensor<D>`) and re-wraps the result.
macro_rules! map_tensor {
    ($value:expr, $t:ident => $body:expr) => {
        match $value {
            $crate::executor::dyn_tensor::DynTensor::R1($t) => {
                $crate::executor::dyn_tensor::DynTensor::R1($body)
            }
            $crate::executor::dyn_tensor::DynTensor::R2($t) => {
                $crate::executor::dyn_tensor::DynTensor::R2($body)
            }
            $crate::executor::dyn_tensor::DynTensor::R3($t) => {
                $crate::executor::dyn_tensor::DynTensor::R3($body)
            }
            $crate::executor::dyn_tensor::DynTensor::R4($t) => {
                $crate::executor::dyn_tensor::DynTensor::R4($body)
            }
            $crate::executor::dyn_tensor::DynTensor::R5($t) => {
                $crate::executor::dyn_tensor::DynTensor::R5($body)
            }
            $crate::executor::dyn_tensor::DynTensor::R6($t) => {
                $crate::executor::dyn_tensor::DynTensor::R6($body)
            }
        }
    };
}

pub(crate) use map_tensor;
#[allow(unused_imports)]
pub(crate) use with_tensor;

/// Copies the first `N` entries of `dims` into an array (the caller guarantees the length).
pub fn arr<const N: usize>(dims: &[usize]) -> [usize; N] {
    let mut out = [0; N];
    out.copy_from_slice(&dims[..N]);
    out
}

fn reshape_from<const D: usize, K: Basic>(t: Tensor<D, K>, dims: &[usize]) -> Result<DynTensor<K>> {
    Ok(match dims.len() {
        1 => DynTensor::R1(t.reshape(arr::<1>(dims))),
        2 => DynTensor::R2(t.reshape(arr::<2>(dims))),
        3 => DynTensor::R3(t.reshape(arr::<3>(dims))),
        4 => DynTensor::R4(t.reshape(arr::<4>(dims))),
        5 => DynTensor::R5(t.reshape(arr::<5>(dims))),
        6 => DynTensor::R6(t.reshape(arr::<6>(dims))),
        n => {
            return Err(ModelError::graph(format!(
                "rank {n} is not supported (1 to 6)"
            )));
        }
    })
}

/// `Tensor<A, K>` as `Tensor<B, K>` without a device op when `A == B` (callers check the
/// rank); otherwise a reshape, so the result is right either way.
fn same_rank<const A: usize, const B: usize, K: Basic + 'static>(t: Tensor<A, K>) -> Tensor<B, K> {
    let mut slot = Some(t);
    if let Some(same) = (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<Tensor<B, K>>>()
        && let Some(t) = same.take()
    {
        return t;
    }
    match slot {
        Some(t) => {
            let dims = t.dims();
            t.reshape(arr::<B>(&dims))
        }
        None => Tensor::empty([0; B], &Device::flex()),
    }
}

impl<K: Basic + 'static> DynTensor<K> {
    /// Creates a tensor of element type `dtype` on `device` from host data (a scalar, shape
    /// `[]`, travels as a one-element vector: ranks start at 1).
    pub fn from_data(data: TensorData, device: &Device, dtype: DType) -> Result<Self> {
        let shape = data.shape().to_vec();
        let data = if shape.is_empty() {
            TensorData::from_bytes_vec(data.as_bytes().to_vec(), [1], data.dtype())
        } else {
            data
        };
        let shape = data.shape().to_vec();
        let options = (device, dtype);
        Ok(match shape.len() {
            1 => DynTensor::R1(Tensor::from_data(data, options)),
            2 => DynTensor::R2(Tensor::from_data(data, options)),
            3 => DynTensor::R3(Tensor::from_data(data, options)),
            4 => DynTensor::R4(Tensor::from_data(data, options)),
            5 => DynTensor::R5(Tensor::from_data(data, options)),
            6 => DynTensor::R6(Tensor::from_data(data, options)),
            n => {
                return Err(ModelError::graph(format!(
                    "rank {n} is not supported (1 to 6)"
                )));
            }
        })
    }

    /// Downloads to the host (waits for the device to finish).
    pub fn into_data(self) -> Result<TensorData> {
        with_tensor!(self, t => t.try_into_data()).map_err(|e| ModelError::Device {
            device: "model device".into(),
            reason: format!("reading a result failed: {e:?}"),
        })
    }

    pub fn device(&self) -> Device {
        with_tensor!(self, t => t.device())
    }

    pub fn dtype(&self) -> DType {
        with_tensor!(self, t => t.dtype())
    }

    /// The same values on `device` (a no-op when they are there already).
    pub fn into_device(self, device: &Device) -> Self {
        map_tensor!(self, t => t.to_device(device))
    }

    pub fn rank(&self) -> usize {
        match self {
            DynTensor::R1(_) => 1,
            DynTensor::R2(_) => 2,
            DynTensor::R3(_) => 3,
            DynTensor::R4(_) => 4,
            DynTensor::R5(_) => 5,
            DynTensor::R6(_) => 6,
        }
    }

    pub fn dims(&self) -> Vec<usize> {
        with_tensor!(self, t => t.dims().to_vec())
    }

    /// Reshapes to `dims` (which must hold the same number of elements).
    pub fn reshape(self, dims: &[usize]) -> Result<Self> {
        let from = self.dims();
        if from.iter().product::<usize>() != dims.iter().product::<usize>() {
            return Err(ModelError::graph(format!(
                "cannot reshape {from:?} to {dims:?}: element counts differ"
            )));
        }
        if from == dims {
            return Ok(self);
        }
        with_tensor!(self, t => reshape_from(t, dims))
    }

    /// Views this tensor as `Tensor<D>` (its rank must be `D`). Free when the rank already
    /// matches (no reshape is issued: this is on every op's path).
    pub fn into_rank<const D: usize>(self) -> Result<Tensor<D, K>> {
        let dims = self.dims();
        if dims.len() != D {
            return Err(ModelError::graph(format!(
                "expected a rank-{D} tensor, got shape {dims:?}"
            )));
        }
        Ok(with_tensor!(self, t => same_rank(t)))
    }

    /// Prepends size-1 dimensions up to `rank` (numpy broadcasting alignment).
    pub fn unsqueeze_to(self, rank: usize) -> Result<Self> {
        let dims = self.dims();
        if dims.len() >= rank {
            return Ok(self);
        }
        let mut new = vec![1; rank - dims.len()];
        new.extend(dims);
        self.reshape(&new)
    }
}
