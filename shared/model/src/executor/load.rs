//! Loading: upload the weights once to each device the options allow, warm the model up
//! there (so no caller pays for shader compilation or first-touch allocation), and keep the
//! faster device under `auto` — measured, not assumed (see [`device`](super::device)).

use std::time::{Duration, Instant};

use burn::tensor::Device;

use super::device::{self, BackendKind, DeviceChoice};
use super::plan::Plan;
use super::run::{Budget, Runtime, run_plan};
use super::value::Value;
use crate::error::{ModelError, Result};
use crate::format::{DataType, ModelSpec};
use crate::weights::{HostData, HostTensor, Weights};

/// How a model is loaded.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub device: DeviceChoice,
    /// Timed runs per device during warm-up (after one untimed run). 0 skips the warm-up
    /// where no choice depends on it (an explicit `cpu` or `gpu`): the conformance suite
    /// loads thousands of one-node models.
    pub warmup_runs: usize,
    /// Most elements an op may create in one tensor (ConstantOfShape, Expand, Tile, Range,
    /// Gather): a larger request fails with an error before anything is allocated.
    pub max_elements: usize,
    /// Most bytes the model may take: its weights, counted twice (the file's copy, held
    /// while loading, and the device's), plus what one run's tensors hold at once. Weights over it are refused before they are uploaded; a run (the warm-up's
    /// included) that would go over fails before the op that would allocate it runs
    /// ([`ModelError::Memory`]). `None`: no budget.
    pub max_memory: Option<u64>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            device: DeviceChoice::Auto,
            warmup_runs: 3,
            max_elements: crate::format::MAX_ELEMENTS,
            max_memory: None,
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
    /// What the budget counted for the weights (the file's copy and the device's), in bytes.
    pub weight_bytes: u64,
}

/// Uploads `weights` to the device(s) `options` allow, warms the model up on each, and
/// returns the runtime to use with what was measured.
pub(super) fn upload_and_choose(
    spec: &ModelSpec,
    plan: &Plan,
    weights: &Weights,
    weight_slots: &[(String, usize)],
    options: &LoadOptions,
) -> Result<(Runtime, LoadReport)> {
    let (budget, weight_bytes) = budget(weights, options)?;
    let upload = |device: Device, backend| -> Result<Runtime> {
        let mut constants = vec![None; plan.slots];
        for (name, slot) in weight_slots {
            if let Some(host) = weights.get(name) {
                constants[*slot] = Some(Value::from_host(host.clone(), &device)?);
            }
        }
        Ok(Runtime {
            device,
            backend,
            constants,
            max_elements: options.max_elements,
            budget,
        })
    };
    let skip_warm_up = options.warmup_runs == 0 && options.device != DeviceChoice::Auto;
    let warm = |runtime: Runtime| -> Result<(Runtime, Duration)> {
        if skip_warm_up {
            return Ok((runtime, Duration::ZERO));
        }
        let latency = warm_up(spec, plan, &runtime, options.warmup_runs)?;
        Ok((runtime, latency))
    };
    let fp64 = uses_fp64(spec, weights);
    let gpu = match options.device {
        DeviceChoice::Cpu => Err(ModelError::Device {
            device: "gpu".into(),
            reason: "not requested (--device cpu)".into(),
        }),
        DeviceChoice::Gpu | DeviceChoice::Auto if fp64 => Err(ModelError::Device {
            device: "gpu".into(),
            reason: "the model computes in FP64, which the GPU path cannot (WGSL has no f64); \
                     run it with device cpu (auto picks the CPU)"
                .into(),
        }),
        DeviceChoice::Gpu | DeviceChoice::Auto => device::gpu_device()
            .and_then(|d| upload(d, BackendKind::Gpu))
            .and_then(warm),
    };
    let (runtime, report) = match (options.device, gpu) {
        (DeviceChoice::Gpu, Err(e)) => return Err(e),
        (DeviceChoice::Gpu, Ok((runtime, latency))) => {
            let report = LoadReport {
                weight_bytes,
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
                        weight_bytes,
                        backend: BackendKind::Gpu,
                        cpu_latency: Some(cpu_latency),
                        gpu_latency: Some(gpu_latency),
                        gpu_unavailable: None,
                    },
                ),
                Ok((_, gpu_latency)) => (
                    cpu,
                    LoadReport {
                        weight_bytes,
                        backend: BackendKind::Cpu,
                        cpu_latency: Some(cpu_latency),
                        gpu_latency: Some(gpu_latency),
                        gpu_unavailable: Some("slower than the CPU for this model".into()),
                    },
                ),
                Err(reason) => (
                    cpu,
                    LoadReport {
                        weight_bytes,
                        backend: BackendKind::Cpu,
                        cpu_latency: Some(cpu_latency),
                        gpu_latency: None,
                        gpu_unavailable: Some(reason.to_string()),
                    },
                ),
            }
        }
    };
    Ok((runtime, report))
}

/// The weights' share of the memory budget and what is left for a run: the file's copy and
/// the device's (under `auto` on a box with a GPU, the second device's copy exists too while
/// both are warmed up, and is not counted: it is gone once the faster one is chosen). Refused
/// when the weights alone do not fit.
fn budget(weights: &Weights, options: &LoadOptions) -> Result<(Option<Budget>, u64)> {
    let host: u64 = weights.values().map(|w| w.data.bytes() as u64).sum();
    let weight_bytes = host.saturating_mul(2);
    let Some(total) = options.max_memory else {
        return Ok((None, weight_bytes));
    };
    let Some(left) = total.checked_sub(weight_bytes) else {
        return Err(ModelError::Memory {
            budget: total,
            reason: format!("its weights take {host} bytes, {weight_bytes} with the device's copy"),
        });
    };
    let run_bytes = usize::try_from(left).unwrap_or(usize::MAX);
    Ok((Some(Budget { total, run_bytes }), weight_bytes))
}

/// Whether any declared input or output or any weight is FP64.
fn uses_fp64(spec: &ModelSpec, weights: &Weights) -> bool {
    spec.inputs
        .iter()
        .chain(&spec.outputs)
        .any(|t| t.datatype == DataType::Fp64)
        || weights.values().any(|w| w.dtype() == DataType::Fp64)
}

/// `n` copies of `v` (0 or 1) as `dtype`.
fn filled(dtype: DataType, n: usize, v: u8) -> HostData {
    match dtype {
        DataType::Fp32 => HostData::F32(vec![f32::from(v); n]),
        DataType::Fp16 => HostData::F16(vec![f32::from(v); n]),
        DataType::Fp64 => HostData::F64(vec![f64::from(v); n]),
        DataType::Int64 => HostData::I64(vec![i64::from(v); n]),
        DataType::Int32 => HostData::I32(vec![i32::from(v); n]),
        DataType::Int8 => HostData::I8(vec![v as i8; n]),
        DataType::Uint8 => HostData::U8(vec![v; n]),
        DataType::Bool => HostData::Bool(vec![v != 0; n]),
    }
}

/// Runs the model at batch 1 (every named dimension = 1): once untimed, then `runs` timed;
/// returns the median. The inputs are zeros, or ones when zeros fail (a graph whose shapes
/// come from an input's values, such as a length or a depth, may refuse zeros); the error of
/// zeros is returned when both fail.
fn warm_up(spec: &ModelSpec, plan: &Plan, runtime: &Runtime, runs: usize) -> Result<Duration> {
    let inputs = |v: u8| -> Vec<(String, HostTensor)> {
        spec.inputs
            .iter()
            .map(|i| {
                let shape: Vec<usize> = i.shape.iter().map(|d| d.fixed().unwrap_or(1)).collect();
                let n = shape.iter().product();
                (
                    i.name.clone(),
                    HostTensor {
                        shape,
                        data: filled(i.datatype, n, v),
                    },
                )
            })
            .collect()
    };
    let fill = match run_plan(spec, plan, runtime, inputs(0), None) {
        Ok(_) => 0,
        Err(zeros) => match run_plan(spec, plan, runtime, inputs(1), None) {
            Ok(_) => 1,
            Err(_) => return Err(zeros),
        },
    };
    let mut times = Vec::with_capacity(runs.max(1));
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        run_plan(spec, plan, runtime, inputs(fill), None)?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}
