//! One converter per op family, and the dispatch that routes each onnx-ir node type to its
//! family.
//!
//! The families are the executor's (element-wise, convolution and pooling, normalisation,
//! shape and indexing, reductions) plus linear algebra, so an op is found in the same place on
//! both sides. A family converter sees only the node's attributes and gives back our op and how
//! its inputs are read ([`Lowered`]), or the reason it refuses the node; the dispatch names the
//! node in the error. Adding an op: its converter in the family's file, its arm in [`lower`],
//! its name in `SUPPORTED_OPS`, a fixture under `fixtures/onnx/ops/`.

mod conv_pool;
mod elementwise;
mod linalg;
mod normalization;
mod reduce;
mod shape;

use edge_model::format::Op;
use onnx_ir::Node;

use crate::import::error::ImportError;

/// What a family converter makes of one node.
pub(super) struct Lowered {
    pub(super) op: Op,
    /// How many leading inputs the op reads (`usize::MAX`: all of them).
    pub(super) inputs: usize,
    /// The input that is a 2-D weight to store transposed, if any.
    pub(super) transpose: Option<usize>,
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
        })
    }
}

/// The refusal for an input that ONNX lets the graph compute at run time and we need constant.
fn runtime_input(what: &str) -> String {
    format!("{what} computed at run time is not supported; export with constant {what}")
}

/// Routes `node` to its family's converter. Constant nodes are not ops: the converter stores
/// them as weights before asking here.
pub(super) fn lower(node: &Node) -> Result<Lowered, ImportError> {
    let lowered = match node {
        Node::Linear(n) => linalg::linear(n),
        Node::Gemm(n) => linalg::gemm(n),
        Node::MatMul(_) => linalg::matmul(),
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
        Node::MaxPool1d(n) => conv_pool::max_pool1d(n),
        Node::MaxPool2d(n) => conv_pool::max_pool2d(n),
        Node::AveragePool1d(n) => conv_pool::average_pool1d(n),
        Node::AveragePool2d(n) => conv_pool::average_pool2d(n),
        Node::GlobalAveragePool(_) => conv_pool::global_average_pool(),
        Node::BatchNormalization(n) => normalization::batch_norm(n),
        Node::LayerNormalization(n) => normalization::layer_norm(n),
        Node::Flatten(n) => shape::flatten(n),
        Node::Reshape(n) => shape::reshape(n),
        Node::Transpose(n) => shape::transpose(n),
        Node::Concat(n) => shape::concat(n),
        Node::Squeeze(n) => shape::squeeze(n),
        Node::Unsqueeze(n) => shape::unsqueeze(n),
        Node::Pad(n) => shape::pad(n),
        Node::ReduceMean(n) => reduce::reduce_mean(n),
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
