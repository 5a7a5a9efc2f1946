//! The audio and signal front-end ops onnx-ir parses: the window functions, MelWeightMatrix,
//! STFT (real signals, constant frame step and length) and DFT (constant length and axis).
//! onnx-ir lifts the constant sizes into each node's config; a window size computed at run
//! time stays an input.

use edge_model::format::{DataType, Op, WindowKind};
use onnx_ir::DType;
use onnx_ir::node::window_common::WindowSize;

use super::{Lowered, Lowering, Param};

fn dtype(d: DType) -> Result<DataType, String> {
    crate::import::onnx::signature::data_type(d)
        .filter(|t| t.is_float())
        .ok_or_else(|| format!("output_datatype {d:?} is not a supported float type"))
}

pub(super) fn window(kind: WindowKind, periodic: bool, out: DType, size: &WindowSize) -> Lowering {
    let op = Op::Window {
        kind,
        periodic,
        dtype: dtype(out)?,
    };
    match size {
        WindowSize::Static(n) => Lowered::with_params(op, 0, vec![Param::Ints(vec![*n as i64])]),
        WindowSize::Runtime(r) => Lowered::with_params(op, 0, vec![Param::from_runtime(r)]),
    }
}

pub(super) fn mel_weight_matrix(
    n: &onnx_ir::node::mel_weight_matrix::MelWeightMatrixNode,
) -> Lowering {
    Lowered::reads(
        Op::MelWeightMatrix {
            dtype: dtype(n.config.output_dtype)?,
        },
        5,
    )
}

pub(super) fn stft(n: &onnx_ir::node::stft::StftNode) -> Lowering {
    let c = &n.config;
    let op = Op::Stft {
        onesided: c.onesided,
        frame_step: c.frame_step,
        frame_length: c.frame_length,
        window: c.has_window,
    };
    if c.has_window {
        Lowered::with_params(op, 1, vec![Param::Input(2)])
    } else {
        Lowered::reads(op, 1)
    }
}

pub(super) fn dft(n: &onnx_ir::node::dft::DftNode) -> Lowering {
    let c = &n.config;
    Lowered::reads(
        Op::Dft {
            inverse: c.inverse,
            onesided: c.onesided,
            axis: c.axis,
            length: c.dft_length,
        },
        1,
    )
}
