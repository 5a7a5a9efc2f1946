//! The state of one conversion: the nodes converted so far, the weights collected from
//! initializers and Constant nodes, and onnx-ir's value renames. Each node's op comes from its
//! family's converter in [`super::ops`]; this module turns its inputs into value and weight
//! names and appends the node.

use std::collections::BTreeMap;

use edge_model::format::{Guard, NodeSpec, Op};
use edge_model::weights::{HostData, HostTensor, Weights};
use onnx_ir::{Argument, DType, Node};

use super::ops;
use crate::import::error::ImportError;

pub(super) struct Converter {
    pub(super) weights: Weights,
    /// onnx-ir's value names → the names the ONNX file (and so the caller) uses.
    pub(super) renames: BTreeMap<String, String>,
    pub(super) nodes: Vec<NodeSpec>,
    /// Every value some node reads or the graph outputs (onnx-ir's names).
    pub(super) used: std::collections::BTreeSet<String>,
    /// The conditions of the `If` branches being converted, outermost first: every node
    /// converted meanwhile runs only under them.
    pub(super) guards: Vec<Guard>,
}

impl Converter {
    pub(super) fn new() -> Self {
        Self {
            weights: BTreeMap::new(),
            renames: BTreeMap::new(),
            nodes: Vec::new(),
            used: Default::default(),
            guards: Vec::new(),
        }
    }

    /// Converts one parsed node: a Constant becomes a weight, every other node a graph node.
    pub(super) fn node(&mut self, node: &Node) -> Result<(), ImportError> {
        match node {
            Node::Constant(_) => return self.constant(node),
            Node::If(n) => return self.if_node(node, n),
            Node::Loop(n) => return self.loop_node(node, n),
            _ => {}
        }
        let lowered = ops::lower(node)?;
        self.check_types_and_outputs(node, &lowered.op)?;
        let mut inputs = self.data_inputs(node, lowered.inputs, lowered.transpose)?;
        for (k, param) in lowered.params.into_iter().enumerate() {
            let name = match param {
                ops::Param::Input(index) => {
                    let arg = node.inputs().get(index).ok_or_else(|| {
                        ImportError::unsupported(node, format!("input {index} is missing"))
                    })?;
                    if arg.is_static() || arg.is_constant() {
                        let data = arg.value().ok_or_else(|| {
                            ImportError::unsupported(node, format!("input {index} has no value"))
                        })?;
                        let name = format!("{}.param{k}", node.name());
                        let host = host_tensor(node, &name, data)?;
                        self.add_weight(&name, host, false)
                    } else {
                        self.name_of(arg)
                    }
                }
                ops::Param::Ints(values) => {
                    let n = values.len();
                    let host = HostTensor::typed(vec![n], values)
                        .map_err(|e| ImportError::unsupported(node, e.to_string()))?;
                    self.add_weight(&format!("{}.param{k}", node.name()), host, false)
                }
                ops::Param::Const(host) => {
                    self.add_weight(&format!("{}.param{k}", node.name()), host, false)
                }
            };
            inputs.push(name);
        }
        if inputs.is_empty() {
            return Err(ImportError::unsupported(node, "no data input"));
        }
        self.push(node, lowered.op, inputs);
        Ok(())
    }

    /// Refuses a node whose first input has an element type the op does not run on, or that
    /// uses an output beyond those the op computes (Dropout's mask, MaxPool's indices,
    /// LayerNormalization's statistics: training-time outputs we do not compute).
    fn check_types_and_outputs(&self, node: &Node, op: &Op) -> Result<(), ImportError> {
        if let Some(dtype) = node.inputs().first().and_then(|a| arg_type(&a.ty))
            && !op.accepts(dtype)
        {
            return Err(ImportError::unsupported(
                node,
                format!("{} inputs are not supported by this op", dtype.oip_name()),
            ));
        }
        let extra = node
            .outputs()
            .iter()
            .skip(op.output_count())
            .filter(|o| !o.name.is_empty() && self.used.contains(&o.name))
            .count();
        if extra > 0 {
            return Err(ImportError::unsupported(
                node,
                format!(
                    "{} outputs; only the first (the inference result) is supported",
                    extra + 1
                ),
            ));
        }
        if let Node::Dropout(d) = node {
            // Dropout's third input turns training mode on: random masks we do not run.
            let training = d.inputs.get(2).filter(|a| !a.is_optional());
            let off = training.is_none_or(|a| {
                a.value()
                    .and_then(|v| v.as_slice::<bool>().ok().map(|b| b.iter().all(|x| !x)))
                    .unwrap_or(false)
            });
            if !off {
                return Err(ImportError::unsupported(
                    node,
                    "training_mode (random dropout) is not supported; only inference",
                ));
            }
        }
        Ok(())
    }

    pub(super) fn name_of(&self, arg: &Argument) -> String {
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

    /// Appends the node with as many outputs as its op produces (an output the graph leaves
    /// unnamed gets a name of its own, so no two nodes write one value).
    fn push(&mut self, node: &Node, op: Op, inputs: Vec<String>) {
        let outputs = (0..op.output_count())
            .map(|i| match node.outputs().get(i) {
                Some(a) if !a.name.is_empty() => self.name_of(a),
                _ => format!("{}.output{i}", node.name()),
            })
            .collect();
        self.nodes.push(NodeSpec {
            name: node.name().to_string(),
            op,
            inputs,
            outputs,
            when: self.guards.clone(),
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

/// A constant of any supported element type (FP16 is widened to f32; BF16 and unsigned types
/// other than UINT8 are refused, naming the constant).
pub(super) fn host_tensor(
    node: &Node,
    name: &str,
    data: onnx_ir::TensorData,
) -> Result<HostTensor, ImportError> {
    let shape: Vec<usize> = data.shape().iter().copied().collect();
    let err = |e: String| ImportError::unsupported(node, format!("constant '{name}': {e}"));
    let dtype = data.dtype();
    let values: HostData = match dtype {
        DType::F32 => HostData::F32(
            data.try_into_vec_as::<f32>()
                .map_err(|e| err(format!("{e:?}")))?,
        ),
        DType::F16 => HostData::F16(
            data.try_into_vec_as::<f32>()
                .map_err(|e| err(format!("{e:?}")))?,
        ),
        DType::F64 => HostData::F64(
            data.try_into_vec_as::<f64>()
                .map_err(|e| err(format!("{e:?}")))?,
        ),
        DType::I64 => HostData::I64(
            data.try_into_vec_as::<i64>()
                .map_err(|e| err(format!("{e:?}")))?,
        ),
        DType::I32 => HostData::I32(
            data.try_into_vec_as::<i32>()
                .map_err(|e| err(format!("{e:?}")))?,
        ),
        DType::I8 => HostData::I8(
            data.try_into_vec_as::<i8>()
                .map_err(|e| err(format!("{e:?}")))?,
        ),
        DType::U8 => HostData::U8(
            data.try_into_vec_as::<u8>()
                .map_err(|e| err(format!("{e:?}")))?,
        ),
        DType::Bool(_) => HostData::Bool(
            data.as_slice::<bool>()
                .map(<[bool]>::to_vec)
                .map_err(|e| err(format!("{e:?}")))?,
        ),
        other => return Err(err(format!("element type {other:?} is not supported"))),
    };
    HostTensor::typed(shape, values).map_err(|e| err(e.to_string()))
}

/// The element type of a parsed argument, when it is one we know.
fn arg_type(ty: &onnx_ir::ArgType) -> Option<edge_model::format::DataType> {
    match ty {
        onnx_ir::ArgType::Tensor(t) => super::signature::data_type(t.dtype),
        onnx_ir::ArgType::ScalarNative(d) | onnx_ir::ArgType::ScalarTensor(d) => {
            super::signature::data_type(*d)
        }
        // onnx-ir types some results of shape arithmetic (even comparisons of shapes) as
        // `Shape`, whatever their element type: unknown here, checked when the node runs.
        onnx_ir::ArgType::Shape(_) => None,
    }
}

fn transpose_2d(node: &Node, t: HostTensor) -> Result<HostTensor, ImportError> {
    let Some(values) = t.as_f32() else {
        return Err(ImportError::unsupported(
            node,
            format!("a {} weight cannot be a linear layer's", t.dtype()),
        ));
    };
    let [rows, cols] = t.shape[..] else {
        return Err(ImportError::unsupported(
            node,
            format!("weight of shape {:?} is not 2-D", t.shape),
        ));
    };
    let mut data = vec![0.0; t.data.len()];
    for r in 0..rows {
        for c in 0..cols {
            data[c * rows + r] = values[r * cols + c];
        }
    }
    Ok(HostTensor::f32(vec![cols, rows], data))
}
