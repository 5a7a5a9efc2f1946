//! Attack: replaying an older, weaker model (a version not above the highest ever activated).

#![allow(clippy::expect_used)]

mod common;
use common::*;
use edge_bundle::BundleError;

#[test]
fn the_same_or_an_older_version_is_refused() {
    let w = world();
    let root = w.trusted();
    for version in [5, 4, 1] {
        let signed = manifest(version).sign(&[&w.release[0]]);
        match check(&root, &signed, Some(5)) {
            Err(e @ BundleError::Rollback { .. }) => assert_eq!(e.reason(), "rollback"),
            other => panic!("version {version}: expected a rollback refusal, got {other:?}"),
        }
    }
}

#[test]
fn a_fleet_rollback_re_releases_old_weights_under_a_new_version() {
    let w = world();
    let old_weights = manifest(3);
    let mut rerelease = old_weights.clone();
    rerelease.version = 6;
    let signed = rerelease.sign(&[&w.release[0]]);
    let m = check(&w.trusted(), &signed, Some(5)).expect("a new version of old weights");
    assert_eq!(m.files, old_weights.files);
}

#[test]
fn a_first_install_accepts_any_version() {
    let w = world();
    check(&w.trusted(), &manifest(1).sign(&[&w.release[1]]), None).expect("first install");
}
