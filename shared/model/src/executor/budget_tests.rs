//! The memory budget and the output bounds: a signed model whose ops would make more than
//! the box allows fails with an error before the allocation, at load or in the run that
//! would need it, and the model (when it loaded) goes on serving smaller requests.

use super::test_graphs::{fixed, io, load, node, spec};
use super::*;
use crate::format::{DataType, Dim, ModelSpec, Op, PadMode};
use crate::weights::Weights;

fn budgeted(
    spec: ModelSpec,
    weights: Weights,
    max_memory: u64,
    warmup_runs: usize,
) -> Result<Model> {
    Model::from_parts(
        spec,
        weights,
        &LoadOptions {
            device: DeviceChoice::Cpu,
            warmup_runs,
            max_memory: Some(max_memory),
            ..Default::default()
        },
    )
}

/// `y = a + b` for `a: [n, 1]`, `b: [1, m]`: an `[n, m]` result from `n + m` inputs.
fn outer_sum() -> ModelSpec {
    let n = || Dim::Named("n".into());
    let m = || Dim::Named("m".into());
    spec(
        vec![
            io("a", DataType::Fp32, vec![n(), Dim::Fixed(1)]),
            io("b", DataType::Fp32, vec![Dim::Fixed(1), m()]),
        ],
        vec![io("y", DataType::Fp32, vec![n(), m()])],
        vec![node("add", Op::Add, &["a", "b"], "y")],
    )
}

fn column(name: &str, shape: Vec<usize>) -> (String, HostTensor) {
    let n = shape.iter().product();
    (name.into(), HostTensor::f32(shape, vec![1.0; n]))
}

#[test]
fn a_broadcast_beyond_the_budget_fails_before_allocating_and_the_model_keeps_serving() {
    let model = budgeted(outer_sum(), Weights::new(), 1 << 20, 0).expect("load");
    // 4096 x 4096 f32 is 64 MiB from 32 KiB of inputs: over a 1 MiB budget.
    let err = model
        .run(vec![column("a", vec![4096, 1]), column("b", vec![1, 4096])])
        .expect_err("allocated");
    assert!(
        matches!(err, ModelError::Memory { budget, .. } if budget == 1 << 20),
        "{err}"
    );
    assert!(err.to_string().contains("[4096, 4096]"), "{err}");
    let small = model.run(vec![column("a", vec![100, 1]), column("b", vec![1, 100])]);
    assert!(
        small.is_ok(),
        "a request within the budget is served: {small:?}"
    );
}

#[test]
fn a_matmul_outer_product_beyond_the_budget_fails_before_allocating() {
    let n = || Dim::Named("n".into());
    let outer = spec(
        vec![
            io("a", DataType::Fp32, vec![n(), Dim::Fixed(1)]),
            io("b", DataType::Fp32, vec![Dim::Fixed(1), n()]),
        ],
        vec![io("y", DataType::Fp32, vec![n(), n()])],
        vec![node("mm", Op::MatMul, &["a", "b"], "y")],
    );
    let model = budgeted(outer, Weights::new(), 1 << 20, 0).expect("load");
    let err = model
        .run(vec![column("a", vec![8192, 1]), column("b", vec![1, 8192])])
        .expect_err("allocated");
    assert!(matches!(err, ModelError::Memory { .. }), "{err}");
    assert!(err.to_string().contains("[8192, 8192]"), "{err}");
}

#[test]
fn a_concat_of_many_copies_beyond_the_budget_fails_before_allocating() {
    let copies: Vec<&str> = vec!["x"; 64];
    let many = spec(
        vec![io("x", DataType::Fp32, fixed(&[1024, 64]))],
        vec![io("y", DataType::Fp32, fixed(&[65536, 64]))],
        vec![node("cat", Op::Concat { axis: 0 }, &copies, "y")],
    );
    // The input is 256 KiB; 64 copies of it are 16 MiB.
    let model = budgeted(many, Weights::new(), 4 << 20, 0).expect("load");
    let err = model
        .run(vec![column("x", vec![1024, 64])])
        .expect_err("allocated");
    assert!(matches!(err, ModelError::Memory { .. }), "{err}");
    assert!(err.to_string().contains("[65536, 64]"), "{err}");
}

/// A static Pad of `[1, 16]` by `pads`.
fn static_pad(pads: Vec<usize>) -> ModelSpec {
    spec(
        vec![io("x", DataType::Fp32, fixed(&[1, 16]))],
        vec![io(
            "y",
            DataType::Fp32,
            vec![Dim::Named("h".into()), Dim::Named("w".into())],
        )],
        vec![node(
            "pad",
            Op::Pad {
                pads,
                mode: PadMode::Constant,
                value: 0.0,
            },
            &["x"],
            "y",
        )],
    )
}

/// Pads at the format's limit (2^16 on each side): a static Pad's output was never checked
/// before, and on a `[1, 16]` input this asks for 2^34 elements.
fn huge_static_pad() -> ModelSpec {
    static_pad(vec![1 << 16, 1 << 16, 1 << 16, 1 << 16])
}

#[test]
fn a_static_pad_past_the_tensor_limit_fails_before_allocating() {
    let model = load(huge_static_pad(), Weights::new(), DeviceChoice::Cpu).expect("load");
    let err = model
        .run(vec![column("x", vec![1, 16])])
        .expect_err("allocated")
        .to_string();
    assert!(
        err.contains("over the limit of 268435456 elements"),
        "{err}"
    );
}

#[test]
fn a_model_whose_warm_up_goes_over_the_budget_is_refused_at_load() {
    // [65536, 4096]: 2^28 elements, within the per-tensor limit, 1 GiB of f32.
    let hog = || static_pad(vec![0, 0, 65535, 4080]);
    let err = budgeted(hog(), Weights::new(), 64 << 20, 1).expect_err("loaded");
    assert!(matches!(err, ModelError::Memory { .. }), "{err}");
    assert!(err.to_string().contains("[65536, 4096]"), "{err}");
}

#[test]
fn weights_larger_than_the_budget_are_refused_before_they_are_uploaded() {
    let add = || {
        spec(
            vec![io("x", DataType::Fp32, fixed(&[1, 256]))],
            vec![io("y", DataType::Fp32, fixed(&[1024, 256]))],
            vec![node("add", Op::Add, &["x", "w"], "y")],
        )
    };
    let mut weights = Weights::new();
    weights.insert(
        "w".into(),
        HostTensor::f32(vec![1024, 256], vec![0.0; 1 << 18]),
    );
    // 1 MiB of weights: twice that with the device's copy.
    let err = budgeted(add(), weights.clone(), (2 << 20) - 1, 0).expect_err("loaded");
    assert!(matches!(err, ModelError::Memory { .. }), "{err}");
    assert!(
        err.to_string().contains("weights take 1048576 bytes"),
        "{err}"
    );
    let model = budgeted(add(), weights, 3 << 20, 0).expect("within the budget");
    assert_eq!(model.report().weight_bytes, 2 << 20);
}

#[test]
fn without_a_budget_a_large_broadcast_runs() {
    let model = load(outer_sum(), Weights::new(), DeviceChoice::Cpu).expect("load");
    let out = model
        .run(vec![column("a", vec![1024, 1]), column("b", vec![1, 1024])])
        .expect("run");
    assert_eq!(out[0].1.shape, vec![1024, 1024]);
}
