//! Each fusion and removal of `fuse`: the graph before and after gives the same outputs on
//! the same inputs (CPU), and the rewrite did happen.

use edge_model::format::{FusedActivation, NodeSpec, Op, UnaryFn};

use super::fuse::fuse;
use super::test_graph::{self, conv, conv_weights as weights, node, tensor};

/// The graph's output on a fixed input.
fn run(nodes: Vec<NodeSpec>) -> Vec<f32> {
    test_graph::run(nodes, weights(), &[1, 2, 6, 7], &[1, 4, 6, 7])
}

/// Fuses `nodes`, checks the result against the unfused graph and returns the fused nodes.
fn fused(nodes: Vec<NodeSpec>) -> Vec<NodeSpec> {
    let before = run(nodes.clone());
    let mut after = nodes;
    fuse(
        &mut after,
        &[tensor("x", &[1, 2, 6, 7])],
        &[tensor("y", &[1, 4, 6, 7])],
    );
    test_graph::assert_same(&before, &run(after.clone()));
    after
}

fn activation_of(nodes: &[NodeSpec]) -> Option<FusedActivation> {
    match nodes.first().map(|n| &n.op) {
        Some(Op::Conv { activation, .. } | Op::Linear { activation }) => *activation,
        _ => None,
    }
}

#[test]
fn each_activation_after_a_conv_is_fused_and_gives_the_same_output() {
    let cases = [
        (Op::Relu, FusedActivation::Relu),
        (
            Op::Clip {
                min: Some(0.0),
                max: Some(6.0),
            },
            FusedActivation::Clip { min: 0.0, max: 6.0 },
        ),
        (
            Op::LeakyRelu { alpha: 0.1 },
            FusedActivation::LeakyRelu { alpha: 0.1 },
        ),
        (
            Op::HardSigmoid {
                alpha: 0.2,
                beta: 0.5,
            },
            FusedActivation::HardSigmoid {
                alpha: 0.2,
                beta: 0.5,
            },
        ),
        (
            Op::Unary {
                func: UnaryFn::HardSwish,
            },
            FusedActivation::HardSwish,
        ),
        (Op::Sigmoid, FusedActivation::Sigmoid),
        (
            Op::Gelu {
                tanh_approximation: false,
            },
            FusedActivation::Gelu {
                tanh_approximation: false,
            },
        ),
    ];
    for (op, expected) in cases {
        let nodes = vec![
            node("c", conv(), &["x", "w", "b"], "t"),
            node("a", op.clone(), &["t"], "y"),
        ];
        let after = fused(nodes);
        assert_eq!(after.len(), 1, "{op:?} not fused");
        assert_eq!(activation_of(&after), Some(expected));
        assert_eq!(after[0].outputs, ["y"]);
    }
}

#[test]
fn silu_written_as_sigmoid_times_x_is_fused() {
    let nodes = vec![
        node("c", conv(), &["x", "w", "b"], "t"),
        node("s", Op::Sigmoid, &["t"], "s"),
        node("m", Op::Mul, &["s", "t"], "y"),
    ];
    let after = fused(nodes);
    assert_eq!(after.len(), 1);
    assert_eq!(activation_of(&after), Some(FusedActivation::Silu));
}

#[test]
fn a_conv_output_read_twice_or_a_graph_output_is_not_fused() {
    // The conv's output also feeds the Add: fusing the Relu would change the Add's input.
    let nodes = vec![
        node("c", conv(), &["x", "w", "b"], "t"),
        node("r", Op::Relu, &["t"], "r"),
        node("a", Op::Add, &["r", "t"], "y"),
    ];
    let after = fused(nodes);
    assert_eq!(after.len(), 3);
    assert_eq!(activation_of(&after), None);
    // Clip with a bound read at run time is not a constant Clip.
    let nodes = vec![
        node("c", conv(), &["x", "w", "b"], "t"),
        node(
            "k",
            Op::Clip {
                min: Some(0.0),
                max: None,
            },
            &["t"],
            "y",
        ),
    ];
    assert_eq!(fused(nodes).len(), 2);
}

#[test]
fn identity_and_dropout_are_removed_and_a_graph_output_keeps_its_name() {
    let nodes = vec![
        node("i", Op::Identity, &["x"], "x1"),
        node("c", conv(), &["x1", "w", "b"], "t"),
        node("d", Op::Dropout, &["t"], "t1"),
        node("r", Op::Relu, &["t1"], "r"),
        node("o", Op::Identity, &["r"], "y"),
    ];
    let after = fused(nodes);
    // Identity, Dropout and the output Identity go; the Relu is then fused.
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].inputs[0], "x");
    assert_eq!(after[0].outputs, ["y"]);
    assert_eq!(activation_of(&after), Some(FusedActivation::Relu));
}

#[test]
fn an_activation_after_a_linear_is_fused_and_gives_the_same_output() {
    let mut weights = edge_model::weights::Weights::new();
    weights.insert(
        "lw".into(),
        edge_model::HostTensor::f32(vec![3, 4], test_graph::ramp(12, 0.2)),
    );
    weights.insert(
        "lb".into(),
        edge_model::HostTensor::f32(vec![4], vec![0.5, -0.5, 0.25, -1.0]),
    );
    let cases = [
        (Op::Relu, FusedActivation::Relu),
        (Op::Sigmoid, FusedActivation::Sigmoid),
        (
            Op::Gelu {
                tanh_approximation: true,
            },
            FusedActivation::Gelu {
                tanh_approximation: true,
            },
        ),
    ];
    for (op, expected) in cases {
        let nodes = vec![
            node(
                "l",
                Op::Linear { activation: None },
                &["x", "lw", "lb"],
                "t",
            ),
            node("a", op.clone(), &["t"], "y"),
        ];
        let run = |nodes: Vec<NodeSpec>| test_graph::run(nodes, weights.clone(), &[2, 3], &[2, 4]);
        let before = run(nodes.clone());
        let mut after = nodes;
        fuse(&mut after, &[tensor("x", &[2, 3])], &[tensor("y", &[2, 4])]);
        test_graph::assert_same(&before, &run(after.clone()));
        assert_eq!(after.len(), 1, "{op:?} not fused");
        assert_eq!(activation_of(&after), Some(expected));
    }
}
