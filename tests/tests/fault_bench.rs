//! The short versions of `fault-bench`'s runs (the long ones are benchmarks with their own
//! command, figures in BENCHMARKS.md): the same code, fewer cycles, a faster link.

use std::time::Duration;

use e2e::faults::proxy::Impairment;
use e2e::faults::{edged_kill, fleet_kill, partition};

#[test]
#[ignore = "acknowledged predictions were lost (fault-bench edged-kill, about one per ten \
            kill cycles); the likely cause (the service's replay fast path) is fixed but not \
            yet re-run at length: un-ignore after a clean edged-kill --cycles 1000 (issue 17)"]
fn edged_killed_20_times_under_http_and_mqtt_load_loses_and_duplicates_nothing_acknowledged() {
    let r = edged_kill::run(20, Duration::from_millis(400), 7);
    assert!(r.outcome.clean(), "{}", r.outcome);
    assert!(
        r.acked.predictions.len() > 100 && !r.acked.mqtt.is_empty(),
        "{r:?}"
    );
    assert!(
        r.acked.refused.keys().all(|s| *s == 503),
        "{:?}",
        r.acked.refused
    );
}

#[test]
fn fleet_killed_8_times_under_ingest_from_4_boxes_loses_double_counts_nothing() {
    let r = fleet_kill::run(8, 4, Duration::from_millis(1500), 7);
    assert!(r.outcome.clean(), "{}", r.outcome);
    assert_eq!(r.double_counted, 0, "{r:?}");
    assert!(r.predictions > 40, "{r:?}");
}

#[test]
fn a_flapping_slow_lossy_link_delivers_every_record_once_resumes_the_transfer_and_serving_goes_on()
{
    let impairment = Impairment {
        delay: Duration::from_millis(100),
        rate: 8_000_000,
        loss: 0.3,
        rto: Duration::from_millis(300),
        flap: Duration::from_secs(2),
    };
    let r = partition::run(impairment, Duration::from_secs(2), 1);
    assert!(r.outcome.clean(), "{}", r.outcome);
    assert_eq!(r.probe_failures, 0, "{r:?}");
    assert!(r.cuts > 0, "the link was cut at least once: {r:?}");
    // Each cut loses the chunks in flight, never what was stored: a transfer that started
    // over at each of its cuts would fetch the bundle several times.
    assert!(
        r.fetched_ratio < 2.5,
        "the transfer resumed rather than restarted: {r:?}"
    );
}
