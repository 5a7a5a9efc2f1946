//! Attack: a flood of self-enrolments. Anyone can make keys and say hello; 10,000 new
//! "devices" must not fill the fleet's store or its operators' lists. The fleet takes new
//! devices only up to `[limits] max_pending_devices` waiting for approval (and at
//! `enrolments_per_second`), refuses oversized hellos, and counts every refusal; the device
//! list is paged. Through a broker that lets anyone publish anywhere, so the fleet's own
//! bounds are what is tested.

#![allow(clippy::expect_used)]

use std::time::Duration;

use e2e::config::FleetConfig;
use e2e::fleet::Fleet;
use e2e::mosquitto::Mosquitto;
use e2e::sim::Sim;
use edge_protocol::envelope::Kind;
use edge_protocol::topics;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

const FLOOD: u64 = 10_000;
const CAP: u64 = 100;

fn fleet_with_cap(dir: &std::path::Path, broker: &Mosquitto) -> Fleet {
    let state = dir.join("fleet");
    let mut config = FleetConfig::new(&state).external(&broker.addr());
    config
        .0
        .set("limits", "max_pending_devices", CAP as i64)
        .set("limits", "enrolments_per_second", 1_000_000)
        .set("limits", "enrolment_burst", 1_000_000);
    Fleet::start_config(&state, &config)
}

/// Publishes every message over one connection and waits for all the PUBACKs.
fn publish_all(broker: &Mosquitto, messages: Vec<(String, Vec<u8>)>) {
    let mut options = MqttOptions::new("flooder", "127.0.0.1", broker.port);
    options
        .set_max_packet_size(1 << 20, 1 << 20)
        .set_inflight(100);
    let (client, mut connection) = Client::new(options, 256);
    let n = messages.len();
    std::thread::spawn(move || {
        for (topic, payload) in messages {
            client
                .publish(topic, QoS::AtLeastOnce, false, payload)
                .expect("publish");
        }
    });
    let mut acked = 0;
    for event in connection.iter() {
        if let Ok(Event::Incoming(Packet::PubAck(_))) = event {
            acked += 1;
            if acked == n {
                break;
            }
        }
    }
}

fn rejected(fleet: &Fleet, reason: &str) -> u64 {
    let (_, stats) = fleet.admin("GET", "/api/stats");
    stats["rejected"][reason].as_u64().unwrap_or(0)
}

#[test]
fn ten_thousand_new_devices_saying_hello_are_capped_and_counted_and_the_list_is_paged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path());
    let fleet = fleet_with_cap(dir.path(), &broker);
    let hellos = (0..FLOOD)
        .map(|i| {
            let mut sim = Sim::new(1_000_000 + i);
            (topics::up(&sim.id, Kind::Hello), sim.hello())
        })
        .collect();
    publish_all(&broker, hellos);
    let stats = fleet.wait_rejected("enrolment_full", FLOOD - CAP);
    assert_eq!(
        stats["rejected"]["enrolment_full"].as_u64(),
        Some(FLOOD - CAP),
        "{stats}"
    );
    // Pages of 30: every device once, in id order, CAP in all.
    let mut seen: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/api/devices?limit=30&after={a}"),
            None => "/api/devices?limit=30".to_string(),
        };
        let (status, page) = fleet.admin("GET", &path);
        assert_eq!(status, 200, "{page}");
        let devices = page["devices"].as_array().expect("devices");
        assert!(devices.len() <= 30);
        seen.extend(
            devices
                .iter()
                .map(|d| d["id"].as_str().expect("id").to_string()),
        );
        after = page["next_after"].as_str().map(str::to_string);
        if after.is_none() {
            break;
        }
    }
    assert_eq!(seen.len() as u64, CAP, "pending devices stored");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "id order, no repeats");
    assert_eq!(fleet.admin("GET", "/api/devices?limit=zero").0, 400);
    // Revoking the backlog makes room again.
    for id in &seen[..10] {
        assert_eq!(
            fleet.admin("POST", &format!("/api/devices/{id}/revoke")).0,
            200
        );
    }
    let mut late = Sim::new(42);
    let before = rejected(&fleet, "enrolment_full");
    e2e::wait::eventually(
        "a new device gets in again",
        Duration::from_secs(30),
        || {
            broker.publish(&topics::up(&late.id, Kind::Hello), &late.hello());
            let (status, _) = fleet.admin("GET", &format!("/api/devices/{}", late.id));
            e2e::wait::when(status == 200, rejected(&fleet, "enrolment_full") - before)
        },
    );
}

#[test]
fn an_oversized_hello_is_refused_and_stores_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path());
    let fleet = fleet_with_cap(dir.path(), &broker);
    let mut sim = Sim::new(7);
    let body = serde_json::json!({
        "public_key": hex::encode(sim.key.verifying_key().as_bytes()),
        "software": "x".repeat(40 << 10),
    });
    let hello = sim.seal(Kind::Hello, body.to_string().into_bytes(), false);
    broker.publish(&topics::up(&sim.id, Kind::Hello), &hello);
    fleet.wait_rejected("hello_too_large", 1);
    assert_eq!(
        fleet.admin("GET", &format!("/api/devices/{}", sim.id)).0,
        404
    );
}
