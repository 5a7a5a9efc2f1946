//! Runs a model of our format on Burn tensors.
//!
//! Loading validates the graph, uploads the weights once, picks the device (see [`device`]),
//! and warms the model up so that no caller pays for shader compilation or first-touch
//! allocation. Running is a walk over the nodes in their (validated) topological order, with
//! each intermediate value dropped after its last use.

pub mod device;
pub(crate) mod dyn_tensor;
mod ops;

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::{Duration, Instant};

use burn::tensor::Device;

use crate::checks::{CheckCases, OutputDiff};
use crate::error::{ModelError, Result};
use crate::format::{CHECKS_FILE, Dim, ModelSpec, Op, TensorSpec, WEIGHTS_FILE};
use crate::weights::{self, HostTensor, Weights};
pub use device::{BackendKind, DeviceChoice};
use dyn_tensor::DynTensor;

/// How a model is loaded.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub device: DeviceChoice,
    /// Timed runs per device during warm-up (after one untimed run).
    pub warmup_runs: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            device: DeviceChoice::Auto,
            warmup_runs: 3,
        }
    }
}

/// What loading decided, for logs and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    pub backend: BackendKind,
    /// Median warm-up latency at batch 1 on each device that was timed.
    pub cpu_latency: Option<Duration>,
    pub gpu_latency: Option<Duration>,
    /// Why the GPU was not used, when it was not.
    pub gpu_unavailable: Option<String>,
}

/// One step of the execution plan.
#[derive(Debug)]
struct Step {
    node: usize,
    inputs: Vec<usize>,
    /// Per input: may the value be moved out (this is its last reader)?
    take: Vec<bool>,
    output: usize,
}

/// Value slots and the order to fill them, computed once at load.
#[derive(Debug)]
struct Plan {
    slots: usize,
    inputs: Vec<(TensorSpec, usize)>,
    outputs: Vec<(String, usize)>,
    steps: Vec<Step>,
}

/// The weights of a model uploaded to one device.
#[derive(Debug)]
struct Runtime {
    device: Device,
    backend: BackendKind,
    /// Indexed by slot; `Some` for weight slots.
    constants: Vec<Option<DynTensor>>,
}

/// A loaded, warmed-up model.
#[derive(Debug)]
pub struct Model {
    spec: ModelSpec,
    plan: Plan,
    runtime: Runtime,
    report: LoadReport,
}

impl Model {
    /// Loads the model directory `dir`.
    pub fn load(dir: &Path, options: &LoadOptions) -> Result<Self> {
        let spec = ModelSpec::read(dir)?;
        let weights = weights::read(&dir.join(WEIGHTS_FILE))?;
        Self::from_parts(spec, weights, options)
    }

    /// Builds a model from an in-memory spec and weights (the importer uses this to verify a
    /// conversion before writing anything).
    pub fn from_parts(spec: ModelSpec, weights: Weights, options: &LoadOptions) -> Result<Self> {
        let names: HashSet<String> = weights.keys().cloned().collect();
        spec.validate(&names)?;
        let (plan, weight_slots) = plan(&spec, &weights);
        let upload = |device: Device, backend| -> Result<Runtime> {
            let mut constants = vec![None; plan.slots];
            for (name, slot) in &weight_slots {
                if let Some(host) = weights.get(name) {
                    constants[*slot] = Some(DynTensor::from_host(host.clone(), &device)?);
                }
            }
            Ok(Runtime {
                device,
                backend,
                constants,
            })
        };
        let warm = |runtime: Runtime| -> Result<(Runtime, Duration)> {
            let latency = warm_up(&spec, &plan, &runtime, options.warmup_runs)?;
            Ok((runtime, latency))
        };
        let gpu = match options.device {
            DeviceChoice::Cpu => Err(ModelError::Device {
                device: "gpu".into(),
                reason: "not requested (--device cpu)".into(),
            }),
            DeviceChoice::Gpu | DeviceChoice::Auto => device::gpu_device()
                .and_then(|d| upload(d, BackendKind::Gpu))
                .and_then(warm),
        };
        let (runtime, report) = match (options.device, gpu) {
            (DeviceChoice::Gpu, Err(e)) => return Err(e),
            (DeviceChoice::Gpu, Ok((runtime, latency))) => {
                let report = LoadReport {
                    backend: BackendKind::Gpu,
                    cpu_latency: None,
                    gpu_latency: Some(latency),
                    gpu_unavailable: None,
                };
                (runtime, report)
            }
            (_, gpu) => {
                let (cpu, cpu_latency) = warm(upload(device::cpu_device(), BackendKind::Cpu)?)?;
                match gpu {
                    Ok((gpu, gpu_latency)) if gpu_latency < cpu_latency => (
                        gpu,
                        LoadReport {
                            backend: BackendKind::Gpu,
                            cpu_latency: Some(cpu_latency),
                            gpu_latency: Some(gpu_latency),
                            gpu_unavailable: None,
                        },
                    ),
                    Ok((_, gpu_latency)) => (
                        cpu,
                        LoadReport {
                            backend: BackendKind::Cpu,
                            cpu_latency: Some(cpu_latency),
                            gpu_latency: Some(gpu_latency),
                            gpu_unavailable: Some("slower than the CPU for this model".into()),
                        },
                    ),
                    Err(reason) => (
                        cpu,
                        LoadReport {
                            backend: BackendKind::Cpu,
                            cpu_latency: Some(cpu_latency),
                            gpu_latency: None,
                            gpu_unavailable: Some(reason.to_string()),
                        },
                    ),
                }
            }
        };
        tracing::info!(
            model = %spec.name,
            version = spec.version,
            backend = %report.backend,
            cpu_latency_us = report.cpu_latency.map(|d| d.as_micros() as u64),
            gpu_latency_us = report.gpu_latency.map(|d| d.as_micros() as u64),
            gpu_unavailable = report.gpu_unavailable.as_deref(),
            "model loaded"
        );
        Ok(Self {
            spec,
            plan,
            runtime,
            report,
        })
    }

    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    pub fn report(&self) -> &LoadReport {
        &self.report
    }

    pub fn backend(&self) -> BackendKind {
        self.runtime.backend
    }

    /// Runs the model. `inputs` must name every graph input exactly once; outputs come back
    /// in the order the model declares them.
    pub fn run(&self, inputs: Vec<(String, HostTensor)>) -> Result<Vec<(String, HostTensor)>> {
        run_plan(&self.spec, &self.plan, &self.runtime, inputs)
    }

    /// Runs every reference case and reports the difference per case and output.
    pub fn check(&self, cases: &CheckCases) -> Result<Vec<OutputDiff>> {
        let mut diffs = Vec::new();
        for case in &cases.cases {
            let inputs = case
                .inputs
                .iter()
                .map(|t| Ok((t.name.clone(), t.to_host()?)))
                .collect::<Result<Vec<_>>>()?;
            let outputs = self.run(inputs).map_err(|e| ModelError::Check {
                case: case.name.clone(),
                reason: e.to_string(),
            })?;
            for reference in &case.outputs {
                let actual = outputs
                    .iter()
                    .find(|(name, _)| *name == reference.name)
                    .ok_or_else(|| ModelError::Check {
                        case: case.name.clone(),
                        reason: format!("the model has no output '{}'", reference.name),
                    })?;
                diffs.push(crate::checks::compare(
                    &case.name, reference, &actual.1, cases.atol, cases.rtol,
                )?);
            }
        }
        Ok(diffs)
    }

    /// Runs the check cases stored with the model in `dir`, if there are any.
    pub fn check_stored(&self, dir: &Path) -> Result<Option<Vec<OutputDiff>>> {
        let path = dir.join(CHECKS_FILE);
        if !path.exists() {
            return Ok(None);
        }
        self.check(&CheckCases::read(&path)?).map(Some)
    }
}

/// Assigns a slot to every value, and works out when each can be dropped.
fn plan(spec: &ModelSpec, weights: &Weights) -> (Plan, Vec<(String, usize)>) {
    let mut slot_names: HashMap<String, usize> = HashMap::new();
    let mut slot = |name: &str| -> usize {
        let next = slot_names.len();
        *slot_names.entry(name.to_string()).or_insert(next)
    };
    let weight_slots: Vec<(String, usize)> = weights
        .keys()
        .map(|name| (name.clone(), slot(name)))
        .collect();
    let inputs = spec
        .inputs
        .iter()
        .map(|i| (i.clone(), slot(&i.name)))
        .collect();
    let mut steps: Vec<Step> = spec
        .nodes
        .iter()
        .enumerate()
        .map(|(index, node)| Step {
            node: index,
            inputs: node.inputs.iter().map(|n| slot(n)).collect(),
            take: vec![false; node.inputs.len()],
            output: slot(&node.outputs[0]),
        })
        .collect();
    let outputs: Vec<(String, usize)> = spec
        .outputs
        .iter()
        .map(|o| (o.name.clone(), slot(&o.name)))
        .collect();
    // Walk backwards: the first reader seen from the end is the last reader in time.
    let pinned: HashSet<usize> = outputs
        .iter()
        .map(|(_, s)| *s)
        .chain(weight_slots.iter().map(|(_, s)| *s))
        .collect();
    let mut seen: HashSet<usize> = HashSet::new();
    for step in steps.iter_mut().rev() {
        for (i, s) in step.inputs.iter().enumerate().rev() {
            if !pinned.contains(s) && seen.insert(*s) {
                step.take[i] = true;
            }
        }
    }
    let slots = slot_names.len();
    (
        Plan {
            slots,
            inputs,
            outputs,
            steps,
        },
        weight_slots,
    )
}

/// Checks request inputs against the declared inputs: names, ranks, fixed sizes, and that a
/// named size (such as `batch`) has one value across all inputs.
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
        if tensor.shape.len() != spec.shape.len() {
            return Err(ModelError::request(format!(
                "input '{}' has shape {:?}; the model expects {}",
                spec.name,
                tensor.shape,
                describe_shape(&spec.shape)
            )));
        }
        for (dim, &actual) in spec.shape.iter().zip(&tensor.shape) {
            let ok = match dim {
                Dim::Fixed(n) => *n == actual,
                Dim::Named(name) => actual > 0 && *named.entry(name).or_insert(actual) == actual,
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

fn run_plan(
    spec: &ModelSpec,
    plan: &Plan,
    runtime: &Runtime,
    inputs: Vec<(String, HostTensor)>,
) -> Result<Vec<(String, HostTensor)>> {
    let bound = bind_inputs(plan, inputs)?;
    // Weights stay in `runtime.constants` (shared, never moved); `values` holds this run's.
    let mut values: Vec<Option<DynTensor>> = vec![None; plan.slots];
    for (slot, host) in bound {
        values[slot] = Some(DynTensor::from_host(host, &runtime.device)?);
    }
    for step in &plan.steps {
        let node = &spec.nodes[step.node];
        let mut args = Vec::with_capacity(step.inputs.len());
        for (&slot, &take) in step.inputs.iter().zip(&step.take) {
            let value = if let Some(constant) = &runtime.constants[slot] {
                Some(constant.clone())
            } else if take {
                values[slot].take()
            } else {
                values[slot].clone()
            };
            args.push(value.ok_or_else(|| ModelError::Execution {
                node: node.name.clone(),
                op: node.op.name(),
                reason: format!("input slot {slot} is empty"),
            })?);
        }
        let op: &Op = &node.op;
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| ops::run(op, args)))
            .unwrap_or_else(|panic| Err(format!("internal error: {}", panic_message(&panic))));
        let output = result.map_err(|reason| ModelError::Execution {
            node: node.name.clone(),
            op: node.op.name(),
            reason,
        })?;
        values[step.output] = Some(output);
    }
    plan.outputs
        .iter()
        .map(|(name, slot)| {
            let value = values[*slot]
                .clone()
                .or_else(|| runtime.constants[*slot].clone())
                .ok_or_else(|| ModelError::graph(format!("output '{name}' was not produced")))?;
            Ok((name.clone(), value.into_host()?))
        })
        .collect()
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// Runs the model on zeros at batch 1 (every named dimension = 1): once untimed, then
/// `runs` timed; returns the median.
fn warm_up(spec: &ModelSpec, plan: &Plan, runtime: &Runtime, runs: usize) -> Result<Duration> {
    let zeros = || -> Vec<(String, HostTensor)> {
        spec.inputs
            .iter()
            .map(|i| {
                let shape: Vec<usize> = i.shape.iter().map(|d| d.fixed().unwrap_or(1)).collect();
                let n = shape.iter().product();
                (
                    i.name.clone(),
                    HostTensor {
                        shape,
                        data: vec![0.0; n],
                    },
                )
            })
            .collect()
    };
    run_plan(spec, plan, runtime, zeros())?;
    let mut times = Vec::with_capacity(runs.max(1));
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        run_plan(spec, plan, runtime, zeros())?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{DataType, FORMAT_VERSION, NodeSpec};

    fn relu_model() -> (ModelSpec, Weights) {
        let io = |name: &str| TensorSpec {
            name: name.into(),
            datatype: DataType::Fp32,
            shape: vec![Dim::Named("batch".into()), Dim::Fixed(3)],
        };
        let spec = ModelSpec {
            format_version: FORMAT_VERSION,
            name: "relu".into(),
            version: 1,
            producer: String::new(),
            inputs: vec![io("x")],
            outputs: vec![io("y"), io("z")],
            nodes: vec![
                NodeSpec {
                    name: "a".into(),
                    op: Op::Relu,
                    inputs: vec!["x".into()],
                    outputs: vec!["y".into()],
                },
                NodeSpec {
                    name: "b".into(),
                    op: Op::Add,
                    inputs: vec!["y".into(), "w".into()],
                    outputs: vec!["z".into()],
                },
            ],
        };
        let mut weights = Weights::new();
        weights.insert(
            "w".into(),
            HostTensor::new(vec![3], vec![1.0, 2.0, 3.0]).expect("tensor"),
        );
        (spec, weights)
    }

    #[test]
    fn a_loaded_model_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Model>();
    }

    #[test]
    fn outputs_used_later_are_kept_and_broadcast_works() {
        let (spec, weights) = relu_model();
        let options = LoadOptions {
            device: DeviceChoice::Cpu,
            warmup_runs: 1,
        };
        let model = Model::from_parts(spec, weights, &options).expect("load");
        assert_eq!(model.backend(), BackendKind::Cpu);
        let x = HostTensor::new(vec![2, 3], vec![-1.0, 0.5, 2.0, 3.0, -4.0, 0.0]).expect("tensor");
        let out = model.run(vec![("x".into(), x)]).expect("run");
        assert_eq!(out[0].1.data, vec![0.0, 0.5, 2.0, 3.0, 0.0, 0.0]);
        assert_eq!(out[1].1.data, vec![1.0, 2.5, 5.0, 4.0, 2.0, 3.0]);
    }

    #[test]
    fn batch_sizes_must_agree_and_shapes_must_match() {
        let (spec, weights) = relu_model();
        let options = LoadOptions {
            device: DeviceChoice::Cpu,
            warmup_runs: 1,
        };
        let model = Model::from_parts(spec, weights, &options).expect("load");
        let bad = HostTensor::new(vec![2, 4], vec![0.0; 8]).expect("tensor");
        let err = model
            .run(vec![("x".into(), bad)])
            .expect_err("accepted")
            .to_string();
        assert!(err.contains("expects [batch, 3]"), "{err}");
        let empty = HostTensor::new(vec![0, 3], vec![]).expect("tensor");
        assert!(
            model.run(vec![("x".into(), empty)]).is_err(),
            "an empty batch is refused"
        );
    }

    #[test]
    fn a_weight_of_the_wrong_shape_is_an_error_naming_the_node_not_a_panic() {
        let (spec, mut weights) = relu_model();
        weights.insert(
            "w".into(),
            HostTensor::new(vec![4], vec![0.0; 4]).expect("tensor"),
        );
        let options = LoadOptions {
            device: DeviceChoice::Cpu,
            warmup_runs: 1,
        };
        let err = Model::from_parts(spec, weights, &options)
            .expect_err("loaded")
            .to_string();
        assert!(err.contains("node 'b' (Add)"), "{err}");
    }
}
