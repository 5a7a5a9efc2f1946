//! TopK and OneHot: positions from values, values from positions. They run on the host (see
//! `host`), where TopK's tie rule (equal values keep their index order, as ONNX asks) and
//! OneHot's out-of-range rule (a row of the off value) are plain to read and test.

use super::common::{Res, host_floats, host_ints, resolve_axis};
use super::host::{Elems, HostValue, map_elems};
use super::{Ctx, ValueResult};
use crate::executor::value::Value;
use crate::format::EMPTY_TENSORS;

/// `TopK(x, k)` along `axis`: the values and their INT64 indices. With `largest` the biggest
/// come first, otherwise the smallest; equal values keep index order. Results are always
/// sorted (ONNX leaves the order free when `sorted` is 0).
pub(super) fn top_k(
    x: Value,
    rest: Vec<Value>,
    axis: i64,
    largest: bool,
    _sorted: bool,
) -> Res<Vec<Value>> {
    let dims = x.dims();
    if dims.is_empty() {
        return Err("TopK of a scalar".into());
    }
    let axis = resolve_axis(axis, dims.len())?;
    let k = match host_ints(rest.first().ok_or("TopK needs k")?)?.as_slice() {
        [k] => *k,
        other => return Err(format!("TopK's k must be one value, got {other:?}")),
    };
    let n = dims[axis];
    let k = usize::try_from(k)
        .ok()
        .filter(|&k| k <= n)
        .ok_or_else(|| format!("k = {k} is outside 0..={n} for axis {axis} of {dims:?}"))?;
    if k == 0 {
        return Err(format!("TopK with k = 0: {EMPTY_TENSORS}"));
    }
    let inner: usize = dims[axis + 1..].iter().product();
    let outer: usize = dims[..axis].iter().product();
    let host = HostValue::read(&x)?;
    // For each line along the axis, the positions of its k first elements in order.
    fn order<T: Copy>(
        v: &[T],
        outer: usize,
        n: usize,
        inner: usize,
        k: usize,
        cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
    ) -> Vec<usize> {
        let mut line: Vec<usize> = Vec::with_capacity(n);
        let mut out = vec![0; outer * k * inner];
        for o in 0..outer {
            for i in 0..inner {
                line.clear();
                line.extend(0..n);
                let at = |j: usize| &v[(o * n + j) * inner + i];
                // A stable sort keeps equal values in index order.
                line.sort_by(|&a, &b| cmp(at(a), at(b)));
                for (r, &j) in line.iter().take(k).enumerate() {
                    out[(o * k + r) * inner + i] = j;
                }
            }
        }
        out
    }
    let dir = |o: std::cmp::Ordering| if largest { o.reverse() } else { o };
    let picks = match &host.elems {
        Elems::Float(v) => order(v, outer, n, inner, k, |a, b| dir(a.total_cmp(b))),
        Elems::Int(v) => order(v, outer, n, inner, k, |a, b| dir(a.cmp(b))),
        Elems::Bool(_) => return Err("TopK of booleans is not supported".into()),
    };
    let position = |flat: usize, j: usize| {
        let (o, i) = (flat / (k * inner), flat % inner);
        (o * n + j) * inner + i
    };
    let values = map_elems!(&host.elems, v => picks
        .iter()
        .enumerate()
        .map(|(flat, &j)| v[position(flat, j)])
        .collect());
    let mut out = dims.clone();
    out[axis] = k;
    let indices = super::common::int_value(picks.iter().map(|&j| j as i64).collect(), &out)?;
    Ok(vec![host.with(out, values).write()?, indices])
}

/// `OneHot(indices, depth, values)`: a new axis of size `depth` at `axis`.
pub(super) fn one_hot(indices: Value, rest: Vec<Value>, axis: i64, ctx: &Ctx) -> ValueResult {
    let [depth, values] = <[Value; 2]>::try_from(rest).map_err(|_| "OneHot takes three inputs")?;
    let depth = match host_floats(&depth)?.as_slice() {
        [d] if d.is_finite() && *d >= 1.0 => *d as usize,
        other => {
            return Err(format!(
                "OneHot's depth must be one number of 1 or more, got {other:?}"
            ));
        }
    };
    let dims = indices.dims();
    let rank = dims.len() + 1;
    let axis = resolve_axis(axis, rank)?;
    let mut out = dims.clone();
    out.insert(axis, depth);
    ctx.check(&out)?;
    let host = HostValue::read(&values)?;
    let idx: Vec<i64> = host_floats(&indices)?
        .into_iter()
        .map(|x| x as i64)
        .collect();
    let inner: usize = dims[axis..].iter().product();
    let hot = |flat: usize| -> bool {
        // `flat` is a position of the output: which index it reads, and which class it is.
        let (o, rem) = (flat / (depth * inner), flat % (depth * inner));
        let (class, i) = (rem / inner, rem % inner);
        let raw = idx[o * inner + i];
        let d = depth as i64;
        let norm = if raw < 0 { raw + d } else { raw };
        (0..d).contains(&norm) && norm as usize == class
    };
    let total: usize = out.iter().product();
    fn fill<T: Copy>(pair: &[T], total: usize, hot: impl Fn(usize) -> bool) -> Res<Vec<T>> {
        let [off, on] =
            <[T; 2]>::try_from(pair).map_err(|_| "OneHot's values must be [off, on]")?;
        Ok((0..total).map(|f| if hot(f) { on } else { off }).collect())
    }
    let elems = match &host.elems {
        Elems::Float(p) => Elems::Float(fill(p, total, hot)?),
        Elems::Int(p) => Elems::Int(fill(p, total, hot)?),
        Elems::Bool(p) => Elems::Bool(fill(p, total, hot)?),
    };
    host.with(out, elems).write()
}
