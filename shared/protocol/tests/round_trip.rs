//! Byte-level round trips of both framings, and the record batch's size on the wire.

mod common;

use common::{envelope, key, open};
use edge_protocol::envelope::Kind;
use edge_protocol::records::{Ack, Entry, RecordBatch, Tensor};

#[test]
fn binary_envelope_has_the_documented_layout_and_round_trips() {
    let k = key(7);
    let e = envelope(&k, 0x0102_0304_0506_0708, Kind::Status, b"{\"ok\":true}");
    let bytes = e.seal_binary(&k, false);
    let id = e.signer.as_bytes();
    assert_eq!(&bytes[..3], b"EDG");
    assert_eq!(bytes[3], 2, "version");
    assert_eq!(bytes[4], 4, "kind status");
    assert_eq!(bytes[5], 0, "flags");
    assert_eq!(bytes[6] as usize, id.len());
    assert_eq!(&bytes[7..7 + id.len()], id);
    let to = 7 + id.len();
    assert_eq!(bytes[to] as usize, "fleet".len(), "recipient length");
    assert_eq!(&bytes[to + 1..to + 6], b"fleet");
    let at = to + 6;
    assert_eq!(&bytes[at..at + 8], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(&bytes[at + 8..at + 16], &1_790_000_000_000u64.to_be_bytes());
    assert_eq!(&bytes[at + 16..at + 20], &11u32.to_be_bytes());
    assert_eq!(&bytes[at + 20..at + 31], b"{\"ok\":true}");
    assert_eq!(bytes.len(), at + 31 + 64);
    // ed25519 is deterministic: the same message and key give the same bytes.
    assert_eq!(bytes, e.seal_binary(&k, false));
    assert_eq!(open(&bytes, &k), Ok(e));
}

#[test]
fn json_envelope_is_readable_and_round_trips() {
    let k = key(7);
    let e = envelope(&k, 9, Kind::Telemetry, br#"{"rate":1.5}"#);
    let text = e.seal_json(&k).expect("json");
    let value: serde_json::Value = serde_json::from_str(&text).expect("parse");
    assert_eq!(value["v"], 2);
    assert_eq!(value["kind"], "telemetry");
    assert_eq!(value["to"], "fleet");
    assert_eq!(value["seq"], 9);
    assert_eq!(value["body"], r#"{"rate":1.5}"#);
    assert_eq!(open(text.as_bytes(), &k), Ok(e));
}

fn batch(n: u64) -> RecordBatch {
    let entries = (0..n)
        .flat_map(|i| {
            let logits: Vec<f32> = (0..4)
                .map(|j| ((i * 7 + j) % 13) as f32 * 0.731 - 3.0)
                .collect();
            [
                Entry::Prediction {
                    id: 1000 + i,
                    model: "mlp".into(),
                    version: 3,
                    time_ms: 1_790_000_000_000 + i * 37,
                    latency_us: 40 + i % 9,
                    device: "cpu".into(),
                    correlation: Some(format!("req-{i}")),
                    inputs: None,
                    outputs: vec![Tensor {
                        name: "logits".into(),
                        shape: vec![1, 4],
                        data: logits,
                    }],
                },
                Entry::Label {
                    id: 1000 + i,
                    time_ms: 1_790_000_100_000 + i,
                    classes: vec![(i % 4) as u32],
                },
                Entry::Values {
                    id: 2000 + i,
                    time_ms: 1_790_000_200_000 + i,
                    values: vec![i as f64 * 0.1 - 3.7, f64::from(u32::MAX) + 0.5],
                },
            ]
        })
        .collect();
    RecordBatch {
        batch_id: 77,
        entries,
    }
}

#[test]
fn record_batches_round_trip_and_take_under_a_third_of_their_json_size_on_the_wire() {
    let k = key(3);
    let b = batch(500);
    let body = b.encode();
    assert_eq!(RecordBatch::decode(&body), Ok(b.clone()));
    let e = envelope(&k, 1, Kind::Records, &body);
    let wire = e.seal_binary(&k, true);
    let opened = open(&wire, &k).expect("open");
    assert_eq!(RecordBatch::decode(&opened.body), Ok(b.clone()));
    let json = serde_json::to_vec(&b).expect("json");
    let ratio = wire.len() as f64 / json.len() as f64;
    println!(
        "500 predictions + 500 labels: {} bytes on the wire, {} as JSON ({ratio:.3})",
        wire.len(),
        json.len()
    );
    assert!(
        ratio <= 1.0 / 3.0,
        "wire {} bytes vs JSON {} bytes: {ratio:.3}",
        wire.len(),
        json.len()
    );
}

#[test]
fn acks_round_trip() {
    let ack = Ack {
        batch_id: u64::MAX,
        stored: vec![
            edge_protocol::records::EntryKey::Prediction(7),
            edge_protocol::records::EntryKey::Label(7),
        ],
        accepted: 3,
        duplicates: 1,
    };
    assert_eq!(Ack::decode(&ack.encode()), Ok(ack));
}
