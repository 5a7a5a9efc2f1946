//! The state of one conversion: the nodes converted so far, the weights collected from
//! initializers and Constant nodes, and onnx-ir's value renames. Each node's op comes from its
//! family's converter in [`super::ops`]; this module turns its inputs into value and weight
//! names and appends the node.

use std::collections::BTreeMap;

use edge_model::format::{NodeSpec, Op};
use edge_model::weights::{HostTensor, Weights};
use onnx_ir::{Argument, Node};

use super::ops;
use crate::import::error::ImportError;

pub(super) struct Converter {
    pub(super) weights: Weights,
    /// onnx-ir's value names → the names the ONNX file (and so the caller) uses.
    pub(super) renames: BTreeMap<String, String>,
    pub(super) nodes: Vec<NodeSpec>,
}

impl Converter {
    pub(super) fn new() -> Self {
        Self {
            weights: BTreeMap::new(),
            renames: BTreeMap::new(),
            nodes: Vec::new(),
        }
    }

    /// Converts one parsed node: a Constant becomes a weight, every other node a graph node.
    pub(super) fn node(&mut self, node: &Node) -> Result<(), ImportError> {
        if let Node::Constant(_) = node {
            return self.constant(node);
        }
        let lowered = ops::lower(node)?;
        let inputs = self.data_inputs(node, lowered.inputs, lowered.transpose)?;
        if inputs.is_empty() {
            return Err(ImportError::unsupported(node, "no data input"));
        }
        self.push(node, lowered.op, inputs);
        Ok(())
    }

    fn name_of(&self, arg: &Argument) -> String {
        self.renames
            .get(&arg.name)
            .cloned()
            .unwrap_or_else(|| arg.name.clone())
    }

    /// The names of the first `count` non-optional inputs. Initializers (static values,
    /// which onnx-ir may leave unnamed) move into the weights, transposed when `transpose`
    /// names their position; outputs of Constant nodes are referenced by name, since the
    /// Constant node itself becomes a weight of that name.
    fn data_inputs(
        &mut self,
        node: &Node,
        count: usize,
        transpose: Option<usize>,
    ) -> Result<Vec<String>, ImportError> {
        let mut names = Vec::new();
        for (i, arg) in node.inputs().iter().enumerate().take(count) {
            if arg.is_optional() {
                continue;
            }
            if arg.is_static() {
                let data = arg.value().ok_or_else(|| {
                    ImportError::unsupported(node, format!("initializer input {i} has no value"))
                })?;
                let name = if arg.name.is_empty() {
                    format!("{}.input{i}", node.name())
                } else {
                    arg.name.clone()
                };
                let mut host = host_tensor(node, &name, data)?;
                if transpose == Some(i) {
                    host = transpose_2d(node, host)?;
                }
                names.push(self.add_weight(&name, host, transpose == Some(i)));
            } else if transpose == Some(i) {
                return Err(ImportError::unsupported(
                    node,
                    "a weight that is not an initializer",
                ));
            } else {
                names.push(self.name_of(arg));
            }
        }
        Ok(names)
    }

    /// Stores a weight under a unique name and returns it.
    fn add_weight(&mut self, name: &str, host: HostTensor, transposed: bool) -> String {
        let base = if name.is_empty() {
            "const".to_string()
        } else {
            name.to_string()
        };
        let base = if transposed {
            format!("{base}.T")
        } else {
            base
        };
        let mut key = base.clone();
        let mut n = 1;
        loop {
            match self.weights.get(&key) {
                None => {
                    self.weights.insert(key.clone(), host);
                    return key;
                }
                Some(existing) if *existing == host => return key,
                Some(_) => {
                    n += 1;
                    key = format!("{base}.{n}");
                }
            }
        }
    }

    fn push(&mut self, node: &Node, op: Op, inputs: Vec<String>) {
        let output = node
            .outputs()
            .first()
            .map(|a| self.name_of(a))
            .unwrap_or_default();
        self.nodes.push(NodeSpec {
            name: node.name().to_string(),
            op,
            inputs,
            outputs: vec![output],
        });
    }

    /// A Constant node that survived onnx-ir's folding becomes a weight named as its output.
    fn constant(&mut self, node: &Node) -> Result<(), ImportError> {
        let output = node
            .outputs()
            .first()
            .ok_or_else(|| ImportError::unsupported(node, "no output"))?;
        let data = output
            .value()
            .or_else(|| node.inputs().first().and_then(|a| a.value()))
            .ok_or_else(|| ImportError::unsupported(node, "constant without a value"))?;
        let name = self.name_of(output);
        let host = host_tensor(node, &name, data)?;
        if self.weights.insert(name.clone(), host).is_some() {
            return Err(ImportError::unsupported(
                node,
                format!("constant '{name}' is defined twice"),
            ));
        }
        Ok(())
    }
}

fn host_tensor(
    node: &Node,
    name: &str,
    data: onnx_ir::TensorData,
) -> Result<HostTensor, ImportError> {
    if !data.dtype().is_float() {
        return Err(ImportError::unsupported(
            node,
            format!(
                "constant '{name}' has element type {:?}; only float tensors flow through graphs",
                data.dtype()
            ),
        ));
    }
    let shape: Vec<usize> = data.shape().iter().copied().collect();
    let values = data
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| ImportError::unsupported(node, format!("constant '{name}': {e:?}")))?;
    HostTensor::new(shape, values).map_err(|e| ImportError::unsupported(node, e.to_string()))
}

fn transpose_2d(node: &Node, t: HostTensor) -> Result<HostTensor, ImportError> {
    let [rows, cols] = t.shape[..] else {
        return Err(ImportError::unsupported(
            node,
            format!("weight of shape {:?} is not 2-D", t.shape),
        ));
    };
    let mut data = vec![0.0; t.data.len()];
    for r in 0..rows {
        for c in 0..cols {
            data[c * rows + r] = t.data[r * cols + c];
        }
    }
    Ok(HostTensor {
        shape: vec![cols, rows],
        data,
    })
}
