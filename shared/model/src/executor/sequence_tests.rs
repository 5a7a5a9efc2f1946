//! Unit tests of the sequence ops' rules that the ONNX node tests do not reach: Einsum over
//! three operands with an axis summed out early, and a reverse LSTM over ragged
//! `sequence_lens` (each row read from its own last step, zeros past its length).

use super::test_graphs::{fixed, io, load, node, spec};
use super::*;
use crate::format::{
    Activation, DataType, Direction, NodeSpec, Op, RecurrentCell, RecurrentInputs,
};
use crate::weights::{HostTensor, Weights};

fn values(t: &HostTensor) -> Vec<f32> {
    t.as_f32().map(<[f32]>::to_vec).unwrap_or_default()
}

#[test]
fn einsum_chains_three_operands_and_sums_an_unshared_axis_first() {
    // "ij,jk,kl->i": every axis but i summed; the result is a row sum of a·b·c.
    let s = spec(
        vec![
            io("a", DataType::Fp32, fixed(&[2, 3])),
            io("b", DataType::Fp32, fixed(&[3, 2])),
            io("c", DataType::Fp32, fixed(&[2, 2])),
        ],
        vec![io("y", DataType::Fp32, fixed(&[2]))],
        vec![node(
            "e",
            Op::Einsum {
                equation: "ij,jk,kl->i".into(),
            },
            &["a", "b", "c"],
            "y",
        )],
    );
    let model = load(s, Weights::new(), DeviceChoice::Cpu).expect("load");
    let a = HostTensor::f32(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let b = HostTensor::f32(vec![3, 2], vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    let c = HostTensor::f32(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]);
    let out = model
        .run(vec![("a".into(), a), ("b".into(), b), ("c".into(), c)])
        .expect("run");
    // a·b = [[4, 5], [10, 11]]; (a·b)·c = [[19, 28], [43, 64]]; row sums 47 and 107.
    assert_eq!(values(&out[0].1), vec![47.0, 107.0]);
}

#[test]
fn a_reverse_rnn_reads_each_row_from_its_own_last_step() {
    // Identity weights, no bias, Relu: h_t = relu(x_t + h_{t-1}), read backwards per row.
    let optional = RecurrentInputs {
        sequence_lens: true,
        ..Default::default()
    };
    let s = spec(
        vec![
            io("x", DataType::Fp32, fixed(&[3, 2, 1])),
            io("lens", DataType::Int64, fixed(&[2])),
        ],
        vec![
            io("y", DataType::Fp32, fixed(&[3, 1, 2, 1])),
            io("h", DataType::Fp32, fixed(&[1, 2, 1])),
        ],
        vec![NodeSpec {
            name: "rnn".into(),
            op: Op::Recurrent {
                cell: RecurrentCell::Rnn,
                hidden: 1,
                direction: Direction::Reverse,
                batch_first: false,
                clip: None,
                activations: vec![Activation::Relu],
                optional,
            },
            inputs: vec!["x".into(), "w".into(), "r".into(), "lens".into()],
            outputs: vec!["y".into(), "h".into()],
            when: Vec::new(),
        }],
    );
    let mut w = Weights::new();
    w.insert("w".into(), HostTensor::f32(vec![1, 1, 1], vec![1.0]));
    w.insert("r".into(), HostTensor::f32(vec![1, 1, 1], vec![1.0]));
    let model = load(s, w, DeviceChoice::Cpu).expect("load");
    // Row 0 has all 3 steps (1, 2, 3); row 1 only its first 2 (10, 20; the 30 is padding).
    let x = HostTensor::f32(vec![3, 2, 1], vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0]);
    let lens = HostTensor::typed(vec![2], vec![3i64, 2]).expect("lens");
    let out = model
        .run(vec![("x".into(), x), ("lens".into(), lens)])
        .expect("run");
    // Row 0 backwards: 3, 3+2=5, 5+1=6 at t = 2, 1, 0. Row 1 backwards from t = 1: 20, 30;
    // t = 2 is past its length, so zero, and its last state is the one at t = 0.
    assert_eq!(values(&out[0].1), vec![6.0, 30.0, 5.0, 20.0, 3.0, 0.0]);
    assert_eq!(values(&out[1].1), vec![6.0, 30.0]);
}
