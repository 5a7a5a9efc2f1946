//! Attack: an arbitrary model — unsigned, badly signed, signed by an unknown key, by a root
//! key instead of a release key, or with a signature made for another kind of document.

#![allow(clippy::expect_used)]

mod common;
use common::*;
use edge_bundle::signed::{Domain, Signature};
use edge_bundle::{BundleError, Signed};

fn refused_as_bad_signature(result: Result<edge_bundle::Manifest, BundleError>) {
    match result {
        Err(e @ BundleError::Threshold { .. }) => assert_eq!(e.reason(), "bad_signature"),
        other => panic!("expected a signature refusal, got {other:?}"),
    }
}

#[test]
fn a_manifest_signed_by_a_release_key_is_accepted() {
    let w = world();
    let signed = manifest(2).sign(&[&w.release[0]]);
    let m = check(&w.trusted(), &signed, Some(1)).expect("valid");
    assert_eq!(m.version, 2);
}

#[test]
fn unsigned_manifest_is_refused() {
    let w = world();
    let mut signed = manifest(2).sign(&[]);
    signed.signatures.clear();
    refused_as_bad_signature(check(&w.trusted(), &signed, None));
}

#[test]
fn manifest_changed_after_signing_is_refused() {
    let w = world();
    let mut signed = manifest(2).sign(&[&w.release[0]]);
    signed.payload = signed.payload.replace("\"version\": 2", "\"version\": 3");
    assert!(signed.payload.contains("\"version\": 3"));
    refused_as_bad_signature(check(&w.trusted(), &signed, None));
}

#[test]
fn every_flipped_signature_bit_is_refused() {
    let w = world();
    let good = manifest(2).sign(&[&w.release[0]]);
    let sig = hex::decode(&good.signatures[0].sig).expect("hex");
    for bit in (0..sig.len() * 8).step_by(37) {
        let mut bad = sig.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let mut signed = good.clone();
        signed.signatures[0].sig = hex::encode(bad);
        refused_as_bad_signature(check(&w.trusted(), &signed, None));
    }
}

#[test]
fn manifest_signed_by_an_unknown_key_is_refused() {
    let w = world();
    let signed = manifest(2).sign(&[&key(99)]);
    refused_as_bad_signature(check(&w.trusted(), &signed, None));
}

#[test]
fn unknown_key_claiming_a_release_key_id_is_refused() {
    let w = world();
    let mut signed = manifest(2).sign(&[&key(99)]);
    signed.signatures[0].key_id = edge_bundle::key_id(&w.release[0].verifying_key());
    refused_as_bad_signature(check(&w.trusted(), &signed, None));
}

#[test]
fn manifest_signed_by_the_root_key_is_refused() {
    // The root key delegates; it does not sign releases.
    let w = world();
    let signed = manifest(2).sign(&[&w.root_key]);
    refused_as_bad_signature(check(&w.trusted(), &signed, None));
}

#[test]
fn signature_made_for_another_document_kind_is_refused() {
    // The same release key signs the same bytes, but as a desired state: the domain differs.
    let w = world();
    let payload = serde_json::to_string_pretty(&manifest(2)).expect("json");
    let other = Signed::sign(Domain::Desired, payload.clone(), &[&w.release[0]]);
    let signed = Signed {
        payload,
        signatures: vec![Signature {
            key_id: other.signatures[0].key_id.clone(),
            sig: other.signatures[0].sig.clone(),
        }],
    };
    refused_as_bad_signature(check(&w.trusted(), &signed, None));
}
