//! kill -9 of `edged`, again and again, under mixed HTTP and MQTT load, with a fleet attached:
//! at the end every prediction and label a client saw acknowledged, and every MQTT request
//! the broker acknowledged, is at the fleet exactly once.
//!
//! Each cycle starts `edged` on the same state directory, lets the load run for a random
//! moment (0 to `max_up`; sometimes before the fleet link or the MQTT session is up, sometimes
//! during an upload), and kills it. The HTTP clients retry whatever was not answered with the
//! same request id; Mosquitto queues the MQTT requests for the daemon's persistent session.

use std::time::{Duration, Instant};

use super::load::{HttpLoad, MqttLoad, Target, wait_mqtt_drained, wait_mqtt_subscribed};
use super::{Ledger, Outcome, settle};
use crate::daemon::{Daemon, install_model};
use crate::fleet::Fleet;
use crate::mosquitto::Mosquitto;
use crate::wait::{eventually, when};

/// What a run did and found.
#[derive(Debug)]
pub struct Report {
    pub cycles: u32,
    pub acked: Ledger,
    pub outcome: Outcome,
    /// Records the fleet received again and dropped as duplicates (resends after kills).
    pub resent: u64,
    pub elapsed: Duration,
    /// Time from start to the ready line, mean over the cycles.
    pub mean_start: Duration,
}

/// A small deterministic generator for the kill moments (xorshift; the seed is printed).
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Runs `cycles` kill -9 cycles of up to `max_up` each.
pub fn run(cycles: u32, max_up: Duration, seed: u64) -> Report {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let broker = Mosquitto::start(dir.path());
    let fleet = Fleet::start(&dir.path().join("fleet"), 0);
    let state = dir.path().join("box");
    install_model(&state, "mlp", 1);
    let config = fleet.edged_config(&state).mqtt(&broker.addr(), "edged-box");
    let (edged, device) = fleet.approved_edged(&state, &config);
    wait_mqtt_subscribed(broker.port, "edged");
    let target: Target = Default::default();
    *target.lock().unwrap_or_else(|e| e.into_inner()) = Some(edged.addr);
    let http = HttpLoad::start(&target, "h", 4, Duration::ZERO);
    let mqtt = MqttLoad::start(broker.port, "edged/models/mlp/in", 300);
    let mut rng = Rng::new(seed);
    let mut edged = Some(edged);
    let mut start_time = Duration::ZERO;
    for _ in 0..cycles {
        std::thread::sleep(Duration::from_millis(rng.below(max_up.as_millis() as u64)));
        if let Some(d) = edged.take() {
            *target.lock().unwrap_or_else(|e| e.into_inner()) = None;
            d.kill9();
        }
        let t = Instant::now();
        let d = Daemon::start(&state, &config);
        start_time += t.elapsed();
        *target.lock().unwrap_or_else(|e| e.into_inner()) = Some(d.addr);
        edged = Some(d);
    }
    let mut acked = http.finish();
    acked.merge(mqtt.finish());
    let d = edged.unwrap_or_else(|| Daemon::start(&state, &config));
    // Everything acknowledged reaches the fleet: the daemon works through the broker's queue
    // for it, then the box's outbox drains and stays empty; `settle` then compares,
    // retrying a while.
    wait_mqtt_drained(broker.port, "edged", Duration::from_secs(600));
    let expected = acked.records() as u64;
    let mut empty_since: Option<Instant> = None;
    let what = format!("the box's outbox drains ({expected} records acknowledged)");
    eventually(&what, Duration::from_secs(600), || {
        let (_, status) = d.get_json("/v2/status");
        if status["fleet"]["backlog"] != 0 {
            empty_since = None;
            return Err(status["fleet"].clone());
        }
        let since = *empty_since.get_or_insert_with(Instant::now);
        when(
            since.elapsed() > Duration::from_secs(3),
            status["fleet"].clone(),
        )
    });
    let outcome = settle(&fleet, &[(device.as_str(), &acked)]);
    let (_, stats) = fleet.admin("GET", "/api/stats");
    Report {
        cycles,
        outcome,
        resent: stats["records_duplicate"].as_u64().unwrap_or(0),
        elapsed: started.elapsed(),
        mean_start: start_time / cycles.max(1),
        acked,
    }
}
