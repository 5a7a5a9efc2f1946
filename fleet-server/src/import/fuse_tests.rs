//! Each fusion and removal of `fuse`: the graph before and after gives the same outputs on
//! the same inputs (CPU), and the rewrite did happen.

use edge_model::format::{
    DataType, Dim, FORMAT_VERSION, FusedActivation, ModelSpec, NodeSpec, Op, TensorSpec, UnaryFn,
};
use edge_model::weights::{HostTensor, Weights};
use edge_model::{DeviceChoice, LoadOptions, Model};

use super::fuse::fuse;

fn tensor(name: &str, dims: &[usize]) -> TensorSpec {
    TensorSpec {
        name: name.into(),
        datatype: DataType::Fp32,
        shape: dims.iter().map(|&d| Dim::Fixed(d)).collect(),
    }
}

fn node(name: &str, op: Op, inputs: &[&str], output: &str) -> NodeSpec {
    NodeSpec {
        name: name.into(),
        op,
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        outputs: vec![output.into()],
        when: Vec::new(),
    }
}

fn conv() -> Op {
    Op::Conv {
        kernel: vec![3, 3],
        strides: vec![1, 1],
        dilations: vec![1, 1],
        groups: 1,
        pads: vec![1, 1, 1, 1],
        auto_pad: Default::default(),
        activation: None,
    }
}

fn ramp(n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7 % 23) as f32 - 11.0) * scale)
        .collect()
}

fn weights() -> Weights {
    let mut w = Weights::new();
    w.insert(
        "w".into(),
        HostTensor::f32(vec![4, 2, 3, 3], ramp(72, 0.05)),
    );
    w.insert(
        "b".into(),
        HostTensor::f32(vec![4], vec![0.1, -0.2, 0.3, -0.4]),
    );
    w
}

/// The graph's output on a fixed input.
fn run(nodes: Vec<NodeSpec>) -> Vec<f32> {
    let spec = ModelSpec {
        format_version: FORMAT_VERSION,
        name: "fuse".into(),
        version: 1,
        producer: String::new(),
        inputs: vec![tensor("x", &[1, 2, 6, 7])],
        outputs: vec![tensor("y", &[1, 4, 6, 7])],
        nodes,
    };
    let options = LoadOptions {
        device: DeviceChoice::Cpu,
        warmup_runs: 0,
        ..Default::default()
    };
    let model = Model::from_parts(spec, weights(), &options).expect("load");
    let x = HostTensor::f32(vec![1, 2, 6, 7], ramp(84, 0.3));
    let out = model.run(vec![("x".into(), x)]).expect("run");
    out[0].1.as_f32().expect("f32").to_vec()
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
    let result = run(after.clone());
    for (a, b) in before.iter().zip(&result) {
        assert!(
            (a - b).abs() <= 1e-5 + 1e-5 * a.abs(),
            "unfused {a}, fused {b}"
        );
    }
    after
}

fn activation_of(nodes: &[NodeSpec]) -> Option<FusedActivation> {
    match nodes.first().map(|n| &n.op) {
        Some(Op::Conv { activation, .. }) => *activation,
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
