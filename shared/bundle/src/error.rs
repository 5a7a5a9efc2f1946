//! Why a key document, manifest or file was refused. Every variant names what it is about, and
//! [`BundleError::reason`] gives the short code a device reports to the fleet.

/// One refusal.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{what} is not a valid signed document: {reason}")]
    Malformed { what: &'static str, reason: String },
    #[error("{what} is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        what: &'static str,
        size: u64,
        limit: u64,
    },
    #[error(
        "{what}: {valid} valid signature(s) from distinct trusted {role} keys, {threshold} needed"
    )]
    Threshold {
        what: &'static str,
        role: &'static str,
        valid: u32,
        threshold: u32,
    },
    #[error("{what} expired at {expires_ms} (now {now_ms}, ms since the epoch)")]
    Expired {
        what: String,
        expires_ms: u64,
        now_ms: u64,
    },
    #[error(
        "root version {found} cannot follow the trusted version {trusted} (must be exactly the next)"
    )]
    RootVersion { trusted: u64, found: u64 },
    #[error("the pinned root key {key_id} is not a root key of the first root document")]
    PinnedKeyMissing { key_id: String },
    #[error("{model} version {version} is not above {highest}, the highest ever activated")]
    Rollback {
        model: String,
        version: u64,
        highest: u64,
    },
    #[error(
        "the manifest ({model} {version}, sha256 {found}) is not the one the signed desired state names ({expected})"
    )]
    NotDesired {
        model: String,
        version: u64,
        found: String,
        expected: String,
    },
    #[error("{model} {version} is for hardware {targets:?}, this device is {device}")]
    WrongHardware {
        model: String,
        version: u64,
        targets: Vec<String>,
        device: String,
    },
    #[error("{model} {version} needs edged {required} or newer, this is {running}")]
    DaemonTooOld {
        model: String,
        version: u64,
        required: String,
        running: String,
    },
    #[error(
        "file name {name:?} is not allowed (letters, digits, '.', '_', '-'; not starting with '.'; at most 128)"
    )]
    BadFileName { name: String },
    #[error("file {name} is longer than the {declared} bytes its manifest declares")]
    FileTooLong { name: String, declared: u64 },
    #[error("file {name} is {found} bytes, its manifest declares {declared}")]
    FileLength {
        name: String,
        declared: u64,
        found: u64,
    },
    #[error("file {name}: sha256 {found}, the manifest says {declared}")]
    FileHash {
        name: String,
        declared: String,
        found: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl BundleError {
    /// A short, stable code for telemetry and the fleet's failure counts.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "malformed",
            Self::TooLarge { .. } => "too_large",
            Self::Threshold { .. } => "bad_signature",
            Self::Expired { .. } => "expired",
            Self::RootVersion { .. } => "root_version",
            Self::PinnedKeyMissing { .. } => "untrusted_root",
            Self::Rollback { .. } => "rollback",
            Self::NotDesired { .. } => "not_desired",
            Self::WrongHardware { .. } => "wrong_hardware",
            Self::DaemonTooOld { .. } => "daemon_too_old",
            Self::BadFileName { .. } => "bad_file_name",
            Self::FileTooLong { .. } | Self::FileLength { .. } => "file_length",
            Self::FileHash { .. } => "file_hash",
            Self::Io { .. } => "io",
        }
    }
}
