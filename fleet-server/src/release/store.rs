//! The fleet's store of published bundles: `STATE_DIR/bundles/blobs/SHA256` holds each file
//! once, however many versions share it (what the transfer serves, by hash);
//! `STATE_DIR/bundles/models/NAME/VERSION.json` the signed manifest; `STATE_DIR/bundles/roots/`
//! the chain of root documents devices are given. Publishing verifies the manifest against
//! that chain and every file against the manifest before anything becomes visible.

use std::path::{Path, PathBuf};

use edge_bundle::signed::{Domain, Signed};
use edge_bundle::{FileEntry, Manifest};

use super::keys::{read_chain, verify_chain};
use super::sign::MANIFEST_FILE;
use super::{ReleaseError, invalid, io_error, now_ms};

fn bundles(state: &Path) -> PathBuf {
    state.join("bundles")
}

/// One published version.
#[derive(Debug)]
pub struct Published {
    pub manifest: Manifest,
    /// Key ids that signed it.
    pub signers: Vec<String>,
    pub digest: String,
}

fn copy_verified(src: &Path, entry: &FileEntry, blobs: &Path) -> Result<(), ReleaseError> {
    edge_bundle::check_file(src, entry)?;
    let dest = blobs.join(&entry.sha256);
    if dest.exists() {
        return Ok(());
    }
    let tmp = blobs.join(format!(".{}.tmp", entry.sha256));
    std::fs::copy(src, &tmp).map_err(io_error(&tmp))?;
    // Checked again as written: what is stored under a hash is what the hash says.
    edge_bundle::check_file(&tmp, entry)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io_error(&tmp))?;
    std::fs::rename(&tmp, &dest).map_err(io_error(&dest))
}

/// Publishes the signed model directory `dir`, trusting the root chain in `roots`.
pub fn publish(state: &Path, dir: &Path, roots: &Path) -> Result<Published, ReleaseError> {
    let now = now_ms();
    let chain = read_chain(roots)?;
    let root = verify_chain(&chain, now)?;
    let manifest_path = dir.join(MANIFEST_FILE);
    let bytes = std::fs::read(&manifest_path).map_err(io_error(&manifest_path))?;
    let signed = Signed::parse(Domain::Manifest, &bytes)?;
    let excluded = root.excluded(now);
    signed.verify(Domain::Manifest, &root.release_signers(&excluded))?;
    let manifest: Manifest = signed.payload(Domain::Manifest)?;
    if manifest.expires_ms <= now {
        return Err(invalid(
            &manifest_path,
            "the manifest has expired: sign it again",
        ));
    }
    if !edge_model_name_ok(&manifest.model) {
        return Err(invalid(
            &manifest_path,
            format!("model name {:?} is not allowed", manifest.model),
        ));
    }
    let base = bundles(state);
    let blobs = base.join("blobs");
    let models = base.join("models").join(&manifest.model);
    let published_roots = base.join("roots");
    for d in [&blobs, &models, &published_roots] {
        std::fs::create_dir_all(d).map_err(io_error(d))?;
    }
    let target = models.join(format!("{}.json", manifest.version));
    if target.exists() {
        return Err(invalid(
            &target,
            format!(
                "{} {} is already published: versions are never reused",
                manifest.model, manifest.version
            ),
        ));
    }
    for entry in &manifest.files {
        if !edge_bundle::manifest::safe_file_name(&entry.name) {
            return Err(invalid(
                &manifest_path,
                format!("file name {:?}", entry.name),
            ));
        }
        copy_verified(&dir.join(&entry.name), entry, &blobs)?;
    }
    for doc in &chain {
        let root: edge_bundle::Root = doc.payload(Domain::Root)?;
        let path = published_roots.join(format!("root-{}.json", root.version));
        if !path.exists() {
            std::fs::write(&path, doc.to_bytes()).map_err(io_error(&path))?;
        }
    }
    // The manifest last: a version is visible only once all of its files are stored.
    let tmp = models.join(format!(".{}.tmp", manifest.version));
    std::fs::write(&tmp, &bytes).map_err(io_error(&tmp))?;
    std::fs::rename(&tmp, &target).map_err(io_error(&target))?;
    Ok(Published {
        signers: signed.signatures.iter().map(|s| s.key_id.clone()).collect(),
        digest: signed.digest(),
        manifest,
    })
}

fn edge_model_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Every published version, by model then version.
pub fn list(state: &Path) -> Result<Vec<Published>, ReleaseError> {
    let models = bundles(state).join("models");
    let mut out = Vec::new();
    let Ok(dirs) = std::fs::read_dir(&models) else {
        return Ok(out);
    };
    for dir in dirs {
        let dir = dir.map_err(io_error(&models))?.path();
        for file in std::fs::read_dir(&dir).map_err(io_error(&dir))? {
            let path = file.map_err(io_error(&dir))?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(io_error(&path))?;
            let signed = Signed::parse(Domain::Manifest, &bytes)?;
            out.push(Published {
                manifest: signed.payload(Domain::Manifest)?,
                signers: signed.signatures.iter().map(|s| s.key_id.clone()).collect(),
                digest: signed.digest(),
            });
        }
    }
    out.sort_by(|a, b| {
        (a.manifest.model.as_str(), a.manifest.version)
            .cmp(&(b.manifest.model.as_str(), b.manifest.version))
    });
    Ok(out)
}
