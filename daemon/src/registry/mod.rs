//! The models this daemon serves, by name, each swappable to a new version atomically.
//!
//! A model named NAME lives in STATE_DIR/models/NAME/: either a version directory named by
//! the file `current` (STATE_DIR/models/NAME/VERSION/model.json), or a model directory itself.
//! Swapping loads and warms the new version completely, then replaces one `Arc`: requests in
//! flight finish on the version they started with, new ones get the new one, none fails.
//! A model in an update's shadow phase also has a [`ShadowTap`]: the bounded queue through
//! which the serving path hands copies of its requests to the candidate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::sync::mpsc;

mod truth;

use edge_model::oip::{InferenceRequest, ResponseTensor};
use edge_model::{BackendKind, LoadOptions, Model, ModelError};

use crate::config::{Config, ModelConfig};
use crate::metrics::{Metrics, VersionMetrics};
pub use truth::Truth;

/// Errors resolving or loading a model, naming it and its directory.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("model '{name}': {reason} (looked in {path})")]
    Resolve {
        name: String,
        path: PathBuf,
        reason: String,
    },
    #[error("model '{name}' in {dir}: {source}")]
    Load {
        name: String,
        dir: PathBuf,
        source: ModelError,
    },
    #[error("model '{name}' in {dir}: {reason}")]
    Invalid {
        name: String,
        dir: PathBuf,
        reason: String,
    },
    #[error("no model named '{0}' is configured")]
    Unknown(String),
}

/// One loaded, warmed-up model version.
#[derive(Debug)]
pub struct ServedModel {
    pub name: String,
    pub version: u64,
    pub dir: PathBuf,
    pub model: Model,
    /// How the model's predictions meet their labels; `None`: no labels (latency and errors
    /// only).
    pub truth: Option<Truth>,
    pub metrics: Arc<VersionMetrics>,
}

impl ServedModel {
    pub fn device(&self) -> BackendKind {
        self.model.backend()
    }
}

/// A copy of a live request for the candidate in its shadow phase, with the active version's
/// answer and how long that took.
#[derive(Debug)]
pub struct ShadowCopy {
    pub request: InferenceRequest,
    pub active: Vec<ResponseTensor>,
    pub active_latency: Duration,
}

/// Where the serving path puts copies for a candidate in its shadow phase: one bounded queue,
/// drained by the shadow worker of the updater. A copy that does not fit is dropped (the
/// caller counts it), so a slow candidate never slows the serving path or piles up work.
#[derive(Debug)]
pub struct ShadowTap {
    pub version: u64,
    queue: mpsc::Sender<ShadowCopy>,
}

impl ShadowTap {
    pub fn new(version: u64, queue: mpsc::Sender<ShadowCopy>) -> Self {
        Self { version, queue }
    }

    /// Queues a copy without waiting; false when it was dropped (queue full or closed).
    pub fn offer(&self, copy: ShadowCopy) -> bool {
        self.queue.try_send(copy).is_ok()
    }
}

#[derive(Debug)]
struct Slot {
    config: ModelConfig,
    current: RwLock<Arc<ServedModel>>,
    /// A candidate version in its shadow phase.
    shadow: RwLock<Option<Arc<ShadowTap>>>,
}

/// All served models.
#[derive(Debug)]
pub struct Registry {
    root: PathBuf,
    slots: BTreeMap<String, Slot>,
    metrics: Arc<Metrics>,
}

impl Registry {
    /// Loads and warms up every configured model (blocking: call from a blocking thread).
    pub fn load_all(config: &Config, metrics: Arc<Metrics>) -> Result<Self, RegistryError> {
        let root = config.state_dir.join("models");
        let mut slots = BTreeMap::new();
        for model in &config.models {
            let served = load(&root, model, &metrics)?;
            slots.insert(
                model.name.clone(),
                Slot {
                    config: model.clone(),
                    current: RwLock::new(Arc::new(served)),
                    shadow: RwLock::new(None),
                },
            );
        }
        Ok(Self {
            root,
            slots,
            metrics,
        })
    }

    /// The version of `name` serving now.
    pub fn get(&self, name: &str) -> Option<Arc<ServedModel>> {
        let slot = self.slots.get(name)?;
        Some(
            slot.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }

    /// The candidate shadowing `name`, if any.
    pub fn shadow(&self, name: &str) -> Option<Arc<ShadowTap>> {
        self.slots
            .get(name)?
            .shadow
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Attaches (or with `None` detaches) the shadow of `name`.
    pub fn set_shadow(&self, name: &str, shadow: Option<Arc<ShadowTap>>) {
        if let Some(slot) = self.slots.get(name) {
            *slot.shadow.write().unwrap_or_else(PoisonError::into_inner) = shadow;
        }
    }

    /// How `name` is loaded (its configured device), for loading a candidate version.
    pub fn load_options(&self, name: &str) -> Option<LoadOptions> {
        let slot = self.slots.get(name)?;
        Some(LoadOptions {
            device: slot.config.device,
            max_elements: slot.config.max_tensor_elements,
            max_memory: slot.config.max_memory,
            ..LoadOptions::default()
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.slots.keys().map(String::as_str)
    }

    /// Loads what STATE_DIR/models/NAME points to now and swaps it in (blocking). Returns
    /// the versions before and after. On any error the serving version stays.
    pub fn reload(&self, name: &str) -> Result<(u64, u64), RegistryError> {
        let slot = self
            .slots
            .get(name)
            .ok_or_else(|| RegistryError::Unknown(name.to_string()))?;
        let served = Arc::new(load(&self.root, &slot.config, &self.metrics)?);
        let new = served.version;
        let old = std::mem::replace(
            &mut *slot.current.write().unwrap_or_else(PoisonError::into_inner),
            served,
        );
        self.metrics.set_active(name, new);
        tracing::info!(model = name, from = old.version, to = new, "model swapped");
        Ok((old.version, new))
    }
}

/// Finds the directory of the version of `name` to serve.
pub fn resolve(root: &Path, name: &str) -> Result<PathBuf, RegistryError> {
    let base = root.join(name);
    let err = |reason: String| RegistryError::Resolve {
        name: name.to_string(),
        path: base.clone(),
        reason,
    };
    let pointer = base.join("current");
    match std::fs::read_to_string(&pointer) {
        Ok(text) => {
            let version = text.trim();
            let safe = !version.is_empty()
                && version != "."
                && version != ".."
                && version
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !safe {
                return Err(err(format!(
                    "'current' names an invalid version '{version}'"
                )));
            }
            Ok(base.join(version))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if base.join("model.json").is_file() {
                Ok(base)
            } else {
                Err(err(
                    "no 'current' file naming a version directory, and no model.json".into(),
                ))
            }
        }
        Err(e) => Err(err(format!("cannot read 'current': {e}"))),
    }
}

fn load(
    root: &Path,
    config: &ModelConfig,
    metrics: &Metrics,
) -> Result<ServedModel, RegistryError> {
    let name = &config.name;
    let dir = resolve(root, name)?;
    let options = LoadOptions {
        device: config.device,
        max_elements: config.max_tensor_elements,
        max_memory: config.max_memory,
        ..LoadOptions::default()
    };
    let model = Model::load(&dir, &options).map_err(|source| RegistryError::Load {
        name: name.clone(),
        dir: dir.clone(),
        source,
    })?;
    let invalid = |reason: String| RegistryError::Invalid {
        name: name.clone(),
        dir: dir.clone(),
        reason,
    };
    if model.spec().name != *name {
        tracing::warn!(
            model = %name,
            spec_name = %model.spec().name,
            "model.json names a different model; serving it under the configured name"
        );
    }
    let truth = truth::read(model.spec(), config).map_err(invalid)?;
    let report = model.report().clone();
    let version = model.spec().version;
    tracing::info!(
        model = %name,
        version,
        dir = %dir.display(),
        device = %report.backend,
        cpu_latency_us = report.cpu_latency.map(|d| d.as_micros() as u64),
        gpu_latency_us = report.gpu_latency.map(|d| d.as_micros() as u64),
        gpu_unavailable = report.gpu_unavailable.as_deref(),
        "model loaded and warm"
    );
    let version_metrics = metrics.version(name, version, report.backend.as_str());
    metrics.set_active(name, version);
    Ok(ServedModel {
        name: name.clone(),
        version,
        dir,
        model,
        truth,
        metrics: version_metrics,
    })
}
