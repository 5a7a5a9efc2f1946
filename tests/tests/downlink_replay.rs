//! Attack: a message the fleet signed for one box — an ack, a desired state, a rollback —
//! replayed to another box, through a broker that lets anyone publish anywhere (Mosquitto
//! with anonymous access and no ACL, so only the boxes' own checks stand in the way). Every
//! downlink names its recipient and carries that box's own fleet sequence number, and acks
//! name the records they cover: the victim refuses each replay (counted in
//! `edged_fleet_link_refused_total`), deletes nothing, and installs or rolls back nothing.
//! Also: a fleet restarted with its clock an hour behind still updates its boxes (its
//! sequence numbers come from its store, not its clock).

#![allow(clippy::expect_used)]

use std::time::Duration;

use e2e::daemon::{Daemon, install_model, mlp_request};
use e2e::fleet::{Fleet, traffic};
use e2e::mosquitto::Mosquitto;
use e2e::sim::Sim;
use e2e::wait::{eventually, when};
use edge_protocol::envelope::Kind;
use edge_protocol::records::RecordBatch;
use edge_protocol::topics;

fn refused(d: &Daemon, reason: &str) -> u64 {
    d.metric(&format!(
        "edged_fleet_link_refused_total{{reason=\"{reason}\"}}"
    ))
    .unwrap_or(0.0) as u64
}

fn wait_refused(d: &Daemon, reason: &str, at_least: u64) {
    eventually(
        &format!("{at_least} downlink(s) refused as {reason}"),
        Duration::from_secs(30),
        || when(refused(d, reason) >= at_least, refused(d, reason)),
    );
}

fn backlog(d: &Daemon) -> u64 {
    let (_, status) = d.get_json("/v2/status");
    status["fleet"]["backlog"].as_u64().expect("backlog")
}

fn wait_served(d: &Daemon, version: &str) {
    eventually(
        &format!("serving version {version}"),
        Duration::from_secs(90),
        || {
            let (status, reply) = d.post_json("/v2/models/mlp/infer", &mlp_request(None, 1, 3));
            let v = reply["model_version"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            when(status == 200 && v == version, format!("{status} {reply}"))
        },
    );
}

#[test]
fn an_ack_the_fleet_signed_for_another_box_makes_the_victim_delete_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path());
    let fleet = Fleet::start_external(&dir.path().join("fleet"), &broker.addr());
    // The victim is not approved yet, so the fleet stores none of its records: they wait in
    // its outbox, its first batch (id 0, the first outbox entry) in flight.
    let state = dir.path().join("victim");
    install_model(&state, "mlp", 1);
    let victim = Daemon::start(&state, &fleet.edged_config(&state));
    let victim_id = victim.device.clone().expect("victim id");
    fleet.wait_device(&victim_id, 30, "pending", |d| d["approval"] == "pending");
    let sent = traffic(&victim, "v", 20) as u64;
    eventually("the records queued", Duration::from_secs(10), || {
        when(backlog(&victim) == sent, backlog(&victim))
    });
    // The attacker, an approved box of its own, sends empty batches under every batch id
    // the victim may have in flight; the fleet acks each, to the attacker.
    let mut attacker = Sim::new(41);
    let (_sniffer, acks) = broker.sniff("attacker", &topics::down(&attacker.id, "ack"));
    broker.publish(&topics::up(&attacker.id, Kind::Hello), &attacker.hello());
    fleet.approve(&attacker.id);
    let ids = 0..64u64;
    for batch_id in ids.clone() {
        let batch = RecordBatch {
            batch_id,
            entries: vec![],
        };
        let sealed = attacker.seal(Kind::Records, batch.encode(), true);
        broker.publish(&topics::up(&attacker.id, Kind::Records), &sealed);
    }
    let captured: Vec<Vec<u8>> = ids
        .map(|_| {
            acks.recv_timeout(Duration::from_secs(30))
                .expect("an ack")
                .1
        })
        .collect();
    // ... and replays every one on the victim's downlink.
    for ack in &captured {
        broker.publish(&topics::down(&victim_id, "ack"), ack);
    }
    wait_refused(&victim, "wrong_recipient", captured.len() as u64);
    assert_eq!(backlog(&victim), sent, "the victim deleted records");
    // Nothing was lost: once approved, every record reaches the fleet.
    fleet.approve(&victim_id);
    fleet.wait_device(&victim_id, 60, "every record", |d| d["records"] == sent);
}

/// Two boxes on version 1; a rollout of version 2 to box A only. B refuses A's desired state
/// (which would have skipped the rollout's waves), then, once on version 2 itself, A's
/// rollback (which would have sent it down a version).
#[test]
fn desired_states_and_rollbacks_signed_for_another_box_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path());
    let fleet = Fleet::start_external(&dir.path().join("fleet"), &broker.addr());
    let (keys, root_key) = e2e::release::init_keys(dir.path());
    let start = |name: &str| {
        let state = dir.path().join(name);
        let config = fleet
            .updating_edged_config(&state, &root_key)
            .set("fleet.tags", "site", name);
        fleet.approved_edged(&state, &config)
    };
    let (a, a_id) = start("a");
    let (b, b_id) = start("b");
    e2e::release::release(dir.path(), &keys, &fleet, 2, "release-1.key", &[], |_| {});
    let (_sniffer, to_a) = broker.sniff("sniffer", &topics::down(&a_id, "desired"));
    let rollout = fleet.rollout_now(2, &["site=a"]);
    let (_, desired_for_a) = to_a
        .recv_timeout(Duration::from_secs(60))
        .expect("A's desired state");
    broker.publish(&topics::down(&b_id, "desired"), &desired_for_a);
    wait_refused(&b, "wrong_recipient", 1);
    wait_served(&a, "2");
    assert_eq!(b.served_version(), "1", "B took A's desired state");

    // B is updated the regular way; then the rollout is rolled back, and A's rollback is
    // replayed to B.
    fleet.desire(&b_id, 2);
    wait_served(&b, "2");
    while to_a.try_recv().is_ok() {}
    fleet.rollout(&["rollback", &rollout]);
    let rollback_for_a = eventually("A's rollback", Duration::from_secs(60), || {
        match to_a.recv_timeout(Duration::from_secs(1)) {
            Ok((_, bytes)) if String::from_utf8_lossy(&bytes).contains("rollback") => Ok(bytes),
            other => Err(format!("{:?}", other.map(|(t, _)| t))),
        }
    });
    wait_served(&a, "1");
    broker.publish(&topics::down(&b_id, "desired"), &rollback_for_a);
    wait_refused(&b, "wrong_recipient", 2);
    assert_eq!(b.served_version(), "2", "B took A's rollback");
    let _ = traffic(&b, "after", 2);
}

#[test]
fn a_fleet_restarted_with_its_clock_an_hour_behind_still_updates_its_boxes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (keys, root_key) = e2e::release::init_keys(dir.path());
    let fleet_state = dir.path().join("fleet");
    let port = e2e::free_port();
    let fleet = Fleet::start(&fleet_state, port);
    let state = dir.path().join("box");
    let config = fleet.updating_edged_config(&state, &root_key);
    let (edged, id) = fleet.approved_edged(&state, &config);
    e2e::release::release(dir.path(), &keys, &fleet, 2, "release-1.key", &[], |_| {});
    fleet.desire(&id, 2);
    wait_served(&edged, "2");
    let config_file = fleet.config.clone();
    drop(fleet);
    // The same fleet, its clock an hour behind (libfaketime; monotonic clocks left alone).
    let env = e2e::faketime("-1h");
    let fleet = Fleet::start_file(&config_file, &e2e::env_refs(&env));
    e2e::release::release(dir.path(), &keys, &fleet, 3, "release-1.key", &[], |_| {});
    fleet.desire(&id, 3);
    wait_served(&edged, "3");
    assert_eq!(
        refused(&edged, "replayed"),
        0,
        "the box refused the restarted fleet's messages"
    );
}
