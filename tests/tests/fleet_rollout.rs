//! Rollouts in canary waves with real processes: `fleet serve`, three `edged` pinned to the
//! organisation's root key, models released with `fleet keys`/`fleet model sign|publish`.
//! A three-wave rollout completes; a version that raises the error rate, and one whose
//! accuracy on labels is worse than its predecessor's, halt at the first wave and send the
//! canary back, the other devices never receiving them; tag selection; operator actions.

#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use e2e::daemon::{Daemon, install_model, mlp_request};
use e2e::fleet::{Fleet, TOKEN};
use e2e::wait::{eventually, when};
use e2e::{binary, free_port, run};

fn fleet_cli(args: &[&str]) -> (bool, String, String) {
    let (out, stdout, stderr) = run(binary("fleet").args(args));
    (out.status.success(), stdout, stderr)
}

struct World {
    dir: tempfile::TempDir,
    keys: PathBuf,
    fleet: Fleet,
    boxes: Vec<Daemon>,
}

impl World {
    /// Keys, a fleet, and one approved edged per tag set (all serving mlp version 1).
    fn new(sites: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (keys, root_key) = e2e::release::init_keys(dir.path());
        let fleet = Fleet::start(&dir.path().join("fleet"), free_port());
        let boxes: Vec<Daemon> = sites
            .iter()
            .enumerate()
            .map(|(i, site)| {
                let state = dir.path().join(format!("box{i}"));
                install_model(&state, "mlp", 1);
                let config = fleet
                    .edged_config(&state)
                    .set("fleet.tags", "site", *site)
                    .updates(&root_key)
                    // The fleet's gates are under test: the box's own health window is off.
                    .set("updates", "health_window", Duration::ZERO);
                fleet.approved_edged(&state, &config).0
            })
            .collect();
        World {
            dir,
            keys,
            fleet,
            boxes,
        }
    }

    /// Releases the example model as `version` after `edit`, signed and published.
    fn release(&self, version: u64, edit: impl FnOnce(&Path)) {
        e2e::release::release(
            self.dir.path(),
            &self.keys,
            &self.fleet,
            version,
            "release-1.key",
            &[],
            edit,
        );
    }

    fn rollout(&self, args: &[&str]) -> (bool, String, String) {
        let admin = self.fleet.admin.to_string();
        let mut all = vec!["rollout", "--addr", &admin, "--token", TOKEN];
        all.extend_from_slice(args);
        fleet_cli(&all)
    }

    /// Waits until the rollout's state is `state`; returns its status JSON.
    fn wait_rollout(&self, id: &str, state: &str, secs: u64) -> serde_json::Value {
        let what = format!("rollout {id} {state}");
        eventually(&what, Duration::from_secs(secs), || {
            let (_, status) = self.fleet.admin("GET", &format!("/api/rollouts/{id}"));
            if status["rollout"]["state"] == state {
                Ok(status)
            } else {
                Err(format!("{status:#}"))
            }
        })
    }
}

impl World {
    fn boxes(&self) -> Vec<&Daemon> {
        self.boxes.iter().collect()
    }

    /// Waits until `n` devices of the rollout are in `state` (their reports lag the switch).
    fn wait_count(&self, id: &str, state: &str, n: u64) -> u64 {
        let what = format!("{n} devices of rollout {id} {state}");
        eventually(&what, Duration::from_secs(30), || {
            let (_, status) = self.fleet.admin("GET", &format!("/api/rollouts/{id}"));
            let count: u64 = status["waves"]
                .as_array()
                .expect("waves")
                .iter()
                .map(|w| w["states"][state].as_u64().unwrap_or(0))
                .sum();
            when(count == n, format!("{count} {state}: {status:#}")).map(|()| count)
        })
    }
}

/// Waits until every box serves `version`. A box may still answer with the version being
/// rolled back (which can fail every request) when the fleet already reports the rollback:
/// that answer counts as "not yet", not as a failure.
fn wait_served(what: &str, secs: u64, boxes: &[&Daemon], version: &str) {
    eventually(what, Duration::from_secs(secs), || {
        let served: Vec<String> = boxes.iter().map(|b| try_served_version(b)).collect();
        when(served.iter().all(|v| v == version), served.join(","))
    });
}

/// The version that answered a request, or the failed answer.
fn try_served_version(d: &Daemon) -> String {
    let (status, reply) = d.post_json("/v2/models/mlp/infer", &mlp_request(None, 1, 3));
    match reply["model_version"].as_str() {
        Some(v) if status == 200 => v.to_string(),
        _ => format!("{status} {reply}"),
    }
}

fn served_version(d: &Daemon) -> String {
    let served = try_served_version(d);
    assert!(!served.contains(' '), "the request failed: {served}");
    served
}

fn rollout_id(stdout: &str) -> String {
    stdout.split_whitespace().next().expect("id").to_string()
}

/// Predictions with labels on every box until stopped; the label is the class version 1
/// predicts for that input (`truth`), so version 1 scores 1.0.
fn labelled_traffic(
    boxes: Vec<(std::net::SocketAddr, Vec<u64>)>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut i = 0usize;
        while !stop.load(Ordering::Relaxed) {
            for (addr, truth) in &boxes {
                let seed = (i % truth.len()) as u32;
                let (status, body) = e2e::daemon::http(
                    *addr,
                    "POST",
                    "/v2/models/mlp/infer",
                    Some(mlp_request(None, 1, seed).as_bytes()),
                );
                if status == 200 {
                    let reply: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                    let label = serde_json::json!({"prediction_id": reply["parameters"]["prediction_id"], "label": truth[seed as usize]});
                    let _ = e2e::daemon::http(
                        *addr,
                        "POST",
                        "/v2/models/mlp/labels",
                        Some(label.to_string().as_bytes()),
                    );
                }
            }
            i += 1;
        }
    })
}

/// The class version 1 predicts for inputs 0..n.
fn truth(d: &Daemon, n: u32) -> Vec<u64> {
    (0..n)
        .map(|seed| {
            let (_, reply) = d.post_json("/v2/models/mlp/infer", &mlp_request(None, 1, seed));
            let data = reply["outputs"][0]["data"]
                .as_array()
                .expect("outputs")
                .clone();
            let scores: Vec<f64> = data.iter().filter_map(serde_json::Value::as_f64).collect();
            (0..scores.len())
                .max_by(|a, b| scores[*a].total_cmp(&scores[*b]))
                .expect("a class") as u64
        })
        .collect()
}

#[test]
fn a_three_wave_rollout_completes_and_status_shows_each_wave() {
    let w = World::new(&["a", "a", "a"]);
    w.release(2, |_| {});
    let (success, stdout, stderr) = w.rollout(&[
        "create",
        "--model",
        "mlp",
        "--version",
        "2",
        "--waves",
        "33%,66%,100%",
        "--soak",
        "300ms",
        "--max-error-rate",
        "0.05",
        "--max-accuracy-drop",
        "0.5",
    ]);
    assert!(success, "{stderr}");
    let id = rollout_id(&stdout);
    let status = w.wait_rollout(&id, "completed", 90);
    for (i, wave) in status["waves"]
        .as_array()
        .expect("waves")
        .iter()
        .enumerate()
    {
        assert_eq!(wave["devices"], 1, "wave {i}: {wave}");
        assert_eq!(wave["states"]["active"], 1, "wave {i}: {wave}");
    }
    for b in &w.boxes {
        assert_eq!(served_version(b), "2");
    }
    let (success, table, _) = w.rollout(&["status", &id]);
    assert!(success);
    assert!(
        table.contains("completed") && table.contains("ACTIVE"),
        "{table}"
    );
    // A finished rollout can be rolled back by the operator; every box goes back to 1.
    let (success, _, stderr) = w.rollout(&["rollback", &id]);
    assert!(success, "{stderr}");
    wait_served("boxes back on version 1", 60, &w.boxes(), "1");
    w.wait_rollout(&id, "rolled_back", 10);
    assert_eq!(w.wait_count(&id, "rolled_back", 3), 3);
}

#[test]
fn a_version_that_raises_the_error_rate_halts_at_the_canary_and_rolls_back() {
    let w = World::new(&["a", "a", "a"]);
    // Version 3 renames its input: every request of the boxes' clients fails as bad_input.
    w.release(3, |dir| {
        let path = dir.join("model.json");
        let text = std::fs::read_to_string(&path)
            .expect("read")
            .replace("\"x\"", "\"features\"");
        std::fs::write(&path, text).expect("write");
        std::fs::remove_file(dir.join("checks.json")).expect("no check cases for it");
    });
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = labelled_traffic(
        w.boxes.iter().map(|b| (b.addr, vec![0; 8])).collect(),
        stop.clone(),
    );
    let (success, stdout, stderr) = w.rollout(&[
        "create",
        "--model",
        "mlp",
        "--version",
        "3",
        "--waves",
        "33%,66%,100%",
        "--soak",
        "2s",
        "--max-error-rate",
        "0.05",
    ]);
    assert!(success, "{stderr}");
    let id = rollout_id(&stdout);
    let status = w.wait_rollout(&id, "rolled_back", 90);
    stop.store(true, Ordering::Relaxed);
    traffic.join().expect("traffic");
    let reason = status["rollout"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("error rate"), "{reason}");
    let canary = status["devices"][0]["device"]
        .as_str()
        .expect("canary")
        .to_string();
    wait_served("the canary back on version 1", 30, &w.boxes(), "1");
    for b in &w.boxes {
        let got_it = b.state.join("models/mlp/3").exists();
        assert_eq!(
            got_it,
            b.device.as_deref() == Some(canary.as_str()),
            "only the canary received version 3"
        );
    }
}

#[test]
fn a_version_with_worse_accuracy_on_labels_is_halted_by_the_accuracy_gate() {
    let w = World::new(&["a", "a", "b"]);
    // Version 4 has all-zero weights: it predicts class 0 for everything.
    w.release(4, |dir| {
        let path = dir.join("weights.safetensors");
        let mut bytes = std::fs::read(&path).expect("read");
        let header = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
        for b in &mut bytes[8 + header..] {
            *b = 0;
        }
        std::fs::write(&path, bytes).expect("write");
        std::fs::remove_file(dir.join("checks.json")).expect("no check cases for it");
    });
    let truths: Vec<Vec<u64>> = w.boxes.iter().map(|b| truth(b, 16)).collect();
    assert!(
        truths[0].iter().any(|c| *c != 0),
        "version 1 predicts more than class 0: {truths:?}"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = labelled_traffic(
        w.boxes
            .iter()
            .zip(truths)
            .map(|(b, t)| (b.addr, t))
            .collect(),
        stop.clone(),
    );
    // Version 1's accuracy on the labels reaches the fleet in the boxes' telemetry: the gate
    // has something to compare version 4 with.
    for b in &w.boxes {
        let id = b.device.as_deref().expect("id");
        w.fleet
            .wait_device(id, 30, "version 1's accuracy in telemetry", |d| {
                d["telemetry"]["models"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|m| {
                        m["model"] == "mlp"
                            && m["version"] == "1"
                            && m["quality"]["accuracy"].is_number()
                    })
            });
    }
    // Only site a: the box at site b is never targeted.
    let (success, stdout, stderr) = w.rollout(&[
        "create",
        "--model",
        "mlp",
        "--version",
        "4",
        "--select",
        "site=a",
        "--waves",
        "50%,100%",
        "--soak",
        "2s",
        "--max-accuracy-drop",
        "0.02",
    ]);
    assert!(success, "{stderr}");
    let id = rollout_id(&stdout);
    let status = w.wait_rollout(&id, "rolled_back", 90);
    stop.store(true, Ordering::Relaxed);
    traffic.join().expect("traffic");
    assert_eq!(
        status["rollout"]["devices"].as_array().map(Vec::len),
        Some(2),
        "site=a only"
    );
    let reason = status["rollout"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("accuracy"), "{reason}");
    wait_served("the canary back on version 1", 30, &w.boxes(), "1");
}

#[test]
fn bad_rollout_requests_and_operator_actions_are_answered_clearly() {
    let w = World::new(&["a"]);
    let (success, _, stderr) = w.rollout(&["create", "--model", "mlp", "--version", "9"]);
    assert!(!success && stderr.contains("not published"), "{stderr}");
    w.release(2, |_| {});
    let (success, _, stderr) = w.rollout(&[
        "create",
        "--model",
        "mlp",
        "--version",
        "2",
        "--waves",
        "50%,20%",
    ]);
    assert!(!success && stderr.contains("increasing"), "{stderr}");
    let (success, _, stderr) = w.rollout(&[
        "create",
        "--model",
        "mlp",
        "--version",
        "2",
        "--select",
        "site=nowhere",
    ]);
    assert!(
        !success && stderr.contains("no approved device"),
        "{stderr}"
    );
    let (success, stdout, stderr) =
        w.rollout(&["create", "--model", "mlp", "--version", "2", "--soak", "1h"]);
    assert!(success, "{stderr}");
    let id = rollout_id(&stdout);
    assert!(w.rollout(&["pause", &id]).0);
    let (success, _, stderr) = w.rollout(&["pause", &id]);
    assert!(!success && stderr.contains("Paused"), "{stderr}");
    assert!(w.rollout(&["resume", &id]).0);
    assert!(w.rollout(&["abort", &id]).0);
    let (success, _, stderr) = w.rollout(&["resume", &id]);
    assert!(!success, "an aborted rollout stays aborted: {stderr}");
    let (success, _, stderr) = w.rollout(&["status", "r-404"]);
    assert!(!success && stderr.contains("no rollout"), "{stderr}");
}

#[test]
fn an_offline_box_does_not_hold_the_rollout_back_and_catches_up_when_it_returns() {
    let mut w = World::new(&["a", "a", "a"]);
    w.release(2, |_| {});
    let away = w.boxes.remove(2);
    let (state, config) = (
        away.state.clone(),
        std::fs::read_to_string(&away.config).expect("config"),
    );
    let away_id = away.device.clone().expect("id");
    assert!(away.terminate().success());
    // Wait until the fleet has not heard from it for the rollout's offline threshold.
    w.fleet.wait_device(&away_id, 30, "silence", |d| {
        let last = d["last_seen_ms"].as_u64().unwrap_or(0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u64;
        now.saturating_sub(last) > 1_500
    });
    let (success, stdout, stderr) = w.rollout(&[
        "create",
        "--model",
        "mlp",
        "--version",
        "2",
        "--waves",
        "50%,100%",
        "--soak",
        "300ms",
        "--offline-after",
        "1s",
    ]);
    assert!(success, "{stderr}");
    let id = rollout_id(&stdout);
    let status = w.wait_rollout(&id, "completed", 90);
    let away_state = status["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .find(|d| d["device"] == away_id.as_str())
        .map(|d| d["state"].clone());
    assert_eq!(away_state, Some(serde_json::json!("offline")), "{status:#}");
    for b in &w.boxes {
        assert_eq!(served_version(b), "2");
    }
    // Back online: the desired state waiting for it is sent with its hello.
    let back = Daemon::start(&state, &config);
    wait_served("the returning box caught up", 60, &[&back], "2");
    // Its report reaches the fleet just after the switch.
    assert_eq!(w.wait_count(&id, "active", 3), 3);
}
