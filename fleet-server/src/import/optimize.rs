//! Import-time graph rewrites that change no result beyond float rounding, checked by the
//! same reference cases as the rest of the conversion.
//!
//! * BatchNormalization after a Conv whose output feeds nothing else is folded into the
//!   convolution's weights and bias (`W' = W·s`, `b' = (b - mean)·s + beta`, with
//!   `s = gamma / sqrt(var + eps)`): one pass over the data instead of two on every request.
//! * Activations are fused into the Conv before them and Identity nodes removed (`fuse`).
//! * Weights no node reads any more are dropped.

use std::collections::HashSet;

use edge_model::format::{NodeSpec, Op, TensorSpec};
use edge_model::weights::{HostTensor, Weights};

/// Applies every rewrite in place.
pub fn optimize(
    nodes: &mut Vec<NodeSpec>,
    weights: &mut Weights,
    inputs: &[TensorSpec],
    outputs: &[TensorSpec],
) {
    fold_batch_norms(nodes, weights, outputs);
    super::fuse::fuse(nodes, inputs, outputs);
    let used: HashSet<&String> = nodes
        .iter()
        .flat_map(|n| &n.inputs)
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

fn fold_batch_norms(nodes: &mut Vec<NodeSpec>, weights: &mut Weights, outputs: &[TensorSpec]) {
    let mut i = 0;
    while i < nodes.len() {
        if let Some(conv) = foldable_conv(nodes, i, weights, outputs)
            && fold_one(nodes, conv, i, weights)
        {
            nodes.remove(i);
            continue;
        }
        i += 1;
    }
}

/// The index of the Conv that node `bn` can be folded into, if any.
fn foldable_conv(
    nodes: &[NodeSpec],
    bn: usize,
    weights: &Weights,
    outputs: &[TensorSpec],
) -> Option<usize> {
    let node = &nodes[bn];
    if !matches!(node.op, Op::BatchNormalization { .. })
        || !node.inputs[1..].iter().all(|w| weights.contains_key(w))
    {
        return None;
    }
    let x = &node.inputs[0];
    let conv = nodes[..bn]
        .iter()
        .position(|n| n.outputs[0] == *x && matches!(n.op, Op::Conv { .. }))?;
    let readers = nodes.iter().filter(|n| n.inputs.contains(x)).count();
    let is_output = outputs.iter().any(|o| o.name == *x);
    let weight_is_const = weights.contains_key(&nodes[conv].inputs[1])
        && nodes[conv]
            .inputs
            .get(2)
            .is_none_or(|b| weights.contains_key(b));
    (readers == 1 && !is_output && weight_is_const).then_some(conv)
}

/// Rewrites the Conv at `conv` to include the BatchNormalization at `bn`; false if the
/// shapes do not line up (then nothing is changed).
fn fold_one(nodes: &mut [NodeSpec], conv: usize, bn: usize, weights: &mut Weights) -> bool {
    let Op::BatchNormalization { epsilon } = nodes[bn].op else {
        return false;
    };
    let get = |name: &String| weights.get(name).cloned();
    // Only FP32 weights are folded (an FP64 model keeps its BatchNormalization).
    let get32 = |name: &String| {
        get(name).and_then(|t| t.as_f32().map(<[f32]>::to_vec).map(|d| (t.shape, d)))
    };
    let (Some((w_shape, w)), Some((_, gamma)), Some((_, beta)), Some((_, mean)), Some((_, var))) = (
        get32(&nodes[conv].inputs[1]),
        get32(&nodes[bn].inputs[1]),
        get32(&nodes[bn].inputs[2]),
        get32(&nodes[bn].inputs[3]),
        get32(&nodes[bn].inputs[4]),
    ) else {
        return false;
    };
    let channels = w_shape.first().copied().unwrap_or(0);
    let bias = match nodes[conv].inputs.get(2) {
        Some(b) => match get32(b) {
            Some((_, b)) => b,
            None => return false,
        },
        None => vec![0.0; channels],
    };
    let per_channel = |t: &Vec<f32>| t.len() == channels;
    if channels == 0
        || ![&gamma, &beta, &mean, &var].into_iter().all(per_channel)
        || bias.len() != channels
    {
        return false;
    }
    let per_out = w.len() / channels;
    let scale: Vec<f32> = (0..channels)
        .map(|c| gamma[c] / (var[c] + epsilon).sqrt())
        .collect();
    let folded_w: Vec<f32> = w
        .iter()
        .enumerate()
        .map(|(i, v)| v * scale[i / per_out])
        .collect();
    let folded_b: Vec<f32> = (0..channels)
        .map(|c| (bias[c] - mean[c]) * scale[c] + beta[c])
        .collect();
    let name = nodes[conv].name.clone();
    let w_name = format!("{name}.bn_folded_weight");
    let b_name = format!("{name}.bn_folded_bias");
    weights.insert(w_name.clone(), HostTensor::f32(w_shape.clone(), folded_w));
    weights.insert(b_name.clone(), HostTensor::f32(vec![channels], folded_b));
    let output = nodes[bn].outputs[0].clone();
    let conv_node = &mut nodes[conv];
    conv_node.inputs.truncate(1);
    conv_node.inputs.extend([w_name, b_name]);
    conv_node.outputs[0] = output;
    true
}
