//! Attack: a message recorded off the wire and sent again, or an old one sent after a newer.

mod common;

use common::{envelope, key, open};
use edge_protocol::ProtocolError;
use edge_protocol::envelope::{Kind, ReplayGuard};

#[test]
fn the_same_or_an_older_sequence_number_is_refused() {
    let k = key(1);
    let mut guard = ReplayGuard::default();
    let first = open(
        &envelope(&k, 10, Kind::Records, b"a").seal_binary(&k, false),
        &k,
    )
    .expect("valid");
    assert_eq!(guard.accept(&first), Ok(()));
    assert!(matches!(
        guard.accept(&first),
        Err(ProtocolError::Replayed {
            seq: 10,
            last: 10,
            ..
        })
    ));
    let older = open(
        &envelope(&k, 9, Kind::Records, b"b").seal_binary(&k, false),
        &k,
    )
    .expect("valid");
    assert!(matches!(
        guard.accept(&older),
        Err(ProtocolError::Replayed { seq: 9, .. })
    ));
    let newer = open(
        &envelope(&k, 11, Kind::Records, b"c").seal_binary(&k, false),
        &k,
    )
    .expect("valid");
    assert_eq!(guard.accept(&newer), Ok(()));
    assert_eq!(guard.last(&newer.signer), Some(11));
}

#[test]
fn the_window_survives_a_restart_from_persisted_values() {
    let k = key(1);
    let e = open(
        &envelope(&k, 5, Kind::Status, b"{}").seal_binary(&k, false),
        &k,
    )
    .expect("valid");
    let mut restarted = ReplayGuard::with_last([(e.signer.clone(), 5)]);
    assert!(restarted.accept(&e).is_err());
}

#[test]
fn devices_have_independent_sequences() {
    let (a, b) = (key(1), key(2));
    let mut guard = ReplayGuard::default();
    let ea = open(
        &envelope(&a, 3, Kind::Status, b"{}").seal_binary(&a, false),
        &a,
    )
    .expect("valid");
    let eb = open(
        &envelope(&b, 3, Kind::Status, b"{}").seal_binary(&b, false),
        &b,
    )
    .expect("valid");
    assert_eq!(guard.accept(&ea), Ok(()));
    assert_eq!(guard.accept(&eb), Ok(()));
}
