//! Attack: mix-and-match — a validly signed manifest that is not the one the signed desired
//! state names (another release of the same model, or another model).

#![allow(clippy::expect_used)]

mod common;
use common::*;
use edge_bundle::{BundleError, Expected, verify_manifest};

#[test]
fn a_different_manifest_with_the_same_model_and_version_is_refused() {
    let w = world();
    let desired = manifest(2).sign(&[&w.release[0]]);
    let mut other = manifest(2);
    other.files[1] = file("weights.safetensors", &[8u8; 1000]);
    let substituted = other.sign(&[&w.release[0]]);
    let digest = desired.digest();
    let expected = Expected {
        model: "mlp",
        version: 2,
        manifest_sha256: &digest,
    };
    let result = verify_manifest(&w.trusted(), &substituted, &facts(), None, &expected);
    assert!(
        matches!(result, Err(BundleError::NotDesired { .. })),
        "{result:?}"
    );
    verify_manifest(&w.trusted(), &desired, &facts(), None, &expected).expect("the named one");
}

#[test]
fn another_version_or_model_than_desired_is_refused() {
    let w = world();
    let signed = manifest(3).sign(&[&w.release[0]]);
    let digest = signed.digest();
    for expected in [
        Expected {
            model: "mlp",
            version: 2,
            manifest_sha256: &digest,
        },
        Expected {
            model: "resnet",
            version: 3,
            manifest_sha256: &digest,
        },
    ] {
        let result = verify_manifest(&w.trusted(), &signed, &facts(), None, &expected);
        assert!(
            matches!(result, Err(BundleError::NotDesired { .. })),
            "{result:?}"
        );
    }
}
