//! ONNX → our model format, through onnx-ir.
//!
//! onnx-ir parses the protobuf, resolves opset differences, infers types and folds constants;
//! we map each of its typed nodes to an [`Op`] with normalised attributes, and move every
//! constant input into the weights file. Anything we cannot run exactly is an error naming the
//! op, the node and what we support: a model is never imported half-right.

use std::collections::BTreeMap;
use std::path::Path;

use edge_model::format::{
    AutoPad, DataType, Dim, FORMAT_VERSION, ModelSpec, NodeSpec, Op, PadMode, TensorSpec,
};
use edge_model::weights::{HostTensor, Weights};
use onnx_ir::{ArgType, Argument, Message, ModelProto, Node, OnnxGraphBuilder};

/// The ONNX op types the importer accepts (Conv and the pools in 1-D and 2-D; the spatial rank
/// is checked after parsing).
pub const SUPPORTED_OPS: &[&str] = &[
    "Gemm",
    "MatMul",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Relu",
    "LeakyRelu",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "LogSoftmax",
    "Erf",
    "Gelu",
    "Conv",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "BatchNormalization",
    "LayerNormalization",
    "Flatten",
    "Reshape",
    "Transpose",
    "Concat",
    "Squeeze",
    "Unsqueeze",
    "Clip",
    "Pad",
    "ReduceMean",
    "Dropout",
    "Identity",
    "Constant",
];

/// Largest ONNX file imported (2 GiB, protobuf's own limit).
pub const MAX_ONNX_BYTES: u64 = 2 << 30;

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// `reason` (from `edge_model::read_bounded`) names the path already.
    #[error("{reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not a valid ONNX model: {reason}")]
    Parse { path: String, reason: String },
    #[error(
        "node '{node}': op {op} is not supported{detail}. Supported ops: {} (Conv and pools in 1-D and 2-D)",
        SUPPORTED_OPS.join(", ")
    )]
    UnsupportedOp {
        node: String,
        op: String,
        detail: String,
    },
    #[error("node '{node}' ({op}): {reason}")]
    Unsupported {
        node: String,
        op: String,
        reason: String,
    },
    #[error("graph {what} '{name}': {reason}")]
    Signature {
        what: &'static str,
        name: String,
        reason: String,
    },
}

/// A converted model, not yet verified or written.
#[derive(Debug)]
pub struct Converted {
    pub spec: ModelSpec,
    pub weights: Weights,
}

/// Converts the ONNX file at `path`.
pub fn convert(path: &Path, name: &str, version: u64) -> Result<Converted, ImportError> {
    let display = path.display().to_string();
    let bytes = edge_model::read_bounded(path, MAX_ONNX_BYTES).map_err(|e| ImportError::Read {
        path: display.clone(),
        reason: e.to_string(),
    })?;
    let proto = ModelProto::parse_from_bytes(&bytes).map_err(|e| ImportError::Parse {
        path: display.clone(),
        reason: e.to_string(),
    })?;
    let opset = proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .unwrap_or(0);
    precheck(&proto, &display)?;
    // onnx-ir asserts on a few malformed inputs; a hostile file must give an error, not abort.
    let parsed = std::panic::catch_unwind(|| OnnxGraphBuilder::new().parse_bytes(&bytes));
    let graph = match parsed {
        Ok(Ok(graph)) => graph,
        Ok(Err(e)) => {
            return Err(ImportError::Parse {
                path: display,
                reason: e.to_string(),
            });
        }
        Err(_) => {
            return Err(ImportError::Parse {
                path: display,
                reason: "the ONNX parser failed on this file (malformed graph)".into(),
            });
        }
    };
    let mut converter = Converter {
        weights: BTreeMap::new(),
        renames: BTreeMap::new(),
        nodes: Vec::new(),
    };
    let inputs = signature(&proto, &graph.inputs, "input", &mut converter.renames)?;
    let mut output_renames = BTreeMap::new();
    let outputs = signature(&proto, &graph.outputs, "output", &mut output_renames)?;
    for node in &graph.nodes {
        converter.node(node)?;
    }
    // onnx-ir removes no-op nodes (Identity, Dropout) and may rename values, so a graph output
    // can end up named after the value it copies: an Identity node restores the declared name.
    for (internal, declared) in output_renames {
        let source = converter
            .renames
            .get(&internal)
            .cloned()
            .unwrap_or(internal);
        converter.nodes.push(NodeSpec {
            name: format!("output:{declared}"),
            op: Op::Identity,
            inputs: vec![source],
            outputs: vec![declared],
        });
    }
    crate::import::optimize::optimize(&mut converter.nodes, &mut converter.weights, &outputs);
    let spec = ModelSpec {
        format_version: FORMAT_VERSION,
        name: name.to_string(),
        version,
        producer: format!(
            "onnx-ir 0.22 from {} (opset {opset}, producer {} {})",
            path.file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            proto.producer_name,
            proto.producer_version
        ),
        inputs,
        outputs,
        nodes: converter.nodes,
    };
    Ok(Converted {
        spec,
        weights: converter.weights,
    })
}

/// Refuses files with no graph and ops we do not run, naming the node as the file names it
/// (onnx-ir renames nodes by type and counter).
fn precheck(proto: &ModelProto, path: &str) -> Result<(), ImportError> {
    let graph = proto
        .graph
        .as_ref()
        .filter(|g| !g.node.is_empty() && !g.output.is_empty());
    let Some(graph) = graph else {
        return Err(ImportError::Parse {
            path: path.to_string(),
            reason: "the file holds no graph (no nodes or no outputs)".into(),
        });
    };
    for (index, node) in graph.node.iter().enumerate() {
        let standard = node.domain.is_empty() || node.domain == "ai.onnx";
        if !standard || !SUPPORTED_OPS.contains(&node.op_type.as_str()) {
            let op = if standard {
                node.op_type.clone()
            } else {
                format!("{}::{}", node.domain, node.op_type)
            };
            return Err(ImportError::UnsupportedOp {
                node: if node.name.is_empty() {
                    format!("#{index}")
                } else {
                    node.name.clone()
                },
                op,
                detail: String::new(),
            });
        }
    }
    Ok(())
}

/// Declared graph inputs or outputs, with the dimension names (`batch`) that onnx-ir drops
/// read from the protobuf. onnx-ir may rename values; `renames` maps its names back to the
/// ONNX names callers use.
fn signature(
    proto: &ModelProto,
    args: &[Argument],
    what: &'static str,
    renames: &mut BTreeMap<String, String>,
) -> Result<Vec<TensorSpec>, ImportError> {
    let graph = proto.graph.as_ref();
    let initializers: Vec<&str> = graph
        .map(|g| g.initializer.iter().map(|i| i.name.as_str()).collect())
        .unwrap_or_default();
    let declared: Vec<&onnx_ir::ValueInfoProto> = graph
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

struct Converter {
    weights: Weights,
    renames: BTreeMap<String, String>,
    nodes: Vec<NodeSpec>,
}

fn padding_1d(p: &onnx_ir::node::padding::PaddingConfig1d) -> Vec<usize> {
    match p {
        onnx_ir::node::padding::PaddingConfig1d::Valid => vec![0, 0],
        onnx_ir::node::padding::PaddingConfig1d::Explicit(a, b) => vec![*a, *b],
    }
}

fn padding_2d(p: &onnx_ir::node::padding::PaddingConfig2d) -> Vec<usize> {
    match p {
        onnx_ir::node::padding::PaddingConfig2d::Valid => vec![0, 0, 0, 0],
        // onnx-ir orders these (top, left, bottom, right), as ONNX does.
        onnx_ir::node::padding::PaddingConfig2d::Explicit(t, l, b, r) => vec![*t, *l, *b, *r],
    }
}

fn auto_pad(a: &onnx_ir::node::padding::AutoPad) -> AutoPad {
    use onnx_ir::node::padding::AutoPad as A;
    match a {
        A::NotSet => AutoPad::Explicit,
        A::Valid => AutoPad::Valid,
        A::SameUpper => AutoPad::SameUpper,
        A::SameLower => AutoPad::SameLower,
    }
}

impl Converter {
    fn name_of(&self, arg: &Argument) -> String {
        self.renames
            .get(&arg.name)
            .cloned()
            .unwrap_or_else(|| arg.name.clone())
    }

    fn unsupported(node: &Node, reason: impl Into<String>) -> ImportError {
        ImportError::Unsupported {
            node: node.name().to_string(),
            op: node.node_type().to_string(),
            reason: reason.into(),
        }
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
                    Self::unsupported(node, format!("initializer input {i} has no value"))
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
                return Err(Self::unsupported(
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

    fn node(&mut self, node: &Node) -> Result<(), ImportError> {
        use onnx_ir::node::clip::ClipInput;
        use onnx_ir::node::pad::{ConstantValueInput, PadInput, PadMode as IrPadMode};
        use onnx_ir::node::reduce::ReduceAxes;
        use onnx_ir::node::reshape::ReshapeInput;
        use onnx_ir::node::squeeze::SqueezeInput;
        use onnx_ir::node::unsqueeze::UnsqueezeConfig;
        let runtime_input = |what: &str| {
            Self::unsupported(
                node,
                format!(
                    "{what} computed at run time is not supported; export with constant {what}"
                ),
            )
        };
        let (op, count, transpose) = match node {
            Node::Linear(n) => {
                let weight_is_static = n
                    .inputs
                    .get(1)
                    .is_some_and(|w| w.is_static() || w.is_constant());
                match (weight_is_static, n.config.transpose_weight) {
                    (true, t) => (Op::Linear, 3, t.then_some(1)),
                    (false, true) => (
                        Op::Gemm {
                            alpha: 1.0,
                            beta: 1.0,
                            trans_a: false,
                            trans_b: true,
                        },
                        3,
                        None,
                    ),
                    (false, false) if n.inputs.len() <= 2 => (Op::MatMul, 2, None),
                    (false, false) => {
                        return Err(Self::unsupported(
                            node,
                            "MatMul + Add with a weight computed at run time",
                        ));
                    }
                }
            }
            Node::Gemm(n) => (
                Op::Gemm {
                    alpha: n.config.alpha,
                    beta: n.config.beta,
                    trans_a: n.config.trans_a != 0,
                    trans_b: n.config.trans_b != 0,
                },
                3,
                None,
            ),
            Node::MatMul(_) => (Op::MatMul, 2, None),
            Node::Add(_) => (Op::Add, 2, None),
            Node::Sub(_) => (Op::Sub, 2, None),
            Node::Mul(_) => (Op::Mul, 2, None),
            Node::Div(_) => (Op::Div, 2, None),
            Node::Relu(_) => (Op::Relu, 1, None),
            Node::Sigmoid(_) => (Op::Sigmoid, 1, None),
            Node::Tanh(_) => (Op::Tanh, 1, None),
            Node::Erf(_) => (Op::Erf, 1, None),
            Node::LeakyRelu(n) => (
                Op::LeakyRelu {
                    alpha: n.config.alpha as f32,
                },
                1,
                None,
            ),
            Node::Gelu(n) => (
                Op::Gelu {
                    tanh_approximation: matches!(
                        n.config.approximate,
                        onnx_ir::node::gelu::GeluApproximate::Tanh
                    ),
                },
                1,
                None,
            ),
            Node::Softmax(n) => (
                Op::Softmax {
                    axis: n.config.axis as i64,
                },
                1,
                None,
            ),
            Node::LogSoftmax(n) => (
                Op::LogSoftmax {
                    axis: n.config.axis as i64,
                },
                1,
                None,
            ),
            Node::Conv1d(n) => {
                let c = &n.config;
                (
                    Op::Conv {
                        kernel: vec![c.kernel_size],
                        strides: vec![c.stride],
                        dilations: vec![c.dilation],
                        groups: c.groups,
                        pads: padding_1d(&c.padding),
                        auto_pad: auto_pad(&c.auto_pad),
                    },
                    3,
                    None,
                )
            }
            Node::Conv2d(n) => {
                let c = &n.config;
                (
                    Op::Conv {
                        kernel: c.kernel_size.to_vec(),
                        strides: c.stride.to_vec(),
                        dilations: c.dilation.to_vec(),
                        groups: c.groups,
                        pads: padding_2d(&c.padding),
                        auto_pad: auto_pad(&c.auto_pad),
                    },
                    3,
                    None,
                )
            }
            Node::MaxPool1d(n) => {
                let c = &n.config;
                (
                    Op::MaxPool {
                        kernel: vec![c.kernel_size],
                        strides: vec![c.stride],
                        dilations: vec![c.dilation],
                        pads: padding_1d(&c.padding),
                        auto_pad: auto_pad(&c.auto_pad),
                        ceil_mode: c.ceil_mode,
                    },
                    1,
                    None,
                )
            }
            Node::MaxPool2d(n) => {
                let c = &n.config;
                if c.storage_order != 0 {
                    return Err(Self::unsupported(node, "storage_order=1"));
                }
                (
                    Op::MaxPool {
                        kernel: c.kernel_size.to_vec(),
                        strides: c.strides.to_vec(),
                        dilations: c.dilation.to_vec(),
                        pads: padding_2d(&c.padding),
                        auto_pad: auto_pad(&c.auto_pad),
                        ceil_mode: c.ceil_mode,
                    },
                    1,
                    None,
                )
            }
            Node::AveragePool1d(n) => {
                let c = &n.config;
                if c.dilation != 1 {
                    return Err(Self::unsupported(node, "dilated average pooling"));
                }
                (
                    Op::AveragePool {
                        kernel: vec![c.kernel_size],
                        strides: vec![c.stride],
                        pads: padding_1d(&c.padding),
                        auto_pad: auto_pad(&c.auto_pad),
                        ceil_mode: c.ceil_mode,
                        count_include_pad: c.count_include_pad,
                    },
                    1,
                    None,
                )
            }
            Node::AveragePool2d(n) => {
                let c = &n.config;
                if c.dilation != [1, 1] {
                    return Err(Self::unsupported(node, "dilated average pooling"));
                }
                (
                    Op::AveragePool {
                        kernel: c.kernel_size.to_vec(),
                        strides: c.strides.to_vec(),
                        pads: padding_2d(&c.padding),
                        auto_pad: auto_pad(&c.auto_pad),
                        ceil_mode: c.ceil_mode,
                        count_include_pad: c.count_include_pad,
                    },
                    1,
                    None,
                )
            }
            Node::GlobalAveragePool(_) => (Op::GlobalAveragePool, 1, None),
            Node::BatchNormalization(n) => {
                let epsilon = match &n.config {
                    onnx_ir::node::batch_norm::BatchNormConfig::Static(c) => c.epsilon,
                    onnx_ir::node::batch_norm::BatchNormConfig::Runtime(c) => c.epsilon,
                };
                (
                    Op::BatchNormalization {
                        epsilon: epsilon as f32,
                    },
                    5,
                    None,
                )
            }
            Node::LayerNormalization(n) => (
                Op::LayerNormalization {
                    axis: n.config.axis,
                    epsilon: n.config.epsilon as f32,
                },
                3,
                None,
            ),
            Node::Flatten(n) => (
                Op::Flatten {
                    axis: n.config.axis as i64,
                },
                1,
                None,
            ),
            Node::Reshape(n) => match &n.config.shape {
                ReshapeInput::Static(shape) => (
                    Op::Reshape {
                        shape: shape.clone(),
                    },
                    1,
                    None,
                ),
                ReshapeInput::Runtime(_) => return Err(runtime_input("shape")),
            },
            Node::Transpose(n) => {
                let perm = n
                    .config
                    .perm
                    .iter()
                    .map(|&p| {
                        usize::try_from(p)
                            .map_err(|_| Self::unsupported(node, format!("negative perm {p}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                (Op::Transpose { perm }, 1, None)
            }
            Node::Concat(n) => (
                Op::Concat {
                    axis: n.config.axis as i64,
                },
                usize::MAX,
                None,
            ),
            Node::Squeeze(n) => match &n.config.axes {
                None => (Op::Squeeze { axes: vec![] }, 1, None),
                Some(SqueezeInput::Static(axes)) => (Op::Squeeze { axes: axes.clone() }, 1, None),
                Some(SqueezeInput::Runtime(_)) => return Err(runtime_input("axes")),
            },
            Node::Unsqueeze(n) => match &n.config {
                UnsqueezeConfig::Static(axes) => (Op::Unsqueeze { axes: axes.clone() }, 1, None),
                UnsqueezeConfig::Runtime(_) => return Err(runtime_input("axes")),
            },
            Node::Clip(n) => {
                let bound = |b: &Option<ClipInput>| match b {
                    None => Ok(None),
                    Some(ClipInput::Static(v)) => Ok(Some(*v as f32)),
                    Some(ClipInput::Runtime(_)) => Err(runtime_input("bounds")),
                };
                (
                    Op::Clip {
                        min: bound(&n.config.min)?,
                        max: bound(&n.config.max)?,
                    },
                    1,
                    None,
                )
            }
            Node::Pad(n) => {
                let PadInput::Static(pairs) = &n.config.pads else {
                    return Err(runtime_input("pads"));
                };
                let ConstantValueInput::Static(value) = n.config.constant_value else {
                    return Err(runtime_input("constant value"));
                };
                let mut pads: Vec<usize> = pairs.iter().map(|p| p.0).collect();
                pads.extend(pairs.iter().map(|p| p.1));
                let mode = match n.config.mode {
                    IrPadMode::Constant => PadMode::Constant,
                    IrPadMode::Reflect => PadMode::Reflect,
                    IrPadMode::Edge => PadMode::Edge,
                };
                (Op::Pad { pads, mode, value }, 1, None)
            }
            Node::ReduceMean(n) => {
                let ReduceAxes::Static(axes) = &n.config.axes else {
                    return Err(runtime_input("axes"));
                };
                if axes.is_empty() && n.config.noop_with_empty_axes {
                    (Op::Identity, 1, None)
                } else {
                    let axes = axes.iter().map(|&a| a as i64).collect();
                    (
                        Op::ReduceMean {
                            axes,
                            keepdims: n.config.keepdims,
                        },
                        1,
                        None,
                    )
                }
            }
            Node::Dropout(_) => (Op::Dropout, 1, None),
            Node::Identity(_) => (Op::Identity, 1, None),
            Node::Constant(_) => return self.constant(node),
            other => {
                return Err(ImportError::UnsupportedOp {
                    node: other.name().to_string(),
                    op: other.node_type().to_string(),
                    detail: String::new(),
                });
            }
        };
        let inputs = self.data_inputs(node, count, transpose)?;
        if inputs.is_empty() {
            return Err(Self::unsupported(node, "no data input"));
        }
        self.push(node, op, inputs);
        Ok(())
    }

    /// A Constant node that survived onnx-ir's folding becomes a weight named as its output.
    fn constant(&mut self, node: &Node) -> Result<(), ImportError> {
        let output = node
            .outputs()
            .first()
            .ok_or_else(|| Self::unsupported(node, "no output"))?;
        let data = output
            .value()
            .or_else(|| node.inputs().first().and_then(|a| a.value()))
            .ok_or_else(|| Self::unsupported(node, "constant without a value"))?;
        let name = self.name_of(output);
        let host = host_tensor(node, &name, data)?;
        if self.weights.insert(name.clone(), host).is_some() {
            return Err(Self::unsupported(
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
        return Err(Converter::unsupported(
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
        .map_err(|e| Converter::unsupported(node, format!("constant '{name}': {e:?}")))?;
    HostTensor::new(shape, values).map_err(|e| Converter::unsupported(node, e.to_string()))
}

fn transpose_2d(node: &Node, t: HostTensor) -> Result<HostTensor, ImportError> {
    let [rows, cols] = t.shape[..] else {
        return Err(Converter::unsupported(
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
