//! Hashes in uppercase hex: a manifest signed with uppercase file hashes, or a desired state
//! naming its manifest in uppercase, is as valid as in lowercase, and is normalised, so the
//! file it names is then found and checked (before, it passed the manifest check and then
//! never matched the lowercase digest computed of the file).

#![allow(clippy::expect_used)]

mod common;
use common::*;

#[test]
fn uppercase_file_hashes_are_normalised_and_match_their_files() {
    let w = world();
    let mut m = manifest(2);
    for f in &mut m.files {
        f.sha256 = f.sha256.to_ascii_uppercase();
    }
    let signed = m.sign(&[&w.release[0]]);
    let verified = check(&w.trusted(), &signed, None).expect("valid");
    let weights = verified
        .files
        .iter()
        .find(|f| f.name == "weights.safetensors")
        .expect("weights");
    assert_eq!(
        weights.sha256,
        file("weights.safetensors", &[7u8; 1000]).sha256
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("weights");
    std::fs::write(&path, [7u8; 1000]).expect("write");
    edge_bundle::check_file(&path, weights).expect("the file matches its normalised hash");
}

#[test]
fn an_uppercase_manifest_digest_in_the_desired_state_names_the_manifest() {
    let w = world();
    let signed = manifest(2).sign(&[&w.release[0]]);
    let upper = signed.digest().to_ascii_uppercase();
    edge_bundle::verify_manifest(
        &w.trusted(),
        &signed,
        &facts(),
        None,
        &expected_for(&signed, &upper),
    )
    .expect("the same digest in uppercase");
}
