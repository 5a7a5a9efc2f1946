//! Network faults between a box and the fleet ([`super::proxy`]: delay, a slow link, loss as
//! retransmission stalls, a link that flaps) during an upload and during a large model
//! transfer: every record arrives exactly once, the transfer resumes where it stopped rather
//! than starting over, and the box keeps answering predictions all along.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::load::{HttpLoad, Target};
use super::proxy::{Impairment, Proxy};
use super::{Outcome, settle};
use crate::daemon::{install_model, mlp_request, try_http};
use crate::fleet::Fleet;
use crate::wait::{eventually, when};

#[derive(Debug)]
pub struct Report {
    pub impairment: Impairment,
    pub records: usize,
    pub outcome: Outcome,
    pub upload_drain: Duration,
    pub bundle_bytes: u64,
    pub transfer: Duration,
    /// Chunk bytes the fleet served / bundle bytes (1.0: nothing fetched twice).
    pub fetched_ratio: f64,
    pub cuts: u64,
    pub connections: u64,
    /// Local predictions probed during the faults, the failed ones, and the p99 in ms.
    pub probes: u64,
    pub probe_failures: u64,
    pub probe_p99_ms: f64,
}

/// Predictions posted to the box every 200 ms while the faults last, with their latency (few,
/// so they add little to the upload being measured).
fn probe(
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(u64, u64, f64)> {
    std::thread::spawn(move || {
        let mut h = crate::load::hist();
        let mut failures = 0;
        while !stop.load(Ordering::SeqCst) {
            let t = Instant::now();
            let body = mlp_request(None, 1, 7);
            match try_http(addr, "POST", "/v2/models/mlp/infer", Some(body.as_bytes())) {
                Ok((200, _)) => {
                    let _ = h.record(t.elapsed().as_micros().max(1) as u64);
                }
                _ => failures += 1,
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        (
            h.len() + failures,
            failures,
            h.value_at_quantile(0.99) as f64 / 1000.0,
        )
    })
}

/// `upload` seconds of load, then a `model_mib` MiB model, both through `impairment`.
pub fn run(impairment: Impairment, upload: Duration, model_mib: usize) -> Report {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let (keys, root) = crate::release::init_keys(dir.path());
    let fleet = Fleet::start(&dir.path().join("fleet"), 0);
    let upstream = fleet
        .mqtt
        .parse()
        .unwrap_or_else(|e| panic!("fleet mqtt addr: {e}"));
    let proxy = Proxy::start(upstream);
    let state = dir.path().join("box");
    install_model(&state, "mlp", 1);
    let config = fleet
        .edged_config(&state)
        .set("fleet", "broker", proxy.addr.to_string())
        // The daemon's defaults, not the tests' small batches and short timeouts.
        .set("fleet", "batch_size", 2000)
        .set("fleet", "ack_timeout", Duration::from_secs(10))
        .updates(&root)
        .set("updates", "health_window", Duration::ZERO);
    let (edged, device) = fleet.approved_edged(&state, &config);
    let stop = Arc::new(AtomicBool::new(false));
    let prober = probe(edged.addr, stop.clone());
    proxy.set(impairment);

    // The upload.
    let target: Target = Default::default();
    *target.lock().unwrap_or_else(|e| e.into_inner()) = Some(edged.addr);
    let load = HttpLoad::start(&target, "u", 2, Duration::from_millis(5));
    std::thread::sleep(upload);
    let ledger = load.finish();
    let t = Instant::now();
    let expected = ledger.records() as u64;
    eventually(
        "the upload arrives through the faults",
        Duration::from_secs(1200),
        || {
            let (_, shown) = fleet.admin("GET", &format!("/api/devices/{device}"));
            let have = shown["device"]["records"].as_u64().unwrap_or(0);
            when(have >= expected, format!("{have} of {expected}"))
        },
    );
    let upload_drain = t.elapsed();
    let outcome = settle(&fleet, &[(device.as_str(), &ledger)]);

    // The model transfer.
    let big: Vec<u8> = (0..(model_mib as u32) << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    crate::release::release(dir.path(), &keys, &fleet, 2, "release-1.key", &[], |m| {
        std::fs::write(m.join("calibration.bin"), &big).unwrap_or_else(|e| panic!("{e}"));
    });
    let bundle_bytes = std::fs::read_dir(dir.path().join("release-2"))
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    let t = Instant::now();
    fleet.desire(&device, 2);
    eventually(
        "version 2 arrives through the faults",
        Duration::from_secs(1500),
        || {
            let (_, status) = edged.get_json("/v2/models/mlp");
            when(status["versions"][0] == "2", status)
        },
    );
    let transfer = t.elapsed();
    stop.store(true, Ordering::SeqCst);
    let (probes, probe_failures, probe_p99_ms) =
        prober.join().unwrap_or_else(|_| panic!("prober panicked"));
    let (_, stats) = fleet.admin("GET", "/api/stats");
    let served = stats["chunk_bytes_served"].as_u64().unwrap_or(0);
    let (cuts, connections) = proxy.counts();
    drop(edged);
    Report {
        impairment,
        records: ledger.records(),
        outcome,
        upload_drain,
        bundle_bytes,
        transfer,
        fetched_ratio: served as f64 / bundle_bytes.max(1) as f64,
        cuts,
        connections,
        probes,
        probe_failures,
        probe_p99_ms,
    }
}
