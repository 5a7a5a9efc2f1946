//! Attack surface of root rotation: a new root must be exactly the next version and signed by
//! a threshold of the old root keys and of its own; the device pins its first root key.

#![allow(clippy::expect_used)]

mod common;
use common::*;
use edge_bundle::BundleError;
use edge_bundle::root::Root;

fn rotated(w: &World, new_root: &ed25519_dalek::SigningKey, version: u64) -> Root {
    let mut next = Root::new(
        NOW + 365 * DAY,
        &[new_root.verifying_key()],
        1,
        &[(w.release[1].verifying_key(), None)],
        1,
    );
    next.version = version;
    next
}

#[test]
fn a_root_signed_by_the_old_and_the_new_key_rotates_trust() {
    let w = world();
    let new_key = key(2);
    let v2 = rotated(&w, &new_key, 2).sign(&[&w.root_key, &new_key]);
    let trusted = w
        .trusted()
        .update(std::slice::from_ref(&v2), NOW)
        .expect("rotation");
    assert_eq!(trusted.version, 2);
    // The old root key alone can no longer sign the next root.
    let v3 = rotated(&w, &key(3), 3).sign(&[&w.root_key, &key(3)]);
    assert!(matches!(
        trusted.update(&[v3], NOW),
        Err(BundleError::Threshold { .. })
    ));
    // The new key (with the next one) can.
    let v3 = rotated(&w, &key(3), 3).sign(&[&new_key, &key(3)]);
    assert_eq!(trusted.update(&[v3], NOW).expect("v3").version, 3);
    // Release keys follow the root: only release[1] is delegated now.
    assert!(check(&trusted, &manifest(2).sign(&[&w.release[0]]), None).is_err());
    check(&trusted, &manifest(2).sign(&[&w.release[1]]), None).expect("delegated");
}

#[test]
fn a_root_signed_only_by_the_new_key_is_refused() {
    let w = world();
    let new_key = key(2);
    let v2 = rotated(&w, &new_key, 2).sign(&[&new_key]);
    assert!(matches!(
        w.trusted().update(&[v2], NOW),
        Err(BundleError::Threshold { role: "root", .. })
    ));
}

#[test]
fn a_root_signed_only_by_the_old_key_is_refused() {
    let w = world();
    let v2 = rotated(&w, &key(2), 2).sign(&[&w.root_key]);
    assert!(matches!(
        w.trusted().update(&[v2], NOW),
        Err(BundleError::Threshold { .. })
    ));
}

#[test]
fn a_root_that_skips_a_version_is_refused() {
    let w = world();
    let new_key = key(2);
    let v3 = rotated(&w, &new_key, 3).sign(&[&w.root_key, &new_key]);
    assert!(matches!(
        w.trusted().update(&[v3], NOW),
        Err(BundleError::RootVersion {
            trusted: 1,
            found: 3
        })
    ));
}

#[test]
fn a_chain_given_out_of_order_is_applied_in_order() {
    let w = world();
    let (k2, k3) = (key(2), key(3));
    let v2 = rotated(&w, &k2, 2).sign(&[&w.root_key, &k2]);
    let v3 = rotated(&w, &k3, 3).sign(&[&k2, &k3]);
    assert_eq!(
        w.trusted().update(&[v3, v2], NOW).expect("chain").version,
        3
    );
}

#[test]
fn a_first_root_without_the_pinned_key_is_refused() {
    let w = world();
    let result = Root::verify_initial(&key(50).verifying_key(), &w.signed_root);
    assert!(
        matches!(result, Err(BundleError::PinnedKeyMissing { .. })),
        "{result:?}"
    );
}

#[test]
fn a_first_root_listing_the_pinned_key_but_not_signed_by_it_is_refused() {
    let pinned = key(1);
    let attacker = key(66);
    let root = Root::new(
        NOW + DAY,
        &[pinned.verifying_key(), attacker.verifying_key()],
        1,
        &[(attacker.verifying_key(), None)],
        1,
    );
    let result = Root::verify_initial(&pinned.verifying_key(), &root.sign(&[&attacker]));
    assert!(
        matches!(result, Err(BundleError::Threshold { .. })),
        "{result:?}"
    );
}

/// A version 2 root whose root keys are `keys`, signed by the first root key and `keys`.
fn v2_with_root_keys(w: &World, keys: &[&ed25519_dalek::SigningKey]) -> Root {
    let public: Vec<_> = keys.iter().map(|k| k.verifying_key()).collect();
    let mut v2 = Root::new(
        NOW + 365 * DAY,
        &public,
        1,
        &[(w.release[1].verifying_key(), None)],
        1,
    );
    v2.version = 2;
    v2
}

#[test]
fn a_rotation_signed_with_a_root_key_the_old_root_revoked_is_refused() {
    let w = world();
    let (stolen, kept) = (key(2), key(4));
    let mut v2 = v2_with_root_keys(&w, &[&stolen, &kept]);
    v2.revoked
        .insert(edge_bundle::key_id(&stolen.verifying_key()));
    let trusted = w
        .trusted()
        .update(&[v2.sign(&[&w.root_key, &kept])], NOW)
        .expect("v2");
    // The thief signs a v3 that makes its own key the root.
    let v3 = rotated(&w, &key(3), 3).sign(&[&stolen, &key(3)]);
    assert!(matches!(
        trusted.update(&[v3], NOW),
        Err(BundleError::Threshold { role: "root", .. })
    ));
    let v3 = rotated(&w, &key(3), 3).sign(&[&kept, &key(3)]);
    assert_eq!(trusted.update(&[v3], NOW).expect("v3").version, 3);
}

#[test]
fn a_rotation_signed_with_an_expired_old_root_key_is_refused() {
    let w = world();
    let (expired, kept) = (key(2), key(4));
    let mut v2 = v2_with_root_keys(&w, &[&expired, &kept]);
    let id = edge_bundle::key_id(&expired.verifying_key());
    if let Some(entry) = v2.keys.get_mut(&id) {
        entry.expires_ms = Some(NOW - DAY);
    }
    let trusted = w
        .trusted()
        .update(&[v2.sign(&[&w.root_key, &kept])], NOW)
        .expect("v2");
    let v3 = rotated(&w, &key(3), 3).sign(&[&expired, &key(3)]);
    assert!(matches!(
        trusted.update(&[v3], NOW),
        Err(BundleError::Threshold { role: "root", .. })
    ));
}

#[test]
fn a_rotation_to_a_root_that_revokes_its_own_signer_is_refused() {
    let w = world();
    let new_key = key(2);
    let mut v2 = rotated(&w, &new_key, 2);
    v2.revoked
        .insert(edge_bundle::key_id(&new_key.verifying_key()));
    assert!(matches!(
        w.trusted()
            .update(&[v2.sign(&[&w.root_key, &new_key])], NOW),
        Err(BundleError::Threshold { role: "root", .. })
    ));
}
