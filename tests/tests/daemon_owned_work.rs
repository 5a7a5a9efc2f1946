//! The daemon's background work is owned: what full queues drop is counted in /metrics, and
//! SIGTERM stops the MQTT front end (its poller and handlers) before the final flush, within
//! the grace period, even when the broker is unreachable.

use std::time::{Duration, Instant};

use e2e::config::EdgedConfig;
use e2e::daemon::{Daemon, install_model};

#[test]
fn metrics_declare_the_counters_of_dropped_background_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    install_model(&state, "mlp", 1);
    let daemon = Daemon::start(&state, &EdgedConfig::new(&state));
    let (status, text) = daemon.get("/metrics");
    assert_eq!(status, 200, "{text}");
    for family in [
        "# TYPE edged_shadow_copies_dropped_total counter",
        "# TYPE edged_fleet_link_dropped_total counter",
    ] {
        assert!(text.contains(family), "missing {family:?} in {text}");
    }
    assert!(daemon.terminate().success());
}

#[test]
fn sigterm_with_an_unreachable_broker_stops_the_mqtt_front_end_and_exits_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    install_model(&state, "mlp", 1);
    // Port 1 on localhost: nothing listens, so the poller keeps reconnecting.
    let config = EdgedConfig::new(&state)
        .mqtt("127.0.0.1:1", "edged-owned")
        .set("shutdown", "grace", Duration::from_secs(1));
    let daemon = Daemon::start(&state, &config);
    let started = Instant::now();
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "stopping took {:?}",
        started.elapsed()
    );
}
