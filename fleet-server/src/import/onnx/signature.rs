//! The graph's declared inputs and outputs, as devices will see them.
//!
//! onnx-ir drops the dimension names (`batch`) and may rename values, so the signature is
//! read from the protobuf beside onnx-ir's parsed arguments. Every element type of
//! [`DataType`] is accepted, and rank-0 (scalar) inputs and outputs.

use std::collections::BTreeMap;

use edge_model::format::{DataType, Dim, TensorSpec};
use onnx_ir::{ArgType, Argument, ModelProto, ValueInfoProto};

use crate::import::error::ImportError;

/// Declared graph inputs or outputs, with the dimension names (`batch`) that onnx-ir drops
/// read from the protobuf. onnx-ir may rename values; `renames` maps its names back to the
/// ONNX names callers use.
pub(super) fn signature(
    proto: &ModelProto,
    args: &[Argument],
    what: &'static str,
    renames: &mut BTreeMap<String, String>,
) -> Result<Vec<TensorSpec>, ImportError> {
    let graph = proto.graph.as_ref();
    let initializers: Vec<&str> = graph
        .map(|g| g.initializer.iter().map(|i| i.name.as_str()).collect())
        .unwrap_or_default();
    let declared: Vec<&ValueInfoProto> = graph
        .map(|g| {
            let list = if what == "input" { &g.input } else { &g.output };
            list.iter()
                .filter(|v| !initializers.contains(&v.name.as_str()))
                .collect()
        })
        .unwrap_or_default();
    if declared.len() != args.len() {
        return Err(ImportError::Signature {
            what,
            name: "*".into(),
            reason: format!(
                "the file declares {} graph {what}s but {} remain after parsing",
                declared.len(),
                args.len()
            ),
        });
    }
    let mut specs = Vec::with_capacity(args.len());
    for (arg, info) in args.iter().zip(declared) {
        let (dtype, rank, static_shape) = match &arg.ty {
            ArgType::Tensor(ty) => (ty.dtype, ty.rank, ty.static_shape.clone()),
            ArgType::ScalarNative(d) | ArgType::ScalarTensor(d) => (*d, 0, None),
            ArgType::Shape(n) => (onnx_ir::DType::I64, 1, Some(vec![Some(*n)])),
        };
        if rank > edge_model::format::MAX_RANK {
            return Err(ImportError::Signature {
                what,
                name: info.name.clone(),
                reason: format!(
                    "has rank {rank}; ranks 0 to {} are supported",
                    edge_model::format::MAX_RANK
                ),
            });
        }
        let datatype = data_type(dtype).ok_or_else(|| ImportError::Signature {
            what,
            name: info.name.clone(),
            reason: format!(
                "has element type {dtype:?}; supported: {}",
                DataType::ALL.map(DataType::oip_name).join(", ")
            ),
        })?;
        let proto_dims: Vec<Dim> = info
            .type_
            .as_ref()
            .and_then(|t| t.tensor_type().shape.as_ref())
            .map(|s| {
                s.dim
                    .iter()
                    .enumerate()
                    .map(|(j, d)| {
                        if d.has_dim_value() && d.dim_value() > 0 {
                            Dim::Fixed(d.dim_value() as usize)
                        } else if d.has_dim_param() && !d.dim_param().is_empty() {
                            Dim::Named(d.dim_param().to_string())
                        } else {
                            Dim::Named(format!("{}_dim{j}", info.name))
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let shape = if proto_dims.len() == rank {
            proto_dims
        } else {
            // The file gave no shape: use what onnx-ir inferred.
            (0..rank)
                .map(|j| {
                    static_shape
                        .as_ref()
                        .and_then(|s| s.get(j).copied().flatten())
                        .map(Dim::Fixed)
                        .unwrap_or_else(|| Dim::Named(format!("{}_dim{j}", info.name)))
                })
                .collect()
        };
        if arg.name != info.name {
            renames.insert(arg.name.clone(), info.name.clone());
        }
        specs.push(TensorSpec {
            name: info.name.clone(),
            datatype,
            shape,
        });
    }
    Ok(specs)
}

/// Our element type for an onnx-ir one, if we run it.
pub(crate) fn data_type(dtype: onnx_ir::DType) -> Option<DataType> {
    use onnx_ir::DType as D;
    Some(match dtype {
        D::F32 => DataType::Fp32,
        D::F16 => DataType::Fp16,
        D::F64 => DataType::Fp64,
        D::I64 => DataType::Int64,
        D::I32 => DataType::Int32,
        D::I8 => DataType::Int8,
        D::U8 => DataType::Uint8,
        D::Bool(_) => DataType::Bool,
        _ => return None,
    })
}

/// ONNX TensorProto.DataType names, as OIP spells the ones it shares.
pub(crate) fn onnx_type_name(code: i32) -> String {
    match code {
        1 => "FP32",
        2 => "UINT8",
        3 => "INT8",
        4 => "UINT16",
        5 => "INT16",
        6 => "INT32",
        7 => "INT64",
        8 => "STRING",
        9 => "BOOL",
        10 => "FP16",
        11 => "FP64",
        12 => "UINT32",
        13 => "UINT64",
        16 => "BF16",
        other => return format!("type {other}"),
    }
    .to_string()
}

/// The TensorProto.DataType codes we run (FLOAT, UINT8, INT8, INT32, INT64, BOOL, FLOAT16,
/// DOUBLE).
const RUNNABLE: [i32; 8] = [1, 2, 3, 6, 7, 9, 10, 11];

/// Refuses, before onnx-ir reads the file, a graph input or output of an element type we do
/// not run, naming it as ONNX does (onnx-ir's own error for some of them names neither).
pub(super) fn precheck_types(graph: &onnx_ir::GraphProto) -> Result<(), ImportError> {
    let initializers: Vec<&str> = graph.initializer.iter().map(|i| i.name.as_str()).collect();
    let inputs = graph
        .input
        .iter()
        .filter(|v| !initializers.contains(&v.name.as_str()))
        .map(|v| ("input", v));
    for (what, v) in inputs.chain(graph.output.iter().map(|v| ("output", v))) {
        let Some(t) = v.type_.as_ref().filter(|t| t.has_tensor_type()) else {
            continue;
        };
        let code = t.tensor_type().elem_type;
        if !RUNNABLE.contains(&code) {
            return Err(ImportError::Signature {
                what,
                name: v.name.clone(),
                reason: format!(
                    "has element type {}; supported: {}",
                    onnx_type_name(code),
                    DataType::ALL.map(DataType::oip_name).join(", ")
                ),
            });
        }
    }
    Ok(())
}
