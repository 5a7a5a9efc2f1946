//! Attack: wrong target — a bundle for another hardware class, or for a newer daemon.

#![allow(clippy::expect_used)]

mod common;
use common::*;
use edge_bundle::BundleError;

#[test]
fn a_bundle_for_another_hardware_class_is_refused() {
    let w = world();
    let mut m = manifest(2);
    m.hardware = vec!["aarch64".into(), "jetson-orin".into()];
    let result = check(&w.trusted(), &m.sign(&[&w.release[0]]), None);
    assert!(
        matches!(result, Err(BundleError::WrongHardware { .. })),
        "{result:?}"
    );
    m.hardware.push("x86_64".into());
    check(&w.trusted(), &m.sign(&[&w.release[0]]), None).expect("listed");
}

#[test]
fn a_bundle_needing_a_newer_daemon_is_refused() {
    let w = world();
    for required in ["0.2.0", "1.0.0", "0.1.1", "not-a-version"] {
        let mut m = manifest(2);
        m.min_daemon = required.into();
        let result = check(&w.trusted(), &m.sign(&[&w.release[0]]), None);
        assert!(
            matches!(result, Err(BundleError::DaemonTooOld { .. })),
            "{required}: {result:?}"
        );
    }
    let mut m = manifest(2);
    m.min_daemon = "0.0.9".into();
    check(&w.trusted(), &m.sign(&[&w.release[0]]), None).expect("older requirement");
}
