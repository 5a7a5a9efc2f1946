//! Linear algebra: MatMul (numpy semantics, batched with broadcasting), Gemm, and the
//! importer's `Linear` (`x · W + b` with constant weights).

use burn::tensor::module;

use super::OpResult;
use super::common::{broadcast_shape, expand, reshape};
use crate::executor::dyn_tensor::{DynTensor, map_tensor};

pub(super) fn matmul(a: DynTensor, b: DynTensor) -> OpResult {
    let (ad, bd) = (a.dims(), b.dims());
    // numpy semantics: a 1-D left operand is a row, a 1-D right operand a column.
    let a = if ad.len() == 1 {
        reshape(a, &[1, ad[0]])?
    } else {
        a
    };
    let b = if bd.len() == 1 {
        reshape(b, &[bd[0], 1])?
    } else {
        b
    };
    let rank = a.rank().max(b.rank());
    let a = a.unsqueeze_to(rank).map_err(|e| e.to_string())?;
    let b = b.unsqueeze_to(rank).map_err(|e| e.to_string())?;
    let (a_dims, b_dims) = (a.dims(), b.dims());
    let (k1, k2) = (a_dims[rank - 1], b_dims[rank - 2]);
    if k1 != k2 {
        return Err(format!("inner dimensions differ: {ad:?} x {bd:?}"));
    }
    let mut batch = broadcast_shape(&a_dims[..rank - 2], &b_dims[..rank - 2])?;
    let mut a_out = batch.clone();
    a_out.extend([a_dims[rank - 2], k1]);
    let mut b_out = batch.clone();
    b_out.extend([k2, b_dims[rank - 1]]);
    let a = expand(a, &a_out)?;
    let b = expand(b, &b_out)?;
    let product = match (a, b) {
        (DynTensor::R2(x), DynTensor::R2(y)) => DynTensor::R2(x.matmul(y)),
        (DynTensor::R3(x), DynTensor::R3(y)) => DynTensor::R3(x.matmul(y)),
        (DynTensor::R4(x), DynTensor::R4(y)) => DynTensor::R4(x.matmul(y)),
        (DynTensor::R5(x), DynTensor::R5(y)) => DynTensor::R5(x.matmul(y)),
        (DynTensor::R6(x), DynTensor::R6(y)) => DynTensor::R6(x.matmul(y)),
        _ => return Err("unsupported operand ranks".into()),
    };
    // Drop the dimensions added for 1-D operands.
    if ad.len() == 1 || bd.len() == 1 {
        if ad.len() != 1 {
            batch.push(a_dims[rank - 2]);
        }
        if bd.len() != 1 {
            batch.push(b_dims[rank - 1]);
        }
        return reshape(product, if batch.is_empty() { &[1] } else { &batch });
    }
    Ok(product)
}

pub(super) fn linear(x: DynTensor, mut rest: Vec<DynTensor>) -> OpResult {
    let bias = if rest.len() == 2 { rest.pop() } else { None };
    let weight = rest.pop().ok_or("missing weight")?;
    let (xd, wd) = (x.dims(), weight.dims());
    if wd.len() != 2 || xd.last() != Some(&wd[0]) {
        return Err(format!(
            "input {xd:?} does not fit weight {wd:?} ([in, out])"
        ));
    }
    let bias = match bias {
        Some(b) if b.dims().iter().product::<usize>() == wd[1] => Some(
            b.reshape(&[wd[1]])
                .and_then(|b| b.into_rank::<1>())
                .map_err(|e| e.to_string())?,
        ),
        Some(b) => return Err(format!("bias {:?} does not fit weight {wd:?}", b.dims())),
        None => None,
    };
    let weight = weight.into_rank::<2>().map_err(|e| e.to_string())?;
    Ok(map_tensor!(x, t => module::linear(t, weight.clone(), bias.clone())))
}
pub(super) fn gemm(
    a: DynTensor,
    mut rest: Vec<DynTensor>,
    alpha: f32,
    beta: f32,
    trans_a: bool,
    trans_b: bool,
) -> OpResult {
    let c = if rest.len() == 2 { rest.pop() } else { None };
    let b = rest.pop().ok_or("missing B")?;
    let a = a.into_rank::<2>().map_err(|e| format!("A: {e}"))?;
    let b = b.into_rank::<2>().map_err(|e| format!("B: {e}"))?;
    let a = if trans_a { a.transpose() } else { a };
    let b = if trans_b { b.transpose() } else { b };
    let ([m, k1], [k2, n]) = (a.dims(), b.dims());
    if k1 != k2 {
        return Err(format!("A is {m}x{k1} but B is {k2}x{n}"));
    }
    let mut y = a.matmul(b);
    if alpha != 1.0 {
        y = y.mul_scalar(alpha);
    }
    if let Some(c) = c {
        let c = c.unsqueeze_to(2).map_err(|e| e.to_string())?;
        broadcast_shape(&c.dims(), &[m, n]).map_err(|e| format!("C: {e}"))?;
        let c = expand(c, &[m, n])?
            .into_rank::<2>()
            .map_err(|e| e.to_string())?;
        y = y.add(if beta != 1.0 { c.mul_scalar(beta) } else { c });
    }
    Ok(DynTensor::R2(y))
}
