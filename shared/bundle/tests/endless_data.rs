//! Attack: endless data / a file that differs from its manifest entry — checked while
//! streaming, stopping at the declared length.

#![allow(clippy::expect_used)]

mod common;
use common::*;
use edge_bundle::{BundleError, FileCheck, check_file};

#[test]
fn a_stream_longer_than_declared_stops_at_the_declared_length() {
    let entry = file("weights.safetensors", &[7u8; 1000]);
    let mut check = FileCheck::new(&entry);
    check.update(&[7u8; 600]).expect("within");
    check.update(&[7u8; 400]).expect("exactly the length");
    let err = check.update(&[7u8; 1]).expect_err("one byte past");
    assert!(matches!(
        err,
        BundleError::FileTooLong { declared: 1000, .. }
    ));
    assert_eq!(check.seen(), 1000, "nothing past the length was taken");
}

#[test]
fn a_file_on_disk_longer_than_declared_is_refused_without_reading_it_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big");
    // 64 MiB of data behind a 1000-byte declaration: refused after 1001 bytes.
    let f = std::fs::File::create(&path).expect("create");
    f.set_len(64 << 20).expect("sparse file");
    let entry = file("weights.safetensors", &[0u8; 1000]);
    assert!(matches!(
        check_file(&path, &entry),
        Err(BundleError::FileTooLong { .. })
    ));
}

#[test]
fn a_short_file_is_refused() {
    let entry = file("weights.safetensors", &[7u8; 1000]);
    let mut check = FileCheck::new(&entry);
    check.update(&[7u8; 999]).expect("within");
    let err = check.finish().expect_err("short");
    assert!(matches!(
        err,
        BundleError::FileLength {
            found: 999,
            declared: 1000,
            ..
        }
    ));
}

#[test]
fn a_file_with_other_bytes_of_the_same_length_is_refused() {
    let entry = file("weights.safetensors", &[7u8; 1000]);
    let mut check = FileCheck::new(&entry);
    let mut data = vec![7u8; 1000];
    data[500] = 8;
    check.update(&data).expect("length fine");
    let err = check.finish().expect_err("hash");
    assert_eq!(err.reason(), "file_hash");
}

#[test]
fn the_right_file_passes_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("w");
    std::fs::write(&path, [7u8; 1000]).expect("write");
    check_file(&path, &file("w", &[7u8; 1000])).expect("matches");
    assert_eq!(
        edge_bundle::describe_file(&path, "w").expect("describe"),
        file("w", &[7u8; 1000])
    );
}
