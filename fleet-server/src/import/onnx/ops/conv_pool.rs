//! Convolution and pooling, in 1-D and 2-D (onnx-ir splits them by spatial rank; 3-D is
//! refused by the dispatch). onnx-ir's padding and auto-pad configs become our explicit
//! `pads` (all begins, then all ends, as ONNX orders them) and [`AutoPad`].

use edge_model::format::{AutoPad, Op};
use onnx_ir::node::avg_pool1d::AveragePool1dNode;
use onnx_ir::node::avg_pool2d::AveragePool2dNode;
use onnx_ir::node::conv_transpose1d::ConvTranspose1dNode;
use onnx_ir::node::conv_transpose2d::ConvTranspose2dNode;
use onnx_ir::node::conv1d::Conv1dNode;
use onnx_ir::node::conv2d::Conv2dNode;
use onnx_ir::node::max_pool1d::MaxPool1dNode;
use onnx_ir::node::max_pool2d::MaxPool2dNode;
use onnx_ir::node::padding::{self, PaddingConfig1d, PaddingConfig2d};

use super::{Lowered, Lowering};

/// Input, weight and the optional bias.
pub(super) fn conv1d(n: &Conv1dNode) -> Lowering {
    let c = &n.config;
    Lowered::reads(
        Op::Conv {
            kernel: vec![c.kernel_size],
            strides: vec![c.stride],
            dilations: vec![c.dilation],
            groups: c.groups,
            pads: padding_1d(&c.padding),
            auto_pad: auto_pad(&c.auto_pad),
            activation: None,
        },
        3,
    )
}

pub(super) fn conv2d(n: &Conv2dNode) -> Lowering {
    let c = &n.config;
    Lowered::reads(
        Op::Conv {
            kernel: c.kernel_size.to_vec(),
            strides: c.stride.to_vec(),
            dilations: c.dilation.to_vec(),
            groups: c.groups,
            pads: padding_2d(&c.padding),
            auto_pad: auto_pad(&c.auto_pad),
            activation: None,
        },
        3,
    )
}

/// Input, weight `[C_in, C_out / groups, k..]` and the optional bias. onnx-ir gives
/// symmetric pads; `output_shape` and `auto_pad` make the executor derive them.
pub(super) fn conv_transpose1d(n: &ConvTranspose1dNode) -> Lowering {
    let c = &n.config;
    Lowered::reads(
        Op::ConvTranspose {
            kernel: vec![c.kernel_size],
            strides: vec![c.stride],
            dilations: vec![c.dilation],
            groups: c.groups,
            pads: vec![c.padding, c.padding],
            output_padding: vec![c.padding_out],
            auto_pad: auto_pad(&c.auto_pad),
            output_shape: c.output_shape.map(|s| vec![s]),
        },
        3,
    )
}

pub(super) fn conv_transpose2d(n: &ConvTranspose2dNode) -> Lowering {
    let c = &n.config;
    Lowered::reads(
        Op::ConvTranspose {
            kernel: c.kernel_size.to_vec(),
            strides: c.stride.to_vec(),
            dilations: c.dilation.to_vec(),
            groups: c.groups,
            pads: vec![c.padding[0], c.padding[1], c.padding[0], c.padding[1]],
            output_padding: c.padding_out.to_vec(),
            auto_pad: auto_pad(&c.auto_pad),
            output_shape: c.output_shape.map(|s| s.to_vec()),
        },
        3,
    )
}

pub(super) fn max_pool1d(n: &MaxPool1dNode) -> Lowering {
    let c = &n.config;
    Lowered::reads(
        Op::MaxPool {
            kernel: vec![c.kernel_size],
            strides: vec![c.stride],
            dilations: vec![c.dilation],
            pads: padding_1d(&c.padding),
            auto_pad: auto_pad(&c.auto_pad),
            ceil_mode: c.ceil_mode,
        },
        1,
    )
}

/// Only the default (row-major) storage order.
pub(super) fn max_pool2d(n: &MaxPool2dNode) -> Lowering {
    let c = &n.config;
    if c.storage_order != 0 {
        return Err("storage_order=1".into());
    }
    Lowered::reads(
        Op::MaxPool {
            kernel: c.kernel_size.to_vec(),
            strides: c.strides.to_vec(),
            dilations: c.dilation.to_vec(),
            pads: padding_2d(&c.padding),
            auto_pad: auto_pad(&c.auto_pad),
            ceil_mode: c.ceil_mode,
        },
        1,
    )
}

pub(super) fn average_pool1d(n: &AveragePool1dNode) -> Lowering {
    let c = &n.config;
    if c.dilation != 1 {
        return Err("dilated average pooling".into());
    }
    Lowered::reads(
        Op::AveragePool {
            kernel: vec![c.kernel_size],
            strides: vec![c.stride],
            pads: padding_1d(&c.padding),
            auto_pad: auto_pad(&c.auto_pad),
            ceil_mode: c.ceil_mode,
            count_include_pad: c.count_include_pad,
        },
        1,
    )
}

pub(super) fn average_pool2d(n: &AveragePool2dNode) -> Lowering {
    let c = &n.config;
    if c.dilation != [1, 1] {
        return Err("dilated average pooling".into());
    }
    Lowered::reads(
        Op::AveragePool {
            kernel: c.kernel_size.to_vec(),
            strides: c.strides.to_vec(),
            pads: padding_2d(&c.padding),
            auto_pad: auto_pad(&c.auto_pad),
            ceil_mode: c.ceil_mode,
            count_include_pad: c.count_include_pad,
        },
        1,
    )
}

pub(super) fn global_average_pool() -> Lowering {
    Lowered::reads(Op::GlobalAveragePool, 1)
}

pub(super) fn global_max_pool() -> Lowering {
    Lowered::reads(Op::GlobalMaxPool, 1)
}

fn padding_1d(p: &PaddingConfig1d) -> Vec<usize> {
    match p {
        PaddingConfig1d::Valid => vec![0, 0],
        PaddingConfig1d::Explicit(a, b) => vec![*a, *b],
    }
}

fn padding_2d(p: &PaddingConfig2d) -> Vec<usize> {
    match p {
        PaddingConfig2d::Valid => vec![0, 0, 0, 0],
        // onnx-ir orders these (top, left, bottom, right), as ONNX does.
        PaddingConfig2d::Explicit(t, l, b, r) => vec![*t, *l, *b, *r],
    }
}

fn auto_pad(a: &padding::AutoPad) -> AutoPad {
    use padding::AutoPad as A;
    match a {
        A::NotSet => AutoPad::Explicit,
        A::Valid => AutoPad::Valid,
        A::SameUpper => AutoPad::SameUpper,
        A::SameLower => AutoPad::SameLower,
    }
}
