//! The MQTT API against Debian's Mosquitto, used only through mosquitto_pub and
//! mosquitto_sub, as a box owner would; plus a broker restart.

#![allow(clippy::expect_used)] // test helpers outside #[test] fns

use std::time::Duration;

use e2e::config::EdgedConfig;
use e2e::daemon::{Daemon, install_model, mlp_request};
use e2e::mosquitto::Mosquitto;
use e2e::wait::{eventually, when};

/// Mosquitto and an edged on it as `edged-test`; `limit` sets `[limits] max_request_bytes`.
fn setup(limit: Option<&str>) -> (tempfile::TempDir, Mosquitto, Daemon) {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path());
    let state = dir.path().join("state");
    install_model(&state, "mlp", 1);
    let mut config = EdgedConfig::new(&state).mqtt(&broker.addr(), "edged-test");
    if let Some(limit) = limit {
        config = config.set("limits", "max_request_bytes", limit);
    }
    let daemon = Daemon::start(&state, &config);
    wait_subscribed(&broker, &daemon);
    (dir, broker, daemon)
}

/// The daemon subscribes after connecting; a request answered on .../out shows it is in place.
fn wait_subscribed(broker: &Mosquitto, daemon: &Daemon) {
    let _ = daemon;
    for attempt in 0..30 {
        let sub = broker.subscribe_for("edged/models/mlp/out", 1, 2);
        broker.publish(
            "edged/models/mlp/in",
            mlp_request(Some(&format!("probe-{attempt}")), 1, 0).as_bytes(),
        );
        let got = sub.wait();
        if !got.is_empty() {
            return;
        }
    }
    panic!("edged never answered on MQTT");
}

#[test]
fn predictions_and_labels_with_mosquitto_pub_and_sub() {
    let (_dir, broker, d) = setup(None);
    let sub = broker.subscribe("edged/models/mlp/out", 1);
    broker.publish(
        "edged/models/mlp/in",
        mlp_request(Some("m-1"), 2, 3).as_bytes(),
    );
    let out = sub.wait();
    let reply = &out[0];
    assert_eq!(reply["model_name"], "mlp");
    assert_eq!(reply["model_version"], "1");
    assert_eq!(reply["id"], "m-1");
    assert!(reply["parameters"]["latency_us"].as_u64().is_some());
    let id = reply["parameters"]["prediction_id"]
        .as_str()
        .expect("id")
        .to_string();
    // Same numbers as HTTP for the same input.
    let (_, http) = d.post_json("/v2/models/mlp/infer", &mlp_request(None, 2, 3));
    assert_eq!(http["outputs"], reply["outputs"]);
    // A label over MQTT lands on the stored prediction.
    broker.publish(
        "edged/models/mlp/label",
        br#"{"request_id": "m-1", "label": [0, 3]}"#,
    );
    eventually("the MQTT label stored", Duration::from_secs(30), || {
        let (_, stored) = d.get_json(&format!("/v2/models/mlp/predictions/{id}"));
        when(
            stored["label"]["classes"] == serde_json::json!([0, 3]),
            stored,
        )
    });
}

#[test]
fn each_bad_mqtt_input_gets_a_message_on_the_error_topic() {
    let (_dir, broker, d) = setup(Some("4KiB"));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("edged/models/mlp/in", b"{not json".to_vec(), "not_json"),
        (
            "edged/models/mlp/in",
            mlp_request(Some("wrong-dtype"), 1, 1)
                .replace("FP32", "INT8")
                .into_bytes(),
            "bad_input",
        ),
        (
            "edged/models/mlp/in",
            br#"{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}"#.to_vec(),
            "bad_input",
        ),
        (
            "edged/models/mlp/in",
            mlp_request(None, 64, 1).into_bytes(),
            "too_large",
        ),
        (
            "edged/models/mlp/label",
            br#"{"prediction_id": "123456789", "label": 1}"#.to_vec(),
            "unknown_prediction",
        ),
        (
            "edged/models/mlp/label",
            br#"{"label": "x"}"#.to_vec(),
            "bad_label",
        ),
    ];
    for (topic, payload, code) in &cases {
        let sub = broker.subscribe("edged/models/mlp/error", 1);
        broker.publish(topic, payload);
        let errors = sub.wait();
        let error = errors
            .first()
            .unwrap_or_else(|| panic!("no error message for {code}"));
        assert_eq!(error["code"], *code, "{error}");
        assert_eq!(error["topic"], *topic);
        assert!(error["error"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // An unknown model's errors go to that model's error topic.
    let sub = broker.subscribe("edged/models/ghost/error", 1);
    broker.publish("edged/models/ghost/in", mlp_request(None, 1, 1).as_bytes());
    assert_eq!(sub.wait()[0]["code"], "unknown_model");
    // Counted, and the daemon still serves.
    assert_eq!(
        d.metric("edged_errors_total{model=\"mlp\",reason=\"bad_input\"}"),
        Some(2.0)
    );
    assert_eq!(
        d.metric("edged_errors_total{model=\"\",reason=\"unknown_model\"}"),
        Some(1.0)
    );
    let sub = broker.subscribe("edged/models/mlp/out", 1);
    broker.publish("edged/models/mlp/in", mlp_request(None, 1, 1).as_bytes());
    assert_eq!(sub.wait().len(), 1);
}

#[test]
fn daemon_reconnects_after_the_broker_is_killed_and_restarted() {
    let (dir, mut broker, d) = setup(None);
    let port = broker.port;
    broker.kill();
    // HTTP keeps serving while the broker is down.
    assert_eq!(
        d.post_json("/v2/models/mlp/infer", &mlp_request(None, 1, 1))
            .0,
        200
    );
    let broker = Mosquitto::start_on(dir.path(), port);
    wait_subscribed(&broker, &d);
}

#[test]
fn kill_9_mid_stream_then_restart_processes_every_message_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path());
    let state = dir.path().join("state");
    install_model(&state, "mlp", 1);
    let config = EdgedConfig::new(&state).mqtt(&broker.addr(), "edged-crash");
    let d = Daemon::start(&state, &config);
    wait_subscribed(&broker, &d);
    let total = 3000usize;
    let before_kill = 1000usize;
    let lines: Vec<String> = (0..total)
        .map(|i| mlp_request(Some(&format!("k{i}")), 1, i as u32))
        .collect();
    // Kill the daemon once 300 predictions of the first 1000 came out: the rest of those wait
    // in its unacknowledged pipeline or at the broker. The other 2000 are published while it
    // is dead, into its persistent session, so the stream always spans the kill (a daemon
    // fast enough to finish the first part before the kill cannot finish the stream).
    let sub = broker.subscribe("edged/models/mlp/out", 300);
    broker.publish_lines("edged/models/mlp/in", &lines[..before_kill]);
    assert_eq!(sub.wait().len(), 300);
    d.kill9();
    broker.publish_lines("edged/models/mlp/in", &lines[before_kill..]);
    // Without MQTT, see what survived the kill: a part of the stream, at least what came out.
    let offline = Daemon::start(&state, &EdgedConfig::new(&state));
    let survived = list_request_ids(&offline)
        .iter()
        .filter(|r| r.starts_with('k'))
        .count();
    assert!(
        (300..=before_kill).contains(&survived),
        "{survived} stored when killed"
    );
    offline.terminate();
    let d = Daemon::start(&state, &config);
    let what = format!("all {total} messages stored after the restart");
    let stored = eventually(&what, Duration::from_secs(120), || {
        let stored = list_request_ids(&d);
        let wanted = stored.iter().filter(|r| r.starts_with('k')).count();
        when(wanted >= total, format!("only {wanted} of {total}")).map(|()| stored)
    });
    let mut seen = std::collections::HashSet::new();
    for r in stored.iter().filter(|r| r.starts_with('k')) {
        assert!(seen.insert(r.clone()), "request {r} stored twice");
    }
    assert_eq!(seen.len(), total);
}

fn list_request_ids(d: &Daemon) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let (_, page) = d.get_json(&format!("/v2/models/mlp/predictions?{after}limit=1000"));
        let items = page["predictions"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            return out;
        }
        out.extend(
            items
                .iter()
                .filter_map(|p| p["correlation"].as_str().map(str::to_string)),
        );
        after = format!("after={}&", page["next_after"].as_str().unwrap_or_default());
    }
}
