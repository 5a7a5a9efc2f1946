//! Resize and its deprecated predecessor Upsample. The target (scales or sizes) is read from
//! the node's own input, whole: onnx-ir's config keeps only the spatial entries, and a
//! batch or channel scale must not be dropped silently. A target known at import is stored as
//! a weight; one computed by the graph is read at run time.

use edge_model::format::{CoordinateMode, NearestMode, Op, ResizeMode};
use edge_model::weights::HostTensor;
use onnx_ir::node::resize::{
    CoordinateTransformMode, NearestMode as IrNearest, ResizeConfig, ResizeMode as IrMode,
    ResizeNode, ResizeScales,
};

use super::{Lowered, Lowering, Param};

/// `Resize(X, roi?, scales?, sizes?)` (opset 11 and later) or `Resize(X, scales)` (opset 10).
pub(super) fn resize(n: &ResizeNode) -> Lowering {
    let c = &n.config;
    let (mode, nearest) = modes(c);
    let coordinates = match c.coordinate_transformation_mode {
        CoordinateTransformMode::HalfPixel => CoordinateMode::HalfPixel,
        CoordinateTransformMode::PytorchHalfPixel => CoordinateMode::PytorchHalfPixel,
        CoordinateTransformMode::AlignCorners => CoordinateMode::AlignCorners,
        CoordinateTransformMode::Asymmetric => CoordinateMode::Asymmetric,
        CoordinateTransformMode::TfHalfPixelForNn => CoordinateMode::TfHalfPixelForNn,
        CoordinateTransformMode::TfCropAndResize => {
            return Err(
                "coordinate_transformation_mode tf_crop_and_resize is not supported".into(),
            );
        }
    };
    let sizes = c.sizes.is_some();
    // Opset 10 has no roi input: scales are the second input.
    let index = match (sizes, n.inputs.len()) {
        (true, _) => 3,
        (false, 2) => 1,
        (false, _) => 2,
    };
    Lowered::with_params(
        Op::Resize {
            mode,
            coordinates,
            nearest,
            cubic_coeff_a: c.cubic_coeff_a,
            sizes,
        },
        1,
        vec![Param::Input(index)],
    )
}

/// `Upsample(X, scales)` (opset 9) or `Upsample(X)` with a `scales` attribute (opset 7): an
/// asymmetric nearest Resize that floors. onnx-ir refuses linear Upsample.
pub(super) fn upsample(n: &ResizeNode) -> Lowering {
    let (mode, _) = modes(&n.config);
    if mode != ResizeMode::Nearest {
        return Err("only nearest Upsample is supported".into());
    }
    let target = if n.inputs.len() > 1 {
        Param::Input(1)
    } else {
        let Some(ResizeScales::Static(spatial)) = &n.config.scales else {
            return Err("no scales".into());
        };
        // The attribute's batch and channel entries are 1 (onnx-ir checks): it keeps the rest.
        let mut scales = vec![1.0f32; 2];
        scales.extend(spatial);
        let len = scales.len();
        Param::Const(HostTensor::f32(vec![len], scales))
    };
    Lowered::with_params(
        Op::Resize {
            mode,
            coordinates: CoordinateMode::Asymmetric,
            nearest: NearestMode::Floor,
            cubic_coeff_a: -0.75,
            sizes: false,
        },
        1,
        vec![target],
    )
}

fn modes(c: &ResizeConfig) -> (ResizeMode, NearestMode) {
    let mode = match c.mode {
        IrMode::Nearest => ResizeMode::Nearest,
        IrMode::Linear => ResizeMode::Linear,
        IrMode::Cubic => ResizeMode::Cubic,
    };
    let nearest = match c.nearest_mode {
        IrNearest::RoundPreferFloor => NearestMode::RoundPreferFloor,
        IrNearest::RoundPreferCeil => NearestMode::RoundPreferCeil,
        IrNearest::Floor => NearestMode::Floor,
        IrNearest::Ceil => NearestMode::Ceil,
    };
    (mode, nearest)
}
