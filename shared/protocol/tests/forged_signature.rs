//! Attack: a message that was not signed by the enrolled key of the device it names.

mod common;

use common::{envelope, key, open};
use edge_protocol::ProtocolError;
use edge_protocol::envelope::Kind;

#[test]
fn signed_by_another_key_is_refused() {
    let device = key(1);
    let attacker = key(2);
    // The attacker names the real device but signs with its own key.
    let mut e = envelope(&attacker, 5, Kind::Records, b"payload");
    e.signer = envelope(&device, 5, Kind::Records, b"").signer;
    let bytes = e.seal_binary(&attacker, false);
    assert!(matches!(
        open(&bytes, &device),
        Err(ProtocolError::BadSignature(_))
    ));
    let json = envelope(&attacker, 5, Kind::Status, b"{}");
    let mut value: serde_json::Value =
        serde_json::from_str(&json.seal_json(&attacker).expect("json")).expect("parse");
    value["signer"] = e.signer.clone().into();
    assert!(matches!(
        open(value.to_string().as_bytes(), &device),
        Err(ProtocolError::BadSignature(_))
    ));
}

#[test]
fn any_flipped_bit_breaks_the_signature() {
    let k = key(1);
    let bytes = envelope(&k, 5, Kind::Records, b"some records").seal_binary(&k, false);
    for i in 0..bytes.len() {
        let mut forged = bytes.clone();
        forged[i] ^= 0x01;
        let result = open(&forged, &k);
        assert!(result.is_err(), "flipping byte {i} went unnoticed");
    }
}

#[test]
fn a_json_body_edited_after_signing_is_refused() {
    let k = key(1);
    let text = envelope(&k, 5, Kind::Status, br#"{"model":"a"}"#)
        .seal_json(&k)
        .expect("json");
    let forged = text.replace(r#"\"a\""#, r#"\"b\""#);
    assert_ne!(forged, text);
    assert!(matches!(
        open(forged.as_bytes(), &k),
        Err(ProtocolError::BadSignature(_))
    ));
}

#[test]
fn a_signature_cannot_be_moved_to_another_kind() {
    let k = key(1);
    let mut bytes = envelope(&k, 5, Kind::Telemetry, b"x").seal_binary(&k, false);
    bytes[4] = Kind::Records as u8;
    assert!(matches!(
        open(&bytes, &k),
        Err(ProtocolError::BadSignature(_))
    ));
}

#[test]
fn an_unknown_signer_is_refused_before_anything_else() {
    let stranger = key(9);
    let bytes = envelope(&stranger, 1, Kind::Hello, b"hi").seal_binary(&stranger, false);
    assert!(matches!(
        open(&bytes, &key(1)),
        Err(ProtocolError::UnknownDevice(_))
    ));
}
