//! Runs a model of our format on Burn tensors.
//!
//! Loading validates the graph, computes its execution plan once (`plan`), uploads the
//! weights, picks the device and warms the model up so that no caller pays for shader
//! compilation or first-touch allocation (`load`, [`device`]). Running (`run`) is a walk over
//! the nodes in their (validated) topological order, each op done by its family in `ops`,
//! with each intermediate value dropped after its last use.

pub mod device;
pub(crate) mod dyn_tensor;
pub mod fold;
mod kernels;
mod load;
mod ops;
mod plan;
mod run;
mod value;

use std::collections::HashSet;
use std::path::Path;

use crate::checks::{CheckCases, OutputDiff};
use crate::error::{ModelError, Result};
use crate::format::{CHECKS_FILE, ModelSpec, WEIGHTS_FILE};
use crate::weights::{self, HostTensor, Weights};
pub use device::{BackendKind, DeviceChoice};
pub use load::{LoadOptions, LoadReport};
use plan::Plan;
pub use run::NodeTime;
use run::{Runtime, run_plan};

/// A run's outputs, named, in the order the model declares them.
pub type Outputs = Vec<(String, HostTensor)>;

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
        let (plan, weight_slots) = plan::plan(&spec, &weights);
        let (runtime, report) =
            load::upload_and_choose(&spec, &plan, &weights, &weight_slots, options)?;
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
        run_plan(&self.spec, &self.plan, &self.runtime, inputs, None)
    }

    /// Runs the model once and reports the time of each node's op, in execution order. On
    /// the CPU ops run eagerly, so a node's time is its own; on the GPU path ops are queued
    /// and a node's time is mostly its dispatch (the wait lands on whichever node reads back).
    pub fn profile(&self, inputs: Vec<(String, HostTensor)>) -> Result<(Outputs, Vec<NodeTime>)> {
        let mut times = Vec::with_capacity(self.spec.nodes.len());
        let outputs = run_plan(
            &self.spec,
            &self.plan,
            &self.runtime,
            inputs,
            Some(&mut times),
        )?;
        Ok((outputs, times))
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

#[cfg(test)]
mod tests;

#[cfg(test)]
mod budget_tests;
#[cfg(test)]
mod index_tests;
#[cfg(test)]
mod sequence_tests;
#[cfg(test)]
mod signal_tests;
#[cfg(test)]
mod test_graphs;
#[cfg(test)]
mod typed_tests;
#[cfg(test)]
mod vision_tests;
