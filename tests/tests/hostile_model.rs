//! Hostile models during activation: a signed, published version that exhausts the box while
//! it is loaded, or takes the process down, ends as `failed` with the previous version
//! serving — after at most one restart, never a crash loop. The attacker (or a broken
//! export) gains no outage beyond that one restart.
//!
//! The tests have no systemd as PID 1, so the limit systemd's `MemoryMax` would enforce is
//! set on the running `edged` with `prlimit --data` (RLIMIT_DATA: the private memory it may
//! map), and the test restarts the process as `Restart=on-failure` would.

#![allow(clippy::expect_used)]

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use e2e::config::EdgedConfig;
use e2e::daemon::Daemon;
use e2e::fleet::Fleet;
use e2e::wait::{eventually, when};

/// Makes the example model allocate 1 GiB at batch 1 and compute exactly what it did: a
/// static Pad of `x` to `[65536, 4096]` (2^28 f32, within the per-tensor limit), reduced to
/// one number, subtracted from itself and added to `x` before the first layer.
fn hog(dir: &Path) {
    let path = dir.join("model.json");
    let mut model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    let nodes = model["nodes"].as_array_mut().expect("nodes");
    for node in nodes.iter_mut() {
        for input in node["inputs"].as_array_mut().expect("inputs") {
            if input == "x" {
                *input = "x_hog".into();
            }
        }
    }
    let hog = serde_json::json!([
        {"name": "hog_pad", "op": {"type": "Pad", "pads": [0, 0, 65535, 4080], "mode": "Constant", "value": 0.0}, "inputs": ["x"], "outputs": ["hog"]},
        {"name": "hog_mean", "op": {"type": "ReduceMean", "axes": [], "keepdims": true}, "inputs": ["hog"], "outputs": ["hog_mean"]},
        {"name": "hog_zero", "op": {"type": "Sub"}, "inputs": ["hog_mean", "hog_mean"], "outputs": ["hog_zero"]},
        {"name": "hog_add", "op": {"type": "Add"}, "inputs": ["x", "hog_zero"], "outputs": ["x_hog"]}
    ]);
    let mut all = hog.as_array().expect("array").clone();
    all.append(nodes);
    model["nodes"] = all.into();
    std::fs::write(&path, serde_json::to_vec_pretty(&model).expect("json")).expect("write");
}

fn update_of(fleet: &Fleet, id: &str) -> serde_json::Value {
    let (_, d) = fleet.admin("GET", &format!("/api/devices/{id}"));
    d["device"]["status"]["updates"]["mlp"].clone()
}

fn wait_failed(fleet: &Fleet, id: &str, version: u64, reason: &str) -> serde_json::Value {
    eventually(
        &format!("version {version} failed ({reason})"),
        Duration::from_secs(90),
        || {
            let u = update_of(fleet, id);
            let done = u["version"] == version && u["state"] == "failed" && u["reason"] == reason;
            if done { Ok(u) } else { Err(u) }
        },
    )
}

fn saved_state(state: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(state.join("updates/state.json")).expect("state.json"))
        .expect("json")
}

/// Lets the running `edged` map `headroom` bytes of private memory beyond what it has now.
fn limit_memory(edged: &Daemon, headroom: u64) {
    let pid = edged.child.id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let data_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmData:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmData");
    let limit = data_kib * 1024 + headroom;
    let (out, _, stderr) = e2e::run(
        std::process::Command::new("prlimit")
            .arg(format!("--pid={pid}"))
            .arg(format!("--data={limit}:{limit}")),
    );
    assert!(out.status.success(), "prlimit: {stderr}");
}

fn exit_of(edged: &mut Daemon, within: Duration) -> ExitStatus {
    eventually("edged exits", within, || {
        let exited = edged.child.try_wait().expect("try_wait");
        when(exited.is_some(), "still running").map(|()| exited.expect("exited"))
    })
}

fn hog_setup(memory: &str) -> (tempfile::TempDir, Fleet, EdgedConfig, Daemon, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (keys, root_key) = e2e::release::init_keys(dir.path());
    let fleet = Fleet::start(&dir.path().join("fleet"), 0);
    let state = dir.path().join("box");
    let config =
        fleet
            .updating_edged_config(&state, &root_key)
            .set("updates", "max_model_memory", memory);
    let (edged, id) = fleet.approved_edged(&state, &config);
    e2e::release::release(dir.path(), &keys, &fleet, 2, "release-1.key", &[], hog);
    (dir, fleet, config, edged, id)
}

#[test]
fn a_model_whose_warm_up_needs_more_than_max_model_memory_fails_and_the_previous_version_serves() {
    let (dir, fleet, _config, mut edged, id) = hog_setup("512MiB");
    fleet.desire(&id, 2);
    let u = wait_failed(&fleet, &id, 2, "model_memory");
    assert!(
        u["detail"].as_str().unwrap_or("").contains("[65536, 4096]"),
        "the detail names the tensor refused: {u}"
    );
    assert!(
        edged.child.try_wait().expect("try_wait").is_none(),
        "no restart was needed"
    );
    assert_eq!(edged.served_version(), "1");
    let state = dir.path().join("box");
    assert!(
        !state.join("models/mlp/2").exists(),
        "the refused version is removed"
    );
    assert!(
        !state.join("updates/trials.json").exists(),
        "the trial is over"
    );
    assert!(saved_state(&state)["failed"]["mlp"].is_string());
}

#[test]
fn a_model_that_aborts_the_process_during_activation_fails_after_one_restart() {
    // The budget lets it through: the box's own limit is what stops it, as MemoryMax would.
    let (dir, fleet, config, mut edged, id) = hog_setup("64GiB");
    let state = dir.path().join("box");
    limit_memory(&edged, 512 << 20);
    fleet.desire(&id, 2);
    let exit = exit_of(&mut edged, Duration::from_secs(90));
    assert_eq!(
        exit.signal(),
        Some(6),
        "the refused allocation aborts edged ({exit:?}); stderr:\n{}",
        edged.stderr()
    );
    let trials = std::fs::read_to_string(state.join("updates/trials.json")).expect("trials.json");
    assert!(
        trials.contains("\"check\""),
        "the trial was recorded: {trials}"
    );
    // The one restart, under the same limit.
    let edged = Daemon::start(&state, &config);
    limit_memory(&edged, 512 << 20);
    let u = wait_failed(&fleet, &id, 2, "crashed_during_activation");
    assert_eq!(u["rolled_back_to"], 1, "{u}");
    assert_eq!(edged.served_version(), "1");
    assert!(
        !state.join("models/mlp/2").exists(),
        "the version that crashed is removed"
    );
    // The fleet's desired state, sent again on hello and once more now, is not tried again.
    fleet.desire(&id, 2);
    eventually(
        "the failed manifest ignored",
        Duration::from_secs(30),
        || {
            let s = saved_state(&state);
            when(s["ignored_failed"].as_u64().unwrap_or(0) >= 1, s)
        },
    );
    let mut edged = edged;
    assert!(
        edged.child.try_wait().expect("try_wait").is_none(),
        "no crash loop"
    );
    assert_eq!(edged.served_version(), "1");
}

/// Mlp version 2 switched in with a ten-minute health window; returns what is needed to go on.
fn in_health_window() -> (tempfile::TempDir, Fleet, EdgedConfig, Daemon, String) {
    let (dir, fleet, config, edged, id, _) = in_health_window_with_keys();
    (dir, fleet, config, edged, id)
}

/// [`in_health_window`], with the release keys' directory.
fn in_health_window_with_keys() -> (
    tempfile::TempDir,
    Fleet,
    EdgedConfig,
    Daemon,
    String,
    std::path::PathBuf,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (keys, root_key) = e2e::release::init_keys(dir.path());
    let fleet = Fleet::start(&dir.path().join("fleet"), 0);
    let state = dir.path().join("box");
    let config = fleet.updating_edged_config(&state, &root_key).set(
        "updates",
        "health_window",
        Duration::from_secs(600),
    );
    let (edged, id) = fleet.approved_edged(&state, &config);
    e2e::release::release(dir.path(), &keys, &fleet, 2, "release-1.key", &[], |_| {});
    fleet.desire(&id, 2);
    eventually("version 2 watched", Duration::from_secs(60), || {
        let u = update_of(&fleet, &id);
        when(u["version"] == 2 && u["health"] == "watching", u)
    });
    (dir, fleet, config, edged, id, keys)
}

#[test]
fn a_box_that_goes_down_in_the_health_window_serves_the_previous_version_after_restart() {
    let (dir, fleet, config, edged, id) = in_health_window();
    let state = dir.path().join("box");
    edged.kill9();
    let edged = Daemon::start(&state, &config);
    assert_eq!(
        edged.served_version(),
        "1",
        "the restart serves the previous version"
    );
    let u = wait_failed(&fleet, &id, 2, "crashed_during_activation");
    assert!(u["detail"].as_str().unwrap_or("").contains("health"), "{u}");
}

#[test]
fn a_clean_stop_in_the_health_window_resumes_the_window_after_restart() {
    let (dir, fleet, config, edged, id) = in_health_window();
    let state = dir.path().join("box");
    assert!(edged.terminate().success());
    let edged = Daemon::start(&state, &config);
    assert_eq!(
        edged.served_version(),
        "2",
        "an operator's restart is no failure"
    );
    let trials = std::fs::read_to_string(state.join("updates/trials.json")).expect("trials.json");
    assert!(
        trials.contains("\"health\"") && trials.contains("\"stopped_cleanly\": false"),
        "the window is watched again: {trials}"
    );
    assert_ne!(update_of(&fleet, &id)["state"], "failed");
}

#[test]
fn a_newer_version_failing_its_check_leaves_the_watched_version_still_on_trial() {
    let (dir, fleet, config, edged, id, keys) = in_health_window_with_keys();
    let state = dir.path().join("box");
    e2e::release::release(
        dir.path(),
        &keys,
        &fleet,
        3,
        "release-1.key",
        &[],
        e2e::release::break_check_cases,
    );
    fleet.desire(&id, 3);
    wait_failed(&fleet, &id, 3, "check_failed");
    assert_eq!(edged.served_version(), "2");
    // Version 2 is still in its window: going down now fails it, as if 3 had never come.
    edged.kill9();
    let edged = Daemon::start(&state, &config);
    assert_eq!(
        edged.served_version(),
        "1",
        "the watched version is rolled back"
    );
    wait_failed(&fleet, &id, 2, "crashed_during_activation");
}
