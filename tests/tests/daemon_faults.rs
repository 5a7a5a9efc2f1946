//! Faults with assertions on what survived: kill -9 while clients stream predictions and
//! labels, SIGTERM while requests are in flight, a full buffer quota, and a model swap under
//! load.

#![allow(clippy::expect_used)] // test helpers outside #[test] fns

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e::acked::{Acked, all_predictions, stream, wait_for};
use e2e::config::EdgedConfig;
use e2e::daemon::{Daemon, install_model, mlp_request, set_current, try_http};
use e2e::wait::{eventually, when};

#[test]
fn kill_9_while_streaming_loses_no_acknowledged_prediction_or_label_and_duplicates_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    install_model(&state, "mlp", 1);
    let config = EdgedConfig::new(&state);
    let d = Daemon::start(&state, &config);
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Acked::default()));
    let progress = Arc::new(AtomicUsize::new(0));
    let clients = stream(&d, 8, stop.clone(), acked.clone(), progress.clone());
    wait_for(&progress, 1500);
    d.kill9();
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().expect("client");
    }
    let acked = std::mem::take(&mut *acked.lock().expect("lock"));
    assert!(acked.predictions.len() >= 1500);

    let d = Daemon::start(&state, &config);
    acked.assert_stored_once(&d);
    // Retrying an acknowledged request after the crash returns the stored prediction.
    let (request_id, id) = acked.predictions.iter().next().expect("one");
    let seed: u32 = request_id
        .rsplit('-')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("seed");
    let (_, reply) = d.post_json(
        "/v2/models/mlp/infer",
        &mlp_request(Some(request_id), 1, seed),
    );
    assert_eq!(
        reply["parameters"]["prediction_id"].as_str(),
        Some(id.as_str())
    );
    assert_eq!(reply["parameters"]["replayed"], true);
    // The quality window was rebuilt from the labels in the buffer.
    let rows = d
        .metric("edged_model_labelled_rows{model=\"mlp\",version=\"1\"}")
        .expect("rows");
    assert!(
        rows >= acked.labels.len() as f64,
        "{rows} < {}",
        acked.labels.len()
    );
}

#[test]
fn sigterm_drains_requests_in_flight_flushes_and_exits_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    install_model(&state, "mlp", 1);
    // Acknowledgements do not wait for the disk here: only the shutdown flush saves them.
    let config = EdgedConfig::new(&state)
        .set("store", "durable_ack", false)
        .set("store", "background_flush", Duration::from_secs(60));
    let d = Daemon::start(&state, &config);
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Acked::default()));
    let progress = Arc::new(AtomicUsize::new(0));
    let clients = stream(&d, 4, stop.clone(), acked.clone(), progress.clone());
    wait_for(&progress, 500);
    let started = std::time::Instant::now();
    let status = d.terminate();
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().expect("client");
    }
    assert!(status.success(), "exit {status}");
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "shutdown took {:?}",
        started.elapsed()
    );
    let acked = std::mem::take(&mut *acked.lock().expect("lock"));
    let d = Daemon::start(&state, &config);
    let stored: HashSet<String> = all_predictions(&d)
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    let lost: Vec<_> = acked
        .predictions
        .values()
        .filter(|id| !stored.contains(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged predictions lost: {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
}

#[test]
fn full_quota_evicts_oldest_unlabelled_first_keeps_labelled_and_counts_every_drop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    install_model(&state, "mlp", 1);
    let config = EdgedConfig::new(&state).set("store", "quota", "64KiB");
    let d = Daemon::start(&state, &config);
    let mut ids = Vec::new();
    let mut labelled = Vec::new();
    for i in 0..400u32 {
        let (status, reply) = d.post_json("/v2/models/mlp/infer", &mlp_request(None, 1, i));
        assert_eq!(status, 200, "{reply}");
        let id = reply["parameters"]["prediction_id"]
            .as_str()
            .expect("id")
            .to_string();
        if i % 20 == 0 {
            let label = serde_json::json!({"prediction_id": id, "label": 1}).to_string();
            assert_eq!(d.post_json("/v2/models/mlp/labels", &label).0, 200);
            labelled.push(id.clone());
        }
        ids.push(id);
    }
    let bytes = d.metric("edged_buffer_bytes").expect("bytes");
    assert!(bytes <= 65536.0, "{bytes}");
    let evicted = d
        .metric("edged_buffer_dropped_total{reason=\"evicted_unlabelled\"}")
        .expect("counter");
    let present: HashSet<String> = all_predictions(&d)
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    // Every labelled prediction survived; the unlabelled survivors are the newest ones.
    for id in &labelled {
        assert!(
            present.contains(id),
            "labelled prediction {id} was evicted before unlabelled ones"
        );
    }
    let unlabelled: Vec<&String> = ids.iter().filter(|id| !labelled.contains(id)).collect();
    let kept = unlabelled
        .iter()
        .filter(|id| present.contains(**id))
        .count();
    assert!(kept > 0 && kept < unlabelled.len());
    assert!(
        unlabelled[unlabelled.len() - kept..]
            .iter()
            .all(|id| present.contains(*id)),
        "evicted out of age order"
    );
    assert_eq!(evicted as usize, unlabelled.len() - kept);
    // A label for an evicted prediction is refused, not stored.
    let gone = unlabelled[0];
    let (status, body) = d.post_json(
        "/v2/models/mlp/labels",
        &serde_json::json!({"prediction_id": gone, "label": 1}).to_string(),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("unknown_prediction"))
    );
    // Drop counters persist across a restart.
    d.terminate();
    let d = Daemon::start(&state, &config);
    assert_eq!(
        d.metric("edged_buffer_dropped_total{reason=\"evicted_unlabelled\"}"),
        Some(evicted)
    );
}

#[test]
fn model_swap_under_load_fails_no_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    install_model(&state, "mlp", 1);
    install_model(&state, "mlp", 2);
    set_current(&state, "mlp", 1);
    let d = Daemon::start(&state, &EdgedConfig::new(&state));
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let versions = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (addr, stop, failures, versions) =
                (d.addr, stop.clone(), failures.clone(), versions.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let body = mlp_request(None, 1, c * 100_000 + i);
                    match try_http(addr, "POST", "/v2/models/mlp/infer", Some(body.as_bytes())) {
                        Ok((200, text)) => {
                            let v: serde_json::Value =
                                serde_json::from_str(&text).unwrap_or_default();
                            versions
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(v["model_version"].as_str().unwrap_or("?").to_string());
                        }
                        _ => {
                            failures.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();
    let count = || versions.lock().expect("lock").len();
    while count() < 200 {
        std::thread::yield_now();
    }
    set_current(&state, "mlp", 2);
    let (status, body) = d.post_json("/v2/repository/models/mlp/load", "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["from_version"].as_str(), body["to_version"].as_str()),
        (Some("1"), Some("2"))
    );
    let swapped_at = count();
    while count() < swapped_at + 200 {
        std::thread::yield_now();
    }
    // SIGHUP swaps back.
    set_current(&state, "mlp", 1);
    d.signal("HUP");
    eventually(
        "SIGHUP swapped the model back",
        Duration::from_secs(30),
        || {
            let (_, model) = d.get_json("/v2/models/mlp");
            when(model["versions"][0] == "1", model)
        },
    );
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().expect("client");
    }
    assert_eq!(
        failures.load(Ordering::SeqCst),
        0,
        "requests failed during the swap"
    );
    let versions = versions.lock().expect("lock");
    assert!(versions.iter().any(|v| v == "1") && versions.iter().any(|v| v == "2"));
    // A model directory that does not load leaves the serving version in place.
    std::fs::write(state.join("models/mlp/current"), "../../etc").expect("write");
    let (status, body) = d.post_json("/v2/repository/models/mlp/load", "");
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        d.post_json("/v2/models/mlp/infer", &mlp_request(None, 1, 1))
            .1["model_version"],
        "1"
    );
}

/// A tmpfs mounted for one test, unmounted when dropped (needs root, as the test script runs).
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(path: &std::path::Path, size: &str) -> Self {
        std::fs::create_dir_all(path).expect("mkdir");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "cannot mount a tmpfs at {} (the full-disk test needs root)",
            path.display()
        );
        Self(path.to_path_buf())
    }

    fn grow(&self, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .expect("run mount");
        assert!(status.success(), "cannot grow the tmpfs");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn full_disk_refuses_with_store_failed_keeps_serving_and_loses_no_acknowledged_prediction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let disk = SmallDisk::mount(&state, "3m");
    install_model(&state, "mlp", 1);
    let config = EdgedConfig::new(&state).set("store", "quota", "1GiB");
    let d = Daemon::start(&state, &config);
    let mut acked = HashMap::new();
    let mut refused = None;
    for i in 0..200_000u32 {
        let request_id = format!("r{i}");
        let (status, reply) = d.post_json(
            "/v2/models/mlp/infer",
            &mlp_request(Some(&request_id), 1, i),
        );
        if status == 200 {
            acked.insert(
                request_id,
                reply["parameters"]["prediction_id"]
                    .as_str()
                    .expect("id")
                    .to_string(),
            );
        } else {
            refused = Some((status, reply));
            break;
        }
    }
    let (status, reply) = refused.expect("the disk never filled");
    assert_eq!(
        (status, reply["code"].as_str()),
        (503, Some("store_failed")),
        "{reply}"
    );
    assert!(acked.len() > 100, "only {} predictions fitted", acked.len());
    // Still alive: health, metrics and the refusal counted.
    assert_eq!(d.get_json("/v2/health/live").0, 200);
    assert!(
        d.metric("edged_errors_total{model=\"mlp\",reason=\"store_failed\"}")
            .is_some_and(|n| n >= 1.0)
    );
    d.kill9();
    // With room again, a restart finds every acknowledged prediction, once.
    disk.grow("64m");
    let d = Daemon::start(&state, &config);
    let stored = all_predictions(&d);
    let by_request: HashMap<String, String> = stored
        .iter()
        .filter_map(|(id, r, _)| Some((r.clone()?, id.clone())))
        .collect();
    assert_eq!(
        by_request.len(),
        stored.len(),
        "a request id was stored twice"
    );
    for (request_id, id) in &acked {
        assert_eq!(
            by_request.get(request_id),
            Some(id),
            "acknowledged {request_id} lost after the disk filled"
        );
    }
    assert_eq!(
        d.post_json("/v2/models/mlp/infer", &mlp_request(None, 1, 1))
            .0,
        200
    );
}
