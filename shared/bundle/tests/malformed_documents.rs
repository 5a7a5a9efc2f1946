//! Attack: malformed documents — garbage, unknown fields, impossible thresholds, key ids that
//! are not their keys' hashes.

#![allow(clippy::expect_used)]

mod common;
use common::*;
use edge_bundle::root::Root;
use edge_bundle::signed::Domain;
use edge_bundle::{BundleError, Signed};

#[test]
fn garbage_and_unknown_fields_are_malformed() {
    for bytes in [
        &b"not json"[..],
        b"{}",
        b"{\"payload\":\"x\",\"signatures\":[],\"extra\":1}",
        b"[]",
    ] {
        let result = Signed::parse(Domain::Root, bytes);
        assert!(
            matches!(result, Err(BundleError::Malformed { .. })),
            "{result:?}"
        );
    }
}

#[test]
fn a_root_with_a_zero_or_unreachable_threshold_is_refused() {
    let w = world();
    for threshold in [0, 2] {
        let mut root = w.root.clone();
        root.root.threshold = threshold;
        let result = Root::verify_initial(&w.root_key.verifying_key(), &root.sign(&[&w.root_key]));
        assert!(
            matches!(result, Err(BundleError::Malformed { .. })),
            "{threshold}: {result:?}"
        );
    }
}

#[test]
fn a_key_id_that_is_not_the_hash_of_its_key_is_refused() {
    let w = world();
    let mut root = w.root.clone();
    let release_id = root.release.keys[0].clone();
    let entry = root.keys.remove(&release_id).expect("entry");
    let fake_id = "00".repeat(16);
    root.keys.insert(fake_id.clone(), entry);
    root.release.keys[0] = fake_id;
    let result = Root::verify_initial(&w.root_key.verifying_key(), &root.sign(&[&w.root_key]));
    assert!(
        matches!(result, Err(BundleError::Malformed { .. })),
        "{result:?}"
    );
}

#[test]
fn a_manifest_payload_that_is_not_a_manifest_is_refused() {
    let w = world();
    let mut not_a_manifest = manifest(2);
    not_a_manifest.kind = "root".into();
    let signed = not_a_manifest.sign(&[&w.release[0]]);
    let result = check(&w.trusted(), &signed, None);
    assert!(
        matches!(result, Err(BundleError::Malformed { .. })),
        "{result:?}"
    );
    let signed = Signed::sign(
        Domain::Manifest,
        "{\"kind\":\"manifest\"}".into(),
        &[&w.release[0]],
    );
    let digest = signed.digest();
    let expected = edge_bundle::Expected {
        model: "mlp",
        version: 2,
        manifest_sha256: &digest,
    };
    let result = edge_bundle::verify_manifest(&w.trusted(), &signed, &facts(), None, &expected);
    assert!(
        matches!(result, Err(BundleError::Malformed { .. })),
        "{result:?}"
    );
}
