//! The envelope framing (binary and JSON), as a broker delivers it to the fleet or a box:
//! opening any bytes must return an error or an envelope, never panic or allocate beyond
//! the limits. Then the round trip: an envelope made from the input, sealed either way
//! (compressed or not), opens to itself.

#![no_main]

use ed25519_dalek::SigningKey;
use edge_protocol::envelope::{Envelope, Kind, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::from_bytes(&[7; 32]);
    let public = key.verifying_key();
    let limits = Limits {
        max_message: 64 << 10,
        max_body: 256 << 10,
    };
    if let Ok(opened) = Envelope::open(data, limits, |_| Some(public)) {
        let _ = opened.addressed("fleet", opened.kind);
    }
    let Some((&head, body)) = data.split_first() else {
        return;
    };
    let kind = Kind::ALL[usize::from(head) % Kind::ALL.len()];
    let envelope = Envelope {
        kind,
        signer: "d-0123456789abcdef0123".into(),
        to: "fleet".into(),
        seq: u64::from(head) << 40,
        time_ms: 1_800_000_000_000,
        body: body.to_vec(),
    };
    let sealed = envelope.seal_binary(&key, head & 1 == 1);
    let opened = Envelope::open(&sealed, limits, |_| Some(public));
    if sealed.len() <= limits.max_message {
        assert_eq!(opened.ok().as_ref(), Some(&envelope), "binary round trip");
    }
    if let Ok(json) = envelope.seal_json(&key) {
        if json.len() <= limits.max_message {
            let opened = Envelope::open(json.as_bytes(), limits, |_| Some(public));
            assert_eq!(opened.ok().as_ref(), Some(&envelope), "JSON round trip");
        }
    }
});
