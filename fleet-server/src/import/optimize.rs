//! Import-time graph rewrites that change no result beyond float rounding, checked by the
//! same reference cases as the rest of the conversion (and each by its own test in
//! `optimize_tests.rs` / `fuse_tests.rs`).
//!
//! * Constant folding: a node whose inputs are all weights is computed once here, by the
//!   executor's own ops (`edge_model::executor::fold`), and its outputs stored as weights.
//!   onnx-ir folds ONNX `Constant`s; this catches what our converters produce from them
//!   (and what onnx-ir leaves), such as a reshape or cast of a weight.
//! * A per-channel affine map after a Conv or Linear whose output feeds nothing else is
//!   folded into its weights and bias: BatchNormalization (`s = gamma / sqrt(var + eps)`,
//!   `t = beta - mean·s`), and Mul, Add or Sub by a per-channel constant. With `y·s + t`
//!   after the layer, `W' = W·s` (per output channel) and `b' = b·s + t`: one pass over the
//!   data instead of two on every request.
//! * Activations are fused into the Conv before them and Identity nodes removed (`fuse`).
//! * Weights no node reads any more are dropped.

use std::collections::HashSet;

use edge_model::executor::fold::evaluate_constants;
use edge_model::format::{NodeSpec, Op, TensorSpec};
use edge_model::weights::{HostTensor, Weights};

/// Applies every rewrite in place.
pub fn optimize(
    nodes: &mut Vec<NodeSpec>,
    weights: &mut Weights,
    inputs: &[TensorSpec],
    outputs: &[TensorSpec],
) {
    fold_constants(nodes, weights, outputs);
    fold_affine(nodes, weights, outputs);
    super::fuse::fuse(nodes, inputs, outputs);
    let used: HashSet<&String> = nodes
        .iter()
        .flat_map(|n| n.inputs.iter().chain(n.when.iter().map(|g| &g.value)))
        .chain(outputs.iter().map(|o| &o.name))
        .collect();
    let unused: Vec<String> = weights
        .keys()
        .filter(|k| !used.contains(k))
        .cloned()
        .collect();
    for name in unused {
        weights.remove(&name);
    }
}

/// Replaces every node that computes a constant by weights named after its outputs (a node
/// that writes a graph output stays, so the output is still produced by a node).
pub(super) fn fold_constants(
    nodes: &mut Vec<NodeSpec>,
    weights: &mut Weights,
    outputs: &[TensorSpec],
) {
    let is_output = |name: &String| outputs.iter().any(|o| o.name == *name);
    let mut folded = HashSet::new();
    for (index, values) in evaluate_constants(nodes, weights) {
        if nodes[index].outputs.iter().any(is_output) {
            continue;
        }
        for (name, value) in nodes[index].outputs.iter().zip(values) {
            weights.insert(name.clone(), value);
        }
        folded.insert(index);
    }
    let mut index = 0;
    nodes.retain(|_| {
        index += 1;
        !folded.contains(&(index - 1))
    });
}

/// Folds each per-channel affine node into the Conv or Linear before it.
pub(super) fn fold_affine(
    nodes: &mut Vec<NodeSpec>,
    weights: &mut Weights,
    outputs: &[TensorSpec],
) {
    let mut i = 0;
    while i < nodes.len() {
        if let Some(layer) = foldable_layer(nodes, i, weights, outputs)
            && fold_one(nodes, layer, i, weights)
        {
            nodes.remove(i);
            continue;
        }
        i += 1;
    }
}

/// The layer kinds a per-channel affine map folds into.
#[derive(Clone, Copy)]
enum Layer {
    /// Conv: weight `[out, in/groups, k…]`, output channels on axis 1 of a rank-`rank` output
    /// (the weight's rank, at least 3).
    Conv { rank: usize },
    /// Linear: weight `[in, out]`, output channels on the last axis.
    Linear,
}

fn layer_of(op: &Op, weight: Option<&HostTensor>) -> Option<Layer> {
    match op {
        Op::Conv {
            activation: None, ..
        } => {
            let rank = weight?.shape.len();
            (rank >= 3).then_some(Layer::Conv { rank })
        }
        Op::Linear { activation: None } if weight?.shape.len() == 2 => Some(Layer::Linear),
        _ => None,
    }
}

/// The index of the Conv or Linear that node `at` can be folded into, if any: the node's
/// data input is that layer's output and nothing else reads it, and the layer's weight and
/// bias are constants.
fn foldable_layer(
    nodes: &[NodeSpec],
    at: usize,
    weights: &Weights,
    outputs: &[TensorSpec],
) -> Option<usize> {
    let node = &nodes[at];
    if !node.when.is_empty()
        || !matches!(
            node.op,
            Op::BatchNormalization { .. } | Op::Mul | Op::Add | Op::Sub
        )
    {
        return None;
    }
    let layer = node.inputs.iter().find_map(|x| {
        nodes[..at].iter().position(|n| {
            n.outputs[0] == *x
                && n.when.is_empty()
                && layer_of(&n.op, n.inputs.get(1).and_then(|w| weights.get(w))).is_some()
        })
    })?;
    let x = &nodes[layer].outputs[0];
    let readers = nodes
        .iter()
        .filter(|n| n.inputs.contains(x) || n.when.iter().any(|g| g.value == *x))
        .count();
    let is_output = outputs.iter().any(|o| o.name == *x);
    let consts = nodes[layer]
        .inputs
        .iter()
        .skip(1)
        .all(|w| weights.contains_key(w));
    (readers == 1 && !is_output && consts).then_some(layer)
}

/// The FP32 values of a weight (an FP64 model keeps its nodes as they are).
fn f32s<'a>(weights: &'a Weights, name: &str) -> Option<&'a [f32]> {
    weights.get(name).and_then(|t| t.as_f32())
}

/// `constant` as one value per channel, when it broadcasts against the layer's output only
/// along its channel axis (and so cannot change the output's shape).
fn per_channel(constant: &HostTensor, channels: usize, layer: Layer) -> Option<Vec<f32>> {
    let data = constant.as_f32()?;
    let (max_rank, axis_from_end) = match layer {
        Layer::Conv { rank } => (rank, rank - 2),
        Layer::Linear => (1, 0),
    };
    let shape = &constant.shape;
    if shape.len() > max_rank {
        return None;
    }
    for (from_end, &size) in shape.iter().rev().enumerate() {
        if size != 1 && !(from_end == axis_from_end && size == channels) {
            return None;
        }
    }
    match data.len() {
        1 => Some(vec![data[0]; channels]),
        n if n == channels => Some(data.to_vec()),
        _ => None,
    }
}

/// The map `y → y·scale + shift` that node `at` applies to the layer's output `x`.
fn affine_of(
    node: &NodeSpec,
    x: &str,
    weights: &Weights,
    channels: usize,
    layer: Layer,
) -> Option<(Vec<f32>, Vec<f32>)> {
    if let Op::BatchNormalization { epsilon } = node.op {
        if node.inputs[0] != x {
            return None;
        }
        let params: Option<Vec<&[f32]>> = node
            .inputs
            .get(1..5)?
            .iter()
            .map(|n| f32s(weights, n).filter(|v| v.len() == channels))
            .collect();
        let [gamma, beta, mean, var] = params?[..] else {
            return None;
        };
        let scale: Vec<f32> = (0..channels)
            .map(|c| gamma[c] / (var[c] + epsilon).sqrt())
            .collect();
        let shift = (0..channels)
            .map(|c| beta[c] - mean[c] * scale[c])
            .collect();
        return Some((scale, shift));
    }
    let [a, b] = &node.inputs[..] else {
        return None;
    };
    let (x_first, other) = match (a == x, b == x) {
        (true, false) => (true, b),
        (false, true) => (false, a),
        _ => return None,
    };
    let c = per_channel(weights.get(other)?, channels, layer)?;
    let ones = vec![1.0; channels];
    let zeros = vec![0.0; channels];
    Some(match (&node.op, x_first) {
        (Op::Mul, _) => (c, zeros),
        (Op::Add, _) => (ones, c),
        (Op::Sub, true) => (ones, c.iter().map(|v| -v).collect()),
        (Op::Sub, false) => (vec![-1.0; channels], c),
        _ => return None,
    })
}

/// A weight name not taken yet, from `base`.
fn fresh_name(weights: &Weights, base: &str) -> String {
    (0..)
        .map(|k| format!("{base}.{k}"))
        .find(|n| !weights.contains_key(n))
        .unwrap_or_else(|| base.to_string())
}

/// Rewrites the layer at `layer` to include the affine node at `at`; false if the shapes do
/// not line up (then nothing is changed).
fn fold_one(nodes: &mut [NodeSpec], layer: usize, at: usize, weights: &mut Weights) -> bool {
    let w_name = &nodes[layer].inputs[1];
    let Some(w) = weights.get(w_name) else {
        return false;
    };
    let Some(kind) = layer_of(&nodes[layer].op, Some(w)) else {
        return false;
    };
    let w_shape = w.shape.clone();
    let Some(w) = w.as_f32() else {
        return false;
    };
    let channels = match kind {
        Layer::Conv { .. } => w_shape[0],
        Layer::Linear => w_shape[1],
    };
    let bias = match nodes[layer].inputs.get(2) {
        Some(b) => match f32s(weights, b) {
            Some(b) if b.len() == channels => b.to_vec(),
            _ => return false,
        },
        None => vec![0.0; channels],
    };
    let x = nodes[layer].outputs[0].clone();
    let Some((scale, shift)) = affine_of(&nodes[at], &x, weights, channels, kind) else {
        return false;
    };
    if channels == 0 || w.len() % channels != 0 {
        return false;
    }
    let per_out = w.len() / channels;
    let folded_w: Vec<f32> = w
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let channel = match kind {
                Layer::Conv { .. } => i / per_out,
                Layer::Linear => i % channels,
            };
            v * scale[channel]
        })
        .collect();
    let folded_b: Vec<f32> = (0..channels)
        .map(|c| bias[c] * scale[c] + shift[c])
        .collect();
    let name = nodes[layer].name.clone();
    let w_name = fresh_name(weights, &format!("{name}.folded_weight"));
    weights.insert(w_name.clone(), HostTensor::f32(w_shape, folded_w));
    let b_name = fresh_name(weights, &format!("{name}.folded_bias"));
    weights.insert(b_name.clone(), HostTensor::f32(vec![channels], folded_b));
    let output = nodes[at].outputs[0].clone();
    let layer_node = &mut nodes[layer];
    layer_node.inputs.truncate(1);
    layer_node.inputs.extend([w_name, b_name]);
    layer_node.outputs[0] = output;
    true
}
