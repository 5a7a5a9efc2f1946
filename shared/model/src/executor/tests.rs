//! Unit tests of the executor as a whole: planning, binding, running and load-time checks on
//! a small graph.

use super::*;
use crate::format::{DataType, Dim, FORMAT_VERSION, NodeSpec, Op, TensorSpec};
use crate::weights::{HostTensor, Weights};

fn relu_model() -> (ModelSpec, Weights) {
    let io = |name: &str| TensorSpec {
        name: name.into(),
        datatype: DataType::Fp32,
        shape: vec![Dim::Named("batch".into()), Dim::Fixed(3)],
    };
    let spec = ModelSpec {
        format_version: FORMAT_VERSION,
        name: "relu".into(),
        version: 1,
        producer: String::new(),
        inputs: vec![io("x")],
        outputs: vec![io("y"), io("z")],
        nodes: vec![
            NodeSpec {
                name: "a".into(),
                op: Op::Relu,
                inputs: vec!["x".into()],
                outputs: vec!["y".into()],
                when: Vec::new(),
            },
            NodeSpec {
                name: "b".into(),
                op: Op::Add,
                inputs: vec!["y".into(), "w".into()],
                outputs: vec!["z".into()],
                when: Vec::new(),
            },
        ],
    };
    let mut weights = Weights::new();
    weights.insert(
        "w".into(),
        HostTensor::new(vec![3], vec![1.0, 2.0, 3.0]).expect("tensor"),
    );
    (spec, weights)
}

#[test]
fn a_loaded_model_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Model>();
}

#[test]
fn outputs_used_later_are_kept_and_broadcast_works() {
    let (spec, weights) = relu_model();
    let options = LoadOptions {
        device: DeviceChoice::Cpu,
        warmup_runs: 1,
        ..Default::default()
    };
    let model = Model::from_parts(spec, weights, &options).expect("load");
    assert_eq!(model.backend(), BackendKind::Cpu);
    let x = HostTensor::new(vec![2, 3], vec![-1.0, 0.5, 2.0, 3.0, -4.0, 0.0]).expect("tensor");
    let out = model.run(vec![("x".into(), x)]).expect("run");
    assert_eq!(out[0].1.as_f32(), Some(&[0.0, 0.5, 2.0, 3.0, 0.0, 0.0][..]));
    assert_eq!(out[1].1.as_f32(), Some(&[1.0, 2.5, 5.0, 4.0, 2.0, 3.0][..]));
}

#[test]
fn batch_sizes_must_agree_and_shapes_must_match() {
    let (spec, weights) = relu_model();
    let options = LoadOptions {
        device: DeviceChoice::Cpu,
        warmup_runs: 1,
        ..Default::default()
    };
    let model = Model::from_parts(spec, weights, &options).expect("load");
    let bad = HostTensor::new(vec![2, 4], vec![0.0; 8]).expect("tensor");
    let err = model
        .run(vec![("x".into(), bad)])
        .expect_err("accepted")
        .to_string();
    assert!(err.contains("expects [batch, 3]"), "{err}");
    let empty = HostTensor::new(vec![0, 3], Vec::<f32>::new()).expect("tensor");
    assert!(
        model.run(vec![("x".into(), empty)]).is_err(),
        "an empty batch is refused"
    );
}

#[test]
fn a_weight_of_the_wrong_shape_is_an_error_naming_the_node_not_a_panic() {
    let (spec, mut weights) = relu_model();
    weights.insert(
        "w".into(),
        HostTensor::new(vec![4], vec![0.0; 4]).expect("tensor"),
    );
    let options = LoadOptions {
        device: DeviceChoice::Cpu,
        warmup_runs: 1,
        ..Default::default()
    };
    let err = Model::from_parts(spec, weights, &options)
        .expect_err("loaded")
        .to_string();
    assert!(err.contains("node 'b' (Add)"), "{err}");
}
