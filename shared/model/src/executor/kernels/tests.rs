//! Each host kernel against Burn's op, its oracle, on the same inputs.

use burn::tensor::module::{avg_pool2d, conv2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions};
use burn::tensor::{Tensor, TensorData};

use super::*;
use crate::executor::device::cpu_device;

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn tensor(data: Vec<f32>, shape: [usize; 4]) -> Tensor<4> {
    Tensor::from_data(TensorData::new(data, shape), &cpu_device())
}

/// Burn's conv2d of the same geometry, then the activation by scalar formula.
fn oracle(
    g: &Conv2d,
    pad_end: (usize, usize),
    x: &[f32],
    w: &[f32],
    b: &[f32],
    activation: Option<FusedActivation>,
) -> Vec<f32> {
    let (h, wd) = g.in_size;
    let x = tensor(x.to_vec(), [g.batch, g.in_channels, h, wd]);
    let ws = [
        g.out_channels,
        g.in_channels / g.groups,
        g.kernel.0,
        g.kernel.1,
    ];
    let w = tensor(w.to_vec(), ws);
    let bias = Tensor::<1>::from_data(TensorData::new(b.to_vec(), [b.len()]), &cpu_device());
    let options = ConvOptions {
        stride: [g.stride.0, g.stride.1],
        padding: [(g.pad_begin.0, pad_end.0), (g.pad_begin.1, pad_end.1)],
        dilation: [g.dilation.0, g.dilation.1],
        groups: g.groups,
    };
    let y = conv2d(x, w, Some(bias), options);
    assert_eq!(
        y.dims(),
        [g.batch, g.out_channels, g.out_size.0, g.out_size.1],
        "geometry"
    );
    let y: Vec<f32> = y.into_data().try_to_vec().expect("f32");
    y.into_iter()
        .map(|v| match activation {
            None => v,
            Some(FusedActivation::Relu) => v.max(0.0),
            Some(FusedActivation::Clip { min, max }) => v.clamp(min, max),
            Some(FusedActivation::LeakyRelu { alpha }) => {
                if v < 0.0 {
                    v * alpha
                } else {
                    v
                }
            }
            Some(FusedActivation::HardSigmoid { alpha, beta }) => {
                (alpha * v + beta).clamp(0.0, 1.0)
            }
            Some(FusedActivation::HardSwish) => v * (v / 6.0 + 0.5).clamp(0.0, 1.0),
            Some(other) => panic!("{other:?} is not applied in registers"),
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn geometry(
    batch: usize,
    c: usize,
    (h, w): (usize, usize),
    oc: usize,
    groups: usize,
    k: (usize, usize),
    s: (usize, usize),
    d: (usize, usize),
    pad: (usize, usize, usize, usize),
) -> (Conv2d, (usize, usize)) {
    let out = |size: usize, begin: usize, end: usize, k: usize, s: usize, d: usize| {
        (size + begin + end - ((k - 1) * d + 1)) / s + 1
    };
    let (pt, pl, pb, pr) = pad;
    (
        Conv2d {
            batch,
            in_channels: c,
            in_size: (h, w),
            out_channels: oc,
            groups,
            kernel: k,
            stride: s,
            dilation: d,
            pad_begin: (pt, pl),
            out_size: (out(h, pt, pb, k.0, s.0, d.0), out(w, pl, pr, k.1, s.1, d.1)),
        },
        (pb, pr),
    )
}

fn check(name: &str, g: Conv2d, pad_end: (usize, usize), activation: Option<FusedActivation>) {
    let (h, w) = g.in_size;
    let x = values(g.batch * g.in_channels * h * w, 1);
    let wt = values(
        g.out_channels * g.in_channels / g.groups * g.kernel.0 * g.kernel.1,
        2,
    );
    let b = values(g.out_channels, 3);
    let expected = oracle(&g, pad_end, &x, &wt, &b, activation);
    let packed = conv::pack(&g, &wt);
    let actual = conv::conv2d(&g, &x, &packed, &b, activation);
    assert_eq!(actual.len(), expected.len(), "{name}: length");
    for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
        assert!(
            (a - e).abs() <= 1e-4 + 1e-4 * e.abs(),
            "{name}: element {i}: kernel {a}, Burn {e}"
        );
    }
}

#[test]
fn dense_small_channel_convolutions_match_burn() {
    let (g, end) = geometry(1, 1, (28, 28), 8, 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1));
    check("cnn conv1 + relu", g, end, Some(FusedActivation::Relu));
    let (g, end) = geometry(2, 8, (14, 14), 16, 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1));
    check("cnn conv2, batch 2", g, end, None);
    let (g, end) = geometry(1, 3, (33, 31), 16, 1, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1));
    check(
        "stem, stride 2, odd sizes",
        g,
        end,
        Some(FusedActivation::HardSwish),
    );
    let (g, end) = geometry(1, 5, (12, 17), 7, 1, (5, 3), (1, 2), (1, 1), (2, 0, 1, 2));
    check(
        "uneven kernel, stride and pads",
        g,
        end,
        Some(FusedActivation::LeakyRelu { alpha: 0.1 }),
    );
    let (g, end) = geometry(1, 4, (20, 20), 6, 1, (3, 3), (1, 1), (2, 3), (2, 3, 2, 3));
    check(
        "dilated",
        g,
        end,
        Some(FusedActivation::Clip { min: 0.0, max: 6.0 }),
    );
    let (g, end) = geometry(1, 16, (9, 9), 24, 1, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0));
    check(
        "pointwise",
        g,
        end,
        Some(FusedActivation::HardSigmoid {
            alpha: 0.2,
            beta: 0.5,
        }),
    );
}

#[test]
fn depthwise_and_grouped_convolutions_match_burn() {
    let (g, end) = geometry(
        1,
        16,
        (56, 56),
        16,
        16,
        (3, 3),
        (2, 2),
        (1, 1),
        (0, 0, 1, 1),
    );
    check(
        "depthwise stride 2, same-upper pads",
        g,
        end,
        Some(FusedActivation::Relu),
    );
    let (g, end) = geometry(2, 24, (7, 7), 24, 24, (5, 5), (1, 1), (1, 1), (2, 2, 2, 2));
    check(
        "depthwise 5x5 on 7x7",
        g,
        end,
        Some(FusedActivation::HardSwish),
    );
    let (g, end) = geometry(1, 8, (10, 13), 12, 4, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1));
    check("grouped, 2 in and 3 out per group", g, end, None);
    let (g, end) = geometry(1, 4, (6, 6), 8, 4, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1));
    check("channel multiplier 2", g, end, None);
}

#[test]
fn a_large_convolution_split_over_the_pool_matches_burn() {
    let (g, end) = geometry(4, 8, (32, 32), 16, 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1));
    assert!(g.macs() > 1 << 17, "big enough to run in parallel");
    check("batch 4", g, end, Some(FusedActivation::Relu));
}

#[test]
fn the_executor_path_runs_the_kernel_only_for_f32_on_the_host() {
    let (g, _) = geometry(1, 1, (8, 8), 2, 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1));
    let x = DynTensor::R4(tensor(values(64, 1), [1, 1, 8, 8]));
    let w = DynTensor::R4(tensor(values(18, 2), [2, 1, 3, 3]));
    assert!(direct_conv_applies(&g, &x, &w));
    let wide = Conv2d {
        in_channels: 64,
        ..g
    };
    assert!(
        !direct_conv_applies(&wide, &x, &w),
        "64 channels x 3x3 goes to gemm"
    );
    let pointwise = Conv2d {
        kernel: (1, 1),
        in_channels: 16,
        ..g
    };
    assert!(!direct_conv_applies(&pointwise, &x, &w), "1x1 goes to gemm");
}

fn check_pool(name: &str, g: Conv2d, pad_end: (usize, usize), kind: Pool) {
    let (h, w) = g.in_size;
    let x = values(g.batch * g.in_channels * h * w, 4);
    let tensor_x = tensor(x.clone(), [g.batch, g.in_channels, h, w]);
    let padding = [(g.pad_begin.0, pad_end.0), (g.pad_begin.1, pad_end.1)];
    let kernel = [g.kernel.0, g.kernel.1];
    let stride = [g.stride.0, g.stride.1];
    let expected = match kind {
        Pool::Max => max_pool2d(
            tensor_x,
            MaxPoolOptions {
                kernel_size: kernel,
                stride,
                padding,
                dilation: [g.dilation.0, g.dilation.1],
                ceil_mode: false,
            },
        ),
        Pool::Average => avg_pool2d(
            tensor_x,
            AvgPoolOptions {
                kernel_size: kernel,
                stride,
                padding,
                count_include_pad: true,
                ceil_mode: false,
            },
        ),
    };
    assert_eq!(
        expected.dims(),
        [g.batch, g.in_channels, g.out_size.0, g.out_size.1],
        "{name}: geometry"
    );
    let expected: Vec<f32> = expected.into_data().try_to_vec().expect("f32");
    let actual = pool::pool2d(&g, &x, kind);
    assert_eq!(actual.len(), expected.len(), "{name}: length");
    for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
        assert!(
            (a - e).abs() <= 1e-6 + 1e-6 * e.abs(),
            "{name}: element {i}: kernel {a}, Burn {e}"
        );
    }
}

#[test]
fn max_and_average_pools_match_burn() {
    let (g, end) = geometry(2, 8, (28, 28), 8, 8, (2, 2), (2, 2), (1, 1), (0, 0, 0, 0));
    check_pool("cnn max 2x2/2", g, end, Pool::Max);
    check_pool("cnn average 2x2/2", g, end, Pool::Average);
    let (g, end) = geometry(1, 3, (15, 17), 3, 3, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1));
    check_pool("max 3x3/2 padded, odd sizes", g, end, Pool::Max);
    check_pool("average 3x3/2, padding counted", g, end, Pool::Average);
    let (g, end) = geometry(1, 2, (32, 31), 2, 2, (3, 2), (1, 2), (1, 1), (0, 0, 2, 1));
    check_pool("max padded at the end only (same-upper)", g, end, Pool::Max);
    check_pool("average padded at the end only", g, end, Pool::Average);
    let (g, end) = geometry(1, 2, (11, 12), 2, 2, (5, 5), (1, 1), (1, 1), (2, 2, 2, 2));
    check_pool("max 5x5/1 (SPPF)", g, end, Pool::Max);
    let (g, end) = geometry(1, 2, (12, 12), 2, 2, (2, 3), (1, 2), (2, 1), (0, 1, 1, 0));
    check_pool("max dilated, uneven", g, end, Pool::Max);
    let (g, end) = geometry(
        8,
        64,
        (32, 32),
        64,
        64,
        (2, 2),
        (2, 2),
        (1, 1),
        (0, 0, 0, 0),
    );
    check_pool("big enough for the pool", g, end, Pool::Max);
}
