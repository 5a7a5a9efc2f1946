//! Attack: a message the fleet signed for one box, replayed to another (or moved from one
//! kind's topic to another's). The recipient is inside the signed bytes, so changing it
//! breaks the signature, and a receiver that checks the address refuses the original.

mod common;

use common::key;
use edge_protocol::ProtocolError;
use edge_protocol::envelope::{Envelope, FLEET, Kind, Limits};
use edge_protocol::identity::device_id;

fn signed_for(to: &str, kind: Kind) -> Envelope {
    Envelope {
        kind,
        signer: FLEET.into(),
        to: to.into(),
        seq: 7,
        time_ms: 1,
        body: b"{}".to_vec(),
    }
}

fn open_as_fleet(
    bytes: &[u8],
    fleet: &ed25519_dalek::SigningKey,
) -> Result<Envelope, ProtocolError> {
    let public = fleet.verifying_key();
    Envelope::open(bytes, Limits::default(), |s| (s == FLEET).then_some(public))
}

#[test]
fn a_downlink_signed_for_another_box_is_refused_by_the_address_check_in_both_framings() {
    let fleet = key(9);
    let (a, b) = (
        device_id(&key(1).verifying_key()),
        device_id(&key(2).verifying_key()),
    );
    let e = signed_for(&a, Kind::Desired);
    for bytes in [
        e.seal_binary(&fleet, false),
        e.seal_json(&fleet).expect("json").into_bytes(),
    ] {
        let opened = open_as_fleet(&bytes, &fleet).expect("a valid fleet signature");
        assert_eq!(opened.addressed(&a, Kind::Desired), Ok(()));
        assert_eq!(
            opened.addressed(&b, Kind::Desired),
            Err(ProtocolError::WrongRecipient {
                to: a.clone(),
                me: b.clone()
            })
        );
    }
}

#[test]
fn readdressing_a_signed_downlink_breaks_its_signature() {
    let fleet = key(9);
    let (a, b) = (
        device_id(&key(1).verifying_key()),
        device_id(&key(2).verifying_key()),
    );
    let binary = signed_for(&a, Kind::Ack).seal_binary(&fleet, false);
    // Both ids have the same length: swap one for the other in place.
    let at = binary
        .windows(a.len())
        .position(|w| w == a.as_bytes())
        .expect("the recipient is in the frame");
    let mut forged = binary.clone();
    forged[at..at + b.len()].copy_from_slice(b.as_bytes());
    assert_eq!(
        open_as_fleet(&forged, &fleet),
        Err(ProtocolError::BadSignature(FLEET.into()))
    );
    let text = signed_for(&a, Kind::Desired)
        .seal_json(&fleet)
        .expect("json")
        .replace(&a, &b);
    assert_eq!(
        open_as_fleet(text.as_bytes(), &fleet),
        Err(ProtocolError::BadSignature(FLEET.into()))
    );
}

#[test]
fn a_message_moved_to_another_kinds_topic_is_refused() {
    let fleet = key(9);
    let a = device_id(&key(1).verifying_key());
    let bytes = signed_for(&a, Kind::Chunk).seal_binary(&fleet, false);
    let opened = open_as_fleet(&bytes, &fleet).expect("valid");
    assert_eq!(
        opened.addressed(&a, Kind::Ack),
        Err(ProtocolError::WrongKind {
            kind: "chunk",
            expected: "ack"
        })
    );
}

#[test]
fn an_uplink_is_addressed_to_the_fleet_and_a_hostile_recipient_is_refused() {
    let k = key(1);
    let mut e = common::envelope(&k, 1, Kind::Status, b"{}");
    assert_eq!(e.to, FLEET);
    e.to = "fleet/../#".into();
    let bytes = e.seal_binary(&k, false);
    assert!(matches!(
        common::open(&bytes, &k),
        Err(ProtocolError::BadDeviceId(_))
    ));
}
