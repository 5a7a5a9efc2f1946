//! `--input-shape NAME=DIMS`: what the operator knows about an input's shape, written into the
//! ONNX graph before onnx-ir reads it, so its shape inference and folding see fixed sizes
//! (`x=1,3,224,224`) while a dimension left as a name stays free (`x=batch,3,224,224`).

use std::str::FromStr;

use onnx_ir::ModelProto;

use crate::import::ImportError;

/// One dimension given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DimArg {
    Fixed(usize),
    Named(String),
}

/// `NAME=D0,D1,...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputShape {
    pub name: String,
    pub dims: Vec<DimArg>,
}

impl FromStr for InputShape {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, dims) = s
            .split_once('=')
            .ok_or_else(|| format!("'{s}' is not NAME=DIMS (e.g. x=batch,3,224,224)"))?;
        if name.is_empty() {
            return Err(format!("'{s}' names no input"));
        }
        let dims = if dims.trim().is_empty() {
            Vec::new()
        } else {
            dims.split(',')
                .map(|d| {
                    let d = d.trim();
                    match d.parse::<usize>() {
                        Ok(0) => Err(format!("dimension 0 in '{s}': sizes must be positive")),
                        Ok(n) => Ok(DimArg::Fixed(n)),
                        Err(_)
                            if !d.is_empty()
                                && d.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                        {
                            Ok(DimArg::Named(d.to_string()))
                        }
                        Err(_) => Err(format!("'{d}' in '{s}' is neither a size nor a name")),
                    }
                })
                .collect::<Result<_, _>>()?
        };
        Ok(Self {
            name: name.to_string(),
            dims,
        })
    }
}

impl std::fmt::Display for InputShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dims: Vec<String> = self
            .dims
            .iter()
            .map(|d| match d {
                DimArg::Fixed(n) => n.to_string(),
                DimArg::Named(s) => s.clone(),
            })
            .collect();
        write!(f, "{}=[{}]", self.name, dims.join(", "))
    }
}

/// Writes `shapes` into the graph inputs of `proto`; an unknown input or a rank that
/// disagrees with the file's is an error.
pub fn apply(proto: &mut ModelProto, shapes: &[InputShape]) -> Result<(), ImportError> {
    for shape in shapes {
        let graph = proto.graph.as_mut().ok_or_else(|| ImportError::Signature {
            what: "input",
            name: shape.name.clone(),
            reason: "the file holds no graph".into(),
        })?;
        let input = graph
            .input
            .iter_mut()
            .find(|i| i.name == shape.name)
            .ok_or_else(|| ImportError::Signature {
                what: "input",
                name: shape.name.clone(),
                reason: "--input-shape names an input the graph does not have".into(),
            })?;
        let tensor = input.type_.mut_or_insert_default().mut_tensor_type();
        let declared = tensor.shape.as_ref().map(|s| s.dim.len());
        if let Some(rank) = declared.filter(|&r| r != shape.dims.len()) {
            return Err(ImportError::Signature {
                what: "input",
                name: shape.name.clone(),
                reason: format!(
                    "--input-shape gives {} dimensions; the file declares {rank}",
                    shape.dims.len()
                ),
            });
        }
        let dims = &mut tensor.shape.mut_or_insert_default().dim;
        dims.resize_with(shape.dims.len(), Default::default);
        for (d, given) in dims.iter_mut().zip(&shape.dims) {
            match given {
                DimArg::Fixed(n) => d.set_dim_value(*n as i64),
                DimArg::Named(s) => d.set_dim_param(s.clone()),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_shapes_parse_fixed_and_symbolic_dims() {
        let s: InputShape = "x=batch,3,224,224".parse().expect("parse");
        assert_eq!(s.name, "x");
        assert_eq!(s.dims[0], DimArg::Named("batch".into()));
        assert_eq!(s.dims[3], DimArg::Fixed(224));
        assert!("x".parse::<InputShape>().is_err());
        assert!("x=0,3".parse::<InputShape>().is_err());
        assert!("x=1,-3".parse::<InputShape>().is_err());
        assert!("=1".parse::<InputShape>().is_err());
    }
}
