//! The ops we convert ourselves rather than through onnx-ir's processors, by its custom-op
//! hooks: before parsing, a pass over the protobuf moves them into our own domain
//! ([`DOMAIN`]), so onnx-ir keeps them as custom nodes (attributes and constant inputs
//! intact) and asks [`Hooks`] for their output types; `ops::recurrent` lowers them.
//!
//! Why: onnx-ir 0.22's LSTM, GRU and RNN processors refuse `sequence_lens` and drop
//! `activation_alpha`/`activation_beta` and per-direction activations, all of which
//! streaming and bidirectional models use. The ONNX spec of these ops is what we implement;
//! the node keeps its op type, so errors and `docs/ops.md` name it as the file does.
//!
//! ConvInteger, QLinearConv and DynamicQuantizeLinear are rerouted the same way: onnx-ir 0.22
//! parses them as placeholders without their attributes; `ops::quant` lowers them.
//!
//! The classical-ML ops of `ai.onnx.ml` need no rerouting: onnx-ir has no processors for that
//! domain and keeps its nodes as custom nodes already; [`Hooks`] declares their output types
//! ([`ML_OPS`]) and `ops::ml` / `ops::trees` lower them.

use std::sync::Arc;

use onnx_ir::{
    ArgType, CustomNode, CustomOpInference, DType, GraphProto, HookCoverage, MissingReason,
    ModelProto, ProcessError, TensorType,
};

use super::ops::ml::ML_DOMAIN;
use super::ops::quant::REROUTED as QUANT;

/// The domain the rerouted nodes are parsed in.
pub(super) const DOMAIN: &str = "edge.gateway";

/// The default-domain op types this module takes over, with their output ranks.
const REROUTED: &[(&str, &[usize])] = &[("LSTM", &[4, 3, 3]), ("GRU", &[4, 3]), ("RNN", &[4, 3])];

/// The `ai.onnx.ml` op types we lower from custom nodes (onnx-ir parses Scaler and Imputer
/// itself).
pub(super) const ML_OPS: &[&str] = &[
    "TreeEnsembleClassifier",
    "TreeEnsembleRegressor",
    "TreeEnsemble",
    "LinearClassifier",
    "LinearRegressor",
    "Normalizer",
    "Binarizer",
    "ArrayFeatureExtractor",
    "LabelEncoder",
];

/// Moves every rerouted node (in subgraphs too) into [`DOMAIN`]; true when there was one.
pub(super) fn reroute(proto: &mut ModelProto) -> bool {
    let Some(graph) = proto.graph.as_mut() else {
        return false;
    };
    if !reroute_graph(graph) {
        return false;
    }
    // The domain's opset entry (onnx-ir tags custom nodes with it), made from the file's own
    // (protobuf's type for it is not exported).
    if !proto.opset_import.iter().any(|o| o.domain == DOMAIN)
        && let Some(mut opset) = proto.opset_import.first().cloned()
    {
        opset.domain = DOMAIN.to_string();
        opset.version = 1;
        proto.opset_import.push(opset);
    }
    true
}

fn reroute_graph(graph: &mut GraphProto) -> bool {
    let mut any = false;
    for node in &mut graph.node {
        let standard = node.domain.is_empty() || node.domain == "ai.onnx";
        if standard
            && (REROUTED.iter().any(|(op, _)| *op == node.op_type)
                || QUANT.contains(&node.op_type.as_str()))
        {
            node.domain = DOMAIN.to_string();
            any = true;
        }
        for attribute in &mut node.attribute {
            if let Some(g) = attribute.g.as_mut() {
                any |= reroute_graph(g);
            }
            for g in &mut attribute.graphs {
                any |= reroute_graph(g);
            }
        }
    }
    any
}

/// Output types of the rerouted nodes: floats of the first input's type, at fixed ranks.
#[derive(Debug, Default)]
pub(super) struct Hooks;

impl Hooks {
    pub(super) fn shared() -> Arc<dyn CustomOpInference> {
        Arc::new(Hooks)
    }
}

impl CustomOpInference for Hooks {
    fn coverage(&self, op_type: &str, domain: &str, _opset: usize) -> HookCoverage {
        let ours = REROUTED.iter().any(|(op, _)| *op == op_type) || QUANT.contains(&op_type);
        if (domain == DOMAIN && ours) || (domain == ML_DOMAIN && ML_OPS.contains(&op_type)) {
            HookCoverage::Covered
        } else {
            HookCoverage::Missing(MissingReason::NoHook)
        }
    }

    fn infer(&self, node: &CustomNode) -> Result<Option<Vec<ArgType>>, ProcessError> {
        if node.domain == ML_DOMAIN {
            return ml_types(node).map(Some);
        }
        if node.domain != DOMAIN {
            return Ok(None);
        }
        if QUANT.contains(&node.op_type.as_str()) {
            return quant_types(node).map(Some);
        }
        let Some((_, ranks)) = REROUTED.iter().find(|(op, _)| *op == node.op_type) else {
            return Ok(None);
        };
        let dtype = match node.inputs.first().map(|a| &a.ty) {
            Some(ArgType::Tensor(t)) => t.dtype,
            _ => {
                return Err(ProcessError::Custom(format!(
                    "{} '{}': X must be a tensor",
                    node.op_type, node.name
                )));
            }
        };
        Ok(Some(
            ranks
                .iter()
                .take(node.outputs.len())
                .map(|&rank| ArgType::Tensor(TensorType::new(dtype, rank, None)))
                .collect(),
        ))
    }
}

/// Output types of the rerouted quantized ops, by the ONNX spec: ConvInteger's INT32,
/// QLinearConv's in its `y_zero_point`'s type, DynamicQuantizeLinear's UINT8 values with
/// their FP32 scale and UINT8 zero point (scalars).
fn quant_types(node: &CustomNode) -> Result<Vec<ArgType>, ProcessError> {
    let rank = match node.inputs.first().map(|a| &a.ty) {
        Some(ArgType::Tensor(t)) => t.rank,
        _ => {
            return Err(ProcessError::Custom(format!(
                "{} '{}': x must be a tensor",
                node.op_type, node.name
            )));
        }
    };
    let tensor = |dtype: DType| ArgType::Tensor(TensorType::new(dtype, rank, None));
    Ok(match node.op_type.as_str() {
        "ConvInteger" => vec![tensor(DType::I32)],
        "QLinearConv" => {
            let zero = node
                .inputs
                .get(7)
                .map(|a| a.ty.elem_type())
                .ok_or_else(|| {
                    ProcessError::Custom(format!(
                        "QLinearConv '{}': y_zero_point is missing",
                        node.name
                    ))
                })?;
            vec![tensor(zero)]
        }
        _ => vec![
            tensor(DType::U8),
            ArgType::ScalarTensor(DType::F32),
            ArgType::ScalarTensor(DType::U8),
        ],
    })
}

/// Output types of the `ai.onnx.ml` ops, by the ONNX-ML spec.
fn ml_types(node: &CustomNode) -> Result<Vec<ArgType>, ProcessError> {
    let (dtype, rank) = match node.inputs.first().map(|a| &a.ty) {
        Some(ArgType::Tensor(t)) => (t.dtype, t.rank),
        _ => {
            return Err(ProcessError::Custom(format!(
                "{} '{}': X must be a tensor",
                node.op_type, node.name
            )));
        }
    };
    let tensor = |dtype: DType, rank: usize| ArgType::Tensor(TensorType::new(dtype, rank, None));
    let a = &node.attrs;
    Ok(match node.op_type.as_str() {
        "TreeEnsembleClassifier" | "LinearClassifier" => {
            vec![tensor(DType::I64, 1), tensor(DType::F32, 2)]
        }
        "TreeEnsembleRegressor" | "LinearRegressor" => vec![tensor(DType::F32, 2)],
        "TreeEnsemble" => vec![tensor(dtype, 2)],
        "Normalizer" => vec![tensor(DType::F32, rank)],
        "ArrayFeatureExtractor" => vec![tensor(dtype, rank.max(2))],
        "LabelEncoder" => {
            let ints = a.get_i64s("values_int64s").is_some()
                || a.get_tensor("values_tensor")
                    .is_some_and(|t| !t.dtype().is_float());
            vec![tensor(if ints { DType::I64 } else { DType::F32 }, rank)]
        }
        _ => vec![tensor(dtype, rank)],
    })
}
