//! `fleet model sign DIR --key K`: lists every file of a model directory (name, SHA-256,
//! length) in a manifest, signs it with release keys, and writes it to `DIR/manifest.json`.
//! Model name and version come from the directory's `model.json`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use edge_bundle::Manifest;
use edge_bundle::manifest::safe_file_name;

use super::keys::read_key;
use super::{ReleaseError, invalid, io_error, now_ms};

/// The signed manifest's file name inside a model directory (not itself listed).
pub const MANIFEST_FILE: &str = "manifest.json";

/// How to sign.
#[derive(Debug, Clone)]
pub struct SignOptions {
    pub keys: Vec<PathBuf>,
    pub hardware: Vec<String>,
    pub min_daemon: String,
    pub expires: Duration,
}

/// Signs the model directory `dir`; returns the manifest written.
pub fn sign_model(dir: &Path, options: &SignOptions) -> Result<Manifest, ReleaseError> {
    let model_json = dir.join("model.json");
    let text = std::fs::read(&model_json).map_err(io_error(&model_json))?;
    let head: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| invalid(&model_json, format!("not JSON: {e}")))?;
    let (Some(name), Some(version)) = (head["name"].as_str(), head["version"].as_u64()) else {
        return Err(invalid(&model_json, "has no name and version"));
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name == MANIFEST_FILE {
            continue;
        }
        let kind = entry.file_type().map_err(io_error(&path))?;
        if !kind.is_file() || !safe_file_name(&file_name) {
            return Err(invalid(
                &path,
                "a model directory holds plain files with simple names only (no directories, links or hidden files)",
            ));
        }
        files.push(edge_bundle::describe_file(&path, &file_name)?);
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let now = now_ms();
    let manifest = Manifest {
        kind: "manifest".into(),
        model: name.to_string(),
        version,
        files,
        hardware: options.hardware.clone(),
        min_daemon: options.min_daemon.clone(),
        created_ms: now,
        expires_ms: now + options.expires.as_millis() as u64,
    };
    let keys = options
        .keys
        .iter()
        .map(|p| read_key(p))
        .collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<_> = keys.iter().collect();
    let signed = manifest.sign(&refs);
    let path = dir.join(MANIFEST_FILE);
    std::fs::write(&path, signed.to_bytes()).map_err(io_error(&path))?;
    Ok(manifest)
}
