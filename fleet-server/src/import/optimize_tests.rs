//! Each rewrite of `optimize`: the graph before and after gives the same output on the same
//! input (CPU), and the rewrite did happen (or, where it must not, did not).

use edge_model::format::{NodeSpec, Op, TensorSpec};
use edge_model::weights::{HostData, HostTensor, Weights};

use super::optimize::{fold_affine, fold_constants};
use super::test_graph::{assert_same, conv, conv_weights, node, ramp, run, tensor};

const X: [usize; 4] = [1, 2, 6, 7];
const Y: [usize; 4] = [1, 4, 6, 7];

type Pass = fn(&mut Vec<NodeSpec>, &mut Weights, &[TensorSpec]);

/// Applies `pass`, checks that the output did not change, and returns the graph after.
fn rewritten(
    nodes: Vec<NodeSpec>,
    weights: Weights,
    dims: (&[usize], &[usize]),
    pass: Pass,
) -> (Vec<NodeSpec>, Weights) {
    let (x, y) = dims;
    let before = run(nodes.clone(), weights.clone(), x, y);
    let (mut nodes, mut weights) = (nodes, weights);
    pass(&mut nodes, &mut weights, &[tensor("y", y)]);
    assert_same(&before, &run(nodes.clone(), weights.clone(), x, y));
    (nodes, weights)
}

fn with(mut weights: Weights, extra: &[(&str, Vec<usize>, Vec<f32>)]) -> Weights {
    for (name, shape, data) in extra {
        weights.insert(
            name.to_string(),
            HostTensor::f32(shape.clone(), data.clone()),
        );
    }
    weights
}

#[test]
fn nodes_computed_from_weights_alone_become_weights() {
    let weights = with(
        conv_weights(),
        &[
            ("w_half", vec![4, 2, 3, 3], ramp(72, 0.025)),
            ("two", vec![], vec![2.0]),
            ("b1", vec![4], vec![0.5, -1.0, 0.25, 2.0]),
        ],
    );
    let nodes = vec![
        node("scale", Op::Mul, &["w_half", "two"], "wc"),
        node("sum", Op::Add, &["b1", "b"], "bc"),
        node("relu", Op::Relu, &["bc"], "br"),
        node("c", conv(), &["x", "wc", "br"], "y"),
    ];
    let (after, weights) = rewritten(nodes, weights, (&X, &Y), fold_constants);
    // The three constant nodes are gone; the conv, which reads the graph input, stays.
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].inputs, ["x", "wc", "br"]);
    assert!(weights.contains_key("wc") && weights.contains_key("br"));
}

#[test]
fn a_constant_that_would_swell_the_bundle_is_not_folded() {
    let mut weights = with(Weights::new(), &[("one", vec![1], vec![1.0])]);
    weights.insert(
        "shape".into(),
        HostTensor {
            shape: vec![2],
            data: HostData::I64(vec![1000, 1000]),
        },
    );
    let mut nodes = vec![
        node("big", Op::Expand, &["one", "shape"], "big"),
        node("add", Op::Add, &["x", "big"], "y"),
    ];
    fold_constants(&mut nodes, &mut weights, &[tensor("y", &[1000, 1000])]);
    // Four megabytes from two small weights: computed on every box instead.
    assert_eq!(nodes.len(), 2);
    assert!(!weights.contains_key("big"));
}

#[test]
fn mul_add_and_sub_by_per_channel_constants_fold_into_the_conv_before() {
    let weights = with(
        conv_weights(),
        &[
            ("s", vec![4, 1, 1], vec![0.5, -2.0, 1.5, 0.0]),
            ("t1", vec![1, 4, 1, 1], vec![1.0, 2.0, -3.0, 0.5]),
            ("t2", vec![], vec![0.75]),
            ("t3", vec![4, 1, 1], vec![-1.0, 0.0, 1.0, 2.0]),
        ],
    );
    let nodes = vec![
        node("c", conv(), &["x", "w", "b"], "c"),
        node("mul", Op::Mul, &["c", "s"], "m"),
        node("add", Op::Add, &["t1", "m"], "a"),
        node("sub", Op::Sub, &["a", "t2"], "d"),
        node("rsub", Op::Sub, &["t3", "d"], "y"),
    ];
    let (after, _) = rewritten(nodes, weights, (&X, &Y), fold_affine);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].outputs, ["y"]);
}

#[test]
fn batch_normalization_folds_into_the_conv_before() {
    let weights = with(
        conv_weights(),
        &[
            ("gamma", vec![4], vec![1.5, 0.5, -1.0, 2.0]),
            ("beta", vec![4], vec![0.1, 0.2, 0.3, 0.4]),
            ("mean", vec![4], vec![-0.5, 0.0, 0.5, 1.0]),
            ("var", vec![4], vec![0.25, 1.0, 4.0, 0.5]),
        ],
    );
    let nodes = vec![
        node("c", conv(), &["x", "w", "b"], "c"),
        node(
            "bn",
            Op::BatchNormalization { epsilon: 1e-5 },
            &["c", "gamma", "beta", "mean", "var"],
            "y",
        ),
    ];
    let (after, _) = rewritten(nodes, weights, (&X, &Y), fold_affine);
    assert_eq!(after.len(), 1, "{after:?}");
}

#[test]
fn a_constant_along_another_axis_or_a_layer_output_read_twice_is_not_folded() {
    let weights = with(
        conv_weights(),
        &[
            ("row", vec![7], ramp(7, 0.2)),
            ("s", vec![4, 1, 1], vec![0.5, -2.0, 1.5, 3.0]),
        ],
    );
    // Broadcast along the width: not one value per channel.
    let nodes = vec![
        node("c", conv(), &["x", "w", "b"], "c"),
        node("mul", Op::Mul, &["c", "row"], "y"),
    ];
    let (after, _) = rewritten(nodes, weights.clone(), (&X, &Y), fold_affine);
    assert_eq!(after.len(), 2);
    // The conv's output also feeds the Add: folding the Mul would change the Add's input.
    let nodes = vec![
        node("c", conv(), &["x", "w", "b"], "c"),
        node("mul", Op::Mul, &["c", "s"], "m"),
        node("add", Op::Add, &["m", "c"], "y"),
    ];
    let (after, _) = rewritten(nodes, weights, (&X, &Y), fold_affine);
    assert_eq!(after.len(), 3);
}

#[test]
fn mul_and_add_by_per_output_constants_fold_into_a_linear() {
    let weights = with(
        Weights::new(),
        &[
            ("lw", vec![3, 4], ramp(12, 0.1)),
            ("lb", vec![4], vec![0.1, 0.2, -0.3, 0.4]),
            ("ls", vec![4], vec![2.0, -1.0, 0.5, 3.0]),
            ("la", vec![], vec![-0.25]),
        ],
    );
    let dims: (&[usize], &[usize]) = (&[2, 3], &[2, 4]);
    let nodes = vec![
        node(
            "l",
            Op::Linear { activation: None },
            &["x", "lw", "lb"],
            "l",
        ),
        node("mul", Op::Mul, &["ls", "l"], "m"),
        node("add", Op::Add, &["m", "la"], "y"),
    ];
    let (after, _) = rewritten(nodes, weights.clone(), dims, fold_affine);
    assert_eq!(after.len(), 1, "{after:?}");
    // Without a bias of its own, the Linear gains one.
    let nodes = vec![
        node("l", Op::Linear { activation: None }, &["x", "lw"], "l"),
        node("add", Op::Add, &["l", "ls"], "y"),
    ];
    let (after, _) = rewritten(nodes, weights, dims, fold_affine);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].inputs.len(), 3);
}
