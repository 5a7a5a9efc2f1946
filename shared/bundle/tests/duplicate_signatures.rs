//! Attack: one key's signature repeated to reach a threshold of two.

#![allow(clippy::expect_used)]

mod common;
use common::*;
use edge_bundle::BundleError;

#[test]
fn the_same_signature_twice_counts_once() {
    let w = world_with(2);
    let mut signed = manifest(2).sign(&[&w.release[0]]);
    signed.signatures.push(signed.signatures[0].clone());
    match check(&w.trusted(), &signed, None) {
        Err(BundleError::Threshold {
            valid, threshold, ..
        }) => assert_eq!((valid, threshold), (1, 2)),
        other => panic!("expected a threshold refusal, got {other:?}"),
    }
}

#[test]
fn the_same_key_signing_twice_counts_once() {
    let w = world_with(2);
    let signed = manifest(2).sign(&[&w.release[0], &w.release[0]]);
    assert_eq!(signed.signatures.len(), 2);
    assert!(matches!(
        check(&w.trusted(), &signed, None),
        Err(BundleError::Threshold { valid: 1, .. })
    ));
}

#[test]
fn two_distinct_release_keys_meet_a_threshold_of_two() {
    let w = world_with(2);
    let signed = manifest(2).sign(&[&w.release[0], &w.release[1]]);
    check(&w.trusted(), &signed, None).expect("threshold met");
}
