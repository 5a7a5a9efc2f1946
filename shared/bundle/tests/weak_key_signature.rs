//! Attack: a release key that is a small-order point (here the identity). For such a key
//! the "signature" R = identity, s = 0 satisfies the plain ed25519 equation for every
//! message, so whoever gets one into a root could sign anything. Signatures are verified with
//! `verify_strict`, which refuses small-order keys: the forged manifest does not count.

#![allow(clippy::expect_used)]

mod common;
use common::*;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use edge_bundle::root::Root;
use edge_bundle::{BundleError, Domain, Signed};

fn identity_point() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    bytes[0] = 1;
    bytes
}

#[test]
fn a_signature_by_a_small_order_release_key_does_not_count() {
    let weak = VerifyingKey::from_bytes(&identity_point()).expect("the identity point decodes");
    let mut forged_sig = [0u8; 64];
    forged_sig[..32].copy_from_slice(&identity_point());
    // What makes this an attack: the non-strict check accepts it for any message.
    assert!(
        weak.verify(b"any message at all", &Signature::from_bytes(&forged_sig))
            .is_ok()
    );
    let root_key = key(1);
    let root = Root::new(
        NOW + 365 * DAY,
        &[root_key.verifying_key()],
        1,
        &[(weak, None)],
        1,
    );
    let trusted =
        Root::verify_initial(&root_key.verifying_key(), &root.sign(&[&root_key])).expect("root");
    let payload = manifest(2).sign(&[&key(11)]).payload;
    let document = serde_json::json!({
        "payload": payload,
        "signatures": [{"key_id": edge_bundle::key_id(&weak), "sig": hex::encode(forged_sig)}],
    });
    let forged = Signed::parse(Domain::Manifest, document.to_string().as_bytes()).expect("parse");
    assert!(matches!(
        check(&trusted, &forged, None),
        Err(BundleError::Threshold { .. })
    ));
}
