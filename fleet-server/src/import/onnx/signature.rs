//! The graph's declared inputs and outputs, as devices will see them.
//!
//! onnx-ir drops the dimension names (`batch`) and may rename values, so the signature is
//! read from the protobuf beside onnx-ir's parsed arguments; only float tensors are accepted.

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
        let ArgType::Tensor(ty) = &arg.ty else {
            return Err(ImportError::Signature {
                what,
                name: info.name.clone(),
                reason: format!("is a {}, only tensors are supported", arg.ty),
            });
        };
        if !ty.dtype.is_float() {
            return Err(ImportError::Signature {
                what,
                name: info.name.clone(),
                reason: format!(
                    "has element type {:?}; only float tensors are supported",
                    ty.dtype
                ),
            });
        }
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
        let shape = if proto_dims.len() == ty.rank {
            proto_dims
        } else {
            // The file gave no shape: use what onnx-ir inferred.
            (0..ty.rank)
                .map(|j| {
                    ty.static_shape
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
            datatype: DataType::Fp32,
            shape,
        });
    }
    Ok(specs)
}
