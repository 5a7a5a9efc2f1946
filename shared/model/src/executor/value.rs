//! A graph value: a float, integer or boolean tensor of run-time rank, on the device it was
//! made on.
//!
//! Float values live on the model's device (f32, or f64 on the CPU; f16 is widened to f32 when
//! it enters). Integer and boolean values start on the host (the CPU backend, in i64), where
//! the shape and index subgraphs they mostly belong to are cheap; an op that mixes devices
//! moves its inputs to the model's device first ([`align`]), and an integer moving to the
//! GPU, whose integers are 32-bit, is range-checked there: a value that does not fit fails
//! the request with an error, never wraps.

use burn::tensor::{Bool, DType, Device, Int, TensorData};

use super::device::{cpu_device, is_host};
use super::dyn_tensor::{DynTensor, map_tensor};
use crate::error::{ModelError, Result};
use crate::format::DataType;
use crate::weights::{HostData, HostTensor};

/// One value of a running graph: its tensor, and whether ONNX sees it as a scalar (rank 0;
/// Burn's ranks start at 1, so a scalar is held as shape `[1]`).
#[derive(Debug, Clone)]
pub struct Value {
    pub t: Typed,
    pub scalar: bool,
}

/// The tensor of a value, by kind.
#[derive(Debug, Clone)]
pub enum Typed {
    Float(DynTensor),
    /// Integers of the declared ONNX type (`INT64`, `INT32`, `INT8`, `UINT8`), held as i64
    /// on the host and i32 on the GPU.
    Int(DynTensor<Int>, DataType),
    Bool(DynTensor<Bool>),
}

impl From<Typed> for Value {
    fn from(t: Typed) -> Self {
        Value { t, scalar: false }
    }
}

fn shaped(shape: &[usize]) -> Vec<usize> {
    if shape.is_empty() {
        vec![1]
    } else {
        shape.to_vec()
    }
}

impl Value {
    /// Places a host tensor: floats on `device`, integers and booleans on the host.
    pub fn from_host(host: HostTensor, device: &Device) -> Result<Self> {
        let HostTensor { shape, data } = host;
        let scalar = shape.is_empty();
        let shape = shaped(&shape);
        let dtype = data.dtype();
        let host = cpu_device();
        let int = |v: Vec<i64>| -> Result<Typed> {
            let t =
                DynTensor::<Int>::from_data(TensorData::new(v, shape.clone()), &host, DType::I64)?;
            Ok(Typed::Int(t, dtype))
        };
        let t = match data {
            HostData::F32(v) | HostData::F16(v) => Typed::Float(DynTensor::from_data(
                TensorData::new(v, shape.clone()),
                device,
                DType::F32,
            )?),
            HostData::F64(v) => {
                if !is_host(device) {
                    return Err(fp64_on_gpu());
                }
                Typed::Float(DynTensor::from_data(
                    TensorData::new(v, shape.clone()),
                    device,
                    DType::F64,
                )?)
            }
            HostData::Bool(v) => Typed::Bool(DynTensor::<Bool>::from_data(
                TensorData::new(v, shape.clone()),
                &host,
                DType::Bool(burn::tensor::BoolStore::Native),
            )?),
            other => int(other.as_i64().unwrap_or_default())?,
        };
        Ok(Value { t, scalar })
    }

    /// Downloads the value as the declared type `declared`: floats are rounded to FP16 or
    /// kept in f64 as declared, integers narrowed only when every value fits.
    pub fn into_host(self, declared: DataType) -> Result<HostTensor> {
        let shape = self.dims();
        let data = match (self.t, declared) {
            (Typed::Float(t), DataType::Fp64) => {
                HostData::F64(read(t.into_data()?.try_cast(DType::F64))?)
            }
            (Typed::Float(t), DataType::Fp16) => HostData::F16(
                read::<f32>(t.into_data()?.try_cast(DType::F32))?
                    .into_iter()
                    .map(|x| half::f16::from_f32(x).to_f32())
                    .collect(),
            ),
            (Typed::Float(t), DataType::Fp32) => {
                HostData::F32(read(t.into_data()?.try_cast(DType::F32))?)
            }
            (Typed::Int(t, _), ty) if ty.is_int() => {
                let v: Vec<i64> = read(t.into_data()?.try_cast(DType::I64))?;
                narrow(v, ty)?
            }
            (Typed::Bool(t), DataType::Bool) => {
                let t = map_tensor!(t, x => x.int());
                let v: Vec<i64> = read(t.into_data()?.try_cast(DType::I64))?;
                HostData::Bool(v.into_iter().map(|x| x != 0).collect())
            }
            (t, ty) => {
                return Err(ModelError::graph(format!(
                    "a {} value cannot be returned as {ty}",
                    t.kind()
                )));
            }
        };
        Ok(HostTensor { shape, data })
    }

    /// The ONNX shape (`[]` for a scalar).
    pub fn dims(&self) -> Vec<usize> {
        if self.scalar {
            Vec::new()
        } else {
            self.t.dims()
        }
    }

    pub fn rank(&self) -> usize {
        self.dims().len()
    }

    pub fn device(&self) -> Device {
        self.t.device()
    }

    pub fn dtype(&self) -> DataType {
        self.t.dtype()
    }

    /// Bytes the value holds on its device: its elements times the size of the element type
    /// Burn stores them in (i64 on the host, i32 on the GPU, for integers).
    pub fn bytes(&self) -> usize {
        let size = match &self.t {
            Typed::Float(t) => t.dtype().size(),
            Typed::Int(t, _) => t.dtype().size(),
            Typed::Bool(t) => t.dtype().size(),
        };
        let elements = crate::weights::element_count(&self.t.dims()).unwrap_or(usize::MAX);
        elements.saturating_mul(size)
    }

    /// The float tensor, or an error naming what it is instead.
    pub fn float(self) -> std::result::Result<DynTensor, String> {
        match self.t {
            Typed::Float(t) => Ok(t),
            other => Err(format!("expected a float tensor, got {}", other.dtype())),
        }
    }

    /// A float result that is a scalar when `scalar` says so.
    pub fn of_float(t: DynTensor, scalar: bool) -> Self {
        Value {
            t: Typed::Float(t),
            scalar,
        }
    }

    /// Moves the value to `device` (see [`Typed::into_device`]).
    pub fn into_device(self, device: &Device) -> Result<Self> {
        Ok(Value {
            t: self.t.into_device(device)?,
            scalar: self.scalar,
        })
    }
}

impl Typed {
    /// The shape Burn holds (`[1]` for a scalar).
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Typed::Float(t) => t.dims(),
            Typed::Int(t, _) => t.dims(),
            Typed::Bool(t) => t.dims(),
        }
    }

    pub fn device(&self) -> Device {
        match self {
            Typed::Float(t) => t.device(),
            Typed::Int(t, _) => t.device(),
            Typed::Bool(t) => t.device(),
        }
    }

    /// The ONNX element type.
    pub fn dtype(&self) -> DataType {
        match self {
            Typed::Float(t) if t.dtype() == DType::F64 => DataType::Fp64,
            Typed::Float(_) => DataType::Fp32,
            Typed::Int(_, ty) => *ty,
            Typed::Bool(_) => DataType::Bool,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Typed::Float(_) => "float",
            Typed::Int(..) => "integer",
            Typed::Bool(_) => "boolean",
        }
    }

    /// Moves the tensor to `device`; integers bound for a device other than the host are
    /// checked to fit its 32-bit integers.
    pub fn into_device(self, device: &Device) -> Result<Self> {
        if self.device() == *device {
            return Ok(self);
        }
        Ok(match self {
            Typed::Float(t) => {
                if t.dtype() == DType::F64 && !is_host(device) {
                    return Err(fp64_on_gpu());
                }
                Typed::Float(t.into_device(device))
            }
            Typed::Int(t, ty) => {
                let to_gpu = !is_host(device);
                let data = t.into_data()?;
                let dtype = if to_gpu {
                    let v: Vec<i64> = read(data.clone().try_cast(DType::I64))?;
                    if let Some(bad) = v.iter().find(|x| i32::try_from(**x).is_err()) {
                        return Err(ModelError::request(format!(
                            "the integer {bad} does not fit the GPU's 32-bit integers; run \
                             this model on the CPU (device = \"cpu\")"
                        )));
                    }
                    DType::I32
                } else {
                    DType::I64
                };
                let data = data
                    .try_cast(dtype)
                    .map_err(|e| ModelError::graph(e.to_string()))?;
                Typed::Int(DynTensor::<Int>::from_data(data, device, dtype)?, ty)
            }
            // Backends store booleans differently (bytes, 32-bit words): go through integers.
            Typed::Bool(t) => {
                let as_int = Typed::Int(map_tensor!(t, x => x.int()), DataType::Int64);
                match as_int.into_device(device)? {
                    Typed::Int(t, _) => Typed::Bool(map_tensor!(t, x => x.bool())),
                    other => other,
                }
            }
        })
    }
}

/// Moves every value to `device` when they are not all on one device already.
pub fn align(values: Vec<Value>, device: &Device) -> Result<Vec<Value>> {
    let Some(first) = values.first().map(Value::device) else {
        return Ok(values);
    };
    if values.iter().all(|v| v.device() == first) {
        return Ok(values);
    }
    values.into_iter().map(|v| v.into_device(device)).collect()
}

fn fp64_on_gpu() -> ModelError {
    ModelError::Device {
        device: "gpu".into(),
        reason: "this model computes in FP64, which the GPU path cannot (WGSL has no f64); \
                 it runs on the CPU"
            .into(),
    }
}

fn read<E: burn::tensor::Element>(
    data: std::result::Result<TensorData, burn::tensor::DataError>,
) -> Result<Vec<E>> {
    data.and_then(|d| d.try_into_vec::<E>())
        .map_err(|e| ModelError::graph(format!("reading a result failed: {e:?}")))
}

/// i64 values as `ty`, when every one fits.
fn narrow(v: Vec<i64>, ty: DataType) -> Result<HostData> {
    let (lo, hi) = ty.int_range();
    if let Some(bad) = v.iter().find(|x| **x < lo || **x > hi) {
        return Err(ModelError::graph(format!(
            "the value {bad} does not fit the declared output type {ty}"
        )));
    }
    // In range, so the casts below are exact.
    Ok(match ty {
        DataType::Int32 => HostData::I32(v.into_iter().map(|x| x as i32).collect()),
        DataType::Int8 => HostData::I8(v.into_iter().map(|x| x as i8).collect()),
        DataType::Uint8 => HostData::U8(v.into_iter().map(|x| x as u8).collect()),
        _ => HostData::I64(v),
    })
}
