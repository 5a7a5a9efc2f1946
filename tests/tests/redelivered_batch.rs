//! Attack and fault: a record batch that reaches the fleet again under a sequence number it
//! has already accepted. After a cut, the broker session redelivers the box's
//! unacknowledged publish byte for byte; an attacker who captured a box's message can send
//! it again. The fleet refuses both as a replay — it stores and counts nothing — and answers
//! with an ack naming those of the batch's entries it already holds, so a box need not wait
//! its `ack_timeout` to send them again. An attacker gains nothing: the answer goes to the
//! box, and never names an entry the fleet does not hold.

#![allow(clippy::expect_used)]

use std::time::Duration;

use e2e::fleet::Fleet;
use e2e::mosquitto::Mosquitto;
use e2e::sim::Sim;
use edge_protocol::envelope::{Envelope, FLEET, Kind, Limits};
use edge_protocol::records::{Ack, Entry, EntryKey, RecordBatch};
use edge_protocol::{identity, topics};

fn labels(ids: &[u64]) -> Vec<Entry> {
    ids.iter()
        .map(|&id| Entry::Label {
            id,
            time_ms: 1,
            classes: vec![1],
        })
        .collect()
}

/// `entries` as a batch sealed by `sim` under sequence number `seq`.
fn batch(sim: &Sim, seq: u64, batch_id: u64, entries: Vec<Entry>) -> Vec<u8> {
    Envelope {
        kind: Kind::Records,
        signer: sim.id.clone(),
        to: FLEET.into(),
        seq,
        time_ms: 1,
        body: RecordBatch { batch_id, entries }.encode(),
    }
    .seal_binary(&sim.key, true)
}

#[test]
fn a_redelivered_batch_is_answered_with_an_ack_of_what_is_stored_and_stores_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path());
    let fleet = Fleet::start_external(&dir.path().join("fleet"), &broker.addr());
    let fleet_key = identity::parse_public_key(&fleet.public_key).expect("fleet key");
    let mut sim = Sim::new(17);
    let (_sniffer, acks) = broker.sniff("sniffer", &topics::down(&sim.id, "ack"));
    broker.publish(&topics::up(&sim.id, Kind::Hello), &sim.hello());
    fleet.approve(&sim.id);
    let next_ack = || {
        let (_, payload) = acks
            .recv_timeout(Duration::from_secs(30))
            .expect("an ack from the fleet");
        let envelope = Envelope::open(&payload, Limits::default(), |signer| {
            (signer == FLEET).then_some(fleet_key)
        })
        .expect("a fleet-signed ack");
        Ack::decode(&envelope.body).expect("an ack body")
    };

    // The batch, once: stored and acknowledged.
    let original = batch(&sim, 100, 7, labels(&[1, 2]));
    broker.publish(&topics::up(&sim.id, Kind::Records), &original);
    let first = next_ack();
    assert_eq!(
        (first.batch_id, first.accepted, first.stored.len()),
        (7, 2, 2)
    );

    // The same bytes again (what a broker session redelivers, or a replay): refused as a
    // replay and answered with what is stored.
    broker.publish(&topics::up(&sim.id, Kind::Records), &original);
    let again = next_ack();
    assert_eq!(again.batch_id, 7);
    assert_eq!(again.stored, vec![EntryKey::Label(1), EntryKey::Label(2)]);
    assert_eq!((again.accepted, again.duplicates), (0, 0));

    // Under the accepted sequence number with an entry the fleet never stored: the answer
    // leaves that entry out, and it is not stored.
    broker.publish(
        &topics::up(&sim.id, Kind::Records),
        &batch(&sim, 100, 7, labels(&[1, 2, 3])),
    );
    let partial = next_ack();
    assert_eq!(
        partial.stored,
        vec![EntryKey::Label(1), EntryKey::Label(2)],
        "an ack for an entry the fleet does not hold"
    );
    let stats = fleet.wait_rejected("replayed", 2);
    assert_eq!(stats["redelivered_answered"], 2, "{stats}");
    assert_eq!(stats["records_new"], 2, "a replay stored records: {stats}");
    assert_eq!(
        stats["records_duplicate"], 0,
        "a replay was counted: {stats}"
    );
    let (_, device) = fleet.admin("GET", &format!("/api/devices/{}", sim.id));
    assert_eq!(device["device"]["records"], 2, "{device}");

    // The device's own next message, above the accepted number, is taken as usual.
    broker.publish(
        &topics::up(&sim.id, Kind::Records),
        &batch(&sim, 101, 8, labels(&[3])),
    );
    let next = next_ack();
    assert_eq!((next.batch_id, next.accepted), (8, 1));
}
