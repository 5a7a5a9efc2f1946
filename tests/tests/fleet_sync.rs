//! Fleet sync with real processes: `fleet serve` (embedded rumqttd) and two `edged`.
//! Enrollment by approval, store-and-forward with application acks, exactly-once arrival
//! across a fleet kill -9 (which takes the embedded broker down too), and a device that
//! tries to publish as another through a broker that lets it (the embedded broker does not:
//! `broker_identity.rs`).

#![allow(clippy::expect_used)] // test helpers outside #[test] fns

use e2e::daemon::{Daemon, install_model};
use e2e::fleet::{Fleet, traffic};
use e2e::{binary, free_port, run};

/// An edged in `dir/name` uploading to `fleet`, not approved yet.
fn edged(dir: &std::path::Path, name: &str, fleet: &Fleet) -> Daemon {
    let state = dir.join(name);
    install_model(&state, "mlp", 1);
    Daemon::start(&state, &fleet.edged_config(&state))
}

#[test]
fn approved_devices_upload_every_record_exactly_once_across_a_fleet_kill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let fleet = Fleet::start(&dir.path().join("fleet"), port);
    let a = edged(dir.path(), "a", &fleet);
    let b = edged(dir.path(), "b", &fleet);
    let (ida, idb) = (
        a.device.clone().expect("device a"),
        b.device.clone().expect("device b"),
    );
    // Hello makes them pending; nothing is accepted before approval.
    for id in [&ida, &idb] {
        fleet.wait_device(id, 30, "pending", |d| d["approval"] == "pending");
    }
    let sent_a = traffic(&a, "a", 100);
    let (out, stdout, stderr) = run(binary("fleet").args([
        "devices",
        "--addr",
        &fleet.admin.to_string(),
        "--token",
        e2e::fleet::TOKEN,
        "list",
    ]));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(&ida) && stdout.contains("pending"),
        "{stdout}"
    );
    let (_, stats) = fleet.admin("GET", "/api/stats");
    assert_eq!(
        stats["records_new"], 0,
        "records accepted before approval: {stats}"
    );
    for id in [&ida, &idb] {
        let (out, _, stderr) = run(binary("fleet").args([
            "devices",
            "--addr",
            &fleet.admin.to_string(),
            "--token",
            e2e::fleet::TOKEN,
            "approve",
            id,
        ]));
        assert!(out.status.success(), "{stderr}");
    }
    // The backlog buffered while pending drains after approval.
    fleet.wait_device(&ida, 60, "a's backlog", |d| d["records"] == sent_a as u64);
    let sent_b = traffic(&b, "b", 60);
    fleet.wait_device(&idb, 60, "b's records", |d| d["records"] == sent_b as u64);

    // Kill the fleet (and its embedded broker) while a keeps producing; restart it.
    let more_a = traffic(&a, "a2", 50);
    let fleet_state = dir.path().join("fleet");
    fleet.kill9();
    let more_a2 = traffic(&a, "a3", 50);
    let fleet = Fleet::start(&fleet_state, port);
    let total_a = (sent_a + more_a + more_a2) as u64;
    let device = fleet.wait_device(&ida, 90, "every record of a", |d| d["records"] == total_a);
    // Telemetry reports an empty backlog once everything is acknowledged.
    fleet.wait_device(&ida, 30, "empty backlog", |d| {
        d["telemetry"]["backlog"] == 0
    });
    assert_eq!(device["approval"], "approved");
    assert!(device["status"].is_null() || device["status"].is_object());
    let (_, stats) = fleet.admin("GET", "/api/stats");
    assert!(stats["rejected"].get("bad_signature").is_none(), "{stats}");
    // The box's own status shows the link: connected, nothing left to upload.
    let (out, summary, stderr) = run(binary("edged")
        .args(["status", "--addr"])
        .arg(a.addr.to_string()));
    assert!(out.status.success(), "{stderr}");
    let line = summary
        .lines()
        .find(|l| l.starts_with("fleet: "))
        .unwrap_or_else(|| panic!("no fleet line in {summary}"));
    assert!(
        line.contains(&format!(
            "fleet: {ida} via {} (tcp), connected; backlog 0 records, {total_a} acknowledged",
            fleet.mqtt
        )),
        "{line}"
    );

    // The fleet keeps a metrics history per device; `fleet devices show` summarises it.
    let (status, history) = fleet.admin("GET", &format!("/api/devices/{ida}/metrics"));
    assert_eq!(status, 200, "{history}");
    let points = history["points"].as_array().expect("points");
    assert!(
        points.len() >= 2,
        "telemetry every 200 ms leaves a history: {history}"
    );
    let last = points.last().expect("a point");
    assert_eq!(last["backlog"], 0, "{last}");
    assert_eq!(last["models"][0]["model"], "mlp", "{last}");
    assert_eq!(last["models"][0]["version"], "1", "{last}");
    assert!(
        last["models"][0]["accuracy"].as_f64().is_some(),
        "labels were joined: {last}"
    );
    let times: Vec<u64> = points
        .iter()
        .filter_map(|p| p["time_ms"].as_u64())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {times:?}"
    );
    assert_eq!(
        fleet
            .admin("GET", &format!("/api/devices/{ida}/metrics?since_ms=-1"))
            .0,
        400
    );
    assert_eq!(fleet.admin("GET", "/api/devices/d-nobody/metrics").0, 404);
    let (out, shown, stderr) = run(binary("fleet").args([
        "devices",
        "--addr",
        &fleet.admin.to_string(),
        "--token",
        e2e::fleet::TOKEN,
        "show",
        &ida,
    ]));
    assert!(out.status.success(), "{stderr}");
    for expected in [
        format!("device      {ida} (approved)"),
        format!("records     {total_a} stored"),
        "backlog on the box: 0 records".to_string(),
        "ACC FIRST".to_string(),
    ] {
        assert!(
            shown.contains(&expected),
            "missing {expected:?} in\n{shown}"
        );
    }
    let model_rows = shown.lines().filter(|l| l.starts_with("mlp ")).count();
    assert_eq!(
        model_rows, 2,
        "latest numbers and history rows for mlp v1:\n{shown}"
    );
}

#[test]
fn admin_api_needs_the_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = Fleet::start(&dir.path().join("fleet"), free_port());
    let (status, _) = e2e::daemon::http_with_headers(fleet.admin, "GET", "/api/devices", None, &[]);
    assert_eq!(status, 401);
    let (status, _) = e2e::daemon::http_with_headers(
        fleet.admin,
        "GET",
        "/api/devices",
        None,
        &[("Authorization", "Bearer wrong-token-wrong-token!!")],
    );
    assert_eq!(status, 401);
    assert_eq!(fleet.admin("GET", "/api/devices").0, 200);
    assert_eq!(fleet.admin("POST", "/api/devices/d-nobody/approve").0, 404);
}

/// A raw MQTT client for the attacks below.
fn rogue(fleet: &Fleet, client_id: &str) -> (rumqttc::Client, rumqttc::Connection) {
    let (host, port) = fleet.mqtt.rsplit_once(':').expect("host:port");
    let mut options = rumqttc::MqttOptions::new(client_id, host, port.parse().expect("port"));
    options.set_max_packet_size(1 << 20, 1 << 20);
    rumqttc::Client::new(options, 16)
}

fn publish_all(
    client: &rumqttc::Client,
    connection: &mut rumqttc::Connection,
    messages: Vec<(String, Vec<u8>)>,
) {
    let n = messages.len();
    for (topic, payload) in messages {
        client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
            .expect("publish");
    }
    let mut acked = 0;
    for event in connection.iter() {
        if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) = event {
            acked += 1;
            if acked == n {
                break;
            }
        }
    }
}

/// Through a broker that lets every client publish anywhere (Mosquitto with anonymous
/// access and no ACL): the fleet's own checks refuse what the broker did not.
#[test]
fn forged_replayed_misattributed_garbage_and_wrong_version_messages_are_refused_and_counted() {
    use edge_protocol::envelope::{Envelope, Kind};
    use edge_protocol::records::RecordBatch;
    use edge_protocol::{identity, topics};

    let dir = tempfile::tempdir().expect("tempdir");
    let broker = e2e::mosquitto::Mosquitto::start(dir.path());
    let fleet = Fleet::start_external(&dir.path().join("fleet"), &broker.addr());
    let victim = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
    let attacker = ed25519_dalek::SigningKey::from_bytes(&[2; 32]);
    let victim_id = identity::device_id(&victim.verifying_key());
    let attacker_id = identity::device_id(&attacker.verifying_key());
    let hello = |key: &ed25519_dalek::SigningKey, seq: u64| {
        let body = serde_json::json!({"public_key": hex::encode(key.verifying_key().as_bytes()), "software": "test"});
        Envelope {
            kind: Kind::Hello,
            signer: identity::device_id(&key.verifying_key()),
            to: edge_protocol::envelope::FLEET.into(),
            seq,
            time_ms: 1,
            body: body.to_string().into_bytes(),
        }
        .seal_json(key)
        .expect("seal")
        .into_bytes()
    };
    let batch = |signer: &str, seq: u64| Envelope {
        kind: Kind::Records,
        signer: signer.to_string(),
        to: edge_protocol::envelope::FLEET.into(),
        seq,
        time_ms: 1,
        body: RecordBatch {
            batch_id: seq,
            entries: vec![],
        }
        .encode(),
    };
    let (client, mut connection) = rogue(&fleet, &attacker_id);
    publish_all(
        &client,
        &mut connection,
        vec![
            (topics::up(&victim_id, Kind::Hello), hello(&victim, 1)),
            (topics::up(&attacker_id, Kind::Hello), hello(&attacker, 1)),
        ],
    );
    fleet.approve(&victim_id);
    fleet.wait_device(&attacker_id, 30, "pending", |d| d["approval"] == "pending");
    assert_eq!(
        fleet
            .admin("POST", &format!("/api/devices/{attacker_id}/approve"))
            .0,
        200
    );

    let replayed = batch(&victim_id, 10).seal_binary(&victim, false);
    let mut wrong_version = batch(&victim_id, 20).seal_binary(&victim, false);
    wrong_version[3] = 1;
    publish_all(
        &client,
        &mut connection,
        vec![
            // Forged: the attacker signs a batch in the victim's name.
            (
                topics::up(&victim_id, Kind::Records),
                batch(&victim_id, 5).seal_binary(&attacker, false),
            ),
            // Misattributed: the attacker's own valid batch on the victim's topic.
            (
                topics::up(&victim_id, Kind::Records),
                batch(&attacker_id, 6).seal_binary(&attacker, false),
            ),
            // Replayed: the same valid message twice.
            (topics::up(&victim_id, Kind::Records), replayed.clone()),
            (topics::up(&victim_id, Kind::Records), replayed),
            (topics::up(&victim_id, Kind::Records), wrong_version),
            (
                topics::up(&victim_id, Kind::Records),
                b"\x00garbage".to_vec(),
            ),
            (topics::up(&victim_id, Kind::Records), vec![b'E'; 70 << 10]),
        ],
    );
    fleet.wait_rejected("bad_signature", 1);
    fleet.wait_rejected("wrong_device", 1);
    fleet.wait_rejected("replayed", 1);
    fleet.wait_rejected("unsupported_version", 1);
    fleet.wait_rejected("malformed", 1);
    fleet.wait_rejected("too_large", 1);
    // The one valid batch was accepted once.
    let (_, stats) = fleet.admin("GET", "/api/stats");
    assert_eq!(stats["accepted_messages"].as_u64(), Some(3), "{stats}");
    // A revoked device is refused from then on.
    assert_eq!(
        fleet
            .admin("POST", &format!("/api/devices/{victim_id}/revoke"))
            .0,
        200
    );
    publish_all(
        &client,
        &mut connection,
        vec![(
            topics::up(&victim_id, Kind::Records),
            batch(&victim_id, 30).seal_binary(&victim, false),
        )],
    );
    fleet.wait_rejected("revoked", 1);
}

#[test]
fn the_same_sync_works_through_debian_mosquitto() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = e2e::mosquitto::Mosquitto::start(dir.path());
    let fleet = Fleet::start_external(&dir.path().join("fleet"), &broker.addr());
    let state = dir.path().join("a");
    install_model(&state, "mlp", 1);
    let (a, id) = fleet.approved_edged(&state, &fleet.edged_config(&state));
    let sent = traffic(&a, "m", 80);
    fleet.wait_device(&id, 60, "every record", |d| d["records"] == sent as u64);
}

#[test]
fn fleet_serve_with_a_bad_config_exits_64_reporting_every_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fleet.toml");
    std::fs::write(
        &path,
        "state_dir = \"/tmp/never\"\ncolour = 1\n[broker]\nembedded = false\nexternal = \"nope\"\n[admin]\ntoken = \"short\"\n",
    )
    .expect("write");
    let (out, stdout, stderr) = run(binary("fleet").args(["serve", "--config"]).arg(&path));
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(stdout.is_empty());
    for key in [
        "has 4 problems",
        "colour: unknown key",
        "broker.external",
        "broker.transport: required",
        "admin.token",
    ] {
        assert!(stderr.contains(key), "missing {key:?} in {stderr}");
    }
}
