//! Shape arithmetic every op family shares: ONNX axis resolution, numpy broadcasting, and a
//! reshape whose error is the op's. Kept apart so that the families import only from here,
//! never from each other.

use burn::tensor::kind::Basic;
use burn::tensor::{DType, Device, Int, TensorData};

use super::OpResult;
use crate::executor::dyn_tensor::{DynTensor, arr, map_tensor};
use crate::executor::value::{Typed, Value};
use crate::format::DataType;

pub(super) type Res<T> = std::result::Result<T, String>;

/// Runs a kind-generic `$body` (returning `DynTensor<K>` of the same kind) on a value's tensor
/// and re-wraps the result, keeping its element type.
macro_rules! any_kind {
    ($v:expr, $t:ident => $body:expr) => {
        match $v {
            $crate::executor::value::Typed::Float($t) => {
                $crate::executor::value::Typed::Float($body)
            }
            $crate::executor::value::Typed::Int($t, ty) => {
                $crate::executor::value::Typed::Int($body, ty)
            }
            $crate::executor::value::Typed::Bool($t) => $crate::executor::value::Typed::Bool($body),
        }
    };
}
pub(super) use any_kind;

/// A permutation as the `[isize; N]` Burn's `permute` takes.
pub(super) fn arr_i<const N: usize>(perm: &[usize]) -> [isize; N] {
    let mut out = [0isize; N];
    for (o, p) in out.iter_mut().zip(perm) {
        *o = *p as isize;
    }
    out
}

pub(super) fn reshape(t: DynTensor, dims: &[usize]) -> OpResult {
    t.reshape(dims).map_err(|e| e.to_string())
}

/// Reshapes any kind; `[]` (a scalar) becomes `[1]`.
pub(super) fn reshape_any<K: Basic + 'static>(
    t: DynTensor<K>,
    dims: &[usize],
) -> Res<DynTensor<K>> {
    let dims: &[usize] = if dims.is_empty() { &[1] } else { dims };
    t.reshape(dims).map_err(|e| e.to_string())
}

/// Reshapes a value of any kind to the ONNX shape `dims` (`[]` makes a scalar).
pub(super) fn reshape_value(v: Value, dims: &[usize]) -> Res<Value> {
    let t = match v.t {
        Typed::Float(t) => Typed::Float(reshape_any(t, dims)?),
        Typed::Int(t, ty) => Typed::Int(reshape_any(t, dims)?, ty),
        Typed::Bool(t) => Typed::Bool(reshape_any(t, dims)?),
    };
    Ok(Value {
        t,
        scalar: dims.is_empty(),
    })
}

/// The values of an integer (or boolean) input, read to the host: shapes, axes, indices.
pub(super) fn host_ints(v: &Value) -> Res<Vec<i64>> {
    let data = match &v.t {
        Typed::Int(t, _) => t.clone().into_data(),
        Typed::Bool(t) => map_tensor!(t.clone(), x => x.int()).into_data(),
        Typed::Float(_) => {
            return Err(format!(
                "expected an integer input (shape, axes or indices), got {}",
                v.dtype()
            ));
        }
    }
    .map_err(|e| e.to_string())?;
    data.try_cast(DType::I64)
        .and_then(|d| d.try_into_vec::<i64>())
        .map_err(|e| format!("reading integers: {e:?}"))
}

/// The values of a float input, read to the host as f64.
pub(super) fn host_floats(v: &Value) -> Res<Vec<f64>> {
    let data = match &v.t {
        Typed::Float(t) => t.clone().into_data(),
        _ => return host_ints(v).map(|v| v.into_iter().map(|x| x as f64).collect()),
    }
    .map_err(|e| e.to_string())?;
    data.try_cast(DType::F64)
        .and_then(|d| d.try_into_vec::<f64>())
        .map_err(|e| format!("reading numbers: {e:?}"))
}

/// A shape given as a tensor, checked: non-negative dims and at most `limit` elements.
pub(super) fn shape_input(v: &Value, limit: usize) -> Res<Vec<usize>> {
    let dims = host_ints(v)?;
    let dims: Vec<usize> = dims
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| format!("negative dimension {d} in shape {dims:?}"))
        })
        .collect::<Res<_>>()?;
    check_elements(&dims, limit)?;
    Ok(dims)
}

/// Refuses a shape of more than `limit` elements (the load option, 2^28 by default), or of
/// more than six dimensions, before anything is allocated.
pub(super) fn check_elements(dims: &[usize], limit: usize) -> Res<()> {
    if dims.len() > crate::format::MAX_RANK {
        return Err(format!(
            "shape {dims:?} has more than {} dimensions",
            crate::format::MAX_RANK
        ));
    }
    match crate::weights::element_count(dims) {
        Some(n) if n <= limit => Ok(()),
        _ => Err(format!(
            "shape {dims:?} is over the limit of {limit} elements per tensor"
        )),
    }
}

/// An integer tensor of shape `dims` on `device`, in that device's integer type (i64 on the
/// host, i32 on the GPU). The caller has checked the values against a dimension size, so
/// they fit i32.
pub(super) fn device_ints(
    values: Vec<i64>,
    dims: &[usize],
    device: &Device,
) -> Res<DynTensor<Int>> {
    let (data, dtype) = if crate::executor::device::is_host(device) {
        (TensorData::new(values, dims.to_vec()), DType::I64)
    } else {
        let narrow: Vec<i32> = values.into_iter().map(|i| i as i32).collect();
        (TensorData::new(narrow, dims.to_vec()), DType::I32)
    };
    DynTensor::<Int>::from_data(data, device, dtype).map_err(|e| e.to_string())
}

/// A new INT64 value on the host.
pub(super) fn int_value(values: Vec<i64>, dims: &[usize]) -> Res<Value> {
    let shape = if dims.is_empty() {
        vec![1]
    } else {
        dims.to_vec()
    };
    let t = DynTensor::<Int>::from_data(
        TensorData::new(values, shape),
        &crate::executor::device::cpu_device(),
        DType::I64,
    )
    .map_err(|e| e.to_string())?;
    Ok(Value {
        t: Typed::Int(t, DataType::Int64),
        scalar: dims.is_empty(),
    })
}

/// A new integer value of the ONNX type `dtype` on the host (held as i64).
pub(super) fn int_value_of(values: Vec<i64>, dims: &[usize], dtype: DataType) -> Res<Value> {
    let mut v = int_value(values, dims)?;
    if let Typed::Int(_, ty) = &mut v.t {
        *ty = dtype;
    }
    Ok(v)
}

/// A new boolean value on the host.
pub(super) fn bool_value(values: Vec<bool>, dims: &[usize]) -> Res<Value> {
    let v = int_value(values.into_iter().map(i64::from).collect(), dims)?;
    let scalar = v.scalar;
    Ok(match v.t {
        Typed::Int(t, _) => Value {
            t: Typed::Bool(map_tensor!(t, x => x.bool())),
            scalar,
        },
        other => Value { t: other, scalar },
    })
}

/// A new float value on `device`, in f64 when `dtype` is FP64.
pub(super) fn float_value(
    values: Vec<f64>,
    dims: &[usize],
    dtype: DataType,
    device: &Device,
) -> Res<Value> {
    let shape = if dims.is_empty() {
        vec![1]
    } else {
        dims.to_vec()
    };
    let (data, dt) = if dtype == DataType::Fp64 {
        (TensorData::new(values, shape), DType::F64)
    } else {
        (
            TensorData::new(
                values.into_iter().map(|x| x as f32).collect::<Vec<f32>>(),
                shape,
            ),
            DType::F32,
        )
    };
    let t = DynTensor::from_data(data, device, dt).map_err(|e| e.to_string())?;
    Ok(Value {
        t: Typed::Float(t),
        scalar: dims.is_empty(),
    })
}

pub(super) fn resolve_axis(axis: i64, rank: usize) -> std::result::Result<usize, String> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(format!("axis {axis} is out of range for rank {rank}"))
    }
}

pub(super) fn resolve_axes(axes: &[i64], rank: usize) -> std::result::Result<Vec<usize>, String> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let a = resolve_axis(a, rank)?;
        if out.contains(&a) {
            return Err(format!("axis {a} is repeated"));
        }
        out.push(a);
    }
    Ok(out)
}

/// Numpy-style broadcast of two shapes of equal rank.
pub(super) fn broadcast_shape(a: &[usize], b: &[usize]) -> std::result::Result<Vec<usize>, String> {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| match (x, y) {
            _ if x == y => Ok(x),
            (1, _) => Ok(y),
            (_, 1) => Ok(x),
            _ => Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        })
        .collect()
}

/// Broadcasts `t` to `dims` (same rank; size-1 dimensions stretch).
pub(super) fn expand<K: Basic + 'static>(t: DynTensor<K>, dims: &[usize]) -> Res<DynTensor<K>> {
    if t.dims() == dims {
        return Ok(t);
    }
    Ok(map_tensor!(t, x => x.expand(arr(dims))))
}

/// Numpy broadcasting of shapes of any ranks.
pub(super) fn broadcast_shapes(shapes: &[Vec<usize>]) -> Res<Vec<usize>> {
    let rank = shapes.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = vec![1; rank];
    for s in shapes {
        let padded: Vec<usize> = std::iter::repeat_n(1, rank - s.len())
            .chain(s.iter().copied())
            .collect();
        out = broadcast_shape(&out, &padded)?;
    }
    Ok(out)
}

/// `t` (of ONNX shape `from`) broadcast to `to`, which has at least its rank.
pub(super) fn broadcast_to<K: Basic + 'static>(t: DynTensor<K>, to: &[usize]) -> Res<DynTensor<K>> {
    let to: &[usize] = if to.is_empty() { &[1] } else { to };
    let t = t.unsqueeze_to(to.len()).map_err(|e| e.to_string())?;
    expand(t, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rejects_incompatible_shapes() {
        assert!(broadcast_shape(&[2, 3], &[3, 3]).is_err());
        assert_eq!(broadcast_shape(&[2, 1], &[1, 3]), Ok(vec![2, 3]));
    }
}
