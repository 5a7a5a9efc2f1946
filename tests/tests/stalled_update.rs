//! Attack (or outage): the fleet never answers a box's fetches — its store lost a published
//! file, or something between drops the chunks. The download must not hold the updater for
//! ever: after `fetch_attempts` unanswered fetches the job fails (`fetch_timeout`, reported
//! to the fleet), the box keeps serving what it served, and a later desired version installs.

#![allow(clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use e2e::fleet::Fleet;
use e2e::wait::{eventually, when};

/// Releases the example model as version 2 with its last weight byte changed, so its
/// weights file is a blob of its own; returns that blob's hash.
fn release_distinct(dir: &Path, keys: &Path, fleet: &Fleet) -> String {
    e2e::release::release(dir, keys, fleet, 2, "release-1.key", &[], |out| {
        let path = out.join("weights.safetensors");
        let mut bytes = std::fs::read(&path).expect("read");
        let n = bytes.len();
        bytes[n - 1] ^= 0x01;
        std::fs::write(&path, bytes).expect("write");
    });
    let weights = dir.join("release-2/weights.safetensors");
    edge_bundle::describe_file(&weights, "weights.safetensors")
        .expect("hash")
        .sha256
}

#[test]
fn a_fetch_never_answered_fails_the_job_and_a_later_desired_version_still_installs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (keys, root_key) = e2e::release::init_keys(dir.path());
    let fleet = Fleet::start(&dir.path().join("fleet"), 0);
    let state = dir.path().join("box");
    let config = fleet
        .updating_edged_config(&state, &root_key)
        .set("updates", "chunk_bytes", "1KiB")
        .set("updates", "fetch_timeout", Duration::from_millis(300))
        .set("updates", "fetch_attempts", 3);
    let (edged, id) = fleet.approved_edged(&state, &config);
    // Version 2's weights vanish from the fleet's store after publishing: every fetch of
    // them goes unanswered.
    let lost = release_distinct(dir.path(), &keys, &fleet);
    std::fs::remove_file(dir.path().join("fleet/bundles/blobs").join(&lost)).expect("remove");
    fleet.desire(&id, 2);
    let device = fleet.wait_device(&id, 60, "version 2 failed", |d| {
        let u = &d["status"]["updates"]["mlp"];
        u["version"] == 2 && u["state"] == "failed"
    });
    let report = &device["status"]["updates"]["mlp"];
    assert_eq!(report["reason"], "fetch_timeout", "{report}");
    assert_eq!(edged.served_version(), "1");
    // The updater is free again: version 3 installs.
    e2e::release::release(dir.path(), &keys, &fleet, 3, "release-1.key", &[], |_| {});
    fleet.desire(&id, 3);
    eventually("serving version 3", Duration::from_secs(60), || {
        let v = edged.served_version();
        when(v == "3", v)
    });
}
