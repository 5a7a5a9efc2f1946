//! Manifests, as a box verifies them before fetching a model: under a root delegating to one
//! release key, any bytes as the signed document, then the input as a manifest payload signed
//! by that release key, so every check after the signature (kind, fields, file names and
//! hashes, sizes, hardware, versions, expiry) sees every input. Never a panic; a manifest
//! that verifies has safe file names and lowercase hashes.

#![no_main]

use ed25519_dalek::SigningKey;
use edge_bundle::root::Root;
use edge_bundle::{DeviceFacts, Domain, Expected, Signed, verify_manifest};
use libfuzzer_sys::fuzz_target;

const NOW: u64 = 1_800_000_000_000;

fuzz_target!(|data: &[u8]| {
    let root_key = SigningKey::from_bytes(&[1; 32]);
    let release = SigningKey::from_bytes(&[11; 32]);
    let root = Root::new(
        NOW + 86_400_000,
        &[root_key.verifying_key()],
        1,
        &[(release.verifying_key(), None)],
        1,
    );
    let Ok(root) = Root::verify_initial(&root_key.verifying_key(), &root.sign(&[&root_key])) else {
        return;
    };
    let facts = DeviceFacts {
        now_ms: NOW,
        hardware: "x86_64".into(),
        daemon_version: "0.1.0".into(),
        size_cap: 10 << 20,
    };
    let check = |signed: &Signed| {
        let digest = signed.digest();
        let expected = Expected {
            model: "mlp",
            version: 2,
            manifest_sha256: &digest,
        };
        verify_manifest(&root, signed, &facts, Some(1), &expected)
    };
    if let Ok(signed) = Signed::parse(Domain::Manifest, data) {
        let _ = check(&signed);
    }
    let Ok(payload) = std::str::from_utf8(data) else {
        return;
    };
    let signed = Signed::sign(Domain::Manifest, payload.to_string(), &[&release]);
    if let Ok(manifest) = check(&signed) {
        for f in &manifest.files {
            assert!(edge_bundle::manifest::safe_file_name(&f.name), "{}", f.name);
            assert!(
                f.sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
        }
    }
});
