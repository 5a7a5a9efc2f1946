//! Signed model bundles: the root key document with release-key delegation
//! ([`root`]), signed documents with threshold counting ([`signed`]), the manifest and its
//! verification on the device ([`manifest`]), and file checks while streaming ([`stream`]).
//! Shared by `fleet` (keys, signing, publishing) and `edged` (verification before anything of
//! a new model touches its model directory). One test file per attack in `tests/`; the
//! checks follow the numbered steps of PROTOCOL.md §Root verification and §Manifest
//! verification.

mod error;
pub mod manifest;
pub mod root;
pub mod signed;
pub mod stream;

pub use error::BundleError;
pub use manifest::{DeviceFacts, Expected, FileEntry, Manifest, verify_manifest};
pub use root::Root;
pub use signed::{Domain, Signed, key_id};
pub use stream::{FileCheck, check_file, describe_file};
