//! Releasing models (issue 5, first part): the organisation's keys (`fleet keys`), signing a
//! model directory into a bundle (`fleet model sign`), and the fleet's store of published
//! bundles (`fleet model publish|list`). Verification itself lives in `edge-bundle`, shared
//! with the devices.
//!
//! A keys directory holds `root.key` (keep it offline), `release-N.key`, and `roots/root-N.json`,
//! the chain of signed root documents that devices walk from the root key they pinned.

pub mod keys;
pub mod sign;
pub mod store;

use std::path::PathBuf;

/// Why a release operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error(transparent)]
    Bundle(#[from] edge_bundle::BundleError),
}

pub(crate) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ReleaseError + '_ {
    move |source| ReleaseError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn invalid(path: &std::path::Path, reason: impl Into<String>) -> ReleaseError {
    ReleaseError::Invalid {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
