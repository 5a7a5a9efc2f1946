//! Step 6 of an update: disk reclaim, after a commit. A box that updates every week must not
//! fill its SD card with old versions and downloads, so once a version is committed the
//! updater removes, on the blocking pool:
//!
//! - version directories of the model other than the served one and the
//!   `[updates] keep_versions - 1` newest below it (the rollback targets: by default the one
//!   previous version), and never the shadow candidate's;
//! - downloaded blobs (`updates/blobs/SHA`: installing copies them into the version
//!   directory) and `.part` files of abandoned downloads, except those of the download in
//!   progress.
//!
//! What it removed is counted in `updates/state.json` (`reclaimed_files`,
//! `reclaimed_bytes`) and logged.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::Updater;

/// Files and bytes removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reclaimed {
    pub files: u64,
    pub bytes: u64,
}

impl Updater {
    /// Reclaims what the committed `model` no longer needs (see the module doc).
    pub(super) async fn reclaim(&mut self, model: &str) {
        let Some(served) = self.service.registry.get(model).map(|s| s.version) else {
            return;
        };
        let in_use: BTreeSet<String> = self
            .job
            .iter()
            .flat_map(|j| j.manifest.files.iter().map(|f| f.sha256.clone()))
            .collect();
        let candidate = self
            .shadowing
            .as_ref()
            .filter(|s| s.model == model)
            .map(|s| s.dir.clone());
        let plan = Plan {
            base: self.models_root.join(model),
            served,
            keep: self.config.keep_versions.max(1),
            candidate,
            blobs: self.blobs.clone(),
            in_use,
        };
        let result = tokio::task::spawn_blocking(move || plan.run()).await;
        match result {
            Ok(r) if r.files > 0 => {
                tracing::info!(
                    model,
                    files = r.files,
                    bytes = r.bytes,
                    "reclaimed disk after the commit"
                );
                self.state.reclaimed_files += r.files;
                self.state.reclaimed_bytes += r.bytes;
                self.save();
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "disk reclaim task failed"),
        }
    }
}

/// What one reclaim may remove.
#[derive(Debug)]
struct Plan {
    base: PathBuf,
    served: u64,
    keep: u32,
    candidate: Option<PathBuf>,
    blobs: PathBuf,
    in_use: BTreeSet<String>,
}

impl Plan {
    fn run(&self) -> Reclaimed {
        let mut done = Reclaimed::default();
        let mut versions: Vec<(u64, PathBuf)> = entries(&self.base)
            .filter(|p| p.is_dir())
            .filter_map(|p| Some((p.file_name()?.to_str()?.parse().ok()?, p)))
            .collect();
        versions.sort_by_key(|(v, _)| std::cmp::Reverse(*v));
        let kept_below: BTreeSet<u64> = versions
            .iter()
            .map(|(v, _)| *v)
            .filter(|v| *v < self.served)
            .take(self.keep as usize - 1)
            .collect();
        for (version, dir) in &versions {
            let keep = *version == self.served
                || kept_below.contains(version)
                || self.candidate.as_deref() == Some(dir.as_path());
            if !keep {
                remove(dir, &mut done);
            }
        }
        for path in entries(&self.blobs) {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let sha = name.strip_suffix(".part").unwrap_or(name);
            if !self.in_use.contains(sha) {
                remove(&path, &mut done);
            }
        }
        done
    }
}

fn entries(dir: &Path) -> impl Iterator<Item = PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
}

/// Removes a file or a directory tree, counting its files and bytes.
fn remove(path: &Path, done: &mut Reclaimed) {
    let (files, bytes) = size(path);
    let removed = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match removed {
        Ok(()) => {
            done.files += files;
            done.bytes += bytes;
        }
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot reclaim"),
    }
}

fn size(path: &Path) -> (u64, u64) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => entries(path)
            .map(|p| size(&p))
            .fold((0, 0), |(f, b), (f2, b2)| (f + f2, b + b2)),
        Ok(m) => (1, m.len()),
        Err(_) => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path, bytes: usize) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, vec![0u8; bytes]).expect("write");
    }

    #[test]
    fn old_versions_and_unused_downloads_go_the_served_previous_and_in_use_stay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (base, blobs) = (dir.path().join("models/m"), dir.path().join("blobs"));
        for v in [1, 2, 3, 4, 6] {
            touch(&base.join(format!("{v}/model.json")), 10);
        }
        touch(&base.join("current"), 1);
        touch(&blobs.join("aaaa"), 100);
        touch(&blobs.join("bbbb.part"), 50);
        touch(&blobs.join("cccc.part"), 70);
        let plan = Plan {
            base: base.clone(),
            served: 4,
            keep: 2,
            candidate: Some(base.join("6")),
            blobs: blobs.clone(),
            in_use: BTreeSet::from(["cccc".to_string()]),
        };
        assert_eq!(
            plan.run(),
            Reclaimed {
                files: 4,
                bytes: 170
            }
        );
        for (path, kept) in [
            (base.join("4"), true),
            (base.join("3"), true),
            (base.join("6"), true),
            (base.join("current"), true),
            (base.join("2"), false),
            (base.join("1"), false),
            (blobs.join("aaaa"), false),
            (blobs.join("bbbb.part"), false),
            (blobs.join("cccc.part"), true),
        ] {
            assert_eq!(path.exists(), kept, "{}", path.display());
        }
    }
}
