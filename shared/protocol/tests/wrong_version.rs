//! A message of another protocol version is refused by version, clearly, in both framings:
//! version 1 (a box or fleet not yet upgraded: its envelopes name no recipient) and a
//! future version 3.

mod common;

use common::{envelope, key, open};
use edge_protocol::envelope::Kind;
use edge_protocol::{PROTOCOL_VERSION, ProtocolError};

#[test]
fn a_binary_envelope_of_version_1_or_3_is_refused_by_version() {
    let k = key(1);
    for old_or_new in [1u8, 3] {
        let mut bytes = envelope(&k, 1, Kind::Status, b"{}").seal_binary(&k, false);
        bytes[3] = old_or_new;
        assert_eq!(
            open(&bytes, &k),
            Err(ProtocolError::UnsupportedVersion {
                found: old_or_new,
                supported: PROTOCOL_VERSION,
            })
        );
    }
}

#[test]
fn a_json_envelope_of_version_1_without_a_recipient_is_refused_by_version() {
    let k = key(1);
    let text = envelope(&k, 1, Kind::Status, b"{}")
        .seal_json(&k)
        .expect("json");
    let mut value: serde_json::Value = serde_json::from_str(&text).expect("parse");
    value["v"] = 1.into();
    if let Some(frame) = value.as_object_mut() {
        frame.remove("to");
    }
    let err = open(value.to_string().as_bytes(), &k).expect_err("refused");
    assert_eq!(
        err,
        ProtocolError::UnsupportedVersion {
            found: 1,
            supported: 2
        }
    );
    assert!(
        err.to_string().contains("version 1 is not supported"),
        "{err}"
    );
}

#[test]
fn a_json_envelope_of_version_3_is_refused_by_version_even_with_new_fields() {
    let k = key(1);
    let text = envelope(&k, 1, Kind::Status, b"{}")
        .seal_json(&k)
        .expect("json");
    let mut value: serde_json::Value = serde_json::from_str(&text).expect("parse");
    value["v"] = 3.into();
    value["future_field"] = true.into();
    let err = open(value.to_string().as_bytes(), &k).expect_err("refused");
    assert_eq!(
        err,
        ProtocolError::UnsupportedVersion {
            found: 3,
            supported: 2
        }
    );
}
