//! Shape-and-indexing ops that read a shape, indices or bounds at run time: Shape, Size,
//! ConstantOfShape, Gather, Expand, Tile, Range and Slice. Shapes, indices and bounds are read
//! to the host as i64 and checked there (an index out of range, a negative dimension or a
//! tensor over the element limit fails the request with an error naming it); the data they
//! index stays where it is.

use burn::tensor::kind::Basic;
use burn::tensor::{Int, Slice, Tensor};

use super::common::{
    Res, any_kind, bool_value, broadcast_shapes, broadcast_to, device_ints, float_value,
    host_floats, host_ints, int_value, int_value_of, reshape_any, resolve_axis, shape_input,
};
use super::{Ctx, ValueResult};
use crate::executor::dyn_tensor::{DynTensor, map_tensor};
use crate::executor::value::{Typed, Value};
use crate::format::{DataType, EMPTY_TENSORS};

/// ONNX's clamping of a `start`/`end` attribute against `rank`.
fn clamp_index(i: i64, rank: usize) -> usize {
    let r = rank as i64;
    let i = if i < 0 { i + r } else { i };
    i.clamp(0, r) as usize
}

pub(super) fn shape_of(x: Value, start: i64, end: Option<i64>) -> ValueResult {
    let dims = x.dims();
    let from = clamp_index(start, dims.len());
    let to = end.map_or(dims.len(), |e| clamp_index(e, dims.len()));
    let part: Vec<i64> = dims[from..to.max(from)].iter().map(|&d| d as i64).collect();
    let n = part.len();
    int_value(part, &[n])
}

pub(super) fn size(x: Value) -> ValueResult {
    let n: usize = x.dims().iter().product();
    int_value(vec![n as i64], &[])
}

pub(super) fn constant_of_shape(
    shape: Value,
    dtype: DataType,
    value: f64,
    ctx: &Ctx,
) -> ValueResult {
    let device = ctx.device;
    let dims = shape_input(&shape, ctx.max_elements)?;
    ctx.check(&dims)?;
    let n: usize = dims.iter().product();
    if dims.contains(&0) {
        return Err(format!(
            "ConstantOfShape of shape {dims:?}: {EMPTY_TENSORS}"
        ));
    }
    if dtype.is_float() {
        float_value(vec![value; n], &dims, dtype, device)
    } else if dtype == DataType::Bool {
        bool_value(vec![value != 0.0; n], &dims)
    } else {
        int_value_of(vec![value as i64; n], &dims, dtype)
    }
}

/// The i64 indices `raw`, made non-negative against `dim`, or an error naming the first one
/// out of range.
fn normalise_indices(raw: &[i64], dim: usize) -> Res<Vec<i64>> {
    let d = dim as i64;
    raw.iter()
        .map(|&i| {
            let j = if i < 0 { i + d } else { i };
            if (0..d).contains(&j) {
                Ok(j)
            } else {
                Err(format!(
                    "index {i} is out of range for a dimension of size {dim}"
                ))
            }
        })
        .collect()
}

/// `Gather(data, indices)` along `axis`: `data.shape[..axis] + indices.shape +
/// data.shape[axis+1..]`.
pub(super) fn gather(data: Value, indices: Value, axis: i64, ctx: &Ctx) -> ValueResult {
    let dims = data.dims();
    if dims.is_empty() {
        return Err("Gather on a scalar".into());
    }
    let axis = resolve_axis(axis, dims.len())?;
    let index_dims = indices.dims();
    let idx = normalise_indices(&host_ints(&indices)?, dims[axis])?;
    let mut out: Vec<usize> = dims[..axis].to_vec();
    out.extend(&index_dims);
    out.extend(&dims[axis + 1..]);
    ctx.check(&out)?;
    if idx.is_empty() {
        return Err(format!("Gather with no indices: {EMPTY_TENSORS}"));
    }
    let device = data.device();
    let select = |t: Typed| -> Res<Typed> {
        fn pick<K: Basic + 'static>(
            t: DynTensor<K>,
            axis: usize,
            idx: Tensor<1, Int>,
            out: &[usize],
        ) -> Res<DynTensor<K>> {
            let t = map_tensor!(t, x => x.select(axis, idx.clone()));
            reshape_any(t, out)
        }
        let n = idx.len();
        let ix = device_ints(idx.clone(), &[n], &device)?
            .into_rank::<1>()
            .map_err(|e| e.to_string())?;
        Ok(any_kind!(t, x => pick(x, axis, ix.clone(), &out)?))
    };
    Ok(Value {
        t: select(data.t)?,
        scalar: out.is_empty(),
    })
}

/// `Expand(x, shape)`: numpy broadcasting of `x` against `shape` (either may be larger).
pub(super) fn expand(x: Value, shape: Value, ctx: &Ctx) -> ValueResult {
    let target = shape_input(&shape, ctx.max_elements)?;
    let out = broadcast_shapes(&[x.dims(), target])?;
    ctx.check(&out)?;
    let t = any_kind!(x.t, t => broadcast_to(t, &out)?);
    Ok(Value {
        t,
        scalar: out.is_empty(),
    })
}

pub(super) fn tile(x: Value, repeats: Value, ctx: &Ctx) -> ValueResult {
    let reps = shape_input(&repeats, usize::MAX)?;
    let dims = x.dims();
    if reps.len() != dims.len() {
        return Err(format!(
            "{} repeats for a rank-{} input",
            reps.len(),
            dims.len()
        ));
    }
    if reps.contains(&0) {
        return Err(format!("Tile with a zero repeat: {EMPTY_TENSORS}"));
    }
    let out: Vec<usize> = dims
        .iter()
        .zip(&reps)
        .map(|(d, r)| d.checked_mul(*r).unwrap_or(usize::MAX))
        .collect();
    ctx.check(&out)?;
    let t = any_kind!(x.t, t => map_tensor!(t, v => v.repeat(&reps)));
    Ok(Value::from(t))
}

/// `Range(start, limit, delta)`: `ceil((limit - start) / delta)` values of the inputs' type.
pub(super) fn range(start: Value, rest: Vec<Value>, ctx: &Ctx) -> ValueResult {
    let device = ctx.device;
    let [limit, delta] = <[Value; 2]>::try_from(rest).map_err(|_| "Range takes three inputs")?;
    let dtype = start.dtype();
    if dtype.is_float() {
        let (s, l, d) = (
            first(host_floats(&start)?)?,
            first(host_floats(&limit)?)?,
            first(host_floats(&delta)?)?,
        );
        if d == 0.0 {
            return Err("Range with delta 0".into());
        }
        let n = ((l - s) / d).ceil().max(0.0) as usize;
        ctx.check(&[n])?;
        if n == 0 {
            return Err(format!("Range with no values: {EMPTY_TENSORS}"));
        }
        let values: Vec<f64> = (0..n).map(|i| s + i as f64 * d).collect();
        float_value(values, &[n], dtype, device)
    } else {
        let (s, l, d) = (
            first(host_ints(&start)?)?,
            first(host_ints(&limit)?)?,
            first(host_ints(&delta)?)?,
        );
        if d == 0 {
            return Err("Range with delta 0".into());
        }
        let span = i128::from(l) - i128::from(s);
        let n = (span + i128::from(d) - i128::from(d.signum())) / i128::from(d);
        let n = usize::try_from(n.max(0)).map_err(|_| "Range is too long")?;
        ctx.check(&[n])?;
        if n == 0 {
            return Err(format!("Range with no values: {EMPTY_TENSORS}"));
        }
        let values: Vec<i64> = (0..n as i64).map(|i| s + i * d).collect();
        int_value_of(values, &[n], dtype)
    }
}

fn first<T: Copy>(v: Vec<T>) -> Res<T> {
    v.first()
        .copied()
        .ok_or_else(|| "expected a scalar, got an empty tensor".into())
}

/// `Slice(data, starts, ends, axes?, steps?)` with ONNX's clamping; negative steps walk
/// backwards.
pub(super) fn slice(data: Value, rest: Vec<Value>) -> ValueResult {
    let dims = data.dims();
    let mut rest = rest.into_iter();
    let starts = host_ints(&rest.next().ok_or("Slice needs starts")?)?;
    let ends = host_ints(&rest.next().ok_or("Slice needs ends")?)?;
    let axes = match rest.next() {
        Some(a) => host_ints(&a)?,
        None => (0..starts.len() as i64).collect(),
    };
    let steps = match rest.next() {
        Some(s) => host_ints(&s)?,
        None => vec![1; starts.len()],
    };
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err("Slice's starts, ends, axes and steps differ in length".into());
    }
    let mut slices: Vec<Slice> = dims
        .iter()
        .map(|&d| Slice::new(0, Some(d as isize), 1))
        .collect();
    let mut out = dims.clone();
    let mut seen = Vec::new();
    for i in 0..starts.len() {
        let axis = resolve_axis(axes[i], dims.len())?;
        if seen.contains(&axis) {
            return Err(format!("axis {axis} is repeated"));
        }
        seen.push(axis);
        let d = dims[axis] as i64;
        let step = steps[i];
        if step == 0 {
            return Err("Slice with step 0".into());
        }
        let norm = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
        let (s, e) = (norm(starts[i]), norm(ends[i]));
        let (first, last_excl, count) = if step > 0 {
            let s = s.clamp(0, d);
            let e = e.clamp(0, d);
            let n = if e > s { (e - s + step - 1) / step } else { 0 };
            (s, s + (n - 1).max(0) * step + 1, n)
        } else {
            let s = s.clamp(-1, d - 1);
            let e = e.clamp(-1, d - 1);
            let n = if s > e {
                (s - e + (-step) - 1) / (-step)
            } else {
                0
            };
            // Burn's negative steps walk [lo, hi) backwards from hi - 1.
            let lo = s + (n - 1).max(0) * step;
            (lo, s + 1, n)
        };
        if count == 0 {
            return Err(format!("Slice with an empty result: {EMPTY_TENSORS}"));
        }
        slices[axis] = Slice::new(first as isize, Some(last_excl as isize), step as isize);
        out[axis] = count as usize;
    }
    if dims.is_empty() {
        return Err("Slice of a scalar".into());
    }
    let t = any_kind!(data.t, t => map_tensor!(t, x => x.slice(slices.as_slice())));
    let v = Value::from(t);
    if v.dims() != out {
        return Err(format!("Slice produced {:?}, expected {out:?}", v.dims()));
    }
    Ok(v)
}

/// ArgMax (`max`) or ArgMin along `axis`, as INT64 on the input's device.
pub(super) fn arg_extreme(
    x: Value,
    max: bool,
    axis: i64,
    keepdims: bool,
    last: bool,
) -> ValueResult {
    let dims = x.dims();
    if dims.is_empty() {
        return Err("ArgMax/ArgMin of a scalar".into());
    }
    let axis = resolve_axis(axis, dims.len())?;
    let n = dims[axis] as i64;
    fn pick<K: burn::tensor::kind::Ordered + 'static>(
        t: DynTensor<K>,
        max: bool,
        axis: usize,
        last: bool,
        n: i64,
    ) -> DynTensor<Int> {
        // The last index of ties: search the reversed axis, then map back.
        if last {
            let found = map_tensor!(t, v => {
                let r = v.flip([axis]);
                if max { r.argmax(axis) } else { r.argmin(axis) }
            });
            map_tensor!(found, i => i.neg().add_scalar(n - 1))
        } else {
            map_tensor!(t, v => if max { v.argmax(axis) } else { v.argmin(axis) })
        }
    }
    let t = match x.t {
        Typed::Float(t) => pick(t, max, axis, last, n),
        Typed::Int(t, _) => pick(t, max, axis, last, n),
        Typed::Bool(_) => return Err("ArgMax/ArgMin of booleans is not supported".into()),
    };
    let mut out = dims.clone();
    if keepdims {
        out[axis] = 1;
    } else {
        out.remove(axis);
    }
    reshape_int(t, &out)
}

fn reshape_int(t: DynTensor<Int>, dims: &[usize]) -> ValueResult {
    Ok(Value {
        t: Typed::Int(reshape_any(t, dims)?, DataType::Int64),
        scalar: dims.is_empty(),
    })
}

/// CumSum along the axis given by `axis` (a one-element integer tensor).
pub(super) fn cumsum(x: Value, axis: Value, exclusive: bool, reverse: bool) -> ValueResult {
    let dims = x.dims();
    let axis = match host_ints(&axis)?.as_slice() {
        [a] => resolve_axis(*a, dims.len().max(1))?,
        other => return Err(format!("CumSum's axis must be one value, got {other:?}")),
    };
    fn run<K: burn::tensor::kind::Numeric + 'static>(
        t: DynTensor<K>,
        axis: usize,
        exclusive: bool,
        reverse: bool,
    ) -> DynTensor<K> {
        map_tensor!(t, v => {
            let v = if reverse { v.flip([axis]) } else { v };
            let sums = v.clone().cumsum(axis);
            let sums = if exclusive { sums.sub(v) } else { sums };
            if reverse { sums.flip([axis]) } else { sums }
        })
    }
    let t = match x.t {
        Typed::Float(t) => Typed::Float(run(t, axis, exclusive, reverse)),
        Typed::Int(t, ty) => Typed::Int(run(t, axis, exclusive, reverse), ty),
        Typed::Bool(_) => return Err("CumSum of booleans is not supported".into()),
    };
    Ok(Value {
        t,
        scalar: x.scalar,
    })
}

/// Trilu: keeps the upper (or lower) triangle of the last two dimensions from diagonal `k`.
pub(super) fn trilu(x: Value, rest: Vec<Value>, upper: bool) -> ValueResult {
    if x.rank() < 2 {
        return Err(format!(
            "Trilu needs rank 2 or more, got shape {:?}",
            x.dims()
        ));
    }
    let k = match rest.first() {
        None => 0,
        Some(v) => match host_ints(v)?.as_slice() {
            [k] => *k,
            other => return Err(format!("Trilu's k must be one value, got {other:?}")),
        },
    };
    fn tri<K: burn::tensor::kind::Numeric + 'static>(
        t: DynTensor<K>,
        upper: bool,
        k: i64,
    ) -> Res<DynTensor<K>> {
        Ok(match t {
            DynTensor::R1(_) => return Err("Trilu needs rank 2 or more".into()),
            DynTensor::R2(v) => DynTensor::R2(if upper { v.triu(k) } else { v.tril(k) }),
            DynTensor::R3(v) => DynTensor::R3(if upper { v.triu(k) } else { v.tril(k) }),
            DynTensor::R4(v) => DynTensor::R4(if upper { v.triu(k) } else { v.tril(k) }),
            DynTensor::R5(v) => DynTensor::R5(if upper { v.triu(k) } else { v.tril(k) }),
            DynTensor::R6(v) => DynTensor::R6(if upper { v.triu(k) } else { v.tril(k) }),
        })
    }
    let t = match x.t {
        Typed::Float(t) => Typed::Float(tri(t, upper, k)?),
        Typed::Int(t, ty) => Typed::Int(tri(t, upper, k)?, ty),
        Typed::Bool(t) => {
            let i = tri(map_tensor!(t, v => v.int()), upper, k)?;
            Typed::Bool(map_tensor!(i, v => v.bool()))
        }
    };
    Ok(Value::from(t))
}

/// GatherElements: `out[i][j] = data[index[i][j]][j]` (axis 0), indices checked on the host.
pub(super) fn gather_elements(data: Value, indices: Value, axis: i64) -> ValueResult {
    let dims = data.dims();
    let index_dims = indices.dims();
    if dims.is_empty() || index_dims.len() != dims.len() {
        return Err(format!(
            "GatherElements needs indices of the data's rank: {dims:?} and {index_dims:?}"
        ));
    }
    let axis = resolve_axis(axis, dims.len())?;
    if let Some(i) = (0..dims.len()).find(|&i| i != axis && index_dims[i] > dims[i]) {
        return Err(format!(
            "indices {index_dims:?} exceed the data {dims:?} on axis {i}"
        ));
    }
    let idx = normalise_indices(&host_ints(&indices)?, dims[axis])?;
    let ix = device_ints(idx, &index_dims, &data.device())?;
    macro_rules! take {
        ($d:expr) => {
            match ($d, ix) {
                (DynTensor::R1(d), DynTensor::R1(i)) => DynTensor::R1(d.gather(axis, i)),
                (DynTensor::R2(d), DynTensor::R2(i)) => DynTensor::R2(d.gather(axis, i)),
                (DynTensor::R3(d), DynTensor::R3(i)) => DynTensor::R3(d.gather(axis, i)),
                (DynTensor::R4(d), DynTensor::R4(i)) => DynTensor::R4(d.gather(axis, i)),
                (DynTensor::R5(d), DynTensor::R5(i)) => DynTensor::R5(d.gather(axis, i)),
                (DynTensor::R6(d), DynTensor::R6(i)) => DynTensor::R6(d.gather(axis, i)),
                _ => return Err("ranks differ".into()),
            }
        };
    }
    let t = match data.t {
        Typed::Float(d) => Typed::Float(take!(d)),
        Typed::Int(d, ty) => Typed::Int(take!(d), ty),
        Typed::Bool(d) => Typed::Bool(take!(d)),
    };
    Ok(Value::from(t))
}
