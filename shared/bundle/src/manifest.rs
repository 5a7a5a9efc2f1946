//! The signed manifest of a model bundle and its verification on the device.
//!
//! A bundle is this manifest plus the model directory's files, each stored and sent under its
//! SHA-256: no archive, nothing unpacked, so path traversal, links and decompression bombs
//! cannot happen. The device checks, in this order (after TUF §5.6): the root it trusts is not
//! expired; a threshold of non-revoked, non-expired release keys signed; the manifest is what
//! the signed desired state names (no mix-and-match); it has not expired; its version is above
//! the highest the device ever activated for the model (no rollback); it targets this
//! device's hardware class and daemon version; names are safe; sizes are within the cap.
//! Files are then checked while they stream in ([`crate::FileCheck`]). These are the numbered
//! steps of PROTOCOL.md §Manifest verification, cited where each is made.

use std::collections::BTreeSet;

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::BundleError;
use crate::root::Root;
use crate::signed::{Domain, Signed};

/// One file of the model directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Its name in the model directory (model.json, weights.safetensors, checks.json).
    pub name: String,
    /// SHA-256 of its bytes, hex; also its name in the bundle.
    pub sha256: String,
    pub length: u64,
}

/// What a release key signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always "manifest".
    pub kind: String,
    pub model: String,
    /// Strictly increasing per model; a rollback is a new release of old weights.
    pub version: u64,
    pub files: Vec<FileEntry>,
    /// Hardware classes it may run on (`any`, or e.g. `aarch64`, `x86_64`, `jetson-orin`).
    pub hardware: Vec<String>,
    /// Oldest edged that may run it (major.minor.patch).
    pub min_daemon: String,
    pub created_ms: u64,
    pub expires_ms: u64,
}

/// What the device knows when it checks a manifest.
#[derive(Debug, Clone)]
pub struct DeviceFacts {
    pub now_ms: u64,
    /// This device's hardware class.
    pub hardware: String,
    /// The running edged's version.
    pub daemon_version: String,
    /// Largest bundle accepted (sum of file lengths).
    pub size_cap: u64,
}

/// What the signed desired state says this model should become.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub model: &'a str,
    pub version: u64,
    /// [`Signed::digest`] of the manifest.
    pub manifest_sha256: &'a str,
}

/// Whether a file name is safe to create inside a model directory.
pub fn safe_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.trim().split('.').map(|p| p.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

impl Manifest {
    pub fn sign(&self, keys: &[&SigningKey]) -> Signed {
        let payload = serde_json::to_string_pretty(self).unwrap_or_default();
        Signed::sign(Domain::Manifest, payload, keys)
    }

    pub fn total_length(&self) -> u64 {
        self.files
            .iter()
            .map(|f| f.length)
            .fold(0, u64::saturating_add)
    }
}

/// Verifies a signed manifest for this device; see the module docs for the order of checks.
pub fn verify_manifest(
    root: &Root,
    signed: &Signed,
    facts: &DeviceFacts,
    highest_activated: Option<u64>,
    expected: &Expected<'_>,
) -> Result<Manifest, BundleError> {
    // Step 1 (size, framing) happened in `Signed::parse`.
    // PROTOCOL.md §Manifest verification, step 2: the trusted root has not expired.
    root.check_fresh(facts.now_ms)?;
    // Step 3: a threshold of release keys, revoked and expired ones not counting.
    let excluded = root.excluded(facts.now_ms);
    signed.verify(Domain::Manifest, &root.release_signers(&excluded))?;
    // Step 4: a manifest, no unknown fields, of kind "manifest".
    let mut m: Manifest = signed.payload(Domain::Manifest)?;
    if m.kind != "manifest" {
        return Err(BundleError::Malformed {
            what: "manifest",
            reason: format!("kind is {:?}, not \"manifest\"", m.kind),
        });
    }
    // Step 5: the manifest the signed desired state names (no mix-and-match).
    let digest = signed.digest();
    if m.model != expected.model
        || m.version != expected.version
        || !digest.eq_ignore_ascii_case(expected.manifest_sha256)
    {
        return Err(BundleError::NotDesired {
            model: m.model,
            version: m.version,
            found: digest,
            expected: expected.manifest_sha256.to_string(),
        });
    }
    // Step 6: not expired.
    if m.expires_ms <= facts.now_ms {
        return Err(BundleError::Expired {
            what: format!("manifest {} {}", m.model, m.version),
            expires_ms: m.expires_ms,
            now_ms: facts.now_ms,
        });
    }
    // Step 7: above the highest version ever activated (no rollback).
    if let Some(highest) = highest_activated.filter(|h| m.version <= *h) {
        return Err(BundleError::Rollback {
            model: m.model,
            version: m.version,
            highest,
        });
    }
    // Step 8: for this hardware class.
    if !m
        .hardware
        .iter()
        .any(|h| h == "any" || *h == facts.hardware)
    {
        return Err(BundleError::WrongHardware {
            model: m.model,
            version: m.version,
            targets: m.hardware,
            device: facts.hardware.clone(),
        });
    }
    // Step 9: not for a newer edged (an unreadable version refuses).
    let too_old = match (
        parse_version(&m.min_daemon),
        parse_version(&facts.daemon_version),
    ) {
        (Some(required), Some(running)) => running < required,
        _ => true,
    };
    if too_old {
        return Err(BundleError::DaemonTooOld {
            model: m.model,
            version: m.version,
            required: m.min_daemon,
            running: facts.daemon_version.clone(),
        });
    }
    // Step 10: safe, unique file names and well-formed hashes, normalised to lowercase (the
    // form every digest we compute has, so an uppercase hash in a signed manifest matches
    // the file it names instead of never matching).
    for f in &mut m.files {
        f.sha256.make_ascii_lowercase();
    }
    let mut names = BTreeSet::new();
    for f in &m.files {
        let hash_ok = f.sha256.len() == 64 && f.sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !safe_file_name(&f.name) || !names.insert(f.name.as_str()) || !hash_ok {
            return Err(BundleError::BadFileName {
                name: f.name.clone(),
            });
        }
    }
    // Step 11: no file, and not their sum, over the size cap.
    let total = m.total_length();
    if total > facts.size_cap || m.files.iter().any(|f| f.length > facts.size_cap) {
        return Err(BundleError::TooLarge {
            what: "bundle",
            size: total,
            limit: facts.size_cap,
        });
    }
    Ok(m)
}
