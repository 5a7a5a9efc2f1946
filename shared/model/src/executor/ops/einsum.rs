//! Einsum, as the products exporters emit (batched matmuls, transposes, outer and inner
//! products, sums), by rewriting the equation into the ops the device is fast at: axes used
//! by one operand only and not wanted later are summed out first, then operands are folded
//! left to right, each pair as one batched matmul (`[batch, kept of A, contracted] ×
//! [batch, contracted, kept of B]`), and the result is summed and permuted into the output's
//! order. Ellipses and diagonals are refused when the equation is parsed.

use super::common::{Res, arr_i, reshape};
use crate::executor::dyn_tensor::{DynTensor, map_tensor};
use crate::executor::value::Value;
use crate::format::{Equation, Subscripts};

/// One operand: its tensor and the letter of each axis.
struct Term {
    t: DynTensor,
    subs: Subscripts,
}

pub(super) fn einsum(inputs: Vec<Value>, equation: &str) -> Res<Value> {
    let eq = Equation::parse(equation)?;
    if eq.operands.len() != inputs.len() {
        return Err(format!(
            "equation '{equation}' names {} operands; the node has {}",
            eq.operands.len(),
            inputs.len()
        ));
    }
    let mut sizes: Vec<(char, usize)> = Vec::new();
    let mut terms = Vec::new();
    for (v, subs) in inputs.into_iter().zip(&eq.operands) {
        let scalar = v.scalar;
        let t = v.float()?;
        let dims = if scalar { Vec::new() } else { t.dims() };
        if dims.len() != subs.len() {
            return Err(format!(
                "operand of shape {dims:?} does not fit subscripts '{}'",
                subs.iter().collect::<String>()
            ));
        }
        for (&c, &d) in subs.iter().zip(&dims) {
            match sizes.iter().find(|(l, _)| *l == c) {
                Some(&(_, known)) if known != d => {
                    return Err(format!(
                        "axis '{c}' is {known} in one operand and {d} in another"
                    ));
                }
                Some(_) => {}
                None => sizes.push((c, d)),
            }
        }
        terms.push(Term {
            t,
            subs: subs.clone(),
        });
    }
    let size = |c: char| sizes.iter().find(|(l, _)| *l == c).map_or(1, |(_, d)| *d);
    let mut terms = terms.into_iter();
    let first = terms.next().ok_or("no operands")?;
    let rest: Vec<Term> = terms.collect();
    let needed_after = |i: usize, rest: &[Term]| -> Vec<char> {
        let mut keep = eq.result.clone();
        keep.extend(rest[i..].iter().flat_map(|t| t.subs.iter().copied()));
        keep
    };
    let mut acc = first;
    for i in 0..rest.len() {
        let keep = needed_after(i + 1, &rest);
        let mut other_and_keep = keep.clone();
        other_and_keep.extend(&rest[i].subs);
        let a = sum_out(acc, &other_and_keep, &size)?;
        let mut acc_and_keep = keep.clone();
        acc_and_keep.extend(&a.subs);
        let b = sum_out(
            Term {
                t: rest[i].t.clone(),
                subs: rest[i].subs.clone(),
            },
            &acc_and_keep,
            &size,
        )?;
        acc = contract(a, b, &keep, &size)?;
    }
    let acc = sum_out(acc, &eq.result, &size)?;
    let perm: Vec<usize> = eq
        .result
        .iter()
        .map(|c| acc.subs.iter().position(|s| s == c).ok_or("lost an axis"))
        .collect::<Result<_, _>>()?;
    let t = permute(acc.t, &perm)?;
    Ok(Value::of_float(t, eq.result.is_empty()))
}

/// Sums out the axes of `term` not in `keep`.
fn sum_out(term: Term, keep: &[char], size: &dyn Fn(char) -> usize) -> Res<Term> {
    let drop: Vec<usize> = (0..term.subs.len())
        .filter(|&i| !keep.contains(&term.subs[i]))
        .collect();
    if drop.is_empty() {
        return Ok(term);
    }
    let mut t = term.t;
    for &axis in &drop {
        t = map_tensor!(t, x => x.sum_dim(axis));
    }
    let subs: Subscripts = term
        .subs
        .iter()
        .copied()
        .filter(|c| keep.contains(c))
        .collect();
    let dims: Vec<usize> = subs.iter().map(|&c| size(c)).collect();
    Ok(Term {
        t: reshape_or_scalar(t, &dims)?,
        subs,
    })
}

/// `a` and `b` as one batched matmul; the result's axes are batch, then `a`'s kept, then
/// `b`'s kept.
fn contract(a: Term, b: Term, keep: &[char], size: &dyn Fn(char) -> usize) -> Res<Term> {
    let shared = |c: &char| a.subs.contains(c) && b.subs.contains(c);
    let batch: Subscripts = a
        .subs
        .iter()
        .copied()
        .filter(|c| shared(c) && keep.contains(c))
        .collect();
    let inner: Subscripts = a
        .subs
        .iter()
        .copied()
        .filter(|c| shared(c) && !keep.contains(c))
        .collect();
    let a_only: Subscripts = a.subs.iter().copied().filter(|c| !shared(c)).collect();
    let b_only: Subscripts = b.subs.iter().copied().filter(|c| !shared(c)).collect();
    let product = |s: &[char]| s.iter().map(|&c| size(c)).product::<usize>();
    let (nb, m, k, n) = (
        product(&batch),
        product(&a_only),
        product(&inner),
        product(&b_only),
    );
    let order = |t: Term, layout: &[&Subscripts]| -> Res<DynTensor> {
        let perm: Vec<usize> = layout
            .iter()
            .flat_map(|s| s.iter())
            .map(|c| t.subs.iter().position(|x| x == c).ok_or("lost an axis"))
            .collect::<Result<_, _>>()?;
        permute(t.t, &perm)
    };
    let at = reshape(order(a, &[&batch, &a_only, &inner])?, &[nb, m, k])?;
    let bt = reshape(order(b, &[&batch, &inner, &b_only])?, &[nb, k, n])?;
    let (DynTensor::R3(x), DynTensor::R3(y)) = (at, bt) else {
        return Err("einsum operands did not reshape to 3-D".into());
    };
    let mut subs = batch;
    subs.extend(a_only);
    subs.extend(b_only);
    let dims: Vec<usize> = subs.iter().map(|&c| size(c)).collect();
    Ok(Term {
        t: reshape_or_scalar(DynTensor::R3(x.matmul(y)), &dims)?,
        subs,
    })
}

fn reshape_or_scalar(t: DynTensor, dims: &[usize]) -> Res<DynTensor> {
    reshape(t, if dims.is_empty() { &[1] } else { dims })
}

fn permute(t: DynTensor, perm: &[usize]) -> Res<DynTensor> {
    if perm.iter().enumerate().all(|(i, &p)| i == p) {
        return Ok(t);
    }
    if perm.len() != t.rank() {
        return Err(format!("permutation {perm:?} does not fit {:?}", t.dims()));
    }
    Ok(map_tensor!(t, x => x.permute(arr_i(perm))))
}
