//! Full disks on the box: over ten consecutive updates, disk use stays bounded. After each
//! commit the served version and the one before it stay (the rollback target), older
//! versions, finished downloads and abandoned `.part` files go, and what went is counted.

#![allow(clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use e2e::fleet::Fleet;
use e2e::wait::{eventually, when};

fn disk_use(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_use(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn versions_on_disk(state: &Path) -> Vec<u64> {
    let mut v: Vec<u64> = std::fs::read_dir(state.join("models/mlp"))
        .expect("models/mlp")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn ten_consecutive_updates_keep_the_served_and_previous_versions_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (keys, root_key) = e2e::release::init_keys(dir.path());
    let fleet = Fleet::start(&dir.path().join("fleet"), 0);
    let state = dir.path().join("box");
    let config =
        fleet
            .updating_edged_config(&state, &root_key)
            .set("updates", "chunk_bytes", "4KiB");
    let (edged, id) = fleet.approved_edged(&state, &config);
    // An abandoned download from before (a version the fleet no longer wants).
    let abandoned = state
        .join("updates/blobs")
        .join(format!("{}.part", "ab".repeat(32)));
    std::fs::write(&abandoned, vec![0u8; 50_000]).expect("write");
    let one_version = disk_use(&state.join("models/mlp/1"));
    let mut peak = 0;
    for version in 2..=11u64 {
        e2e::release::release(
            dir.path(),
            &keys,
            &fleet,
            version,
            "release-1.key",
            &[],
            |_| {},
        );
        fleet.desire(&id, version);
        eventually(
            &format!("version {version} committed"),
            Duration::from_secs(60),
            || {
                let (_, d) = fleet.admin("GET", &format!("/api/devices/{id}"));
                let u = &d["device"]["status"]["updates"]["mlp"];
                when(
                    u["version"] == version && u["health"] == "committed",
                    u.clone(),
                )
            },
        );
        assert_eq!(edged.served_version(), version.to_string());
        // The reclaim follows the commit report: wait for it to show on disk.
        eventually("the reclaim", Duration::from_secs(10), || {
            let on_disk = versions_on_disk(&state);
            when(
                on_disk == vec![version - 1, version],
                format!("{on_disk:?}"),
            )
        });
        peak = peak.max(disk_use(&state.join("models")) + disk_use(&state.join("updates/blobs")));
    }
    assert!(!abandoned.exists(), "the abandoned download is gone");
    assert_eq!(
        disk_use(&state.join("updates/blobs")),
        0,
        "no finished download is kept"
    );
    assert!(
        peak <= 3 * one_version,
        "disk use peaked at {peak} bytes, {one_version} per version"
    );
    let saved: serde_json::Value = serde_json::from_slice(
        &std::fs::read(state.join("updates/state.json")).expect("state.json"),
    )
    .expect("json");
    assert!(
        saved["reclaimed_files"].as_u64().unwrap_or(0) >= 9,
        "reclaims are counted: {saved}"
    );
    // The kept previous version is a working rollback target.
    assert_eq!(versions_on_disk(&state), vec![10, 11]);
}
