//! Reading and writing `model.json`. The version is read first, so a model in a newer format
//! gets a clear message instead of a confusing field error; unknown fields are refused.

use std::path::Path;

use serde::Deserialize;

use super::graph::ModelSpec;
use super::{FORMAT_VERSION, MAX_SPEC_BYTES, MIN_FORMAT_VERSION, SPEC_FILE};
use crate::error::{ModelError, Result};

impl ModelSpec {
    /// Reads and validates `model.json` in `dir`. Weight names are checked by
    /// [`ModelSpec::validate`] once the weights are known.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(SPEC_FILE);
        let bytes = crate::read_bounded(&path, MAX_SPEC_BYTES)?;
        Self::parse(&bytes, &path)
    }

    /// Parses the bytes of a `model.json` (`path` names it in errors); validation is
    /// [`ModelSpec::validate`]'s.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        let path = path.to_path_buf();
        if bytes.len() as u64 > MAX_SPEC_BYTES {
            return Err(ModelError::TooLarge {
                what: path.display().to_string(),
                size: bytes.len() as u64,
                limit: MAX_SPEC_BYTES,
            });
        }
        // Read the version first, so a newer format gets a clear message instead of a
        // confusing field error.
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let version: Version = serde_json::from_slice(bytes).map_err(|e| ModelError::Spec {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&version.format_version) {
            return Err(ModelError::FormatVersion {
                path,
                found: version.format_version,
                supported: FORMAT_VERSION,
            });
        }
        serde_json::from_slice(bytes).map_err(|e| ModelError::Spec {
            path,
            reason: e.to_string(),
        })
    }

    /// Writes `model.json` into `dir`: indented for people, unless that passes 4 MiB (a tree
    /// ensemble's node arrays, one number per line), then compact; both read the same.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(SPEC_FILE);
        let failed = |e: serde_json::Error| ModelError::Spec {
            path: path.clone(),
            reason: e.to_string(),
        };
        let mut text = serde_json::to_vec_pretty(self).map_err(failed)?;
        if text.len() > 4 << 20 {
            text = serde_json::to_vec(self).map_err(failed)?;
        }
        std::fs::write(&path, text).map_err(|source| ModelError::Write { path, source })
    }
}
