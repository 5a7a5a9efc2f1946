//! Unit tests of the signal ops beyond the ONNX node tests: a DFT and its inverse give the
//! signal back at a length that is not a power of two (what a matrix DFT must get right and a
//! radix-2 FFT cannot do), and an STFT's frames are taken every `frame_step` samples.

use super::test_graphs::{fixed, io, load, node, spec};
use super::*;
use crate::format::{DataType, Op};
use crate::weights::{HostTensor, Weights};

fn values(t: &HostTensor) -> Vec<f32> {
    t.as_f32().map(<[f32]>::to_vec).unwrap_or_default()
}

#[test]
fn a_dft_and_its_inverse_give_a_complex_signal_back_at_length_seven() {
    let dft = |inverse: bool, from: &str, to: &str| {
        node(
            to,
            Op::Dft {
                inverse,
                onesided: false,
                axis: 1,
                length: None,
            },
            &[from],
            to,
        )
    };
    let s = spec(
        vec![io("x", DataType::Fp32, fixed(&[2, 7, 2]))],
        vec![io("back", DataType::Fp32, fixed(&[2, 7, 2]))],
        vec![dft(false, "x", "spectrum"), dft(true, "spectrum", "back")],
    );
    let x: Vec<f32> = (0..28).map(|i| ((i * 5 % 11) as f32 - 5.0) / 3.0).collect();
    for device in [DeviceChoice::Cpu, DeviceChoice::Gpu] {
        let model = load(s.clone(), Weights::new(), device).expect("load");
        let out = model
            .run(vec![(
                "x".into(),
                HostTensor::f32(vec![2, 7, 2], x.clone()),
            )])
            .expect("run");
        let back = values(&out[0].1);
        let worst = back
            .iter()
            .zip(&x)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-5, "{device:?}: off by {worst}");
    }
}

#[test]
fn stft_frames_are_taken_every_step_and_a_constant_signal_has_only_a_dc_bin() {
    let s = spec(
        vec![io("x", DataType::Fp32, fixed(&[1, 11]))],
        vec![io("y", DataType::Fp32, fixed(&[1, 3, 3, 2]))],
        vec![node(
            "stft",
            Op::Stft {
                onesided: true,
                frame_step: 3,
                frame_length: 5,
                window: false,
            },
            &["x"],
            "y",
        )],
    );
    let model = load(s, Weights::new(), DeviceChoice::Cpu).expect("load");
    let out = model
        .run(vec![(
            "x".into(),
            HostTensor::f32(vec![1, 11], vec![2.0; 11]),
        )])
        .expect("run");
    assert_eq!(
        out[0].1.shape,
        vec![1, 3, 3, 2],
        "(11 - 5) / 3 + 1 frames, 5 / 2 + 1 bins"
    );
    for frame in values(&out[0].1).chunks(6) {
        assert!(
            (frame[0] - 10.0).abs() < 1e-5,
            "DC is the frame's sum: {frame:?}"
        );
        assert!(frame[1..].iter().all(|v| v.abs() < 1e-5), "{frame:?}");
    }
}
