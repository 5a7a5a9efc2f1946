//! Unit tests of the format: validation and the `model.json` round trip.

use std::collections::HashSet;

use super::*;
use crate::error::ModelError;

fn tensor(name: &str, shape: Vec<Dim>) -> TensorSpec {
    TensorSpec {
        name: name.into(),
        datatype: DataType::Fp32,
        shape,
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

fn spec(nodes: Vec<NodeSpec>) -> ModelSpec {
    ModelSpec {
        format_version: FORMAT_VERSION,
        name: "m".into(),
        version: 1,
        producer: String::new(),
        inputs: vec![tensor("x", vec![Dim::Named("batch".into()), Dim::Fixed(4)])],
        outputs: vec![tensor("y", vec![Dim::Named("batch".into()), Dim::Fixed(4)])],
        nodes,
    }
}

#[test]
fn a_valid_chain_passes() {
    let s = spec(vec![
        node("a", Op::Relu, &["x"], "h"),
        node("b", Op::Tanh, &["h"], "y"),
    ]);
    assert!(s.validate(&HashSet::new()).is_ok());
}

#[test]
fn cyclic_graph_is_rejected() {
    // a reads b's output, b reads a's: whichever comes first reads an undefined value.
    let s = spec(vec![
        node("a", Op::Add, &["x", "y"], "h"),
        node("b", Op::Relu, &["h"], "y"),
    ]);
    let err = s
        .validate(&HashSet::new())
        .expect_err("cycle accepted")
        .to_string();
    assert!(err.contains("cycle"), "{err}");
}

#[test]
fn duplicate_output_names_are_rejected() {
    let s = spec(vec![
        node("a", Op::Relu, &["x"], "y"),
        node("b", Op::Relu, &["x"], "y"),
    ]);
    assert!(s.validate(&HashSet::new()).is_err());
}

#[test]
fn absurd_declared_dimensions_are_rejected() {
    let mut s = spec(vec![node("a", Op::Relu, &["x"], "y")]);
    s.inputs[0].shape = vec![Dim::Fixed(1 << 40), Dim::Fixed(1 << 40)];
    let err = s
        .validate(&HashSet::new())
        .expect_err("accepted")
        .to_string();
    assert!(err.contains("over the limit"), "{err}");
    s.inputs[0].shape = vec![Dim::Fixed(1); 7];
    assert!(s.validate(&HashSet::new()).is_err());
}

#[test]
fn zero_stride_or_kernel_is_rejected_before_it_reaches_burn() {
    let conv = Op::Conv {
        kernel: vec![3, 3],
        strides: vec![0, 1],
        dilations: vec![1, 1],
        groups: 1,
        pads: vec![0; 4],
        auto_pad: AutoPad::Explicit,
        activation: None,
    };
    let s = spec(vec![node("c", conv, &["x", "w"], "y")]);
    let weights: HashSet<String> = ["w".to_string()].into();
    let err = s.validate(&weights).expect_err("accepted").to_string();
    assert!(err.contains("positive"), "{err}");
}

#[test]
fn wrong_arity_and_unproduced_outputs_are_rejected() {
    let s = spec(vec![node("a", Op::Add, &["x"], "y")]);
    assert!(s.validate(&HashSet::new()).is_err());
    let s = spec(vec![node("a", Op::Relu, &["x"], "z")]);
    assert!(s.validate(&HashSet::new()).is_err());
}

#[test]
fn spec_files_round_trip_and_unknown_versions_and_fields_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = spec(vec![node("a", Op::Softmax { axis: -1 }, &["x"], "y")]);
    s.write(dir.path()).expect("write");
    assert_eq!(ModelSpec::read(dir.path()).expect("read"), s);

    let text = std::fs::read_to_string(dir.path().join(SPEC_FILE)).expect("read");
    std::fs::write(
        dir.path().join(SPEC_FILE),
        text.replace("\"format_version\": 2", "\"format_version\": 1"),
    )
    .expect("write");
    let v1 = ModelSpec::read(dir.path()).expect("a version-1 file is still read");
    assert_eq!(v1.format_version, 1);
    std::fs::write(
        dir.path().join(SPEC_FILE),
        text.replace("\"format_version\": 2", "\"format_version\": 3"),
    )
    .expect("write");
    let err = ModelSpec::read(dir.path()).expect_err("v3 accepted");
    assert!(
        matches!(err, ModelError::FormatVersion { found: 3, .. }),
        "{err}"
    );

    std::fs::write(
        dir.path().join(SPEC_FILE),
        text.replace("\"producer\"", "\"unknown_key\""),
    )
    .expect("write");
    assert!(ModelSpec::read(dir.path()).is_err());

    std::fs::write(dir.path().join(SPEC_FILE), &text[..text.len() / 2]).expect("write");
    let err = ModelSpec::read(dir.path()).expect_err("truncated accepted");
    assert!(matches!(err, ModelError::Spec { .. }), "{err}");
}
