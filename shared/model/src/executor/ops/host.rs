//! A value's elements read into host memory, for the index-heavy ops that run on the CPU
//! whatever the model's device (GatherND, ScatterND, ScatterElements, TopK, OneHot): every
//! index is checked against its dimension in plain Rust, ties and duplicates follow ONNX's
//! rules exactly, and the result goes back to the device the data came from. Floats are read
//! as f64 (exact for f32), integers as i64; a result is written back in the value's type.

use burn::tensor::Device;

use super::common::{Res, bool_value, float_value, host_floats, host_ints, int_value_of};
use crate::executor::value::{Typed, Value};
use crate::format::DataType;

/// Elements in row-major order, in the widest type of their kind.
#[derive(Debug, Clone)]
pub(super) enum Elems {
    Float(Vec<f64>),
    Int(Vec<i64>),
    Bool(Vec<bool>),
}

/// A value read to the host, and where it goes back to.
#[derive(Debug, Clone)]
pub(super) struct HostValue {
    pub(super) dims: Vec<usize>,
    pub(super) elems: Elems,
    dtype: DataType,
    device: Device,
}

/// Runs a generic `$body` on the vector inside an [`Elems`], re-wrapping a vector result.
macro_rules! map_elems {
    ($e:expr, $v:ident => $body:expr) => {
        match $e {
            $crate::executor::ops::host::Elems::Float($v) => {
                $crate::executor::ops::host::Elems::Float($body)
            }
            $crate::executor::ops::host::Elems::Int($v) => {
                $crate::executor::ops::host::Elems::Int($body)
            }
            $crate::executor::ops::host::Elems::Bool($v) => {
                $crate::executor::ops::host::Elems::Bool($body)
            }
        }
    };
}
pub(super) use map_elems;

impl Elems {
    pub(super) fn len(&self) -> usize {
        match self {
            Elems::Float(v) => v.len(),
            Elems::Int(v) => v.len(),
            Elems::Bool(v) => v.len(),
        }
    }
}

impl HostValue {
    pub(super) fn read(v: &Value) -> Res<Self> {
        let elems = match &v.t {
            Typed::Float(_) => Elems::Float(host_floats(v)?),
            Typed::Int(..) => Elems::Int(host_ints(v)?),
            Typed::Bool(_) => Elems::Bool(host_ints(v)?.into_iter().map(|x| x != 0).collect()),
        };
        Ok(Self {
            dims: v.dims(),
            elems,
            dtype: v.dtype(),
            device: v.device(),
        })
    }

    /// New contents of the same element type, bound for the same device.
    pub(super) fn with(&self, dims: Vec<usize>, elems: Elems) -> Self {
        Self {
            dims,
            elems,
            dtype: self.dtype,
            device: self.device.clone(),
        }
    }

    /// Uploads: floats to the device they came from, integers and booleans to the host,
    /// where every integer and boolean value starts (see `value`).
    pub(super) fn write(self) -> Res<Value> {
        match self.elems {
            Elems::Float(v) => float_value(v, &self.dims, self.dtype, &self.device),
            Elems::Int(v) => int_value_of(v, &self.dims, self.dtype),
            Elems::Bool(v) => bool_value(v, &self.dims),
        }
    }
}

/// Row-major strides of `dims`.
pub(super) fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

/// `i` made non-negative against a dimension of size `dim`, or an error naming it.
pub(super) fn checked_index(i: i64, dim: usize) -> Res<usize> {
    let d = dim as i64;
    let j = if i < 0 { i + d } else { i };
    if (0..d).contains(&j) {
        Ok(j as usize)
    } else {
        Err(format!(
            "index {i} is out of range for a dimension of size {dim}"
        ))
    }
}

/// How two elements combine (Scatter reductions); booleans follow numpy (add is or, mul is
/// and).
pub(super) trait Combine: Copy + PartialOrd {
    fn add(self, other: Self) -> Self;
    fn mul(self, other: Self) -> Self;
}

impl Combine for f64 {
    fn add(self, other: Self) -> Self {
        self + other
    }
    fn mul(self, other: Self) -> Self {
        self * other
    }
}

impl Combine for i64 {
    fn add(self, other: Self) -> Self {
        self.wrapping_add(other)
    }
    fn mul(self, other: Self) -> Self {
        self.wrapping_mul(other)
    }
}

impl Combine for bool {
    fn add(self, other: Self) -> Self {
        self || other
    }
    fn mul(self, other: Self) -> Self {
        self && other
    }
}
