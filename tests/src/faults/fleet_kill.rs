//! kill -9 of `fleet serve` (and its embedded broker), again and again, while boxes upload:
//! at the end the fleet holds every record each box acknowledged exactly once, and its
//! per-device count equals the records it holds (nothing double-counted, nothing missed).
//!
//! The boxes are real `edged` processes with a client each posting predictions and labels;
//! they stay up. Each cycle starts `fleet serve` on the same state and port, lets it run a
//! random moment (0 to `max_up`) and kills it.

use std::time::{Duration, Instant};

use super::edged_kill::Rng;
use super::load::{HttpLoad, Target};
use super::{Ledger, Outcome, settle};
use crate::daemon::{Daemon, install_model};
use crate::fleet::Fleet;
use crate::wait::{eventually, when};

#[derive(Debug)]
pub struct Report {
    pub cycles: u32,
    pub boxes: usize,
    /// Acknowledged predictions and labels, summed over the boxes.
    pub predictions: usize,
    pub labels: usize,
    pub outcome: Outcome,
    /// Sum over devices of the fleet's count above the distinct records it holds (records
    /// counted twice).
    pub double_counted: u64,
    /// ... and below it: records held but not counted (the count is a separate write from the
    /// records, so a kill between the two leaves it behind; the resend is then a duplicate).
    pub uncounted: u64,
    pub resent: u64,
    pub elapsed: Duration,
    pub mean_start: Duration,
}

pub fn run(cycles: u32, boxes: usize, max_up: Duration, seed: u64) -> Report {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let port = crate::free_port();
    let fleet_state = dir.path().join("fleet");
    let fleet = Fleet::start(&fleet_state, port);
    let mut daemons: Vec<(Daemon, String, HttpLoad)> = Vec::new();
    for b in 0..boxes {
        let state = dir.path().join(format!("box{b}"));
        install_model(&state, "mlp", 1);
        let (d, id) = fleet.approved_edged(&state, &fleet.edged_config(&state));
        let target: Target = Default::default();
        *target.lock().unwrap_or_else(|e| e.into_inner()) = Some(d.addr);
        let load = HttpLoad::start(&target, &format!("b{b}c"), 1, Duration::from_millis(20));
        daemons.push((d, id, load));
    }
    let mut rng = Rng::new(seed);
    let mut fleet = Some(fleet);
    let mut start_time = Duration::ZERO;
    for _ in 0..cycles {
        std::thread::sleep(Duration::from_millis(rng.below(max_up.as_millis() as u64)));
        if let Some(f) = fleet.take() {
            f.kill9();
        }
        let t = Instant::now();
        fleet = Some(Fleet::start(&fleet_state.clone(), port));
        start_time += t.elapsed();
    }
    let fleet = fleet.unwrap_or_else(|| Fleet::start(&fleet_state, port));
    let mut ledgers = Vec::new();
    for (d, id, load) in daemons {
        ledgers.push((d, id, load.finish()));
    }
    for (d, id, ledger) in &ledgers {
        let expected = ledger.records() as u64;
        eventually(
            &format!("box {id}'s backlog drains"),
            Duration::from_secs(600),
            || {
                let (_, status) = d.get_json("/v2/status");
                let (_, shown) = fleet.admin("GET", &format!("/api/devices/{id}"));
                let have = shown["device"]["records"].as_u64().unwrap_or(0);
                when(
                    status["fleet"]["backlog"] == 0,
                    format!("fleet counts {have} of {expected}; box {}", status["fleet"]),
                )
            },
        );
    }
    let refs: Vec<(&str, &Ledger)> = ledgers.iter().map(|(_, id, l)| (id.as_str(), l)).collect();
    let outcome = settle(&fleet, &refs);
    // The count per device against what the store holds for it.
    let rows = fleet.export_all("mlp");
    let (mut double_counted, mut uncounted) = (0, 0);
    for (_, id, _) in &ledgers {
        let mine: Vec<_> = rows.iter().filter(|r| r["device"] == id.as_str()).collect();
        let held = mine.len() + mine.iter().filter(|r| !r["label"].is_null()).count();
        let (_, shown) = fleet.admin("GET", &format!("/api/devices/{id}"));
        let counted = shown["device"]["records"].as_u64().unwrap_or(0);
        let held = held as u64;
        double_counted += counted.saturating_sub(held);
        uncounted += held.saturating_sub(counted);
    }
    let (_, stats) = fleet.admin("GET", "/api/stats");
    let predictions = ledgers.iter().map(|(_, _, l)| l.predictions.len()).sum();
    let labels = ledgers.iter().map(|(_, _, l)| l.labels.len()).sum();
    Report {
        cycles,
        boxes,
        predictions,
        labels,
        outcome,
        double_counted,
        uncounted,
        resent: stats["records_duplicate"].as_u64().unwrap_or(0),
        elapsed: started.elapsed(),
        mean_start: start_time / cycles.max(1),
    }
}
