//! Attack: file names that would escape or hide in the model directory.

#![allow(clippy::expect_used)]

mod common;
use common::*;
use edge_bundle::BundleError;

#[test]
fn unsafe_or_duplicate_file_names_are_refused() {
    let w = world();
    let names: &[&[&str]] = &[
        &["../model.json"],
        &["/etc/passwd"],
        &["a/b"],
        &[".hidden"],
        &[""],
        &["..", "x"],
        &["model.json\u{0}"],
        &["model.json", "model.json"],
    ];
    for set in names {
        let mut m = manifest(2);
        m.files = set.iter().map(|n| file(n, b"x")).collect();
        let result = check(&w.trusted(), &m.sign(&[&w.release[0]]), None);
        assert!(
            matches!(result, Err(BundleError::BadFileName { .. })),
            "{set:?}: {result:?}"
        );
    }
}

#[test]
fn a_hash_that_is_not_sha256_hex_is_refused() {
    let w = world();
    let mut m = manifest(2);
    m.files[0].sha256 = "../../etc/passwd".into();
    let result = check(&w.trusted(), &m.sign(&[&w.release[0]]), None);
    assert!(
        matches!(result, Err(BundleError::BadFileName { .. })),
        "{result:?}"
    );
}
