//! Small graphs built by hand for the rewrite tests (`fuse_tests`, `optimize_tests`), run on
//! the CPU before and after a rewrite.

use edge_model::format::{DataType, Dim, FORMAT_VERSION, ModelSpec, NodeSpec, Op, TensorSpec};
use edge_model::weights::{HostTensor, Weights};
use edge_model::{DeviceChoice, LoadOptions, Model};

pub fn tensor(name: &str, dims: &[usize]) -> TensorSpec {
    TensorSpec {
        name: name.into(),
        datatype: DataType::Fp32,
        shape: dims.iter().map(|&d| Dim::Fixed(d)).collect(),
    }
}

pub fn node(name: &str, op: Op, inputs: &[&str], output: &str) -> NodeSpec {
    NodeSpec {
        name: name.into(),
        op,
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        outputs: vec![output.into()],
        when: Vec::new(),
    }
}

/// `n` values in a fixed, uneven pattern, times `scale`.
pub fn ramp(n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7 % 23) as f32 - 11.0) * scale)
        .collect()
}

/// A 3x3 convolution, padded to keep the size, with no activation.
pub fn conv() -> Op {
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

/// Weights `w` (2 → 4 channels, 3x3) and bias `b` for [`conv`].
pub fn conv_weights() -> Weights {
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

/// The output `y` (of shape `y_dims`) of the graph `nodes` on input `x` (a ramp of shape
/// `x_dims`).
pub fn run(nodes: Vec<NodeSpec>, weights: Weights, x_dims: &[usize], y_dims: &[usize]) -> Vec<f32> {
    let spec = ModelSpec {
        format_version: FORMAT_VERSION,
        name: "rewrite".into(),
        version: 1,
        producer: String::new(),
        inputs: vec![tensor("x", x_dims)],
        outputs: vec![tensor("y", y_dims)],
        nodes,
    };
    let options = LoadOptions {
        device: DeviceChoice::Cpu,
        warmup_runs: 0,
        ..Default::default()
    };
    let model = Model::from_parts(spec, weights, &options).expect("load");
    let n = x_dims.iter().product();
    let x = HostTensor::f32(x_dims.to_vec(), ramp(n, 0.3));
    let out = model.run(vec![("x".into(), x)]).expect("run");
    out[0].1.as_f32().expect("f32").to_vec()
}

/// Panics unless `before` and `after` agree to float rounding.
pub fn assert_same(before: &[f32], after: &[f32]) {
    assert_eq!(before.len(), after.len());
    for (a, b) in before.iter().zip(after) {
        assert!(
            (a - b).abs() <= 1e-5 + 1e-5 * a.abs(),
            "before {a}, after {b}"
        );
    }
}
