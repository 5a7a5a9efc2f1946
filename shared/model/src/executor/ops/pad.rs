//! Pad, with its pads known at import (`Op::Pad`) or read at run time (`Op::PadDynamic`: the
//! pads, the fill value and the axes as inputs, as ONNX has them since opset 11 and 18), on
//! values of any element type. Negative pads crop, as ONNX says; reflect padding must be
//! smaller than the dimension it mirrors, and both are checked before Burn sees them (it
//! asserts).

use burn::tensor::Slice;
use burn::tensor::ops::PadMode as BurnPadMode;

use super::common::{Res, any_kind, host_floats, host_ints, resolve_axes};
use super::{Ctx, ValueResult};
use crate::executor::dyn_tensor::map_tensor;
use crate::executor::value::{Typed, Value};
use crate::format::{EMPTY_TENSORS, PadMode};

/// `Op::Pad`: `pads` has all beginnings, then all ends (ONNX order).
pub(super) fn pad_static(
    x: Value,
    pads: &[usize],
    mode: PadMode,
    value: f32,
    ctx: &Ctx,
) -> ValueResult {
    let pads: Vec<i64> = pads.iter().map(|&p| p as i64).collect();
    let rank = x.rank();
    if pads.len() != 2 * rank {
        return Err(format!("{} pads for a rank-{rank} input", pads.len()));
    }
    pad(x, &pads[..rank], &pads[rank..], mode, f64::from(value), ctx)
}

/// `Op::PadDynamic`: `Pad(x, pads, value?, axes?)` with the inputs `value` and `axes` present
/// as the flags say.
pub(super) fn pad_dynamic(
    x: Value,
    rest: Vec<Value>,
    mode: PadMode,
    has_value: bool,
    has_axes: bool,
    ctx: &Ctx,
) -> ValueResult {
    let mut rest = rest.into_iter();
    let pads = host_ints(&rest.next().ok_or("Pad needs its pads")?)?;
    let value = if has_value {
        let v = host_floats(&rest.next().ok_or("Pad's value input is missing")?)?;
        match v.as_slice() {
            [] => 0.0,
            [v] => *v,
            other => return Err(format!("Pad's value must be one number, got {other:?}")),
        }
    } else {
        0.0
    };
    let rank = x.rank();
    let axes: Vec<usize> = if has_axes {
        let axes = host_ints(&rest.next().ok_or("Pad's axes input is missing")?)?;
        resolve_axes(&axes, rank)?
    } else {
        (0..rank).collect()
    };
    if pads.len() != 2 * axes.len() {
        return Err(format!(
            "{} pads for {} axes (two per axis)",
            pads.len(),
            axes.len()
        ));
    }
    let mut begins = vec![0; rank];
    let mut ends = vec![0; rank];
    for (i, &axis) in axes.iter().enumerate() {
        begins[axis] = pads[i];
        ends[axis] = pads[i + axes.len()];
    }
    pad(x, &begins, &ends, mode, value, ctx)
}

/// Crops where a pad is negative, then pads where it is positive.
fn pad(
    x: Value,
    begins: &[i64],
    ends: &[i64],
    mode: PadMode,
    value: f64,
    ctx: &Ctx,
) -> ValueResult {
    let dims = x.dims();
    if dims.is_empty() {
        return Err("Pad of a scalar".into());
    }
    let mut out = Vec::with_capacity(dims.len());
    for (i, &d) in dims.iter().enumerate() {
        let size = d as i64 + begins[i] + ends[i];
        if size <= 0 {
            return Err(format!(
                "pads {begins:?}/{ends:?} leave dimension {i} of {dims:?} empty: {EMPTY_TENSORS}"
            ));
        }
        out.push(size as usize);
    }
    ctx.check(&out)?;
    let x = crop(x, begins, ends)?;
    let cropped = x.dims();
    let pairs: Vec<(usize, usize)> = begins
        .iter()
        .zip(ends)
        .map(|(&b, &e)| (b.max(0) as usize, e.max(0) as usize))
        .collect();
    if pairs.iter().all(|&p| p == (0, 0)) {
        return Ok(x);
    }
    let mode = match mode {
        PadMode::Constant => BurnPadMode::Constant(value as f32),
        PadMode::Edge => BurnPadMode::Edge,
        PadMode::Reflect => {
            if let Some(i) = (0..pairs.len()).find(|&i| pairs[i].0.max(pairs[i].1) >= cropped[i]) {
                return Err(format!(
                    "reflect padding {:?} is not smaller than dimension {i} of {cropped:?}",
                    pairs[i]
                ));
            }
            BurnPadMode::Reflect
        }
    };
    let scalar = x.scalar;
    let t = match x.t {
        Typed::Float(t) => Typed::Float(map_tensor!(t, v => v.pad(pairs.clone(), mode))),
        Typed::Int(t, ty) => Typed::Int(map_tensor!(t, v => v.pad(pairs.clone(), mode)), ty),
        // Burn pads numbers: booleans go through 0/1.
        Typed::Bool(t) => {
            let i = map_tensor!(t, v => v.int().pad(pairs.clone(), mode));
            Typed::Bool(map_tensor!(i, v => v.bool()))
        }
    };
    Ok(Value { t, scalar })
}

/// The part of `x` that negative pads keep.
fn crop(x: Value, begins: &[i64], ends: &[i64]) -> Res<Value> {
    if begins.iter().chain(ends).all(|&p| p >= 0) {
        return Ok(x);
    }
    let slices: Vec<Slice> = x
        .dims()
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let from = (-begins[i]).max(0) as isize;
            let to = d as isize - (-ends[i]).max(0) as isize;
            Slice::new(from, Some(to), 1)
        })
        .collect();
    let t = any_kind!(x.t, t => map_tensor!(t, v => v.slice(slices.as_slice())));
    Ok(Value::from(t))
}
