//! Structural validation of a graph, the device's first line of defence against a malformed
//! or hostile model: bounded sizes, unique names, every value defined before it is read (so no
//! cycles), outputs produced, and attribute values that would make the executor divide by
//! zero or allocate without bound refused.

use std::collections::HashSet;

use super::graph::{Dim, ModelSpec, TensorSpec};
use super::op::Op;
use super::op_params::FusedActivation;
use super::{MAX_ELEMENTS, MAX_NODES, MAX_RANK};
use crate::error::{ModelError, Result};

impl Op {
    /// Checks attribute values that would otherwise make the executor divide by zero or
    /// allocate without bound.
    fn validate(&self) -> std::result::Result<(), String> {
        let spatial = |kernel: &[usize], strides: &[usize], dilations: &[usize], pads: &[usize]| {
            let n = kernel.len();
            if !(1..=2).contains(&n) {
                return Err(format!("{n} spatial dimensions (1 or 2 are supported)"));
            }
            if strides.len() != n || dilations.len() != n || pads.len() != 2 * n {
                return Err("kernel, strides, dilations and pads lengths disagree".into());
            }
            if kernel
                .iter()
                .chain(strides)
                .chain(dilations)
                .any(|&v| v == 0)
            {
                return Err("kernel, strides and dilations must be positive".into());
            }
            if kernel
                .iter()
                .chain(strides)
                .chain(dilations)
                .chain(pads)
                .any(|&v| v > 1 << 16)
            {
                return Err("kernel, stride, dilation or pad over 65536".into());
            }
            Ok(())
        };
        let conv = |kernel: &[usize],
                    strides: &[usize],
                    dilations: &[usize],
                    groups: usize,
                    pads: &[usize]| {
            spatial(kernel, strides, dilations, pads)?;
            if groups == 0 {
                return Err("groups must be positive".to_string());
            }
            Ok(())
        };
        match self {
            Op::Conv {
                kernel,
                strides,
                dilations,
                groups,
                pads,
                activation,
                ..
            } => {
                conv(kernel, strides, dilations, *groups, pads)?;
                fused(activation)
            }
            Op::Linear { activation } => fused(activation),
            Op::ConvTranspose {
                kernel,
                strides,
                dilations,
                groups,
                pads,
                output_padding,
                output_shape,
                ..
            } => {
                conv(kernel, strides, dilations, *groups, pads)?;
                let n = kernel.len();
                if output_padding.len() != n || output_shape.as_ref().is_some_and(|s| s.len() != n)
                {
                    return Err("output_padding or output_shape has the wrong length".into());
                }
                if output_padding
                    .iter()
                    .chain(output_shape.iter().flatten())
                    .any(|&v| v > 1 << 16)
                {
                    return Err("output_padding or output_shape over 65536".into());
                }
                Ok(())
            }
            Op::MaxPool {
                kernel,
                strides,
                dilations,
                pads,
                ..
            } => spatial(kernel, strides, dilations, pads),
            Op::AveragePool {
                kernel,
                strides,
                pads,
                ..
            } => spatial(kernel, strides, &vec![1; kernel.len()], pads),
            Op::Reshape { shape } => {
                if shape.len() > MAX_RANK || shape.iter().any(|&d| d < -1) {
                    return Err(format!("invalid target shape {shape:?}"));
                }
                if shape.iter().filter(|&&d| d == -1).count() > 1 {
                    return Err("more than one -1 in the target shape".into());
                }
                Ok(())
            }
            Op::Transpose { perm } => {
                let mut seen = perm.clone();
                seen.sort_unstable();
                if perm.len() > MAX_RANK || seen != (0..perm.len()).collect::<Vec<_>>() {
                    return Err(format!("{perm:?} is not a permutation"));
                }
                Ok(())
            }
            Op::Pad { pads, .. } => {
                if pads.len() % 2 != 0
                    || pads.len() > 2 * MAX_RANK
                    || pads.iter().any(|&p| p > 1 << 16)
                {
                    return Err(format!("invalid pads {pads:?}"));
                }
                Ok(())
            }
            Op::If { outputs } if *outputs == 0 || *outputs > 1 << 12 => {
                Err(format!("{outputs} outputs; If takes 1 to 4096"))
            }
            Op::Split { outputs: 0, .. } => Err("Split needs at least one output".into()),
            Op::DepthToSpace { block, .. } | Op::SpaceToDepth { block }
                if *block == 0 || *block > 1 << 12 =>
            {
                Err(format!("blocksize {block} is not in 1..=4096"))
            }
            Op::LpNormalization { p, .. } if !matches!(p, 1 | 2) => {
                Err(format!("p = {p}; LpNormalization takes 1 or 2"))
            }
            Op::GroupNormalization { groups: 0, .. } => Err("num_groups must be positive".into()),
            Op::Lrn { size, .. } if *size == 0 || *size > 1 << 12 => {
                Err(format!("size {size} is not in 1..=4096"))
            }
            Op::Resize { cubic_coeff_a, .. } if !cubic_coeff_a.is_finite() => {
                Err(format!("cubic_coeff_a {cubic_coeff_a} is not finite"))
            }
            Op::Unsqueeze { axes } if axes.is_empty() || axes.len() > MAX_RANK => {
                Err("Unsqueeze needs between 1 and 6 axes".into())
            }
            Op::Recurrent {
                cell,
                hidden,
                direction,
                clip,
                activations,
                optional,
                ..
            } => {
                if *hidden == 0 || *hidden > 1 << 16 {
                    return Err(format!("hidden_size {hidden} is not in 1..=65536"));
                }
                if activations.len() != cell.activations() * direction.count() {
                    return Err(format!(
                        "{} activations; {} needs {} per direction",
                        activations.len(),
                        cell.onnx_name(),
                        cell.activations()
                    ));
                }
                if clip.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
                    return Err("clip must be a positive number".into());
                }
                let lstm = matches!(cell, super::RecurrentCell::Lstm { .. });
                if !lstm && (optional.initial_c || optional.peephole) {
                    return Err("initial_c and peepholes are LSTM inputs".into());
                }
                Ok(())
            }
            Op::Attention {
                q_heads, kv_heads, ..
            } if q_heads.is_some_and(|h| h == 0 || h > 1 << 12)
                || kv_heads.is_some_and(|h| h == 0 || h > 1 << 12) =>
            {
                Err("head counts must be in 1..=4096".into())
            }
            Op::Attention { softcap, scale, .. }
                if !(softcap.is_finite() && *softcap >= 0.0)
                    || scale.is_some_and(|s| !s.is_finite()) =>
            {
                Err("softcap and scale must be finite (softcap not negative)".into())
            }
            Op::Einsum { equation } => super::Equation::parse(equation).map(|_| ()),
            Op::TreeEnsemble { trees } => trees.check(),
            Op::LinearClassifier {
                coefficients,
                intercepts,
                labels,
                ..
            } => {
                let classes = intercepts.len().max(1);
                let binary = classes == 1 && labels.len() == 2;
                if coefficients.is_empty() || coefficients.len() % classes != 0 {
                    Err("the coefficients are not one row per class".into())
                } else if !(binary || labels.len() == classes) {
                    Err(format!("{} labels for {classes} classes", labels.len()))
                } else {
                    Ok(())
                }
            }
            Op::LinearRegressor {
                coefficients,
                intercepts,
                targets,
                ..
            } => {
                if *targets == 0 || coefficients.is_empty() || coefficients.len() % targets != 0 {
                    Err("the coefficients are not one row per target".into())
                } else if !(intercepts.is_empty() || intercepts.len() == *targets) {
                    Err(format!("{} intercepts for {targets} targets", intercepts.len()))
                } else {
                    Ok(())
                }
            }
            Op::Scaler { offset, scale } if offset.is_empty() || scale.is_empty() => {
                Err("Scaler needs an offset and a scale".into())
            }
            Op::LabelEncoder {
                keys,
                values,
                default,
            } if keys.len() != values.len()
                || default.len() != 1
                || std::mem::discriminant(values) != std::mem::discriminant(default) =>
            {
                Err("LabelEncoder's keys and values differ in length, or its default is not one value of the values' type".into())
            }
            Op::Stft {
                frame_step,
                frame_length,
                ..
            } if *frame_step == 0 || *frame_length == 0 || *frame_length > 1 << 16 => {
                Err("STFT frame_step and frame_length must be positive (frames up to 65536)".into())
            }
            Op::Dft { length, .. } if length.is_some_and(|l| l == 0 || l > 1 << 16) => {
                Err("DFT length must be 1 to 65536".into())
            }
            Op::QuantizeLinear { to, .. } | Op::QLinearMatMul { to } => super::quantized_type(*to),
            Op::ConvInteger { conv: c } => conv(&c.kernel, &c.strides, &c.dilations, c.groups, &c.pads),
            Op::QLinearConv { conv: c, to } => {
                conv(&c.kernel, &c.strides, &c.dilations, c.groups, &c.pads)?;
                super::quantized_type(*to)
            }
            Op::Imputer { imputed, .. } if imputed.is_empty() => {
                Err("Imputer needs at least one imputed value".into())
            }
            _ => Ok(()),
        }
    }
}

impl ModelSpec {
    /// Structural validation: limits, unique names, every value defined before use (so no
    /// cycles), outputs produced, attributes sane. `weights` are the constant tensors' names.
    pub fn validate(&self, weights: &HashSet<String>) -> Result<()> {
        if self.nodes.len() > MAX_NODES {
            return Err(ModelError::graph(format!(
                "{} nodes, over the limit of {MAX_NODES}",
                self.nodes.len()
            )));
        }
        if self.inputs.is_empty() || self.outputs.is_empty() {
            return Err(ModelError::graph(
                "a model needs at least one input and one output",
            ));
        }
        let mut defined: HashSet<&str> = HashSet::new();
        for w in weights {
            defined.insert(w);
        }
        for input in &self.inputs {
            validate_declared_shape(input)?;
            if !defined.insert(&input.name) {
                return Err(ModelError::graph(format!(
                    "graph input '{}' is declared twice or shadows a weight",
                    input.name
                )));
            }
        }
        for node in &self.nodes {
            let (min, max) = node.op.arity();
            let outputs = node.op.output_count();
            if node.inputs.len() < min || node.inputs.len() > max || node.outputs.len() != outputs {
                return Err(ModelError::graph(format!(
                    "node '{}' ({}) has {} inputs and {} outputs; it takes {min} to {max} inputs and {outputs} output(s)",
                    node.name,
                    node.op.name(),
                    node.inputs.len(),
                    node.outputs.len()
                )));
            }
            node.op.validate().map_err(|reason| {
                ModelError::graph(format!(
                    "node '{}' ({}): {reason}",
                    node.name,
                    node.op.name()
                ))
            })?;
            for input in node.inputs.iter().chain(node.when.iter().map(|g| &g.value)) {
                if !defined.contains(input.as_str()) {
                    return Err(ModelError::graph(format!(
                        "node '{}' reads '{input}', which no graph input, weight or earlier node \
                         provides (the graph has a cycle, is out of order, or names an unknown value)",
                        node.name
                    )));
                }
            }
            for output in &node.outputs {
                if !defined.insert(output) {
                    return Err(ModelError::graph(format!(
                        "node '{}' writes '{output}', which is already defined",
                        node.name
                    )));
                }
            }
        }
        let mut seen = HashSet::new();
        for output in &self.outputs {
            validate_declared_shape(output)?;
            if !defined.contains(output.name.as_str()) || !seen.insert(&output.name) {
                return Err(ModelError::graph(format!(
                    "graph output '{}' is never produced or is declared twice",
                    output.name
                )));
            }
        }
        Ok(())
    }
}

fn validate_declared_shape(spec: &TensorSpec) -> Result<()> {
    if spec.shape.len() > MAX_RANK {
        return Err(ModelError::graph(format!(
            "'{}' has rank {}; ranks 0 to {MAX_RANK} are supported",
            spec.name,
            spec.shape.len()
        )));
    }
    let fixed = spec.shape.iter().filter_map(Dim::fixed);
    let mut elements: usize = 1;
    for d in fixed {
        elements = elements
            .checked_mul(d)
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| {
                ModelError::graph(format!(
                    "'{}' declares shape {:?}, over the limit of {MAX_ELEMENTS} elements",
                    spec.name, spec.shape
                ))
            })?;
    }
    Ok(())
}

/// A fused activation's own attributes: a Clip's bounds in order.
fn fused(activation: &Option<FusedActivation>) -> std::result::Result<(), String> {
    match activation {
        Some(FusedActivation::Clip { min, max })
            if min.partial_cmp(max).is_none_or(|o| o.is_gt()) =>
        {
            Err(format!("fused Clip bounds {min}..{max} are not ordered"))
        }
        _ => Ok(()),
    }
}
