//! One converter per op family, and the dispatch that routes each onnx-ir node type to its
//! family.
//!
//! The families are the executor's (element-wise, convolution and pooling, normalisation,
//! shape and indexing, index-tuple gathers and scatters, TopK and OneHot, reductions, Resize,
//! the recurrent cells, the audio front-ends in `signal`, the classical-ML ops of `ai.onnx.ml` in `ml` and `trees`, quantized interchange in
//! `quant`) plus linear
//! algebra (with Einsum and Attention), so an op is found in the same place on both sides. A family converter sees only the node's attributes and gives back our op and how
//! its inputs are read ([`Lowered`]), or the reason it refuses the node; the dispatch names the
//! node in the error. Adding an op: its converter in the family's file, its arm in [`lower`],
//! its claim in `supported.rs`; the ONNX node tests are its conformance cases.

mod conv_pool;
mod elementwise;
mod indexing;
mod linalg;
pub(super) mod ml;
mod normalization;
pub(super) mod quant;
mod recurrent;
mod reduce;
mod resize;
mod scatter;
mod select;
mod shape;
mod signal;
mod tree_layout;
mod trees;

use edge_model::format::{BinaryFn, Op, ReduceFn, UnaryFn, VariadicFn, WindowKind};
use onnx_ir::Node;

use crate::import::error::ImportError;

/// What a family converter makes of one node.
pub(super) struct Lowered {
    pub(super) op: Op,
    /// How many leading inputs the op reads (`usize::MAX`: all of them).
    pub(super) inputs: usize,
    /// The input that is a 2-D weight to store transposed, if any.
    pub(super) transpose: Option<usize>,
    /// Inputs after those: parameters onnx-ir may have lifted into the node's config (a
    /// shape, axes, bounds), in the order the op reads them.
    pub(super) params: Vec<Param>,
}

/// A parameter input: known at import (stored as a weight) or computed at run time.
pub(super) enum Param {
    /// A 1-D INT64 constant.
    Ints(Vec<i64>),
    Const(edge_model::weights::HostTensor),
    /// The node's input at this index, a value of the graph.
    Input(usize),
}

impl Param {
    fn from_runtime(r: &onnx_ir::RuntimeInputRef) -> Self {
        Param::Input(r.input_index)
    }
}

/// A family converter's answer: the lowered op, or why the node is refused.
type Lowering = Result<Lowered, String>;

impl Lowered {
    /// `op` reading the node's first `inputs` inputs as they are.
    fn reads(op: Op, inputs: usize) -> Lowering {
        Ok(Self {
            op,
            inputs,
            transpose: None,
            params: Vec::new(),
        })
    }

    /// `op` reading its first `inputs` inputs, then `params`.
    fn with_params(op: Op, inputs: usize, params: Vec<Param>) -> Lowering {
        Ok(Self {
            op,
            inputs,
            transpose: None,
            params,
        })
    }
}

/// Routes `node` to its family's converter. Constant nodes are not ops: the converter stores
/// them as weights before asking here.
pub(super) fn lower(node: &Node) -> Result<Lowered, ImportError> {
    let lowered = match node {
        Node::Linear(n) => linalg::linear(n),
        Node::Gemm(n) => linalg::gemm(n),
        Node::MatMul(_) => linalg::matmul(),
        Node::Einsum(n) => linalg::einsum(n),
        Node::Attention(n) => linalg::attention(n),
        Node::Custom(c) if c.domain == super::custom::DOMAIN => {
            let lowered = if quant::REROUTED.contains(&c.op_type.as_str()) {
                quant::lower_custom(c)
            } else {
                recurrent::recurrent(c)
            };
            return lowered.map_err(|reason| ImportError::Unsupported {
                node: c.name.clone(),
                op: c.op_type.clone(),
                reason,
            });
        }
        Node::Custom(c) if c.domain == ml::ML_DOMAIN => {
            return ml::lower(c).map_err(|reason| ImportError::Unsupported {
                node: c.name.clone(),
                op: format!("{}::{}", c.domain, c.op_type),
                reason,
            });
        }
        Node::QuantizeLinear(n) => quant::quantize_linear(n),
        Node::DequantizeLinear(n) => quant::dequantize_linear(n),
        Node::MatMulInteger(n) => quant::matmul_integer(&n.inputs),
        Node::QLinearMatMul(n) => quant::qlinear_matmul(&n.inputs),
        Node::Scaler(n) => ml::scaler(&n.config),
        Node::Imputer(n) => ml::imputer(&n.config),
        Node::HannWindow(n) => {
            let c = &n.config;
            signal::window(WindowKind::Hann, c.periodic, c.output_dtype, &c.size)
        }
        Node::HammingWindow(n) => {
            let c = &n.config;
            signal::window(WindowKind::Hamming, c.periodic, c.output_dtype, &c.size)
        }
        Node::BlackmanWindow(n) => {
            let c = &n.config;
            signal::window(WindowKind::Blackman, c.periodic, c.output_dtype, &c.size)
        }
        Node::MelWeightMatrix(n) => signal::mel_weight_matrix(n),
        Node::Stft(n) => signal::stft(n),
        Node::Dft(n) => signal::dft(n),
        Node::Add(_) => elementwise::binary(Op::Add),
        Node::Sub(_) => elementwise::binary(Op::Sub),
        Node::Mul(_) => elementwise::binary(Op::Mul),
        Node::Div(_) => elementwise::binary(Op::Div),
        Node::Relu(_) => elementwise::unary(Op::Relu),
        Node::Sigmoid(_) => elementwise::unary(Op::Sigmoid),
        Node::Tanh(_) => elementwise::unary(Op::Tanh),
        Node::Erf(_) => elementwise::unary(Op::Erf),
        Node::LeakyRelu(n) => elementwise::leaky_relu(n),
        Node::Gelu(n) => elementwise::gelu(n),
        Node::Softmax(n) => elementwise::softmax(n),
        Node::LogSoftmax(n) => elementwise::log_softmax(n),
        Node::Clip(n) => elementwise::clip(n),
        Node::Dropout(_) => elementwise::unary(Op::Dropout),
        Node::Identity(_) => elementwise::unary(Op::Identity),
        Node::Conv1d(n) => conv_pool::conv1d(n),
        Node::Conv2d(n) => conv_pool::conv2d(n),
        Node::ConvTranspose1d(n) => conv_pool::conv_transpose1d(n),
        Node::ConvTranspose2d(n) => conv_pool::conv_transpose2d(n),
        Node::MaxPool1d(n) => conv_pool::max_pool1d(n),
        Node::MaxPool2d(n) => conv_pool::max_pool2d(n),
        Node::AveragePool1d(n) => conv_pool::average_pool1d(n),
        Node::AveragePool2d(n) => conv_pool::average_pool2d(n),
        Node::GlobalAveragePool(_) => conv_pool::global_average_pool(),
        Node::GlobalMaxPool(_) => conv_pool::global_max_pool(),
        Node::Resize(n) => resize::resize(n),
        Node::Upsample(n) => resize::upsample(n),
        Node::InstanceNormalization(n) => normalization::instance_norm(n),
        Node::GroupNormalization(n) => normalization::group_norm(n),
        Node::LpNormalization(n) => normalization::lp_norm(n),
        Node::Lrn(n) => normalization::lrn(n),
        Node::DepthToSpace(n) => shape::depth_to_space(n),
        Node::SpaceToDepth(n) => shape::space_to_depth(n),
        Node::BatchNormalization(n) => normalization::batch_norm(n),
        Node::LayerNormalization(n) => normalization::layer_norm(n),
        Node::Flatten(n) => shape::flatten(n),
        Node::Reshape(n) => shape::reshape(n),
        Node::Transpose(n) => shape::transpose(n),
        Node::Concat(n) => shape::concat(n),
        Node::Squeeze(n) => shape::squeeze(n),
        Node::Unsqueeze(n) => shape::unsqueeze(n),
        Node::Pad(n) => shape::pad(n),
        Node::ReduceMean(n) => reduce::reduce(ReduceFn::ReduceMean, &n.config),
        Node::ReduceSum(n) => reduce::reduce(ReduceFn::ReduceSum, &n.config),
        Node::ReduceMax(n) => reduce::reduce(ReduceFn::ReduceMax, &n.config),
        Node::ReduceMin(n) => reduce::reduce(ReduceFn::ReduceMin, &n.config),
        Node::ReduceProd(n) => reduce::reduce(ReduceFn::ReduceProd, &n.config),
        Node::ReduceL1(n) => reduce::reduce(ReduceFn::ReduceL1, &n.config),
        Node::ReduceL2(n) => reduce::reduce(ReduceFn::ReduceL2, &n.config),
        Node::ReduceLogSum(n) => reduce::reduce(ReduceFn::ReduceLogSum, &n.config),
        Node::ReduceLogSumExp(n) => reduce::reduce(ReduceFn::ReduceLogSumExp, &n.config),
        Node::ReduceSumSquare(n) => reduce::reduce(ReduceFn::ReduceSumSquare, &n.config),
        Node::Sqrt(_) => elementwise::func(UnaryFn::Sqrt),
        Node::Exp(_) => elementwise::func(UnaryFn::Exp),
        Node::Log(_) => elementwise::func(UnaryFn::Log),
        Node::Abs(_) => elementwise::func(UnaryFn::Abs),
        Node::Neg(_) => elementwise::func(UnaryFn::Neg),
        Node::Reciprocal(_) => elementwise::func(UnaryFn::Reciprocal),
        Node::Floor(_) => elementwise::func(UnaryFn::Floor),
        Node::Ceil(_) => elementwise::func(UnaryFn::Ceil),
        Node::Round(_) => elementwise::func(UnaryFn::Round),
        Node::Sign(_) => elementwise::func(UnaryFn::Sign),
        Node::Sin(_) => elementwise::func(UnaryFn::Sin),
        Node::Cos(_) => elementwise::func(UnaryFn::Cos),
        Node::Tan(_) => elementwise::func(UnaryFn::Tan),
        Node::Asin(_) => elementwise::func(UnaryFn::Asin),
        Node::Acos(_) => elementwise::func(UnaryFn::Acos),
        Node::Atan(_) => elementwise::func(UnaryFn::Atan),
        Node::Sinh(_) => elementwise::func(UnaryFn::Sinh),
        Node::Cosh(_) => elementwise::func(UnaryFn::Cosh),
        Node::Softplus(_) => elementwise::func(UnaryFn::Softplus),
        Node::Softsign(_) => elementwise::func(UnaryFn::Softsign),
        Node::Mish(_) => elementwise::func(UnaryFn::Mish),
        Node::HardSwish(_) => elementwise::func(UnaryFn::HardSwish),
        Node::IsNaN(_) => elementwise::func(UnaryFn::IsNaN),
        Node::Not(_) => elementwise::func(UnaryFn::Not),
        Node::HardSigmoid(n) => elementwise::hard_sigmoid(n),
        Node::Elu(n) => elementwise::elu(n),
        Node::Selu(n) => elementwise::selu(n),
        Node::Celu(n) => elementwise::celu(n),
        Node::ThresholdedRelu(n) => elementwise::thresholded_relu(n),
        Node::IsInf(n) => elementwise::is_inf(n),
        Node::PRelu(_) => elementwise::binary_fn(BinaryFn::PRelu),
        Node::Pow(_) => elementwise::binary_fn(BinaryFn::Pow),
        Node::Mod(n) => elementwise::modulo(n),
        Node::Equal(_) => elementwise::binary_fn(BinaryFn::Equal),
        Node::Less(_) => elementwise::binary_fn(BinaryFn::Less),
        Node::LessOrEqual(_) => elementwise::binary_fn(BinaryFn::LessOrEqual),
        Node::Greater(_) => elementwise::binary_fn(BinaryFn::Greater),
        Node::GreaterOrEqual(_) => elementwise::binary_fn(BinaryFn::GreaterOrEqual),
        Node::And(_) => elementwise::binary_fn(BinaryFn::And),
        Node::Or(_) => elementwise::binary_fn(BinaryFn::Or),
        Node::Xor(_) => elementwise::binary_fn(BinaryFn::Xor),
        Node::Min(_) => elementwise::variadic(VariadicFn::Min),
        Node::Max(_) => elementwise::variadic(VariadicFn::Max),
        Node::Sum(_) => elementwise::variadic(VariadicFn::Sum),
        Node::Mean(_) => elementwise::variadic(VariadicFn::Mean),
        Node::Where(_) => Lowered::reads(Op::Where, 3),
        Node::Cast(n) => elementwise::cast(n.config.to),
        Node::CastLike(n) => elementwise::cast(n.config.to),
        Node::Shape(n) => indexing::shape(n),
        Node::Size(_) => Lowered::reads(Op::Size, 1),
        Node::ConstantOfShape(n) => indexing::constant_of_shape(n),
        Node::Gather(n) => indexing::gather(n),
        Node::Expand(n) => indexing::expand(n),
        Node::Tile(n) => indexing::tile(n),
        Node::Range(n) => indexing::range(n),
        Node::Slice(n) => indexing::slice(n),
        Node::ArgMax(n) => indexing::arg_max(n),
        Node::ArgMin(n) => indexing::arg_min(n),
        Node::CumSum(n) => indexing::cumsum(n),
        Node::Trilu(n) => indexing::trilu(n),
        Node::GatherElements(n) => indexing::gather_elements(n),
        Node::Split(n) => shape::split(n),
        Node::TopK(n) => select::top_k(n),
        Node::OneHot(n) => select::one_hot(n),
        Node::GatherND(n) => scatter::gather_nd(n),
        Node::ScatterND(n) => scatter::scatter_nd(n),
        Node::ScatterElements(n) | Node::Scatter(n) => scatter::scatter_elements(n),
        other => {
            return Err(ImportError::UnsupportedOp {
                node: other.name().to_string(),
                op: other.node_type().to_string(),
                detail: String::new(),
            });
        }
    };
    lowered.map_err(|reason| ImportError::unsupported(node, reason))
}
