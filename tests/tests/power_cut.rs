//! Power loss, not only kill -9: edged's buffer and the fleet's store on `powercut-fs`, a
//! filesystem that drops everything not fsynced when told (see `e2e::powercut`). Each test
//! makes a setup durable (as a box that ran once and shut down cleanly), streams writes,
//! kills the process and cuts the power at the same moment, then starts again on what a disk
//! would still hold and checks that every acknowledgement was kept.

#![allow(clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e::acked::{Acked, stream, wait_for};
use e2e::config::EdgedConfig;
use e2e::daemon::{Daemon, install_model};
use e2e::fleet::{Fleet, traffic};
use e2e::powercut::mount::PowerCut;

#[test]
fn acknowledged_predictions_and_labels_survive_a_power_cut_mid_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut disk = PowerCut::mount(&dir.path().join("disk"));
    let state = disk.path.join("state");
    install_model(&state, "mlp", 1);
    // sled's own background fsync is pushed out of the way: only the acknowledgement's
    // fsyncs can make a record durable here.
    let config = EdgedConfig::new(&state).set("store", "background_flush", Duration::from_secs(60));
    let d = Daemon::start(&state, &config);
    assert!(d.terminate().success());
    disk.checkpoint();

    let d = Daemon::start(&state, &config);
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Acked::default()));
    let progress = Arc::new(AtomicUsize::new(0));
    let clients = stream(&d, 4, stop.clone(), acked.clone(), progress.clone());
    wait_for(&progress, 400);
    d.kill9();
    let dropped = disk.cut();
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().expect("client");
    }
    eprintln!("power cut dropped {dropped}");
    let acked = std::mem::take(&mut *acked.lock().expect("lock"));
    assert!(acked.predictions.len() >= 400);

    let d = Daemon::start(&state, &config);
    acked.assert_stored_once(&d);
}

#[test]
fn records_the_fleet_acknowledged_survive_a_power_cut_of_the_fleet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut disk = PowerCut::mount(&dir.path().join("disk"));
    let fleet_state = disk.path.join("fleet");
    let port = e2e::free_port();
    let fleet = Fleet::start(&fleet_state, port);
    let state = dir.path().join("box");
    install_model(&state, "mlp", 1);
    let (edged, id) = fleet.approved_edged(&state, &fleet.edged_config(&state));
    disk.checkpoint();

    // The box deletes what the fleet acknowledged: the fleet must still have it after the cut.
    let sent = traffic(&edged, "p", 150) as u64;
    fleet.wait_device(&id, 60, "every record acknowledged", |d| {
        d["records"] == sent && d["telemetry"]["backlog"] == 0
    });
    fleet.kill9();
    let dropped = disk.cut();
    eprintln!("power cut dropped {dropped}");
    let fleet = Fleet::start(&fleet_state, port);
    let (status, shown) = fleet.admin("GET", &format!("/api/devices/{id}"));
    assert_eq!(status, 200, "{shown}");
    assert_eq!(
        shown["device"]["records"], sent,
        "the count survived with the records"
    );
    let rows = fleet.export_all("mlp");
    let predictions = 150;
    assert_eq!(
        rows.len(),
        predictions,
        "every acknowledged prediction is at the fleet after the cut"
    );
    let labelled = rows.iter().filter(|r| !r["label"].is_null()).count();
    assert_eq!(
        labelled as u64,
        sent - predictions as u64,
        "and every label"
    );
}

/// `edged enroll` on the power-cut disk, then the cut: the device id it printed is the one the
/// box still has (a lost key would make it a new, unapproved device).
#[test]
fn the_device_key_survives_a_power_cut_right_after_enrolment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut disk = PowerCut::mount(&dir.path().join("disk"));
    let state = disk.path.join("state");
    std::fs::create_dir_all(&state).expect("mkdir");
    disk.checkpoint();
    let config = dir.path().join("edged.toml");
    std::fs::write(&config, EdgedConfig::new(&state).to_string()).expect("config");
    let enroll = || {
        let (out, stdout, stderr) = e2e::run(
            e2e::binary("edged")
                .arg("enroll")
                .arg("--config")
                .arg(&config),
        );
        assert!(out.status.success(), "edged enroll: {stderr}");
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("device_id ").map(str::to_string))
            .expect("device_id line")
    };
    let first = enroll();
    let dropped = disk.cut();
    eprintln!("power cut dropped {dropped}");
    assert_eq!(enroll(), first, "the box kept its identity");
}
