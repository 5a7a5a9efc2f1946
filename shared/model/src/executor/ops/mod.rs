//! The graph operations, on run-time-ranked tensors: [`run`] routes each op to its family,
//! one file per family (the layout the op set grows in: a new op lands in its family's file
//! and gets one line here):
//!
//! * [`elementwise`] — activations and other one-input maps;
//! * [`broadcast`] — broadcasting arithmetic, comparisons, logic, Min/Max/Sum/Mean, Where;
//! * [`cast`] — element type conversions;
//! * [`linalg`] — MatMul, Gemm, Linear;
//! * [`conv_pool`] — convolution and pooling (also global max), with their padding rules;
//! * [`conv_transpose`] — transposed convolution;
//! * [`normalization`] — batch, layer, instance, group, Lp and local response normalisation;
//! * [`shape`] — reshaping, transposing, concatenating, splitting, depth/space moves (any
//!   element type);
//! * [`pad`] — padding and cropping, with pads known at import or read at run time;
//! * [`indexing`] — Shape, Size, ConstantOfShape, Gather, GatherElements, Expand, Tile, Range,
//!   Slice, ArgMax, ArgMin, CumSum, Trilu: the shape-and-indexing family's ops that read
//!   shapes, indices, axes or bounds at run time;
//! * [`scatter`] — GatherND, ScatterND, ScatterElements;
//! * [`select`] — TopK, OneHot;
//! * [`reduce`] — reductions over axes;
//! * [`resize`] — Resize (nearest, linear, cubic; separable, on the model's device);
//! * [`recurrent`] — LSTM, GRU and RNN; [`attention`] — scaled dot-product attention;
//!   [`einsum`] — Einsum as batched matmuls;
//! * [`signal`] — window functions, MelWeightMatrix, STFT and DFT (audio front-ends);
//! * [`quant`] — quantized interchange (Q/DQ, the integer and QLinear matmuls and
//!   convolutions), by dequantized float arithmetic;
//! * [`ml`] — the classical-ML ops (tree ensembles, linear models, feature transforms), on
//!   the host;
//! * [`bound`] — the size of what an op is about to make, checked against the per-tensor
//!   limit and the model's memory budget before anything is allocated;
//! * [`common`] — the shape arithmetic they share; [`host`] — elements read into host
//!   memory, for the index-heavy ops that run on the CPU whatever the model's device.
//!
//! Burn asserts (panics) on shape mismatches, so every op checks the shapes it relies on
//! first and returns an error naming the problem; the executor additionally turns any panic
//! that slips through into an error (see `Model::run`).

mod attention;
pub(super) mod bound;
mod broadcast;
mod cast;
mod common;
mod conv_pool;
mod conv_transpose;
mod einsum;
mod elementwise;
mod host;
mod indexing;
mod linalg;
mod ml;
mod normalization;
mod pad;
mod quant;
mod recurrent;
mod reduce;
mod resize;
mod scatter;
mod select;
mod shape;
mod signal;
mod single;

use burn::tensor::Device;

use super::dyn_tensor::DynTensor;
use super::value::{Value, align};
use crate::format::Op;

/// The error of an op, before the executor adds the node's name.
pub type OpResult = std::result::Result<DynTensor, String>;
/// The same for ops on typed values.
pub type ValueResult = std::result::Result<Value, String>;

/// What every op may need besides its inputs.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The model's device, where new float tensors are made and mixed-device inputs meet.
    pub device: &'a Device,
    /// Most elements an op may create in one tensor (`LoadOptions::max_elements`).
    pub max_elements: usize,
    /// Bytes left in the model's memory budget for what this op makes (`usize::MAX` when
    /// the model has no budget): see [`bound`].
    pub room_bytes: usize,
}

impl Ctx<'_> {
    /// Refuses a tensor of `dims` that is over the per-tensor limit or does not fit the room
    /// left in the memory budget, before it is allocated.
    pub fn check(&self, dims: &[usize]) -> std::result::Result<(), String> {
        bound::check(dims, self)
    }
}

/// The value of a boolean (or integer) scalar condition: an If's, or a guard's.
pub fn condition(v: &Value) -> std::result::Result<bool, String> {
    match common::host_ints(v)?[..] {
        [x] => Ok(x != 0),
        _ => Err(format!(
            "a condition must be one boolean, got shape {:?}",
            v.dims()
        )),
    }
}

/// Runs a node's `op` on its (already gathered) inputs: every output, in order.
pub fn run_node(op: &Op, inputs: Vec<Value>, ctx: &Ctx) -> std::result::Result<Vec<Value>, String> {
    if ml::is_ml(op) {
        return ml::run(op, inputs, ctx);
    }
    if quant::is_quant(op) {
        bound::check_output(op, &inputs, ctx)?;
        return quant::run(op, inputs, ctx);
    }
    bound::check_output(op, &inputs, ctx)?;
    match op {
        Op::Split { axis, outputs } => {
            let (first, rest) = first_and_rest(inputs, ctx)?;
            shape::split(first, rest, *axis, *outputs)
        }
        Op::TopK {
            axis,
            largest,
            sorted,
        } => {
            let (first, rest) = first_and_rest(inputs, ctx)?;
            select::top_k(first, rest, *axis, *largest, *sorted)
        }
        // The executor hands an If only the taken branch's values.
        Op::If { .. } => Ok(inputs),
        Op::Recurrent {
            cell,
            hidden,
            direction,
            batch_first,
            clip,
            activations,
            optional,
        } => recurrent::recurrent(
            align(inputs, ctx.device).map_err(|e| e.to_string())?,
            &recurrent::Params {
                cell: *cell,
                hidden: *hidden,
                direction: *direction,
                batch_first: *batch_first,
                clip: *clip,
                activations,
                optional: *optional,
            },
        ),
        Op::LayerNormalization {
            axis,
            epsilon,
            stats: true,
        } => {
            let (first, rest) = first_and_rest(inputs, ctx)?;
            let x = first.float()?;
            let (mean, inv) = normalization::layer_norm_stats(x.clone(), *axis, *epsilon)?;
            let y = normalization::layer_norm(x, single::floats(rest)?, *axis, *epsilon)?;
            Ok([y, mean, inv]
                .into_iter()
                .map(|t| Value::of_float(t, false))
                .collect())
        }
        _ => single::run(op, inputs, ctx).map(|v| vec![v]),
    }
}

/// The inputs on one device, split into the first and the others.
pub(super) fn first_and_rest(
    inputs: Vec<Value>,
    ctx: &Ctx,
) -> std::result::Result<(Value, Vec<Value>), String> {
    split_first(align(inputs, ctx.device).map_err(|e| e.to_string())?)
}

pub(super) fn split_first(inputs: Vec<Value>) -> std::result::Result<(Value, Vec<Value>), String> {
    let mut inputs = inputs.into_iter();
    let first = inputs.next().ok_or("no inputs")?;
    Ok((first, inputs.collect()))
}
