//! The graph operations, on run-time-ranked tensors: [`run`] routes each op to its family,
//! one file per family (the layout the op set grows in: a new op lands in its family's file
//! and gets one line here):
//!
//! * [`elementwise`] — activations and other one-input maps, broadcasting arithmetic;
//! * [`linalg`] — MatMul, Gemm, Linear;
//! * [`conv_pool`] — convolution and pooling, with their padding rules;
//! * [`normalization`] — batch and layer normalisation;
//! * [`shape`] — reshaping, transposing, concatenating, padding;
//! * [`reduce`] — reductions over axes;
//! * [`common`] — the shape arithmetic they share.
//!
//! Burn asserts (panics) on shape mismatches, so every op checks the shapes it relies on
//! first and returns an error naming the problem; the executor additionally turns any panic
//! that slips through into an error (see `Model::run`).

mod common;
mod conv_pool;
mod elementwise;
mod linalg;
mod normalization;
mod reduce;
mod shape;

use super::dyn_tensor::DynTensor;
use crate::format::Op;

/// The error of an op, before the executor adds the node's name.
pub type OpResult = std::result::Result<DynTensor, String>;

/// Runs `op` on its (already gathered) inputs.
pub fn run(op: &Op, mut inputs: Vec<DynTensor>) -> OpResult {
    let first = inputs.remove(0);
    match op {
        Op::Identity
        | Op::Dropout
        | Op::Relu
        | Op::Sigmoid
        | Op::Tanh
        | Op::Erf
        | Op::LeakyRelu { .. }
        | Op::Gelu { .. }
        | Op::Softmax { .. }
        | Op::LogSoftmax { .. }
        | Op::Clip { .. } => elementwise::unary(op, first),
        Op::Add | Op::Sub | Op::Mul | Op::Div => elementwise::binary(op, first, one(inputs)?),
        Op::MatMul => linalg::matmul(first, one(inputs)?),
        Op::Linear => linalg::linear(first, inputs),
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            trans_b,
        } => linalg::gemm(first, inputs, *alpha, *beta, *trans_a, *trans_b),
        Op::Conv {
            kernel,
            strides,
            dilations,
            groups,
            pads,
            auto_pad,
        } => conv_pool::conv(
            first, inputs, kernel, strides, dilations, *groups, pads, *auto_pad,
        ),
        Op::MaxPool {
            kernel,
            strides,
            dilations,
            pads,
            auto_pad,
            ceil_mode,
        } => conv_pool::max_pool(
            first, kernel, strides, dilations, pads, *auto_pad, *ceil_mode,
        ),
        Op::AveragePool {
            kernel,
            strides,
            pads,
            auto_pad,
            ceil_mode,
            count_include_pad,
        } => conv_pool::avg_pool(
            first,
            kernel,
            strides,
            pads,
            *auto_pad,
            *ceil_mode,
            *count_include_pad,
        ),
        Op::GlobalAveragePool => conv_pool::global_average_pool(first),
        Op::BatchNormalization { epsilon } => normalization::batch_norm(first, inputs, *epsilon),
        Op::LayerNormalization { axis, epsilon } => {
            normalization::layer_norm(first, inputs, *axis, *epsilon)
        }
        Op::Flatten { axis } => shape::flatten(first, *axis),
        Op::Reshape { shape: target } => shape::reshape_op(first, target),
        Op::Transpose { perm } => shape::transpose(first, perm),
        Op::Concat { axis } => shape::concat(first, inputs, *axis),
        Op::Squeeze { axes } => shape::squeeze(first, axes),
        Op::Unsqueeze { axes } => shape::unsqueeze(first, axes),
        Op::Pad { pads, mode, value } => shape::pad(first, pads, *mode, *value),
        Op::ReduceMean { axes, keepdims } => reduce::reduce_mean(first, axes, *keepdims),
    }
}

/// The second input of a two-input op.
fn one(mut inputs: Vec<DynTensor>) -> std::result::Result<DynTensor, String> {
    inputs
        .pop()
        .ok_or_else(|| "missing second input".to_string())
}
