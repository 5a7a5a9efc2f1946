//! Attack: an MQTT client that reaches the fleet's embedded broker (a box with its own key,
//! or anyone on the network) tries to connect as someone else — the fleet's own ingest
//! client, another box — or anonymously, or to read and write other boxes' topics. The front
//! before rumqttd refuses each, and counts it in `/api/stats` (`broker_refused`); the
//! attacker gets no session, no subscription and no message, and the real clients keep
//! theirs.

#![allow(clippy::expect_used)]

use std::time::Duration;

use e2e::daemon::install_model;
use e2e::fleet::{Fleet, traffic};
use e2e::sim::Sim;
use e2e::wait::eventually;
use edge_protocol::credential::device_login;
use edge_protocol::envelope::Kind;
use edge_protocol::topics;
use rumqttc::{Client, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet, QoS};

/// Connects `client_id` with `login` and waits for the broker's verdict: the client when it
/// was let in, the CONNACK code when refused.
fn connect(
    fleet: &Fleet,
    client_id: &str,
    login: Option<(String, String)>,
) -> Result<(Client, rumqttc::Connection), ConnectReturnCode> {
    let (host, port) = fleet.mqtt.rsplit_once(':').expect("host:port");
    let mut options = MqttOptions::new(client_id, host, port.parse().expect("port"));
    options.set_keep_alive(Duration::from_secs(30));
    if let Some((user, password)) = login {
        options.set_credentials(user, password);
    }
    let (client, mut connection) = Client::new(options, 16);
    for event in connection.iter() {
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok((client, connection)),
            Ok(_) => {}
            Err(ConnectionError::ConnectionRefused(code)) => return Err(code),
            Err(e) => panic!("{client_id}: neither let in nor refused: {e}"),
        }
    }
    panic!("{client_id}: the connection ended without an answer")
}

/// Waits until the front counted `at_least` refusals for `reason`.
fn wait_refused(fleet: &Fleet, reason: &str, at_least: u64) {
    eventually(
        &format!("{at_least} broker refusal(s) for {reason}"),
        Duration::from_secs(30),
        || {
            let (_, stats) = fleet.admin("GET", "/api/stats");
            e2e::wait::when(
                stats["broker_refused"][reason].as_u64().unwrap_or(0) >= at_least,
                stats,
            )
        },
    );
}

/// A box of its own (a simulated device with a valid credential) that says hello.
fn enrolled_sim(fleet: &Fleet, seed: u64) -> Sim {
    let mut sim = Sim::new(seed);
    let (client, mut connection) = connect(fleet, &sim.id.clone(), Some(sim.login()))
        .expect("a box's own credential is let in");
    client
        .publish(
            topics::up(&sim.id, Kind::Hello),
            QoS::AtLeastOnce,
            false,
            sim.hello(),
        )
        .expect("publish");
    for event in connection.iter() {
        if let Ok(Event::Incoming(Packet::PubAck(_))) = event {
            break;
        }
    }
    fleet.wait_device(&sim.id, 30, "hello", |d| d["approval"] == "pending");
    sim
}

/// Sends one SUBSCRIBE or PUBLISH and returns what came back first: the SUBACK/PUBACK, or
/// the connection closing.
fn first_answer(connection: &mut rumqttc::Connection) -> Result<Packet, String> {
    for event in connection.iter() {
        match event {
            Ok(Event::Incoming(
                p @ (Packet::SubAck(_) | Packet::PubAck(_) | Packet::Publish(_)),
            )) => {
                return Ok(p);
            }
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("ended".into())
}

#[test]
fn anonymous_and_wildcard_client_ids_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = Fleet::start(&dir.path().join("fleet"), 0);
    let sim = Sim::new(7);
    assert_eq!(
        connect(&fleet, &sim.id, None).err(),
        Some(ConnectReturnCode::BadUserNamePassword),
        "anonymous"
    );
    wait_refused(&fleet, "anonymous", 1);
    // Mosquitto's CVE-2017-7650 and CVE-2021-34432: `+`, `#` or `/` in the id, to widen a
    // pattern ACL or break topic matching.
    for id in ["+", "#", "d-+", "d-#", "d-aa/+/up", "d-aaaa/up"] {
        let login = Some((id.to_string(), "edc1.x.1.y".to_string()));
        assert_eq!(
            connect(&fleet, id, login).err(),
            Some(ConnectReturnCode::BadClientId),
            "client id {id:?}"
        );
    }
    wait_refused(&fleet, "bad_client_id", 6);
    // A valid id with a wildcard username, or another box's username.
    let mut own = Sim::new(8);
    let (_, password) = own.login();
    for user in ["+", "#", &sim.id] {
        assert_eq!(
            connect(&fleet, &own.id, Some((user.to_string(), password.clone()))).err(),
            Some(ConnectReturnCode::BadUserNamePassword),
            "username {user:?}"
        );
    }
    wait_refused(&fleet, "bad_credential", 3);
}

#[test]
fn taking_over_the_fleets_ingest_session_is_refused_and_ingest_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = Fleet::start(&dir.path().join("fleet"), 0);
    let mut attacker = Sim::new(11);
    let (_, password) = attacker.login();
    for (user, password) in [
        ("fleet-ingest".to_string(), password),
        ("fleet-ingest".to_string(), "guessed-secret".to_string()),
    ] {
        assert_eq!(
            connect(&fleet, "fleet-ingest", Some((user, password))).err(),
            Some(ConnectReturnCode::BadClientId)
        );
    }
    wait_refused(&fleet, "reserved_client_id", 2);
    // The ingest kept its session: a new box's hello is still heard.
    enrolled_sim(&fleet, 12);
}

#[test]
fn taking_over_another_boxs_session_is_refused_and_the_box_keeps_uploading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = Fleet::start(&dir.path().join("fleet"), 0);
    let state = dir.path().join("victim");
    install_model(&state, "mlp", 1);
    let (victim, victim_id) = fleet.approved_edged(&state, &fleet.edged_config(&state));
    // With the attacker's own key under the victim's id.
    let mut attacker = Sim::new(21);
    let (_, own_password) = attacker.login();
    assert_eq!(
        connect(&fleet, &victim_id, Some((victim_id.clone(), own_password))).err(),
        Some(ConnectReturnCode::BadUserNamePassword)
    );
    wait_refused(&fleet, "bad_credential", 1);
    // With a credential the victim used before (captured off plain TCP): its counter is
    // behind the victim's, so it is a replay. The test signs it with the victim's key, as
    // the victim did; an attacker would have copied it off the wire.
    let victim_key =
        edge_protocol::identity::load_or_create(&state.join("device.key")).expect("victim key");
    for counter in [1, 2] {
        assert_eq!(
            connect(&fleet, &victim_id, Some(device_login(&victim_key, counter))).err(),
            Some(ConnectReturnCode::NotAuthorized),
            "replayed credential {counter}"
        );
    }
    wait_refused(&fleet, "replayed_credential", 2);
    // The victim's session was never touched: it still uploads.
    let sent = traffic(&victim, "after", 20);
    fleet.wait_device(&victim_id, 60, "the victim's records", |d| {
        d["records"] == sent as u64
    });
}

#[test]
fn subscribing_to_other_boxes_topics_or_publishing_on_them_closes_the_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = Fleet::start(&dir.path().join("fleet"), 0);
    let victim = Sim::new(31);
    let mut attacker = enrolled_sim(&fleet, 32);
    let everything = [
        "#".to_string(),
        "fleet/#".to_string(),
        topics::FLEET_SUBSCRIPTION.to_string(),
        "fleet/v1/d/+/down/+".to_string(),
        topics::device_subscription(&victim.id),
        format!("fleet/v1/d/{}/up/#", victim.id),
        "$SYS/#".to_string(),
    ];
    for (n, filter) in everything.iter().enumerate() {
        let (client, mut connection) =
            connect(&fleet, &attacker.id.clone(), Some(attacker.login())).expect("own credential");
        client
            .subscribe(filter, QoS::AtLeastOnce)
            .expect("subscribe");
        let answer = first_answer(&mut connection);
        assert!(
            answer.is_err(),
            "subscribing to {filter} was answered: {answer:?}"
        );
        wait_refused(&fleet, "subscribe_denied", n as u64 + 1);
    }
    // Its own downlink is fine.
    let (client, mut connection) =
        connect(&fleet, &attacker.id.clone(), Some(attacker.login())).expect("own credential");
    client
        .subscribe(topics::device_subscription(&attacker.id), QoS::AtLeastOnce)
        .expect("subscribe");
    assert!(matches!(
        first_answer(&mut connection),
        Ok(Packet::SubAck(_))
    ));
    drop(connection);
    // Publishing on the victim's uplink, on a downlink, or outside the protocol's topics (a
    // wildcard topic rumqttc will not even send; `acl.rs`'s unit tests cover it).
    let targets = [
        topics::up(&victim.id, Kind::Records),
        topics::down(&attacker.id, "desired"),
        topics::down(&victim.id, "ack"),
        "anything/else".to_string(),
    ];
    for (n, topic) in targets.iter().enumerate() {
        let (client, mut connection) =
            connect(&fleet, &attacker.id.clone(), Some(attacker.login())).expect("own credential");
        client
            .publish(topic, QoS::AtLeastOnce, false, b"x".to_vec())
            .expect("publish");
        let answer = first_answer(&mut connection);
        assert!(
            answer.is_err(),
            "publishing on {topic} was acknowledged: {answer:?}"
        );
        wait_refused(&fleet, "publish_denied", n as u64 + 1);
    }
    let (_, stats) = fleet.admin("GET", "/api/stats");
    assert_eq!(
        stats["rejected"]["wrong_device"].as_u64().unwrap_or(0),
        0,
        "nothing the attacker published reached the ingest: {stats}"
    );
}
