//! The one-output ops: each routed to its family's function with its attributes (the
//! multi-output ops and the classical-ML family are routed in `mod.rs`).

use super::OpResult;
use super::{
    Ctx, ValueResult, attention, broadcast, cast, conv_pool, conv_transpose, einsum, elementwise,
    first_and_rest, indexing, linalg, normalization, pad, reduce, resize, scatter, select, shape,
    signal, split_first,
};
use crate::executor::dyn_tensor::DynTensor;
use crate::executor::value::Value;
use crate::format::Op;

/// Ops whose inputs after the first are parameters read on the host (shapes, axes, bounds,
/// sizes, indices). Those stay where they are, so a host INT64 such as the INT64_MAX end of an
/// open-ended Slice never has to fit a GPU's 32-bit integers on its way to being read back.
fn params_on_host(op: &Op) -> bool {
    matches!(
        op,
        Op::Slice
            | Op::ReshapeDynamic { .. }
            | Op::UnsqueezeDynamic
            | Op::SqueezeDynamic
            | Op::Expand
            | Op::Tile
            | Op::Resize { .. }
            | Op::Reduce { axes: None, .. }
            | Op::CumSum { .. }
            | Op::Trilu { .. }
            | Op::Window { .. }
            | Op::MelWeightMatrix { .. }
    )
}

/// Runs a one-output `op` on its (already gathered) inputs.
pub(super) fn run(op: &Op, inputs: Vec<Value>, ctx: &Ctx) -> ValueResult {
    let device = ctx.device;
    let (first, rest) = if params_on_host(op) {
        split_first(inputs)?
    } else {
        first_and_rest(inputs, ctx)?
    };
    match op {
        Op::Identity | Op::Dropout => Ok(first),
        Op::Unary { .. }
        | Op::HardSigmoid { .. }
        | Op::Elu { .. }
        | Op::Selu { .. }
        | Op::Celu { .. }
        | Op::ThresholdedRelu { .. }
        | Op::IsInf { .. }
        | Op::Relu
        | Op::Sigmoid
        | Op::Tanh
        | Op::Erf
        | Op::LeakyRelu { .. }
        | Op::Gelu { .. }
        | Op::Softmax { .. }
        | Op::LogSoftmax { .. }
        | Op::Clip { .. } => elementwise::unary(op, first),
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Binary { .. } => {
            broadcast::binary(op, first, one(rest)?)
        }
        Op::Variadic { func } => broadcast::variadic(*func, first, rest),
        Op::Where => broadcast::where_op(first, rest),
        Op::Cast { to } => cast::cast(first, *to, device),
        Op::Reduce {
            func,
            axes,
            keepdims,
            noop_with_empty_axes,
        } => reduce::reduce(
            *func,
            first,
            rest,
            axes.as_deref(),
            *keepdims,
            *noop_with_empty_axes,
        ),
        Op::ReduceMean { axes, keepdims } => reduce::reduce(
            crate::format::ReduceFn::ReduceMean,
            first,
            rest,
            Some(axes.as_slice()),
            *keepdims,
            false,
        ),
        Op::Shape { start, end } => indexing::shape_of(first, *start, *end),
        Op::Size => indexing::size(first),
        Op::ConstantOfShape { dtype, value } => {
            indexing::constant_of_shape(first, *dtype, *value, ctx)
        }
        Op::Gather { axis } => indexing::gather(first, one(rest)?, *axis, ctx),
        Op::Expand => indexing::expand(first, one(rest)?, ctx),
        Op::Tile => indexing::tile(first, one(rest)?, ctx),
        Op::Range => indexing::range(first, rest, ctx),
        Op::Slice => indexing::slice(first, rest),
        Op::ReshapeDynamic { allowzero } => shape::reshape_dynamic(first, one(rest)?, *allowzero),
        Op::UnsqueezeDynamic => shape::unsqueeze_dynamic(first, one(rest)?),
        Op::SqueezeDynamic => shape::squeeze_dynamic(first, one(rest)?),
        Op::ArgMax {
            axis,
            keepdims,
            select_last_index,
        } => indexing::arg_extreme(first, true, *axis, *keepdims, *select_last_index),
        Op::ArgMin {
            axis,
            keepdims,
            select_last_index,
        } => indexing::arg_extreme(first, false, *axis, *keepdims, *select_last_index),
        Op::CumSum { exclusive, reverse } => {
            indexing::cumsum(first, one(rest)?, *exclusive, *reverse)
        }
        Op::Trilu { upper } => indexing::trilu(first, rest, *upper),
        Op::GatherElements { axis } => indexing::gather_elements(first, one(rest)?, *axis),
        Op::Flatten { axis } => shape::flatten(first, *axis),
        Op::Reshape { shape: target } => shape::reshape_value_op(first, target),
        Op::Transpose { perm } => shape::transpose(first, perm),
        Op::Concat { axis } => shape::concat(first, rest, *axis),
        Op::Squeeze { axes } => shape::squeeze(first, axes),
        Op::Unsqueeze { axes } => shape::unsqueeze(first, axes),
        Op::Pad { pads, mode, value } => pad::pad_static(first, pads, *mode, *value, ctx),
        Op::PadDynamic { mode, value, axes } => {
            pad::pad_dynamic(first, rest, *mode, *value, *axes, ctx)
        }
        Op::ClipBounds { min, max } => broadcast::clip_bounds(first, rest, *min, *max),
        Op::OneHot { axis } => select::one_hot(first, rest, *axis, ctx),
        Op::GatherND { batch_dims } => scatter::gather_nd(first, one(rest)?, *batch_dims, ctx),
        Op::ScatterND { reduction } => scatter::scatter_nd(first, rest, *reduction),
        Op::ScatterElements { axis, reduction } => {
            scatter::scatter_elements(first, rest, *axis, *reduction)
        }
        Op::Split { .. } | Op::TopK { .. } | Op::If { .. } | Op::Recurrent { .. } => {
            Err(format!("{} has several outputs", op.name()))
        }
        Op::TreeEnsemble { .. }
        | Op::LinearClassifier { .. }
        | Op::LinearRegressor { .. }
        | Op::Normalizer { .. }
        | Op::Scaler { .. }
        | Op::Binarizer { .. }
        | Op::ArrayFeatureExtractor
        | Op::LabelEncoder { .. }
        | Op::Imputer { .. } => Err(format!("{} runs in the ml family", op.name())),
        Op::QuantizeLinear { .. }
        | Op::DequantizeLinear { .. }
        | Op::DynamicQuantizeLinear
        | Op::MatMulInteger
        | Op::ConvInteger { .. }
        | Op::QLinearMatMul { .. }
        | Op::QLinearConv { .. } => Err(format!("{} runs in the quant family", op.name())),
        Op::Window {
            kind,
            periodic,
            dtype,
        } => signal::window(*kind, *periodic, *dtype, &first, ctx),
        Op::MelWeightMatrix { dtype } => {
            let mut all = vec![first];
            all.extend(rest);
            signal::mel_weight_matrix(&all, *dtype, ctx)
        }
        Op::Stft {
            onesided,
            frame_step,
            frame_length,
            ..
        } => float1(signal::stft(
            first.float()?,
            rest.into_iter().next().map(Value::float).transpose()?,
            *onesided,
            *frame_step,
            *frame_length,
            ctx,
        )),
        Op::Dft {
            inverse,
            onesided,
            axis,
            length,
        } => float1(signal::dft(
            first.float()?,
            *inverse,
            *onesided,
            *axis,
            *length,
            ctx,
        )),
        Op::Attention {
            scale,
            causal,
            softcap,
            q_heads,
            kv_heads,
            ..
        } => {
            let mut all = vec![first];
            all.extend(rest);
            attention::attention(
                all,
                &attention::Params {
                    scale: *scale,
                    causal: *causal,
                    softcap: *softcap,
                    q_heads: *q_heads,
                    kv_heads: *kv_heads,
                },
            )
        }
        Op::Einsum { equation } => {
            let mut all = vec![first];
            all.extend(rest);
            einsum::einsum(all, equation)
        }
        Op::ConvTranspose {
            kernel,
            strides,
            dilations,
            groups,
            pads,
            output_padding,
            auto_pad,
            output_shape,
        } => float1(conv_transpose::conv_transpose(
            first.float()?,
            floats(rest)?,
            &conv_transpose::Params {
                kernel,
                strides,
                dilations,
                groups: *groups,
                pads,
                output_padding,
                auto_pad: *auto_pad,
                output_shape: output_shape.as_deref(),
            },
        )),
        Op::Resize {
            mode,
            coordinates,
            nearest,
            cubic_coeff_a,
            sizes,
        } => resize::resize(
            first,
            one(rest)?,
            &resize::Params {
                mode: *mode,
                coordinates: *coordinates,
                nearest: *nearest,
                cubic_coeff_a: *cubic_coeff_a,
                sizes: *sizes,
            },
            ctx,
        ),
        Op::GlobalMaxPool => float1(conv_pool::global_pool(first.float()?, true)),
        Op::DepthToSpace { block, crd } => shape::depth_to_space(first, *block, *crd),
        Op::SpaceToDepth { block } => shape::space_to_depth(first, *block),
        Op::LpNormalization { axis, p } => {
            float1(normalization::lp_norm(first.float()?, *axis, *p))
        }
        Op::InstanceNormalization { epsilon } => float1(normalization::instance_norm(
            first.float()?,
            floats(rest)?,
            *epsilon,
        )),
        Op::GroupNormalization { groups, epsilon } => float1(normalization::group_norm(
            first.float()?,
            floats(rest)?,
            *groups,
            *epsilon,
        )),
        Op::Lrn {
            alpha,
            beta,
            bias,
            size,
        } => float1(normalization::lrn(
            first.float()?,
            *alpha,
            *beta,
            *bias,
            *size,
        )),
        Op::MatMul => float1(linalg::matmul(first.float()?, one(rest)?.float()?)),
        Op::Linear { activation } => {
            let y = linalg::linear(first.float()?, floats(rest)?)?;
            float1(match activation {
                Some(a) => elementwise::fused(*a, y),
                None => Ok(y),
            })
        }
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            trans_b,
        } => float1(linalg::gemm(
            first.float()?,
            floats(rest)?,
            *alpha,
            *beta,
            *trans_a,
            *trans_b,
        )),
        Op::Conv {
            kernel,
            strides,
            dilations,
            groups,
            pads,
            auto_pad,
            activation,
        } => float1(conv_pool::conv(
            first.float()?,
            floats(rest)?,
            kernel,
            strides,
            dilations,
            *groups,
            pads,
            *auto_pad,
            *activation,
        )),
        Op::MaxPool {
            kernel,
            strides,
            dilations,
            pads,
            auto_pad,
            ceil_mode,
        } => float1(conv_pool::max_pool(
            first.float()?,
            kernel,
            strides,
            dilations,
            pads,
            *auto_pad,
            *ceil_mode,
        )),
        Op::AveragePool {
            kernel,
            strides,
            pads,
            auto_pad,
            ceil_mode,
            count_include_pad,
        } => float1(conv_pool::avg_pool(
            first.float()?,
            kernel,
            strides,
            pads,
            *auto_pad,
            *ceil_mode,
            *count_include_pad,
        )),
        Op::GlobalAveragePool => float1(conv_pool::global_pool(first.float()?, false)),
        Op::BatchNormalization { epsilon } => float1(normalization::batch_norm(
            first.float()?,
            floats(rest)?,
            *epsilon,
        )),
        Op::LayerNormalization { axis, epsilon, .. } => float1(normalization::layer_norm(
            first.float()?,
            floats(rest)?,
            *axis,
            *epsilon,
        )),
    }
}

/// A float op's result as a (non-scalar) value.
fn float1(result: OpResult) -> ValueResult {
    result.map(|t| Value::of_float(t, false))
}

pub(super) fn floats(values: Vec<Value>) -> std::result::Result<Vec<DynTensor>, String> {
    values.into_iter().map(Value::float).collect()
}

/// The second input of a two-input op.
fn one(mut inputs: Vec<Value>) -> std::result::Result<Value, String> {
    if inputs.is_empty() {
        return Err("missing second input".to_string());
    }
    Ok(inputs.remove(0))
}
