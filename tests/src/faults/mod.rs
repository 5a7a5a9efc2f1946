//! The fault benchmarks of `fault-bench` (and their short versions in `tests/fault_bench.rs`):
//! long runs of kill -9 against `edged` and `fleet serve`, and network faults between a box
//! and the fleet, each ending with a check, at the fleet, that every acknowledged record
//! arrived exactly once.
//!
//! - `load`: clients that retry until acknowledged and keep a [`Ledger`] of what was;
//! - `edged_kill`, `fleet_kill`, `partition`: the three runs;
//! - `proxy`: the userspace link between box and fleet that delays, throttles, stalls and cuts.

pub mod edged_kill;
pub mod fleet_kill;
pub mod load;
pub mod partition;
pub mod proxy;

use std::collections::{HashMap, HashSet};

/// What one box had acknowledged: by HTTP, request id -> prediction id and prediction id ->
/// label class; by MQTT, the request ids the broker acknowledged (PUBACK) to the publisher.
#[derive(Debug, Default)]
pub struct Ledger {
    pub predictions: HashMap<String, String>,
    pub labels: HashMap<String, u64>,
    pub mqtt: HashSet<String>,
    /// Non-200 answers other than the daemon being down, by status.
    pub refused: HashMap<u16, u64>,
}

impl Ledger {
    pub fn merge(&mut self, other: Ledger) {
        self.predictions.extend(other.predictions);
        self.labels.extend(other.labels);
        self.mqtt.extend(other.mqtt);
        for (status, n) in other.refused {
            *self.refused.entry(status).or_default() += n;
        }
    }

    /// Records to expect at the fleet: predictions (HTTP and MQTT) plus labels.
    pub fn records(&self) -> usize {
        self.predictions.len() + self.labels.len() + self.mqtt.len()
    }
}

/// The check at the fleet.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub lost_predictions: usize,
    pub lost_labels: usize,
    pub lost_mqtt: usize,
    /// Request ids stored more than once (each extra copy counts).
    pub duplicates: usize,
}

impl Outcome {
    pub fn clean(&self) -> bool {
        *self == Self::default()
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "lost: {} predictions, {} labels, {} MQTT requests; duplicates at the fleet: {}",
            self.lost_predictions, self.lost_labels, self.lost_mqtt, self.duplicates
        )
    }
}

/// Compares the fleet's export rows of one device with what that device acknowledged.
pub fn check(rows: &[serde_json::Value], device: &str, ledger: &Ledger) -> Outcome {
    let mut by_request: HashMap<&str, Vec<&serde_json::Value>> = HashMap::new();
    for row in rows.iter().filter(|r| r["device"] == device) {
        if let Some(request) = row["correlation"].as_str() {
            by_request.entry(request).or_default().push(row);
        }
    }
    let mut outcome = Outcome {
        duplicates: by_request.values().map(|v| v.len() - 1).sum(),
        ..Outcome::default()
    };
    let mut label_of: HashMap<&str, &serde_json::Value> = HashMap::new();
    for (request, id) in &ledger.predictions {
        match by_request.get(request.as_str()) {
            Some(found) if found.iter().any(|r| r["id"] == id.as_str()) => {
                label_of.insert(id.as_str(), &found[0]["label"]);
            }
            _ => outcome.lost_predictions += 1,
        }
    }
    for (id, class) in &ledger.labels {
        let ok = label_of
            .get(id.as_str())
            .is_some_and(|l| **l == serde_json::json!([class]));
        if !ok {
            outcome.lost_labels += 1;
        }
    }
    outcome.lost_mqtt = ledger
        .mqtt
        .iter()
        .filter(|r| !by_request.contains_key(r.as_str()))
        .count();
    outcome
}

/// Checks every device's ledger against the fleet's export, again for up to a minute while
/// anything is missing (the last records may still be on their way); the sum of the outcomes.
pub fn settle(fleet: &crate::fleet::Fleet, devices: &[(&str, &Ledger)]) -> Outcome {
    let mut total = Outcome::default();
    for _ in 0..30 {
        let rows = fleet.export_all("mlp");
        total = Outcome::default();
        for (device, ledger) in devices {
            let o = check(&rows, device, ledger);
            total.lost_predictions += o.lost_predictions;
            total.lost_labels += o.lost_labels;
            total.lost_mqtt += o.lost_mqtt;
            total.duplicates += o.duplicates;
        }
        if total.clean() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    total
}
