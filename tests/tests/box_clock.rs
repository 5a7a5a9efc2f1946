//! Attack (or plain bad luck): boxes without a real-time clock. A Raspberry Pi reads 1970 at
//! boot until NTP answers, and an attacker who can delay NTP keeps it there, hoping the box
//! takes expired metadata for fresh. The box judges expiry against the newest signed time it
//! has seen (the fleet's signed desired states, release-signed manifests), persisted across
//! restarts; and a rollback is never blocked by an expired root. Clocks are set with
//! libfaketime, per process.

#![allow(clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use e2e::daemon::Daemon;
use e2e::fleet::Fleet;
use e2e::wait::{eventually, when};
use e2e::{env_refs, faketime, free_port};

const EPOCH: &str = "@1970-01-02 00:00:00";

/// Releases the example model as `version`, signed and published two days ago with one
/// day to live: expired now.
fn release_expired(dir: &Path, keys: &Path, fleet: &Fleet, version: u64) {
    let env = faketime("-2d");
    e2e::release::release_signed_with_env(
        dir,
        keys,
        fleet,
        version,
        "release-1.key",
        &["--expires", "1d"],
        &env_refs(&env),
        |_| {},
    );
}

fn wait_report(fleet: &Fleet, id: &str, version: u64, state: &str) -> serde_json::Value {
    let d = fleet.wait_device(id, 60, &format!("mlp {version} {state}"), |d| {
        let u = &d["status"]["updates"]["mlp"];
        u["version"] == version && u["state"] == state
    });
    d["status"]["updates"]["mlp"].clone()
}

#[test]
fn a_box_whose_clock_reads_1970_refuses_an_expired_manifest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (keys, root_key) = e2e::release::init_keys(dir.path());
    let fleet = Fleet::start(&dir.path().join("fleet"), 0);
    let state = dir.path().join("box");
    let clock = faketime(EPOCH);
    let edged = Daemon::start_with_env(
        &state,
        &fleet.updating_edged_config(&state, &root_key),
        &env_refs(&clock),
    );
    let id = edged.device.clone().expect("device id");
    fleet.approve(&id);
    release_expired(dir.path(), &keys, &fleet, 2);
    fleet.desire(&id, 2);
    let report = wait_report(&fleet, &id, 2, "failed");
    assert_eq!(report["reason"], "expired", "{report}");
    assert_eq!(edged.served_version(), "1");
}

#[test]
fn the_time_floor_survives_a_restart_and_a_fleet_whose_clock_is_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (keys, root_key) = e2e::release::init_keys(dir.path());
    let fleet_state = dir.path().join("fleet");
    let fleet = Fleet::start(&fleet_state, free_port());
    let state = dir.path().join("box");
    let clock = faketime(EPOCH);
    let box_config = fleet.updating_edged_config(&state, &root_key);
    let edged = Daemon::start_with_env(&state, &box_config, &env_refs(&clock));
    let id = edged.device.clone().expect("device id");
    fleet.approve(&id);
    // A regular update teaches the box what time it is.
    e2e::release::release(dir.path(), &keys, &fleet, 2, "release-1.key", &[], |_| {});
    fleet.desire(&id, 2);
    wait_report(&fleet, &id, 2, "active");
    // Power cut: the box comes back at 1970 again; the fleet comes back two days behind.
    edged.kill9();
    let config_file = fleet.config.clone();
    drop(fleet);
    let behind = faketime("-2d");
    let fleet = Fleet::start_file(&config_file, &env_refs(&behind));
    let edged = Daemon::start_with_env(&state, &box_config, &env_refs(&clock));
    // Valid by the fleet's clock and by the box's, expired by the time the box last saw.
    release_expired(dir.path(), &keys, &fleet, 3);
    fleet.desire(&id, 3);
    let report = wait_report(&fleet, &id, 3, "failed");
    assert_eq!(report["reason"], "expired", "{report}");
    assert_eq!(edged.served_version(), "2");
}

#[test]
fn a_rollback_is_not_blocked_by_an_expired_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (keys, root_key) = e2e::release::init_keys(dir.path());
    let fleet = Fleet::start(&dir.path().join("fleet"), 0);
    let state = dir.path().join("box");
    let box_config = fleet.updating_edged_config(&state, &root_key);
    let (edged, id) = fleet.approved_edged(&state, &box_config);
    e2e::release::release(dir.path(), &keys, &fleet, 2, "release-1.key", &[], |_| {});
    let rollout_id = fleet.rollout_now(2, &[]);
    wait_report(&fleet, &id, 2, "active");
    // The box's clock jumps 400 days ahead: the root document (365 days) has expired.
    edged.kill9();
    let ahead = faketime("+400d");
    let edged = Daemon::start_with_env(&state, &box_config, &env_refs(&ahead));
    assert_eq!(edged.served_version(), "2");
    fleet.rollout(&["rollback", &rollout_id]);
    eventually("back on version 1", Duration::from_secs(60), || {
        let v = edged.served_version();
        when(v == "1", v)
    });
}
