//! Releasing models with the real `fleet` binary: `fleet keys init`, `fleet model sign`,
//! `fleet model publish` (verified against the root chain) and `fleet model list`; a tampered
//! file, a reused version, a key outside the root document, a revoked release key and a
//! rotated root key.

#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};

use e2e::{binary, run};

fn fleet(args: &[&str]) -> (bool, String, String) {
    let (out, stdout, stderr) = run(binary("fleet").args(args));
    (out.status.success(), stdout, stderr)
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// A copy of the example model with `version` in its model.json.
fn model_dir(dir: &Path, version: u64) -> PathBuf {
    e2e::release::example_copy(dir, version)
}

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    keys: PathBuf,
    config: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    let keys = root.join("keys");
    let config = root.join("fleet.toml");
    let mut text = e2e::config::Toml::default();
    text.set("", "state_dir", root.join("state").as_path()).set(
        "admin",
        "token",
        e2e::fleet::TOKEN,
    );
    std::fs::write(&config, text.to_string()).expect("config");
    let (ok, stdout, stderr) = fleet(&["keys", "init", "--out", &s(&keys)]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("root_public_key "), "{stdout}");
    Setup {
        _dir: dir,
        root,
        keys,
        config,
    }
}

impl Setup {
    fn sign(&self, model: &Path, key: &str) -> (bool, String) {
        let (ok, _, stderr) = fleet(&[
            "model",
            "sign",
            &s(model),
            "--key",
            &s(&self.keys.join(key)),
        ]);
        (ok, stderr)
    }

    fn publish(&self, model: &Path) -> (bool, String, String) {
        fleet(&[
            "model",
            "publish",
            &s(model),
            "--config",
            &s(&self.config),
            "--roots",
            &s(&self.keys.join("roots")),
        ])
    }

    fn list(&self) -> String {
        let (ok, stdout, stderr) = fleet(&["model", "list", "--config", &s(&self.config)]);
        assert!(ok, "{stderr}");
        stdout
    }

    fn release_id(&self, n: u32) -> String {
        let text =
            std::fs::read_to_string(self.keys.join(format!("release-{n}.key"))).expect("key");
        let bytes: [u8; 32] = hex::decode(text.trim())
            .expect("hex")
            .try_into()
            .expect("32");
        let key = ed25519_dalek::SigningKey::from_bytes(&bytes);
        edge_bundle::key_id(&key.verifying_key())
    }
}

#[test]
fn keys_are_private_and_a_signed_model_is_published_and_listed_once() {
    let t = setup();
    for name in ["root.key", "release-1.key", "release-2.key"] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(t.keys.join(name))
                .expect("key")
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    let (ok, _, stderr) = fleet(&["keys", "init", "--out", &s(&t.keys)]);
    assert!(
        !ok && stderr.contains("exists"),
        "init never overwrites keys: {stderr}"
    );
    let model = model_dir(&t.root, 1);
    let (ok, stderr) = t.sign(&model, "release-1.key");
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = t.publish(&model);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("published mlp 1"), "{stdout}");
    let listed = t.list();
    let row = listed
        .lines()
        .find(|l| l.starts_with("mlp "))
        .expect("mlp row");
    assert!(row.contains(&t.release_id(1)), "{row}");
    assert!(
        row.split_whitespace().nth(1) == Some("1") && row.contains(" 3 "),
        "{row}"
    );
    // Each file is stored once, under its hash.
    let blobs = std::fs::read_dir(t.root.join("state/bundles/blobs"))
        .expect("blobs")
        .count();
    assert_eq!(blobs, 3);
    let (ok, _, stderr) = t.publish(&model);
    assert!(!ok && stderr.contains("already published"), "{stderr}");
}

#[test]
fn a_file_changed_after_signing_is_not_published() {
    let t = setup();
    let model = model_dir(&t.root, 1);
    assert!(t.sign(&model, "release-1.key").0);
    let weights = model.join("weights.safetensors");
    let mut bytes = std::fs::read(&weights).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&weights, bytes).expect("write");
    let (ok, _, stderr) = t.publish(&model);
    assert!(
        !ok && stderr.contains("weights.safetensors: sha256"),
        "{stderr}"
    );
    assert!(!t.list().contains("mlp "), "nothing published");
}

#[test]
fn a_key_outside_the_root_document_cannot_publish() {
    let t = setup();
    let model = model_dir(&t.root, 1);
    let stranger = t.root.join("stranger.key");
    std::fs::write(&stranger, hex::encode([9u8; 32])).expect("key");
    let (ok, _, stderr) = fleet(&["model", "sign", &s(&model), "--key", &s(&stranger)]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = t.publish(&model);
    assert!(!ok && stderr.contains("0 valid signature"), "{stderr}");
}

#[test]
fn a_revoked_release_key_cannot_publish_and_trust_survives_root_rotation() {
    let t = setup();
    let keys = s(&t.keys);
    let (ok, stdout, stderr) = fleet(&["keys", "revoke", &t.release_id(1), "--keys", &keys]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("root-2.json"), "{stdout}");
    let model = model_dir(&t.root, 2);
    assert!(t.sign(&model, "release-1.key").0);
    let (ok, _, stderr) = t.publish(&model);
    assert!(
        !ok && stderr.contains("0 valid signature"),
        "revoked: {stderr}"
    );
    assert!(t.sign(&model, "release-2.key").0);
    let (ok, _, stderr) = t.publish(&model);
    assert!(ok, "{stderr}");
    // Revoking the last release key is refused: add one first.
    let (ok, _, stderr) = fleet(&["keys", "revoke", &t.release_id(2), "--keys", &keys]);
    assert!(!ok && stderr.contains("add one first"), "{stderr}");
    // Rotate the root key; the chain still verifies from the first document, and the old
    // root key is retired.
    let (ok, stdout, stderr) = fleet(&["keys", "rotate-root", "--keys", &keys]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("root-3.json"), "{stdout}");
    assert!(t.keys.join("root-retired-2.key").exists());
    let (ok, stdout, stderr) = fleet(&["keys", "add-release", "--keys", &keys]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("root-4.json"), "{stdout}");
    let model = model_dir(&t.root, 3);
    assert!(t.sign(&model, "release-3.key").0);
    let (ok, _, stderr) = t.publish(&model);
    assert!(ok, "a release key added after the rotation signs: {stderr}");
    let published = std::fs::read_dir(t.root.join("state/bundles/roots"))
        .expect("roots")
        .count();
    assert_eq!(published, 4, "the whole chain is kept for devices");
}
