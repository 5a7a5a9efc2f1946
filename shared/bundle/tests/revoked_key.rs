//! Attack: key compromise — a release key revoked by a new root document keeps signing.

#![allow(clippy::expect_used)]

mod common;
use common::*;
use edge_bundle::BundleError;

#[test]
fn a_revoked_release_key_no_longer_counts_and_the_other_still_does() {
    let w = world();
    let compromised = edge_bundle::key_id(&w.release[0].verifying_key());
    let mut next = w.root.clone();
    next.version = 2;
    next.revoked.insert(compromised);
    let trusted = w
        .trusted()
        .update(&[next.sign(&[&w.root_key])], NOW)
        .expect("root v2 verifies");
    assert_eq!(trusted.version, 2);
    let result = check(&trusted, &manifest(2).sign(&[&w.release[0]]), None);
    assert!(
        matches!(result, Err(BundleError::Threshold { valid: 0, .. })),
        "{result:?}"
    );
    check(&trusted, &manifest(2).sign(&[&w.release[1]]), None).expect("not revoked");
}

#[test]
fn a_revocation_cannot_be_undone_by_a_root_not_signed_by_the_root_key() {
    // The attacker holds the compromised release key and forges a root v3 that restores it.
    let w = world();
    let mut v2 = w.root.clone();
    v2.version = 2;
    v2.revoked
        .insert(edge_bundle::key_id(&w.release[0].verifying_key()));
    let trusted = w
        .trusted()
        .update(&[v2.sign(&[&w.root_key])], NOW)
        .expect("v2");
    let mut v3 = w.root.clone();
    v3.version = 3;
    let forged = v3.sign(&[&w.release[0]]);
    let result = trusted.update(&[forged], NOW);
    assert!(
        matches!(result, Err(BundleError::Threshold { .. })),
        "{result:?}"
    );
}

#[test]
fn replaying_the_old_root_does_not_lift_a_revocation() {
    let w = world();
    let mut v2 = w.root.clone();
    v2.version = 2;
    v2.revoked
        .insert(edge_bundle::key_id(&w.release[0].verifying_key()));
    let trusted = w
        .trusted()
        .update(&[v2.sign(&[&w.root_key])], NOW)
        .expect("v2");
    let again = trusted
        .update(std::slice::from_ref(&w.signed_root), NOW)
        .expect("no-op");
    assert_eq!(
        again.version, 2,
        "an older root document is skipped, never adopted"
    );
    assert!(check(&again, &manifest(2).sign(&[&w.release[0]]), None).is_err());
}
