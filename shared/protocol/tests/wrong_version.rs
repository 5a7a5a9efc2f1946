//! A message of another protocol version is refused by version, clearly, in both framings.

mod common;

use common::{envelope, key, open};
use edge_protocol::ProtocolError;
use edge_protocol::envelope::Kind;

#[test]
fn a_binary_envelope_of_version_2_is_refused_by_version() {
    let k = key(1);
    let mut bytes = envelope(&k, 1, Kind::Status, b"{}").seal_binary(&k, false);
    bytes[3] = 2;
    assert_eq!(
        open(&bytes, &k),
        Err(ProtocolError::UnsupportedVersion {
            found: 2,
            supported: 1
        })
    );
}

#[test]
fn a_json_envelope_of_version_2_is_refused_by_version_even_with_new_fields() {
    let k = key(1);
    let text = envelope(&k, 1, Kind::Status, b"{}")
        .seal_json(&k)
        .expect("json");
    let mut value: serde_json::Value = serde_json::from_str(&text).expect("parse");
    value["v"] = 2.into();
    value["future_field"] = true.into();
    let err = open(value.to_string().as_bytes(), &k).expect_err("refused");
    assert_eq!(
        err,
        ProtocolError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    );
    assert!(err.to_string().contains("version 2 is not supported"));
}
