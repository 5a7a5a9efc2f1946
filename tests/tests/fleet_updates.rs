//! Model updates end to end with real processes: `fleet keys init`, `fleet model sign` and
//! `publish`, `fleet serve`, and an `edged` that pins the root key. The operator sets a
//! desired version with `fleet devices desire`; the box verifies, fetches the files over MQTT,
//! checks, activates and reports. Refused on the box, each with its reason reported to the
//! fleet and the serving version untouched: an older version (rollback), a file changed in the
//! fleet's store, a model failing its check cases here, a bundle for other hardware.

#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use e2e::config::Value;
use e2e::daemon::{Daemon, install_model, mlp_request};
use e2e::fleet::Fleet;
use e2e::wait::{eventually, when};
use e2e::{binary, free_port, run};

fn fleet_cli(args: &[&str]) -> String {
    let (out, stdout, stderr) = run(binary("fleet").args(args));
    assert!(out.status.success(), "fleet {args:?}: {stderr}");
    stdout
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The example model as version `version`, with `edit` applied to its files, signed with
/// release key 1 (`extra` sign arguments) and published into the running fleet's store.
fn release(
    dir: &Path,
    keys: &Path,
    fleet: &Fleet,
    version: u64,
    extra: &[&str],
    edit: impl FnOnce(&Path),
) {
    e2e::release::release(dir, keys, fleet, version, "release-1.key", extra, edit);
}

fn desire(fleet: &Fleet, id: &str, version: u64) {
    fleet.desire(id, version);
}

/// Waits until the device reports `state` for mlp `version`; returns the report.
fn wait_update(fleet: &Fleet, id: &str, version: u64, state: &str) -> serde_json::Value {
    let d = fleet.wait_device(id, 60, &format!("mlp {version} {state}"), |d| {
        let u = &d["status"]["updates"]["mlp"];
        u["version"] == version && u["state"] == state
    });
    d["status"]["updates"]["mlp"].clone()
}

fn served_version(d: &Daemon) -> String {
    let (status, reply) = d.post_json("/v2/models/mlp/infer", &mlp_request(None, 1, 3));
    assert_eq!(status, 200, "{reply}");
    reply["model_version"]
        .as_str()
        .expect("model_version")
        .to_string()
}

struct Setup {
    dir: tempfile::TempDir,
    keys: PathBuf,
    fleet: Fleet,
    edged: Daemon,
    id: String,
}

fn setup() -> Setup {
    setup_with_chunks("1KiB")
}

fn setup_with_chunks(chunk: &str) -> Setup {
    setup_with(chunk, &[])
}

/// A fleet, keys, and an approved edged fetching `chunk` at a time, `updates` added to its
/// `[updates]` table.
fn setup_with(chunk: &str, updates: &[(&str, Value)]) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let (keys, root_key) = e2e::release::init_keys(dir.path());
    let fleet = Fleet::start(&dir.path().join("fleet"), free_port());
    let state = dir.path().join("box");
    install_model(&state, "mlp", 1);
    let mut config = fleet
        .edged_config(&state)
        .updates(&root_key)
        .set("updates", "chunk_bytes", chunk)
        .set("updates", "fetch_timeout", Duration::from_secs(1));
    for (key, value) in updates {
        config = config.set("updates", key, value.clone());
    }
    let (edged, id) = fleet.approved_edged(&state, &config);
    Setup {
        dir,
        keys,
        fleet,
        edged,
        id,
    }
}

#[test]
fn a_desired_version_is_fetched_verified_checked_and_activated() {
    let t = setup();
    assert_eq!(served_version(&t.edged), "1");
    release(t.dir.path(), &t.keys, &t.fleet, 2, &[], |_| {});
    desire(&t.fleet, &t.id, 2);
    let report = wait_update(&t.fleet, &t.id, 2, "active");
    assert_eq!(report["previous"], 1, "{report}");
    assert_eq!(served_version(&t.edged), "2");
    // The previous version stays on disk; `current` names the new one.
    let models = t.edged.state.join("models/mlp");
    assert!(models.join("1/model.json").is_file());
    assert!(models.join("2/manifest.json").is_file());
    assert_eq!(
        std::fs::read_to_string(models.join("current"))
            .expect("current")
            .trim(),
        "2"
    );
    // A restart keeps serving version 2 and the desired state (sent again on hello) is a no-op.
    let (_, desired) = t
        .fleet
        .admin("GET", &format!("/api/devices/{}/desired", t.id));
    assert_eq!(desired["desired"]["mlp"]["version"], 2, "{desired}");
}

#[test]
fn an_older_version_is_refused_as_a_rollback() {
    let t = setup();
    release(t.dir.path(), &t.keys, &t.fleet, 2, &[], |_| {});
    release(t.dir.path(), &t.keys, &t.fleet, 3, &[], |_| {});
    desire(&t.fleet, &t.id, 3);
    wait_update(&t.fleet, &t.id, 3, "active");
    desire(&t.fleet, &t.id, 2);
    let report = wait_update(&t.fleet, &t.id, 2, "failed");
    assert_eq!(report["reason"], "rollback", "{report}");
    assert_eq!(served_version(&t.edged), "3");
}

#[test]
fn a_file_changed_in_the_fleets_store_is_refused_while_streaming() {
    let t = setup();
    release(t.dir.path(), &t.keys, &t.fleet, 2, &[], |dir| {
        // Distinct weights, so the blob is not shared with an untouched version.
        let path = dir.join("weights.safetensors");
        let mut bytes = std::fs::read(&path).expect("read");
        let n = bytes.len();
        bytes[n - 1] ^= 0x01;
        std::fs::write(&path, bytes).expect("write");
    });
    let weights = t.dir.path().join("release-2/weights.safetensors");
    let digest = edge_bundle::describe_file(&weights, "weights.safetensors")
        .expect("hash")
        .sha256;
    let blob = t.dir.path().join("fleet/bundles/blobs").join(&digest);
    let mut bytes = std::fs::read(&blob).expect("published blob");
    bytes[10] ^= 0xff;
    std::fs::write(&blob, bytes).expect("tamper");
    desire(&t.fleet, &t.id, 2);
    let report = wait_update(&t.fleet, &t.id, 2, "failed");
    assert_eq!(report["reason"], "file_hash", "{report}");
    assert_eq!(served_version(&t.edged), "1");
    assert!(
        !t.edged.state.join("models/mlp/2").exists(),
        "nothing of it was installed"
    );
}

#[test]
fn a_model_that_fails_its_check_cases_on_the_box_is_not_activated() {
    let t = setup();
    release(
        t.dir.path(),
        &t.keys,
        &t.fleet,
        2,
        &[],
        e2e::release::break_check_cases,
    );
    desire(&t.fleet, &t.id, 2);
    let report = wait_update(&t.fleet, &t.id, 2, "failed");
    assert_eq!(report["reason"], "check_failed", "{report}");
    assert_eq!(served_version(&t.edged), "1");
    assert!(!t.edged.state.join("models/mlp/2").exists());
}

#[test]
fn a_bundle_for_other_hardware_is_refused_then_a_good_one_activates() {
    let t = setup();
    release(
        t.dir.path(),
        &t.keys,
        &t.fleet,
        2,
        &["--hardware", "riscv64"],
        |_| {},
    );
    desire(&t.fleet, &t.id, 2);
    let report = wait_update(&t.fleet, &t.id, 2, "failed");
    assert_eq!(report["reason"], "wrong_hardware", "{report}");
    release(
        t.dir.path(),
        &t.keys,
        &t.fleet,
        3,
        &["--hardware", "any"],
        |_| {},
    );
    desire(&t.fleet, &t.id, 3);
    wait_update(&t.fleet, &t.id, 3, "active");
    eventually("version 3 served", Duration::from_secs(10), || {
        let served = served_version(&t.edged);
        when(served == "3", served)
    });
}

/// The version `current` names, after checking that its directory is complete: model.json
/// present and, for a version that came as a bundle, every file matching its manifest.
fn one_complete_version(state: &Path) -> u64 {
    let base = state.join("models/mlp");
    let current = std::fs::read_to_string(base.join("current")).expect("current");
    let dir = base.join(current.trim());
    assert!(
        dir.join("model.json").is_file(),
        "{} is incomplete",
        dir.display()
    );
    if let Ok(text) = std::fs::read(dir.join("manifest.json")) {
        let signed =
            edge_bundle::Signed::parse(edge_bundle::Domain::Manifest, &text).expect("manifest");
        let manifest: edge_bundle::Manifest = signed
            .payload(edge_bundle::Domain::Manifest)
            .expect("payload");
        for f in &manifest.files {
            edge_bundle::check_file(&dir.join(&f.name), f).expect("a verified file");
        }
    }
    current.trim().parse().expect("a version number")
}

#[test]
fn kill_9_at_any_step_of_an_update_leaves_one_complete_verified_version_active() {
    let t = setup();
    let state = t.edged.state.clone();
    let config = std::fs::read_to_string(&t.edged.config).expect("config");
    let mut edged = t.edged;
    // Kill at increasing delays after the instruction: during the fetch, the install, the
    // check, the switch or after; each time the box restarts and finishes the update.
    for (i, delay_ms) in [0u64, 3, 8, 15, 30, 60, 120].into_iter().enumerate() {
        let version = i as u64 + 2;
        release(t.dir.path(), &t.keys, &t.fleet, version, &[], |_| {});
        desire(&t.fleet, &t.id, version);
        std::thread::sleep(Duration::from_millis(delay_ms));
        edged.kill9();
        let serving = one_complete_version(&state);
        assert!(
            serving == version || serving == version - 1,
            "{serving} after killing during {version}"
        );
        edged = Daemon::start(&state, &config);
        let staging = std::fs::read_dir(state.join("models/mlp"))
            .expect("models")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains("staging"))
            .count();
        assert_eq!(
            staging, 0,
            "leftovers of the killed install are removed at start"
        );
        wait_update(&t.fleet, &t.id, version, "active");
        let what = format!("version {version} served after restart");
        eventually(&what, Duration::from_secs(30), || {
            let served = served_version(&edged);
            when(served == version.to_string(), served)
        });
        assert_eq!(one_complete_version(&state), version);
    }
}

#[test]
fn a_link_cut_mid_transfer_resumes_without_sending_completed_chunks_again() {
    let t = setup_with_chunks("64KiB");
    // A 4 MiB extra file, fetched 64 KiB at a time (the box's chunk_bytes).
    let extra: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let sha = {
        let path = t.dir.path().join("calibration.bin");
        std::fs::write(&path, &extra).expect("write");
        edge_bundle::describe_file(&path, "calibration.bin")
            .expect("hash")
            .sha256
    };
    release(t.dir.path(), &t.keys, &t.fleet, 2, &[], |dir| {
        std::fs::write(dir.join("calibration.bin"), &extra).expect("write");
    });
    desire(&t.fleet, &t.id, 2);
    let part = t
        .edged
        .state
        .join("updates/blobs")
        .join(format!("{sha}.part"));
    eventually(
        "1 MiB of the transfer on disk",
        Duration::from_secs(60),
        || {
            let len = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
            when(len >= 1 << 20, len)
        },
    );
    // Cut the link: the fleet and its embedded broker die mid-transfer.
    let port: u16 = t
        .fleet
        .mqtt
        .rsplit_once(':')
        .expect("port")
        .1
        .parse()
        .expect("port");
    let fleet_state = t.dir.path().join("fleet");
    t.fleet.kill9();
    let kept = std::fs::metadata(&part).expect("the part survives").len();
    assert!(kept >= 1 << 20 && kept < extra.len() as u64, "{kept}");
    let fleet = Fleet::start(&fleet_state, port);
    wait_update(&fleet, &t.id, 2, "active");
    assert_eq!(served_version(&t.edged), "2");
    let (_, stats) = fleet.admin("GET", "/api/stats");
    let sent_after = stats["chunk_bytes_served"].as_u64().expect("bytes served");
    let rest_of_bundle = extra.len() as u64 - kept + 16 * 1024 + 64 * 1024; // + small files, + one chunk
    assert!(
        sent_after <= rest_of_bundle,
        "{sent_after} bytes sent after the cut; {kept} were already there"
    );
    assert!(!part.exists(), "the part became a verified blob");
}

#[test]
fn a_version_failing_in_the_field_is_rolled_back_by_the_box_within_its_health_window() {
    let t = setup_with(
        "64KiB",
        &[
            ("health_window", Duration::from_secs(60).into()),
            ("health_min_samples", 5.into()),
        ],
    );
    // Version 2 renames its input: the box's clients' requests now fail.
    release(t.dir.path(), &t.keys, &t.fleet, 2, &[], |dir| {
        let path = dir.join("model.json");
        let text = std::fs::read_to_string(&path)
            .expect("read")
            .replace("\"x\"", "\"features\"");
        std::fs::write(&path, text).expect("write");
        std::fs::remove_file(dir.join("checks.json")).expect("no check cases");
    });
    desire(&t.fleet, &t.id, 2);
    let report = wait_update(&t.fleet, &t.id, 2, "active");
    assert_eq!(report["health"], "watching", "{report}");
    for seed in 0..10 {
        let (status, _) = t
            .edged
            .post_json("/v2/models/mlp/infer", &mlp_request(None, 1, seed));
        assert_eq!(status, 400, "version 2 does not know input x");
    }
    let report = wait_update(&t.fleet, &t.id, 2, "failed");
    assert_eq!(report["reason"], "health_error_rate", "{report}");
    assert_eq!(report["rolled_back_to"], 1, "{report}");
    assert_eq!(served_version(&t.edged), "1");
    // The same manifest is not tried again when the desired state repeats: the box counts
    // the repeated desired state as ignored (in its update state) and keeps serving 1.
    let before = ignored_failed(&t.edged);
    desire(&t.fleet, &t.id, 2);
    eventually(
        "the repeated desired state ignored by the box",
        Duration::from_secs(30),
        || {
            let ignored = ignored_failed(&t.edged);
            when(ignored > before, ignored)
        },
    );
    assert_eq!(served_version(&t.edged), "1");
}

/// How many desired states the box ignored because they named a manifest that had failed
/// on it (`ignored_failed` in `STATE_DIR/updates/state.json`).
fn ignored_failed(d: &Daemon) -> u64 {
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(d.state.join("updates/state.json")).expect("update state"),
    )
    .expect("json");
    state["ignored_failed"].as_u64().unwrap_or(0)
}

/// The example model's weights all zero: it predicts class 0 for every input.
fn zero_weights(dir: &Path) {
    let path = dir.join("weights.safetensors");
    let mut bytes = std::fs::read(&path).expect("read");
    let header = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    for b in &mut bytes[8 + header..] {
        *b = 0;
    }
    std::fs::write(&path, bytes).expect("write");
    std::fs::remove_file(dir.join("checks.json")).expect("no check cases");
}

#[test]
fn a_candidate_that_disagrees_with_the_active_version_fails_its_shadow_phase() {
    let t = setup_with(
        "64KiB",
        &[
            ("shadow_window", Duration::from_secs(60).into()),
            ("shadow_min_samples", 10.into()),
            ("shadow_min_agreement", 0.9.into()),
        ],
    );
    release(t.dir.path(), &t.keys, &t.fleet, 2, &[], zero_weights);
    desire(&t.fleet, &t.id, 2);
    wait_update(&t.fleet, &t.id, 2, "shadowing");
    // Live traffic is answered by version 1 only; version 2 sees copies.
    for seed in 0..30 {
        let (status, reply) = t
            .edged
            .post_json("/v2/models/mlp/infer", &mlp_request(None, 1, seed));
        assert_eq!(status, 200, "{reply}");
        assert_eq!(
            reply["model_version"], "1",
            "the shadow's outputs are never served"
        );
    }
    let report = wait_update(&t.fleet, &t.id, 2, "failed");
    assert_eq!(report["reason"], "shadow_disagreement", "{report}");
    assert_eq!(served_version(&t.edged), "1");
    assert!(
        !t.edged.state.join("models/mlp/2").exists(),
        "the candidate is removed"
    );
}

#[test]
fn a_candidate_that_agrees_is_switched_in_after_its_shadow_phase() {
    let t = setup_with(
        "64KiB",
        &[
            ("shadow_window", Duration::from_millis(1500).into()),
            ("shadow_min_samples", 5.into()),
        ],
    );
    release(t.dir.path(), &t.keys, &t.fleet, 2, &[], |_| {});
    desire(&t.fleet, &t.id, 2);
    wait_update(&t.fleet, &t.id, 2, "shadowing");
    for seed in 0..10 {
        let (status, reply) = t
            .edged
            .post_json("/v2/models/mlp/infer", &mlp_request(None, 1, seed));
        assert_eq!(status, 200, "{reply}");
    }
    let report = wait_update(&t.fleet, &t.id, 2, "active");
    assert_eq!(report["shadow"]["agreement"], 1.0, "{report}");
    assert!(
        report["shadow"]["runs"].as_u64().unwrap_or(0) >= 5,
        "{report}"
    );
    assert_eq!(served_version(&t.edged), "2");
}

#[test]
fn a_box_follows_a_root_rotation_and_a_new_release_key() {
    // The box pinned the first root key; the organisation then rotates its root and adds a
    // release key. A version signed by the new key reaches the box through the root chain.
    let t = setup();
    let keys = s(&t.keys);
    fleet_cli(&["keys", "rotate-root", "--keys", &keys]);
    fleet_cli(&["keys", "add-release", "--keys", &keys]);
    e2e::release::release(
        t.dir.path(),
        &t.keys,
        &t.fleet,
        2,
        "release-3.key",
        &[],
        |_| {},
    );
    desire(&t.fleet, &t.id, 2);
    wait_update(&t.fleet, &t.id, 2, "active");
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(t.edged.state.join("updates/state.json")).expect("state"),
    )
    .expect("json");
    let root: serde_json::Value =
        serde_json::from_str(state["root"].as_str().expect("root")).expect("signed");
    let payload: serde_json::Value =
        serde_json::from_str(root["payload"].as_str().expect("payload")).expect("root");
    assert_eq!(payload["version"], 3, "the box trusts the newest root now");
}
