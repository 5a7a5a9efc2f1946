//! One run of a loaded model: bind the request's tensors to the declared inputs (names,
//! ranks, sizes), walk the plan on the device's [`Runtime`], and hand the declared outputs
//! back. A panic inside an op (Burn asserts on shapes) becomes an error naming the node.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;

use burn::tensor::Device;

use super::device::BackendKind;
use super::ops;
use super::plan::Plan;
use super::value::Value;
use crate::error::{ModelError, Result};
use crate::format::{Dim, ModelSpec, Op};
use crate::weights::HostTensor;

/// The weights of a model uploaded to one device.
#[derive(Debug)]
pub(super) struct Runtime {
    pub(super) device: Device,
    pub(super) backend: BackendKind,
    /// Indexed by slot; `Some` for weight slots.
    pub(super) constants: Vec<Option<Value>>,
    /// Most elements an op may create in one tensor.
    pub(super) max_elements: usize,
    /// The memory budget and the bytes of it a run's tensors may hold at once (the budget
    /// less the weights), when the model has one.
    pub(super) budget: Option<Budget>,
}

/// A model's memory budget, as a run sees it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Budget {
    /// `LoadOptions::max_memory`, for messages.
    pub(super) total: u64,
    /// What a run's inputs and intermediates may hold at once.
    pub(super) run_bytes: usize,
}

/// Checks request inputs against the declared inputs: names, element types, ranks, fixed
/// sizes, and that a named size (such as `batch`) has one value across all inputs.
fn bind_inputs(
    plan: &Plan,
    mut inputs: Vec<(String, HostTensor)>,
) -> Result<Vec<(usize, HostTensor)>> {
    let mut named: HashMap<&str, usize> = HashMap::new();
    let mut bound = Vec::with_capacity(plan.inputs.len());
    for (spec, slot) in &plan.inputs {
        let position = inputs
            .iter()
            .position(|(name, _)| *name == spec.name)
            .ok_or_else(|| ModelError::request(format!("missing input '{}'", spec.name)))?;
        let (_, tensor) = inputs.swap_remove(position);
        if tensor.dtype() != spec.datatype {
            return Err(ModelError::request(format!(
                "input '{}' has datatype {}; the model takes {}",
                spec.name,
                tensor.dtype(),
                spec.datatype
            )));
        }
        if tensor.shape.len() != spec.shape.len() {
            return Err(ModelError::request(format!(
                "input '{}' has shape {:?}; the model expects {}",
                spec.name,
                tensor.shape,
                describe_shape(&spec.shape)
            )));
        }
        for (dim, &actual) in spec.shape.iter().zip(&tensor.shape) {
            if actual == 0 {
                return Err(ModelError::request(format!(
                    "input '{}' has shape {:?}: {}",
                    spec.name,
                    tensor.shape,
                    crate::format::EMPTY_TENSORS
                )));
            }
            let ok = match dim {
                Dim::Fixed(n) => *n == actual,
                Dim::Named(name) => *named.entry(name).or_insert(actual) == actual,
            };
            if !ok {
                return Err(ModelError::request(format!(
                    "input '{}' has shape {:?}; the model expects {}",
                    spec.name,
                    tensor.shape,
                    describe_shape(&spec.shape)
                )));
            }
        }
        bound.push((*slot, tensor));
    }
    if let Some((name, _)) = inputs.first() {
        return Err(ModelError::request(format!(
            "the model has no input '{name}'"
        )));
    }
    Ok(bound)
}

fn describe_shape(shape: &[Dim]) -> String {
    let parts: Vec<String> = shape
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => n.to_string(),
            Dim::Named(s) => s.clone(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Time spent in one node's op during a profiled run.
#[derive(Debug, Clone)]
pub struct NodeTime {
    pub node: String,
    pub op: &'static str,
    pub time: std::time::Duration,
}

pub(super) fn run_plan(
    spec: &ModelSpec,
    plan: &Plan,
    runtime: &Runtime,
    inputs: Vec<(String, HostTensor)>,
    mut profile: Option<&mut Vec<NodeTime>>,
) -> Result<Vec<(String, HostTensor)>> {
    let bound = bind_inputs(plan, inputs)?;
    // Weights stay in `runtime.constants` (shared, never moved); `values` holds this run's,
    // whose bytes `held` counts against the budget.
    let mut values: Vec<Option<Value>> = vec![None; plan.slots];
    let mut held = Held::new(plan.slots, runtime.budget);
    for (slot, host) in bound {
        let value = Value::from_host(host, &runtime.device)?;
        held.add(slot, &value);
        values[slot] = Some(value);
    }
    held.within(|| "the request's inputs".into())?;
    for step in &plan.steps {
        let node = &spec.nodes[step.node];
        let failed = |reason: String| ModelError::Execution {
            node: node.name.clone(),
            op: node.op.name(),
            reason,
        };
        if !guards_hold(step, &mut values, runtime).map_err(failed)? {
            continue;
        }
        // An If reads its condition and then only the taken branch's values.
        let wanted: Vec<usize> = match node.op {
            Op::If { outputs } => {
                let cond = fetch(&mut values, runtime, step.inputs[0], false)
                    .ok_or_else(|| failed("the condition was not computed".into()))?;
                let taken = ops::condition(&cond).map_err(failed)?;
                let first = if taken { 1 } else { 1 + outputs };
                (first..first + outputs).collect()
            }
            _ => (0..step.inputs.len()).collect(),
        };
        let mut args = Vec::with_capacity(wanted.len());
        let mut moved = Vec::new();
        for i in wanted {
            if step.take[i] {
                moved.push(step.inputs[i]);
            }
            let value = fetch(&mut values, runtime, step.inputs[i], step.take[i]);
            args.push(value.ok_or_else(|| {
                failed(format!(
                    "input '{}' was not computed (it belongs to an If branch not taken)",
                    node.inputs[i]
                ))
            })?);
        }
        let op: &Op = &node.op;
        let ctx = ops::Ctx {
            device: &runtime.device,
            max_elements: runtime.max_elements,
            room_bytes: held.room(),
        };
        let started = profile.is_some().then(std::time::Instant::now);
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| ops::run_node(op, args, &ctx)))
            .unwrap_or_else(|panic| Err(format!("internal error: {}", panic_message(&panic))));
        if let (Some(times), Some(started)) = (profile.as_deref_mut(), started) {
            times.push(NodeTime {
                node: node.name.clone(),
                op: node.op.name(),
                time: started.elapsed(),
            });
        }
        let outputs = result.map_err(|reason| match runtime.budget {
            Some(budget) if reason.starts_with(ops::bound::OVER_BUDGET) => ModelError::Memory {
                budget: budget.total,
                reason: format!("node '{}' ({}): {reason}", node.name, node.op.name()),
            },
            _ => ModelError::Execution {
                node: node.name.clone(),
                op: node.op.name(),
                reason,
            },
        })?;
        if outputs.len() != step.outputs.len() {
            return Err(ModelError::Execution {
                node: node.name.clone(),
                op: node.op.name(),
                reason: format!(
                    "produced {} outputs for {} names",
                    outputs.len(),
                    step.outputs.len()
                ),
            });
        }
        for slot in moved {
            held.remove(slot);
        }
        for (slot, value) in step.outputs.iter().zip(outputs) {
            held.add(*slot, &value);
            values[*slot] = Some(value);
        }
        held.within(|| format!("after node '{}' ({})", node.name, node.op.name()))?;
    }
    plan.outputs
        .iter()
        .zip(&spec.outputs)
        .map(|((name, slot), declared)| {
            let value = values[*slot]
                .clone()
                .or_else(|| runtime.constants[*slot].clone())
                .ok_or_else(|| ModelError::graph(format!("output '{name}' was not produced")))?;
            let value = if declared.shape.is_empty() && value.dims() == [1] {
                Value {
                    scalar: true,
                    ..value
                }
            } else {
                value
            };
            Ok((name.clone(), value.into_host(declared.datatype)?))
        })
        .collect()
}

/// The bytes a run's values hold, per slot and in all, against the budget's `run_bytes`.
struct Held {
    bytes: Vec<usize>,
    total: usize,
    budget: Option<Budget>,
}

impl Held {
    fn new(slots: usize, budget: Option<Budget>) -> Self {
        Self {
            bytes: vec![0; slots],
            total: 0,
            budget,
        }
    }

    /// Without a budget nothing is counted (no shapes read on the hot path).
    fn add(&mut self, slot: usize, value: &Value) {
        if self.budget.is_none() {
            return;
        }
        self.remove(slot);
        self.bytes[slot] = value.bytes();
        self.total = self.total.saturating_add(self.bytes[slot]);
    }

    fn remove(&mut self, slot: usize) {
        self.total = self
            .total
            .saturating_sub(std::mem::take(&mut self.bytes[slot]));
    }

    /// Bytes an op may still make.
    fn room(&self) -> usize {
        self.budget
            .map_or(usize::MAX, |b| b.run_bytes.saturating_sub(self.total))
    }

    /// `when` names the moment, worked out only for the error.
    fn within(&self, when: impl FnOnce() -> String) -> Result<()> {
        match self.budget {
            Some(b) if self.total > b.run_bytes => Err(ModelError::Memory {
                budget: b.total,
                reason: format!(
                    "{}, the run holds {} bytes; its tensors may hold {} (the budget less \
                     the weights)",
                    when(),
                    self.total,
                    b.run_bytes
                ),
            }),
            _ => Ok(()),
        }
    }
}

/// A value by slot: a weight (shared), or this run's, moved out when this is its last reader.
fn fetch(
    values: &mut [Option<Value>],
    runtime: &Runtime,
    slot: usize,
    take: bool,
) -> Option<Value> {
    if let Some(constant) = &runtime.constants[slot] {
        Some(constant.clone())
    } else if take {
        values[slot].take()
    } else {
        values[slot].clone()
    }
}

/// Whether every guard of `step` holds (a guard on a value never computed is an error: the
/// importer orders guards outermost first, so an inner condition is read only inside its
/// taken outer branch).
fn guards_hold(
    step: &super::plan::Step,
    values: &mut [Option<Value>],
    runtime: &Runtime,
) -> std::result::Result<bool, String> {
    for &(slot, is) in &step.guards {
        let value = fetch(values, runtime, slot, false)
            .ok_or_else(|| format!("the condition in slot {slot} was not computed"))?;
        if ops::condition(&value)? != is {
            return Ok(false);
        }
    }
    Ok(true)
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}
