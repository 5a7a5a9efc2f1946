//! Shape-and-indexing ops whose shapes, indices, axes or bounds may arrive at run time: Shape,
//! Size, ConstantOfShape, Gather, GatherElements, Expand, Tile, Range, Slice, ArgMax, ArgMin,
//! CumSum, Trilu. A parameter onnx-ir knew at import
//! becomes an INT64 weight, one computed at run time the value that computes it; the executor
//! reads either the same way, so a model exported with dynamic axes runs at any batch size.

use edge_model::format::{DataType, Op};
use edge_model::weights::HostTensor;
use onnx_ir::node::argmax::ArgMaxNode;
use onnx_ir::node::argmin::ArgMinNode;
use onnx_ir::node::constant_of_shape::{ConstantOfShapeNode, ConstantOfShapeShape};
use onnx_ir::node::cumsum::{CumSumAxis, CumSumNode};
use onnx_ir::node::expand::{ExpandConfig, ExpandNode};
use onnx_ir::node::gather::GatherNode;
use onnx_ir::node::gather_elements::GatherElementsNode;
use onnx_ir::node::range::{RangeInput, RangeNode};
use onnx_ir::node::shape::ShapeNode;
use onnx_ir::node::slice::{SliceInput, SliceNode};
use onnx_ir::node::tile::{TileInput, TileNode};
use onnx_ir::node::trilu::{TriluDiagonal, TriluNode};
use onnx_ir::{ArgType, TensorDataExt};

use super::{Lowered, Lowering, Param};
use crate::import::onnx::signature::data_type;

pub(super) fn shape(n: &ShapeNode) -> Lowering {
    Lowered::reads(
        Op::Shape {
            start: n.config.start as i64,
            end: Some(n.config.end as i64),
        },
        1,
    )
}

pub(super) fn constant_of_shape(n: &ConstantOfShapeNode) -> Lowering {
    let (dtype, value) = match &n.config.value {
        None => (DataType::Fp32, 0.0),
        Some(v) => {
            let dtype = data_type(v.dtype())
                .ok_or_else(|| format!("a {:?} fill value is not supported", v.dtype()))?;
            let value = if matches!(v.dtype(), onnx_ir::DType::Bool(_)) {
                v.as_slice::<bool>()
                    .ok()
                    .and_then(|b| b.first().copied())
                    .map_or(0.0, f64::from)
            } else {
                v.scalar_f64().map_err(|e| format!("fill value: {e}"))?
            };
            (dtype, value)
        }
    };
    let shape = match &n.config.shape {
        ConstantOfShapeShape::Static(dims) => Param::Ints(dims.clone()),
        ConstantOfShapeShape::Runtime(r) => Param::from_runtime(r),
    };
    Lowered::with_params(Op::ConstantOfShape { dtype, value }, 0, vec![shape])
}

pub(super) fn gather(n: &GatherNode) -> Lowering {
    Lowered::reads(
        Op::Gather {
            axis: n.config.axis as i64,
        },
        2,
    )
}

pub(super) fn expand(n: &ExpandNode) -> Lowering {
    let shape = match &n.config {
        ExpandConfig::Static(dims) => Param::Ints(dims.clone()),
        ExpandConfig::Runtime(r) => Param::from_runtime(r),
    };
    Lowered::with_params(Op::Expand, 1, vec![shape])
}

pub(super) fn tile(n: &TileNode) -> Lowering {
    let repeats = match &n.config.repeats {
        TileInput::Static(r) => Param::Ints(r.iter().map(|&x| x as i64).collect()),
        TileInput::Runtime(r) => Param::from_runtime(r),
    };
    Lowered::with_params(Op::Tile, 1, vec![repeats])
}

pub(super) fn range(n: &RangeNode) -> Lowering {
    let dtype = match n.outputs.first().map(|o| &o.ty) {
        Some(ArgType::Tensor(t)) => data_type(t.dtype),
        _ => None,
    }
    .ok_or("Range's output type is unknown")?;
    let param = |input: &RangeInput| -> Result<Param, String> {
        Ok(match input {
            RangeInput::Runtime(r) => Param::from_runtime(r),
            RangeInput::Static(v) => Param::Const(scalar(dtype, *v as f64)?),
            RangeInput::StaticFloat(v) => Param::Const(scalar(dtype, *v)?),
        })
    };
    let params = vec![
        param(&n.config.start)?,
        param(&n.config.limit)?,
        param(&n.config.delta)?,
    ];
    Lowered::with_params(Op::Range, 0, params)
}

/// A rank-0 constant of `dtype`.
fn scalar(dtype: DataType, v: f64) -> Result<HostTensor, String> {
    let t = match dtype {
        DataType::Fp64 => HostTensor::typed(vec![], vec![v]),
        DataType::Fp32 | DataType::Fp16 => HostTensor::typed(vec![], vec![v as f32]),
        DataType::Int32 => HostTensor::typed(vec![], vec![v as i32]),
        _ => HostTensor::typed(vec![], vec![v as i64]),
    };
    t.map_err(|e| e.to_string())
}

pub(super) fn slice(n: &SliceNode) -> Lowering {
    let param = |input: &SliceInput| -> Option<Param> {
        match input {
            SliceInput::Static(v) => Some(Param::Ints(v.clone())),
            SliceInput::Runtime(r) => {
                let optional = n.inputs.get(r.input_index).is_none_or(|a| a.is_optional());
                (!optional).then(|| Param::from_runtime(r))
            }
        }
    };
    let starts = param(&n.config.starts).ok_or("Slice needs starts")?;
    let ends = param(&n.config.ends).ok_or("Slice needs ends")?;
    let mut params = vec![starts, ends];
    let axes = n.config.axes.as_ref().and_then(param);
    let steps = n.config.steps.as_ref().and_then(param);
    match (axes, steps) {
        (Some(a), Some(s)) => params.extend([a, s]),
        (Some(a), None) => params.push(a),
        (None, Some(s)) => {
            // Steps without axes: the axes are 0..n, known once starts' length is.
            let count = match &params[0] {
                Param::Ints(v) => v.len(),
                _ => return Err("steps without axes need starts known at import".into()),
            };
            params.push(Param::Ints((0..count as i64).collect()));
            params.push(s);
        }
        (None, None) => {}
    }
    Lowered::with_params(Op::Slice, 1, params)
}

pub(super) fn arg_max(n: &ArgMaxNode) -> Lowering {
    Lowered::reads(
        Op::ArgMax {
            axis: n.config.axis as i64,
            keepdims: n.config.keepdims,
            select_last_index: n.config.select_last_index,
        },
        1,
    )
}

pub(super) fn arg_min(n: &ArgMinNode) -> Lowering {
    Lowered::reads(
        Op::ArgMin {
            axis: n.config.axis as i64,
            keepdims: n.config.keepdims,
            select_last_index: n.config.select_last_index,
        },
        1,
    )
}

pub(super) fn cumsum(n: &CumSumNode) -> Lowering {
    let axis = match &n.config.axis {
        CumSumAxis::Static(a) => Param::Ints(vec![*a as i64]),
        CumSumAxis::Runtime(r) => Param::from_runtime(r),
    };
    Lowered::with_params(
        Op::CumSum {
            exclusive: n.config.exclusive,
            reverse: n.config.reverse,
        },
        1,
        vec![axis],
    )
}

pub(super) fn trilu(n: &TriluNode) -> Lowering {
    let k = match &n.config.diagonal {
        TriluDiagonal::Static(k) => Param::Ints(vec![*k]),
        TriluDiagonal::Runtime(r) => Param::from_runtime(r),
    };
    Lowered::with_params(
        Op::Trilu {
            upper: n.config.upper,
        },
        1,
        vec![k],
    )
}

pub(super) fn gather_elements(n: &GatherElementsNode) -> Lowering {
    Lowered::reads(
        Op::GatherElements {
            axis: n.config.axis as i64,
        },
        2,
    )
}
