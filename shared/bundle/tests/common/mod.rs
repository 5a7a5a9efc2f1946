//! A small key world for the attack tests: a pinned root key, two release keys (threshold 1),
//! a manifest for `mlp` and the device facts of an x86_64 box running edged 0.1.0.

#![allow(dead_code, clippy::expect_used)]

use ed25519_dalek::SigningKey;
use edge_bundle::root::Root;
use edge_bundle::{DeviceFacts, Expected, FileEntry, Manifest, Signed};
use sha2::{Digest, Sha256};

pub const NOW: u64 = 1_800_000_000_000;
pub const DAY: u64 = 86_400_000;

pub fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

pub struct World {
    pub root_key: SigningKey,
    pub release: [SigningKey; 2],
    pub root: Root,
    pub signed_root: Signed,
}

/// Root key 1, release keys 11 and 12 (threshold `release_threshold`), a year to live.
pub fn world_with(release_threshold: u32) -> World {
    let root_key = key(1);
    let release = [key(11), key(12)];
    let root = Root::new(
        NOW + 365 * DAY,
        &[root_key.verifying_key()],
        1,
        &[
            (release[0].verifying_key(), None),
            (release[1].verifying_key(), None),
        ],
        release_threshold,
    );
    let signed_root = root.sign(&[&root_key]);
    World {
        root_key,
        release,
        root,
        signed_root,
    }
}

pub fn world() -> World {
    world_with(1)
}

impl World {
    /// What the device trusts after verifying the first root against its pinned key.
    pub fn trusted(&self) -> Root {
        Root::verify_initial(&self.root_key.verifying_key(), &self.signed_root)
            .expect("initial root verifies")
    }
}

pub fn file(name: &str, content: &[u8]) -> FileEntry {
    FileEntry {
        name: name.into(),
        sha256: hex::encode(Sha256::digest(content)),
        length: content.len() as u64,
    }
}

pub fn manifest(version: u64) -> Manifest {
    Manifest {
        kind: "manifest".into(),
        model: "mlp".into(),
        version,
        files: vec![
            file("model.json", b"{\"graph\": 1}"),
            file("weights.safetensors", &[7u8; 1000]),
        ],
        hardware: vec!["any".into()],
        min_daemon: "0.1.0".into(),
        created_ms: NOW - DAY,
        expires_ms: NOW + 30 * DAY,
    }
}

pub fn facts() -> DeviceFacts {
    DeviceFacts {
        now_ms: NOW,
        hardware: "x86_64".into(),
        daemon_version: "0.1.0".into(),
        size_cap: 10 << 20,
    }
}

/// The desired state that names exactly this signed manifest.
pub fn expected_for<'a>(signed: &'a Signed, digest: &'a str) -> Expected<'a> {
    let m: Manifest = serde_json::from_str(&signed.payload).expect("manifest payload");
    Expected {
        model: if m.model == "mlp" { "mlp" } else { "other" },
        version: m.version,
        manifest_sha256: digest,
    }
}

/// Verifies `signed` as the desired manifest, with `highest` activated before.
pub fn check(
    root: &Root,
    signed: &Signed,
    highest: Option<u64>,
) -> Result<Manifest, edge_bundle::BundleError> {
    let digest = signed.digest();
    edge_bundle::verify_manifest(
        root,
        signed,
        &facts(),
        highest,
        &expected_for(signed, &digest),
    )
}
