//! Import-time fusions and removals, after BatchNormalization folding (`optimize`):
//!
//! * an activation whose only input is a Conv's or Linear's output, read by nothing else,
//!   becomes that node's `activation`: Relu, Clip with constant bounds (Relu6), LeakyRelu,
//!   HardSigmoid, HardSwish, Sigmoid, GELU, and SiLU written as `x · Sigmoid(x)`. The CPU
//!   convolution kernels apply it to each output tile in registers (one pass over the
//!   activations instead of two); elsewhere — the GPU path, the activations that need exp or
//!   erf, and Linear, whose product is Burn's — Burn's op runs on the result, which still
//!   saves the node's dispatch and its intermediate value;
//! * Identity, and Dropout without a mask output (inference), are removed: their readers
//!   read the input instead.
//!
//! Nodes under an `If` branch guard are left as they are. Each rewrite keeps the results
//! (tests in `fuse_tests.rs` run the graph before and after on the same inputs).

use std::collections::HashSet;

use edge_model::format::{FusedActivation, NodeSpec, Op, TensorSpec, UnaryFn};

/// Applies both rewrites in place.
pub fn fuse(nodes: &mut Vec<NodeSpec>, graph_inputs: &[TensorSpec], outputs: &[TensorSpec]) {
    drop_identities(nodes, graph_inputs, outputs);
    fuse_activations(nodes, outputs);
}

/// The activation an op is, when it can be fused.
fn as_activation(op: &Op) -> Option<FusedActivation> {
    Some(match *op {
        Op::Relu => FusedActivation::Relu,
        Op::Clip {
            min: Some(min),
            max: Some(max),
        } if min <= max => FusedActivation::Clip { min, max },
        Op::LeakyRelu { alpha } => FusedActivation::LeakyRelu { alpha },
        Op::HardSigmoid { alpha, beta } => FusedActivation::HardSigmoid { alpha, beta },
        Op::Unary {
            func: UnaryFn::HardSwish,
        } => FusedActivation::HardSwish,
        Op::Sigmoid => FusedActivation::Sigmoid,
        Op::Gelu { tanh_approximation } => FusedActivation::Gelu { tanh_approximation },
        _ => return None,
    })
}

fn readers<'a>(nodes: &'a [NodeSpec], value: &'a str) -> impl Iterator<Item = usize> + 'a {
    nodes
        .iter()
        .enumerate()
        .filter(move |(_, n)| {
            n.inputs.iter().any(|i| i == value) || n.when.iter().any(|g| g.value == value)
        })
        .map(|(i, _)| i)
}

fn fuse_activations(nodes: &mut Vec<NodeSpec>, outputs: &[TensorSpec]) {
    let is_output = |name: &str| outputs.iter().any(|o| o.name == name);
    let mut i = 0;
    while i < nodes.len() {
        let fusable = matches!(
            nodes[i].op,
            Op::Conv {
                activation: None,
                ..
            } | Op::Linear { activation: None }
        ) && nodes[i].when.is_empty()
            && !is_output(&nodes[i].outputs[0]);
        if !fusable {
            i += 1;
            continue;
        }
        let y = nodes[i].outputs[0].clone();
        let users: Vec<usize> = readers(nodes, &y).collect();
        let fused = match users[..] {
            [a] => as_activation(&nodes[a].op)
                .filter(|_| nodes[a].inputs.len() == 1 && nodes[a].when.is_empty())
                .map(|act| (act, a, vec![a])),
            [a, b] => silu(nodes, &y, a, b, outputs)
                .map(|(mul, sig)| (FusedActivation::Silu, mul, vec![sig, mul])),
            _ => None,
        };
        let Some((activation, last, remove)) = fused else {
            i += 1;
            continue;
        };
        let output = nodes[last].outputs[0].clone();
        if let Op::Conv {
            activation: slot, ..
        }
        | Op::Linear { activation: slot } = &mut nodes[i].op
        {
            *slot = Some(activation);
        }
        nodes[i].outputs[0] = output;
        let mut remove = remove;
        remove.sort_unstable();
        for r in remove.into_iter().rev() {
            nodes.remove(r);
            if r < i {
                i -= 1;
            }
        }
        i += 1;
    }
}

/// `Mul(y, Sigmoid(y))` (either order) where the sigmoid's output is read only by the Mul:
/// the Mul's and the Sigmoid's indices.
fn silu(
    nodes: &[NodeSpec],
    y: &str,
    a: usize,
    b: usize,
    outputs: &[TensorSpec],
) -> Option<(usize, usize)> {
    let (sig, mul) = match (&nodes[a].op, &nodes[b].op) {
        (Op::Sigmoid, Op::Mul) => (a, b),
        (Op::Mul, Op::Sigmoid) => (b, a),
        _ => return None,
    };
    let s = &nodes[sig].outputs[0];
    let m = &nodes[mul];
    let pair = (m.inputs[0] == y && m.inputs[1] == *s) || (m.inputs[1] == y && m.inputs[0] == *s);
    let only_mul = readers(nodes, s).eq([mul]);
    let plain = nodes[sig].when.is_empty() && m.when.is_empty();
    (pair && only_mul && plain && !outputs.iter().any(|o| o.name == *s)).then_some((mul, sig))
}

fn drop_identities(nodes: &mut Vec<NodeSpec>, graph_inputs: &[TensorSpec], outputs: &[TensorSpec]) {
    let pinned: HashSet<&str> = graph_inputs
        .iter()
        .chain(outputs)
        .map(|t| t.name.as_str())
        .collect();
    let mut i = 0;
    while i < nodes.len() {
        let n = &nodes[i];
        let removable = matches!(n.op, Op::Identity | Op::Dropout)
            && n.inputs.len() == 1
            && n.outputs.len() == 1
            && n.when.is_empty();
        if !removable {
            i += 1;
            continue;
        }
        let (from, to) = (n.inputs[0].clone(), n.outputs[0].clone());
        if !pinned.contains(to.as_str()) {
            // Readers of the Identity's output read its input.
            rename_reads(nodes, &to, &from);
        } else if !pinned.contains(from.as_str())
            && let Some(producer) = nodes.iter().position(|p| p.outputs.contains(&from))
        {
            // The output is a graph output: the producer writes it directly.
            for o in nodes[producer].outputs.iter_mut().filter(|o| **o == from) {
                *o = to.clone();
            }
            rename_reads(nodes, &from, &to);
        } else {
            // A graph input passed straight to a graph output (or a weight): keep it.
            i += 1;
            continue;
        }
        nodes.remove(i);
    }
}

fn rename_reads(nodes: &mut [NodeSpec], old: &str, new: &str) {
    for n in nodes.iter_mut() {
        for input in n.inputs.iter_mut().filter(|x| *x == old) {
            *input = new.to_string();
        }
        for g in n.when.iter_mut().filter(|g| g.value == old) {
            g.value = new.to_string();
        }
    }
}
