//! Loading: upload the weights once to each device the options allow, warm the model up
//! there (so no caller pays for shader compilation or first-touch allocation), and keep the
//! faster device under `auto` — measured, not assumed (see [`device`](super::device)).

use std::time::{Duration, Instant};

use burn::tensor::Device;

use super::device::{self, BackendKind, DeviceChoice};
use super::dyn_tensor::DynTensor;
use super::plan::Plan;
use super::run::{Runtime, run_plan};
use crate::error::{ModelError, Result};
use crate::format::ModelSpec;
use crate::weights::{HostTensor, Weights};

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

/// Uploads `weights` to the device(s) `options` allow, warms the model up on each, and
/// returns the runtime to use with what was measured.
pub(super) fn upload_and_choose(
    spec: &ModelSpec,
    plan: &Plan,
    weights: &Weights,
    weight_slots: &[(String, usize)],
    options: &LoadOptions,
) -> Result<(Runtime, LoadReport)> {
    let upload = |device: Device, backend| -> Result<Runtime> {
        let mut constants = vec![None; plan.slots];
        for (name, slot) in weight_slots {
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
        let latency = warm_up(spec, plan, &runtime, options.warmup_runs)?;
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
    Ok((runtime, report))
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
