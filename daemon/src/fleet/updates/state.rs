//! What the updater must remember across restarts, in `STATE_DIR/updates/state.json`
//! (written to a temporary file, synced and renamed): the root document it trusts, the
//! highest version it ever activated per model (no rollback to an older one), the last
//! desired-state sequence number (no replayed instructions: the link has already checked
//! that the message is the fleet's and addressed to this box), and the manifests that failed.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The persisted state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateState {
    /// The newest verified root document (signed JSON text).
    #[serde(default)]
    pub root: Option<String>,
    #[serde(default)]
    pub highest: BTreeMap<String, u64>,
    /// The fleet sequence number of the last desired state taken (protocol 2: this box's own
    /// counter in the fleet's store). Protocol 1's clock-based `last_desired_seq`, if an
    /// older file has it, is ignored: the new counter starts low.
    #[serde(default)]
    pub desired_seq: u64,
    /// model -> manifest digest that failed (not retried until the fleet desires another).
    #[serde(default)]
    pub failed: BTreeMap<String, String>,
    /// Desired states ignored because they named a manifest in `failed` (seen by tests).
    #[serde(default)]
    pub ignored_failed: u64,
    /// The newest signed time seen (a desired state's, a manifest's creation): the box's
    /// clock is never taken to be earlier (`trust.rs`).
    #[serde(default)]
    pub time_floor_ms: u64,
    /// Files and bytes the disk reclaim removed after commits (`reclaim.rs`).
    #[serde(default)]
    pub reclaimed_files: u64,
    #[serde(default)]
    pub reclaimed_bytes: u64,
}

pub fn file(dir: &Path) -> PathBuf {
    dir.join("state.json")
}

impl UpdateState {
    pub fn load(dir: &Path) -> std::io::Result<Self> {
        match std::fs::read(file(dir)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", file(dir).display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e),
        }
    }

    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join("state.json.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(self).unwrap_or_default())?;
        f.sync_all()?;
        std::fs::rename(&tmp, file(dir))?;
        std::fs::File::open(dir)?.sync_all()
    }
}
