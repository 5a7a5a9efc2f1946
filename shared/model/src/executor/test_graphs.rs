//! Small graphs built by hand for the executor's unit tests.

use super::*;
use crate::format::{DataType, Dim, FORMAT_VERSION, NodeSpec, Op, TensorSpec};
use crate::weights::Weights;

pub(super) fn io(name: &str, datatype: DataType, shape: Vec<Dim>) -> TensorSpec {
    TensorSpec {
        name: name.into(),
        datatype,
        shape,
    }
}

pub(super) fn node(name: &str, op: Op, inputs: &[&str], output: &str) -> NodeSpec {
    NodeSpec {
        name: name.into(),
        op,
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        outputs: vec![output.into()],
        when: Vec::new(),
    }
}

pub(super) fn spec(
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
    nodes: Vec<NodeSpec>,
) -> ModelSpec {
    ModelSpec {
        format_version: FORMAT_VERSION,
        name: "typed".into(),
        version: 1,
        producer: String::new(),
        inputs,
        outputs,
        nodes,
    }
}

pub(super) fn load(spec: ModelSpec, weights: Weights, device: DeviceChoice) -> Result<Model> {
    Model::from_parts(
        spec,
        weights,
        &LoadOptions {
            device,
            warmup_runs: 0,
            ..Default::default()
        },
    )
}

pub(super) fn fixed(dims: &[usize]) -> Vec<Dim> {
    dims.iter().map(|&d| Dim::Fixed(d)).collect()
}
