//! Constant evaluation for the importer's constant folding: a node whose every input is a
//! weight (or the output of another such node) computes the same value on every request, so
//! the importer stores that value as a weight and drops the node. The value is computed here,
//! once, by the same ops the model runs with on the CPU — not by a second implementation that
//! could disagree with them.
//!
//! A node is left alone when it is guarded (`when`) or an `If`, when it dequantizes or
//! quantizes (a quantized model keeps its INT8 weights: that is what makes its bundle four
//! times smaller), when its op fails on these inputs (the model then fails at load or run
//! time as it would have), and when its outputs would take more bytes than its inputs beyond
//! a small allowance (an `Expand`, a `ConstantOfShape`, a widening `Cast`: storing them would
//! swell the bundle every box downloads, for a saving of one cheap op).

use std::collections::HashMap;

use crate::format::{NodeSpec, Op};
use crate::weights::{HostTensor, Weights};

use super::device::cpu_device;
use super::ops;
use super::value::Value;

/// Bytes a folded value may take beyond those of its inputs.
const GROWTH_ALLOWANCE: usize = 4 * 1024;

/// The nodes of `nodes` that evaluate to constants, by index, with the values of their
/// outputs (in the node's output order), in node order.
pub fn evaluate_constants(nodes: &[NodeSpec], weights: &Weights) -> Vec<(usize, Vec<HostTensor>)> {
    let device = cpu_device();
    let mut computed: HashMap<&str, HostTensor> = HashMap::new();
    let mut folded = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        let quantizing = matches!(
            node.op,
            Op::DequantizeLinear { .. } | Op::QuantizeLinear { .. } | Op::DynamicQuantizeLinear
        );
        if !node.when.is_empty() || quantizing || matches!(node.op, Op::If { .. }) {
            continue;
        }
        let inputs: Option<Vec<HostTensor>> = node
            .inputs
            .iter()
            .map(|name| {
                weights
                    .get(name)
                    .or_else(|| computed.get(name.as_str()))
                    .cloned()
            })
            .collect();
        let Some(inputs) = inputs else { continue };
        let inputs_size: usize = inputs.iter().map(|t| t.data.bytes()).sum();
        let Some(outputs) = evaluate(&node.op, inputs, &device) else {
            continue;
        };
        let outputs_size: usize = outputs.iter().map(|t| t.data.bytes()).sum();
        if outputs.len() != node.outputs.len() || outputs_size > inputs_size + GROWTH_ALLOWANCE {
            continue;
        }
        for (name, value) in node.outputs.iter().zip(&outputs) {
            computed.insert(name, value.clone());
        }
        folded.push((index, outputs));
    }
    folded
}

/// Runs one op on host values; `None` when it fails.
fn evaluate(
    op: &Op,
    inputs: Vec<HostTensor>,
    device: &burn::tensor::Device,
) -> Option<Vec<HostTensor>> {
    let values: Option<Vec<Value>> = inputs
        .into_iter()
        .map(|t| Value::from_host(t, device).ok())
        .collect();
    let ctx = ops::Ctx {
        device,
        max_elements: crate::format::MAX_ELEMENTS,
        room_bytes: usize::MAX,
    };
    let outputs = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ops::run_node(op, values?, &ctx).ok()
    }))
    .ok()??;
    outputs
        .into_iter()
        .map(|v| {
            let dtype = v.dtype();
            v.into_host(dtype).ok()
        })
        .collect()
}
