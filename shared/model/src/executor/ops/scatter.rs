//! Index-tuple gathers and scatters: GatherND, ScatterND and ScatterElements. They run on the
//! host (see `host`): each index tuple is checked against the data's dimensions before any
//! element moves, so an index out of range fails the request naming it, and a scatter never
//! writes outside its copy of the data.

use super::common::{Res, host_ints};
use super::host::{Combine, Elems, HostValue, checked_index, strides};
use super::{Ctx, ValueResult};
use crate::executor::value::Value;
use crate::format::{EMPTY_TENSORS, ScatterReduction};

/// The flat offsets (in elements of `dims[..k]`'s slices, times `slice`) of each index tuple
/// in `indices` (`k` values per tuple), checked against `dims`.
fn tuple_offsets(indices: &[i64], k: usize, dims: &[usize], slice: usize) -> Res<Vec<usize>> {
    let st = strides(&dims[..k]);
    indices
        .chunks(k.max(1))
        .map(|tuple| {
            if k == 0 {
                return Ok(0);
            }
            let mut offset = 0;
            for (j, &i) in tuple.iter().enumerate() {
                offset += checked_index(i, dims[j])? * st[j];
            }
            Ok(offset * slice)
        })
        .collect()
}

/// `GatherND(data, indices, batch_dims)`: output shape `indices.shape[..-1] +
/// data.shape[batch_dims + k..]`, where `k = indices.shape[-1]`.
pub(super) fn gather_nd(data: Value, indices: Value, b: usize, ctx: &Ctx) -> ValueResult {
    let d = data.dims();
    let i = indices.dims();
    let q = i.len();
    if q == 0 || d.is_empty() {
        return Err("GatherND needs data and indices of rank 1 or more".into());
    }
    let k = i[q - 1];
    if b >= q || b >= d.len() || k > d.len() - b || d[..b] != i[..b] {
        return Err(format!(
            "GatherND with batch_dims {b} cannot index data {d:?} with indices {i:?}"
        ));
    }
    let mut out: Vec<usize> = i[..q - 1].to_vec();
    out.extend(&d[b + k..]);
    ctx.check(&out)?;
    if out.contains(&0) || k == 0 && d[b..].contains(&0) {
        return Err(format!("GatherND with an empty result: {EMPTY_TENSORS}"));
    }
    let slice: usize = d[b + k..].iter().product();
    let batch: usize = d[..b].iter().product();
    let batch_stride: usize = d[b..].iter().product();
    let idx = host_ints(&indices)?;
    let offsets = tuple_offsets(&idx, k, &d[b..], slice)?;
    let per_batch = offsets.len() / batch.max(1);
    let host = HostValue::read(&data)?;
    fn take<T: Copy>(
        v: &[T],
        offsets: &[usize],
        per_batch: usize,
        batch_stride: usize,
        slice: usize,
    ) -> Vec<T> {
        let mut out = Vec::with_capacity(offsets.len() * slice);
        for (n, &off) in offsets.iter().enumerate() {
            let base = (n / per_batch.max(1)) * batch_stride + off;
            out.extend_from_slice(&v[base..base + slice]);
        }
        out
    }
    let elems = super::host::map_elems!(&host.elems, v => take(v, &offsets, per_batch, batch_stride, slice));
    let scalar = out.is_empty();
    let mut v = host.with(out, elems).write()?;
    v.scalar = scalar;
    Ok(v)
}

fn combine<T: Combine>(old: T, new: T, r: ScatterReduction) -> T {
    match r {
        ScatterReduction::None => new,
        ScatterReduction::Add => old.add(new),
        ScatterReduction::Mul => old.mul(new),
        ScatterReduction::Max => {
            if new > old {
                new
            } else {
                old
            }
        }
        ScatterReduction::Min => {
            if new < old {
                new
            } else {
                old
            }
        }
    }
}

/// Applies `updates[n]` at `targets[n]` of `out`.
fn scatter_into<T: Combine>(out: &mut [T], targets: &[usize], updates: &[T], r: ScatterReduction) {
    for (&t, &u) in targets.iter().zip(updates) {
        out[t] = combine(out[t], u, r);
    }
}

/// Scatters `updates` into a copy of `data` at the flat positions `targets` (one per update).
fn scatter(data: &Value, updates: &Value, targets: &[usize], r: ScatterReduction) -> ValueResult {
    let host = HostValue::read(data)?;
    let upd = HostValue::read(updates)?;
    if targets.len() != upd.elems.len() {
        return Err("indices and updates do not line up".into());
    }
    let elems = match (host.elems.clone(), upd.elems) {
        (Elems::Float(mut v), Elems::Float(u)) => {
            scatter_into(&mut v, targets, &u, r);
            Elems::Float(v)
        }
        (Elems::Int(mut v), Elems::Int(u)) => {
            scatter_into(&mut v, targets, &u, r);
            Elems::Int(v)
        }
        (Elems::Bool(mut v), Elems::Bool(u)) => {
            scatter_into(&mut v, targets, &u, r);
            Elems::Bool(v)
        }
        _ => return Err("data and updates have different element types".into()),
    };
    let mut v = host.with(data.dims(), elems).write()?;
    v.scalar = data.scalar;
    Ok(v)
}

/// `ScatterND(data, indices, updates)`: `updates.shape` must be `indices.shape[..-1] +
/// data.shape[k..]`.
pub(super) fn scatter_nd(data: Value, rest: Vec<Value>, r: ScatterReduction) -> ValueResult {
    let [indices, updates] =
        <[Value; 2]>::try_from(rest).map_err(|_| "ScatterND takes three inputs")?;
    let d = data.dims();
    let i = indices.dims();
    let q = i.len();
    let k = i.last().copied().unwrap_or(0);
    let mut expected: Vec<usize> = i[..q.saturating_sub(1)].to_vec();
    expected.extend(d.get(k..).unwrap_or(&[]));
    if q == 0 || d.is_empty() || k > d.len() || updates.dims() != expected {
        return Err(format!(
            "ScatterND of updates {:?} into data {d:?} at indices {i:?} (updates must be {expected:?})",
            updates.dims()
        ));
    }
    let slice: usize = d[k..].iter().product();
    let offsets = tuple_offsets(&host_ints(&indices)?, k, &d, slice)?;
    let targets: Vec<usize> = offsets.iter().flat_map(|&o| o..o + slice).collect();
    scatter(&data, &updates, &targets, r)
}

/// `ScatterElements(data, indices, updates)` along `axis`: `out[.., indices[p], ..] =
/// updates[p]` with the index replacing position `p`'s coordinate on `axis`.
pub(super) fn scatter_elements(
    data: Value,
    rest: Vec<Value>,
    axis: i64,
    r: ScatterReduction,
) -> ValueResult {
    let [indices, updates] =
        <[Value; 2]>::try_from(rest).map_err(|_| "ScatterElements takes three inputs")?;
    let d = data.dims();
    let i = indices.dims();
    if d.is_empty() || i.len() != d.len() || updates.dims() != i {
        return Err(format!(
            "ScatterElements needs indices and updates of one shape and the data's rank: data \
             {d:?}, indices {i:?}, updates {:?}",
            updates.dims()
        ));
    }
    let axis = super::common::resolve_axis(axis, d.len())?;
    if let Some(a) = (0..d.len()).find(|&a| a != axis && i[a] > d[a]) {
        return Err(format!("indices {i:?} exceed the data {d:?} on axis {a}"));
    }
    let idx = host_ints(&indices)?;
    let index_strides = strides(&i);
    let data_strides = strides(&d);
    let targets = idx
        .iter()
        .enumerate()
        .map(|(flat, &ix)| {
            let mut target = 0;
            for a in 0..d.len() {
                let coord = (flat / index_strides[a]) % i[a];
                let coord = if a == axis {
                    checked_index(ix, d[axis])?
                } else {
                    coord
                };
                target += coord * data_strides[a];
            }
            Ok(target)
        })
        .collect::<Res<Vec<usize>>>()?;
    scatter(&data, &updates, &targets, r)
}
