//! Activation of a verified, fully downloaded version, made atomic by the file system:
//! the version directory is built beside the others under a hidden staging name from the
//! verified blobs (each file checked again as copied) and renamed into place; the stored
//! check cases run on this box's hardware; only then does `current` change, by writing a
//! temporary file and renaming it over the old one, and the registry swap in the new model.
//! kill -9 at any step leaves `current` naming a complete, verified version (the old one until
//! the rename, the new one after), and the previous version stays on disk.

use std::path::{Path, PathBuf};

use edge_bundle::Manifest;

use crate::registry::Registry;

/// Why a version was not activated.
#[derive(Debug, thiserror::Error)]
pub enum ActivateError {
    #[error(transparent)]
    Bundle(#[from] edge_bundle::BundleError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the check cases failed on this device: {0}")]
    CheckFailed(String),
    #[error("the new version does not load: {0}")]
    Load(String),
    /// Over `[updates] max_model_memory`: its weights, or what its warm-up would allocate.
    #[error("the new version does not fit this box's model memory: {0}")]
    Memory(String),
    #[error("{0}")]
    Task(String),
}

impl ActivateError {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Bundle(e) => e.reason(),
            Self::Io { .. } | Self::Task(_) => "io",
            Self::CheckFailed(_) => "check_failed",
            Self::Load(_) => "load_failed",
            Self::Memory(_) => "model_memory",
        }
    }
}

impl From<edge_model::ModelError> for ActivateError {
    fn from(e: edge_model::ModelError) -> Self {
        match e {
            edge_model::ModelError::Memory { .. } => Self::Memory(e.to_string()),
            other => Self::Load(other.to_string()),
        }
    }
}

impl From<crate::registry::RegistryError> for ActivateError {
    fn from(e: crate::registry::RegistryError) -> Self {
        match e {
            crate::registry::RegistryError::Load {
                source: edge_model::ModelError::Memory { .. },
                ..
            } => Self::Memory(e.to_string()),
            other => Self::Load(other.to_string()),
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ActivateError + '_ {
    move |source| ActivateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sync_dir(dir: &Path) -> Result<(), ActivateError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

/// Builds `models/NAME/VERSION` from the blobs (if not already complete and verified).
pub fn install(
    models_root: &Path,
    manifest: &Manifest,
    manifest_text: &str,
    blobs: &Path,
) -> Result<PathBuf, ActivateError> {
    let base = models_root.join(&manifest.model);
    let target = base.join(manifest.version.to_string());
    if target.is_dir() {
        let complete = manifest
            .files
            .iter()
            .all(|f| edge_bundle::check_file(&target.join(&f.name), f).is_ok());
        if complete {
            return Ok(target);
        }
        std::fs::remove_dir_all(&target).map_err(io(&target))?;
    }
    let staging = base.join(format!(".{}.staging", manifest.version));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    for f in &manifest.files {
        let dest = staging.join(&f.name);
        std::fs::copy(blobs.join(&f.sha256), &dest).map_err(io(&dest))?;
        std::fs::File::open(&dest)
            .and_then(|d| d.sync_all())
            .map_err(io(&dest))?;
        edge_bundle::check_file(&dest, f)?;
    }
    let manifest_file = staging.join("manifest.json");
    std::fs::write(&manifest_file, manifest_text).map_err(io(&manifest_file))?;
    sync_dir(&staging)?;
    std::fs::rename(&staging, &target).map_err(io(&target))?;
    sync_dir(&base)?;
    Ok(target)
}

/// Runs the stored check cases of the version in `dir` on this device.
pub fn check(dir: &Path, options: &edge_model::LoadOptions) -> Result<(), ActivateError> {
    let model = edge_model::Model::load(dir, options)?;
    match model.check_stored(dir) {
        Ok(None) => Ok(()),
        Ok(Some(diffs)) => {
            let failed: Vec<String> = diffs
                .iter()
                .filter(|d| !d.passed())
                .map(|d| format!("{d:?}"))
                .collect();
            if failed.is_empty() {
                Ok(())
            } else {
                Err(ActivateError::CheckFailed(failed.join("; ")))
            }
        }
        Err(e) => Err(ActivateError::CheckFailed(e.to_string())),
    }
}

/// Points `current` at `version`: a temporary file, synced, renamed over the old one.
pub(super) fn write_current(base: &Path, version: &str) -> Result<(), ActivateError> {
    let tmp = base.join("current.tmp");
    std::fs::write(&tmp, version).map_err(io(&tmp))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(&tmp))?;
    let current = base.join("current");
    std::fs::rename(&tmp, &current).map_err(io(&current))?;
    sync_dir(base)
}

/// Removes `current`, so the model is served from its directory itself again.
pub(super) fn remove_current(base: &Path) -> Result<(), ActivateError> {
    let current = base.join("current");
    std::fs::remove_file(&current).map_err(io(&current))?;
    sync_dir(base)
}

/// Points `current` at `version` and swaps the model in; on a failed load, points it back.
/// Returns the version served before.
pub fn switch(
    models_root: &Path,
    registry: &Registry,
    model: &str,
    version: u64,
) -> Result<u64, ActivateError> {
    let base = models_root.join(model);
    let previous = std::fs::read_to_string(base.join("current")).ok();
    write_current(&base, &version.to_string())?;
    match registry.reload(model) {
        Ok((old, _)) => Ok(old),
        Err(e) => {
            match previous {
                Some(previous) => write_current(&base, previous.trim())?,
                // The model was served from NAME/ itself: without `current` it is again.
                None => remove_current(&base)?,
            }
            Err(e.into())
        }
    }
}
