//! Garbage, truncated and malformed input is an error, never a panic.

mod common;

use common::{envelope, key, open};
use edge_protocol::envelope::Kind;
use edge_protocol::records::RecordBatch;

#[test]
fn every_truncation_of_a_valid_message_is_an_error() {
    let k = key(1);
    let bytes = envelope(&k, 1, Kind::Records, b"records here").seal_binary(&k, true);
    for cut in 0..bytes.len() {
        assert!(open(&bytes[..cut], &k).is_err(), "cut at {cut} accepted");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(open(&longer, &k).is_err(), "trailing byte accepted");
}

#[test]
fn pseudo_random_garbage_is_an_error() {
    let k = key(1);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for len in 0..2000usize {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        assert!(open(&bytes, &k).is_err());
        let _ = RecordBatch::decode(&bytes);
    }
    for text in ["{", "{}", r#"{"v":1}"#, r#"{"v":"1"}"#, "[1,2]", "null"] {
        assert!(open(text.as_bytes(), &k).is_err(), "{text}");
    }
}

#[test]
fn bad_device_ids_in_the_header_are_refused() {
    let k = key(1);
    let mut e = envelope(&k, 1, Kind::Status, b"{}");
    e.signer = "../../etc".into();
    let bytes = e.seal_binary(&k, false);
    assert!(matches!(
        open(&bytes, &k),
        Err(edge_protocol::ProtocolError::BadDeviceId(_))
    ));
}
