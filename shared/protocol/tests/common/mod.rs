//! Shared helpers of the attack tests.
#![allow(dead_code)]

use ed25519_dalek::{SigningKey, VerifyingKey};
use edge_protocol::envelope::{Envelope, Kind, Limits};
use edge_protocol::identity::device_id;

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub fn envelope(key: &SigningKey, seq: u64, kind: Kind, body: &[u8]) -> Envelope {
    Envelope {
        kind,
        signer: device_id(&key.verifying_key()),
        to: edge_protocol::envelope::FLEET.into(),
        seq,
        time_ms: 1_790_000_000_000,
        body: body.to_vec(),
    }
}

/// Opens with a registry holding exactly `enrolled`.
pub fn open(bytes: &[u8], enrolled: &SigningKey) -> Result<Envelope, edge_protocol::ProtocolError> {
    let public: VerifyingKey = enrolled.verifying_key();
    let id = device_id(&public);
    Envelope::open(bytes, Limits::default(), |signer| {
        (signer == id).then_some(public)
    })
}
