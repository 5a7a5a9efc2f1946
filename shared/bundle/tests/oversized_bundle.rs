//! Attack: oversized input — a bundle over the device's size cap, and a signed document too
//! large to parse.

#![allow(clippy::expect_used)]

mod common;
use common::*;
use edge_bundle::signed::{Domain, MAX_DOCUMENT_BYTES};
use edge_bundle::{BundleError, Signed};

#[test]
fn a_bundle_over_the_size_cap_is_refused_before_any_file_moves() {
    let w = world();
    let mut m = manifest(2);
    m.files[1].length = 11 << 20;
    let result = check(&w.trusted(), &m.sign(&[&w.release[0]]), None);
    assert!(
        matches!(result, Err(BundleError::TooLarge { what: "bundle", .. })),
        "{result:?}"
    );
}

#[test]
fn lengths_that_overflow_when_summed_are_refused() {
    let w = world();
    let mut m = manifest(2);
    m.files[0].length = u64::MAX;
    m.files[1].length = u64::MAX;
    let result = check(&w.trusted(), &m.sign(&[&w.release[0]]), None);
    assert!(
        matches!(result, Err(BundleError::TooLarge { .. })),
        "{result:?}"
    );
}

#[test]
fn an_oversized_document_is_refused_before_parsing() {
    let bytes = vec![b' '; MAX_DOCUMENT_BYTES + 1];
    let result = Signed::parse(Domain::Manifest, &bytes);
    assert!(
        matches!(result, Err(BundleError::TooLarge { .. })),
        "{result:?}"
    );
}
