//! Unit tests of the vision ops' rules that the ONNX node tests do not reach: opset 18's
//! per-group GroupNormalization scale, and SpaceToDepth as DCR DepthToSpace's inverse.

use super::test_graphs::{fixed, io, load, node, spec};
use super::*;
use crate::format::{DataType, Op};
use crate::weights::{HostData, HostTensor, Weights};

#[test]
fn group_norm_with_a_per_group_scale_repeats_it_over_the_groups_channels() {
    // Four channels in two groups; group 0 scaled by 2, group 1 by 10, no bias.
    let s = spec(
        vec![io("x", DataType::Fp32, fixed(&[1, 4, 2]))],
        vec![io("y", DataType::Fp32, fixed(&[1, 4, 2]))],
        vec![node(
            "gn",
            Op::GroupNormalization {
                groups: 2,
                epsilon: 0.0,
            },
            &["x", "scale", "bias"],
            "y",
        )],
    );
    let mut w = Weights::new();
    w.insert("scale".into(), HostTensor::f32(vec![2], vec![2.0, 10.0]));
    w.insert("bias".into(), HostTensor::f32(vec![2], vec![0.0, 0.0]));
    let model = load(s, w, DeviceChoice::Cpu).expect("load");
    // Each group holds [0, 0, 2, 2] (mean 1, variance 1), normalised to [-1, -1, 1, 1].
    let x = HostTensor::f32(vec![1, 4, 2], vec![0.0, 0.0, 2.0, 2.0, 0.0, 0.0, 2.0, 2.0]);
    let out = model.run(vec![("x".into(), x)]).expect("run");
    let want = vec![-2.0, -2.0, 2.0, 2.0, -10.0, -10.0, 10.0, 10.0];
    let Some(got) = out[0].1.as_f32() else {
        panic!("not f32: {:?}", out[0].1.dtype());
    };
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-4, "{got:?} != {want:?}");
    }
}

#[test]
fn space_to_depth_then_dcr_depth_to_space_gives_the_input_back() {
    let s = spec(
        vec![io("x", DataType::Int64, fixed(&[1, 2, 4, 6]))],
        vec![io("y", DataType::Int64, fixed(&[1, 2, 4, 6]))],
        vec![
            node("s2d", Op::SpaceToDepth { block: 2 }, &["x"], "deep"),
            node(
                "d2s",
                Op::DepthToSpace {
                    block: 2,
                    crd: false,
                },
                &["deep"],
                "y",
            ),
        ],
    );
    let model = load(s, Weights::new(), DeviceChoice::Cpu).expect("load");
    let values: Vec<i64> = (0..48).collect();
    let x = HostTensor::typed(vec![1, 2, 4, 6], values.clone()).expect("t");
    let out = model.run(vec![("x".into(), x)]).expect("run");
    assert_eq!(out[0].1.data, HostData::I64(values));
}
