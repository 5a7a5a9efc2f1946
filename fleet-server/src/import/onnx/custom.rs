//! The ops we convert ourselves rather than through onnx-ir's processors, by its custom-op
//! hooks: before parsing, a pass over the protobuf moves them into our own domain
//! ([`DOMAIN`]), so onnx-ir keeps them as custom nodes (attributes and constant inputs
//! intact) and asks [`Hooks`] for their output types; `ops::recurrent` lowers them.
//!
//! Why: onnx-ir 0.22's LSTM, GRU and RNN processors refuse `sequence_lens` and drop
//! `activation_alpha`/`activation_beta` and per-direction activations, all of which
//! streaming and bidirectional models use. The ONNX spec of these ops is what we implement;
//! the node keeps its op type, so errors and `docs/ops.md` name it as the file does.

use std::sync::Arc;

use onnx_ir::{
    ArgType, CustomNode, CustomOpInference, GraphProto, HookCoverage, MissingReason, ModelProto,
    ProcessError, TensorType,
};

/// The domain the rerouted nodes are parsed in.
pub(super) const DOMAIN: &str = "edge.gateway";

/// The default-domain op types this module takes over, with their output ranks.
const REROUTED: &[(&str, &[usize])] = &[("LSTM", &[4, 3, 3]), ("GRU", &[4, 3]), ("RNN", &[4, 3])];

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
        if standard && REROUTED.iter().any(|(op, _)| *op == node.op_type) {
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
        if domain == DOMAIN && REROUTED.iter().any(|(op, _)| *op == op_type) {
            HookCoverage::Covered
        } else {
            HookCoverage::Missing(MissingReason::NoHook)
        }
    }

    fn infer(&self, node: &CustomNode) -> Result<Option<Vec<ArgType>>, ProcessError> {
        if node.domain != DOMAIN {
            return Ok(None);
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
