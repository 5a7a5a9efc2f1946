//! Attack: an indefinite freeze — expired manifests, an expired root document, or an expired
//! release key still accepted.

#![allow(clippy::expect_used)]

mod common;
use common::*;
use edge_bundle::BundleError;
use edge_bundle::root::Root;

#[test]
fn an_expired_manifest_is_refused() {
    let w = world();
    let mut m = manifest(2);
    m.expires_ms = NOW;
    let result = check(&w.trusted(), &m.sign(&[&w.release[0]]), None);
    assert!(
        matches!(&result, Err(BundleError::Expired { what, .. }) if what.starts_with("manifest")),
        "{result:?}"
    );
}

#[test]
fn an_expired_root_document_stops_every_update() {
    let root_key = key(1);
    let root = Root::new(
        NOW - 1,
        &[root_key.verifying_key()],
        1,
        &[(key(11).verifying_key(), None)],
        1,
    );
    let trusted = Root::verify_initial(&root_key.verifying_key(), &root.sign(&[&root_key]))
        .expect("signature is fine");
    let result = check(&trusted, &manifest(2).sign(&[&key(11)]), None);
    assert!(
        matches!(&result, Err(BundleError::Expired { what, .. }) if what.starts_with("root")),
        "{result:?}"
    );
}

#[test]
fn an_expired_release_key_no_longer_counts() {
    let root_key = key(1);
    let root = Root::new(
        NOW + 365 * DAY,
        &[root_key.verifying_key()],
        1,
        &[
            (key(11).verifying_key(), Some(NOW - DAY)),
            (key(12).verifying_key(), None),
        ],
        1,
    );
    let trusted = Root::verify_initial(&root_key.verifying_key(), &root.sign(&[&root_key]))
        .expect("root verifies");
    assert!(matches!(
        check(&trusted, &manifest(2).sign(&[&key(11)]), None),
        Err(BundleError::Threshold { valid: 0, .. })
    ));
    check(&trusted, &manifest(2).sign(&[&key(12)]), None).expect("the other key still signs");
}

#[test]
fn updating_to_a_chain_that_ends_expired_is_refused() {
    let w = world();
    let mut next = w.root.clone();
    next.version = 2;
    next.expires_ms = NOW - 1;
    let result = w.trusted().update(&[next.sign(&[&w.root_key])], NOW);
    assert!(
        matches!(result, Err(BundleError::Expired { .. })),
        "{result:?}"
    );
}
