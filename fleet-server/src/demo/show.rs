//! What the demo prints: each version's numbers as the boxes measure them (accuracy on
//! labels, p95 latency), a live line per second during the rollout, and the summary.

use std::collections::BTreeMap;

use serde_json::Value;

use super::DemoError;
use crate::admin_client::AdminClient;
use crate::serve::admin::types::{RolloutStatus, wire_name};

/// One model version's numbers over all boxes.
#[derive(Debug, Default, Clone)]
pub struct VersionNumbers {
    pub labelled: u64,
    /// Sum of accuracy × labelled rows (for the weighted mean).
    correct: f64,
    pub p95_ms: Option<f64>,
    pub active_on: u64,
}

impl VersionNumbers {
    pub fn accuracy(&self) -> Option<f64> {
        (self.labelled > 0).then(|| self.correct / self.labelled as f64)
    }
}

/// The latest telemetry of every box, per version of the wine model.
pub async fn field_numbers(
    admin: &AdminClient,
    ids: &[String],
) -> Result<BTreeMap<u64, VersionNumbers>, DemoError> {
    let mut out: BTreeMap<u64, VersionNumbers> = BTreeMap::new();
    for id in ids {
        let device = admin.device(id).await?.device;
        let telemetry = device.telemetry.unwrap_or(Value::Null);
        for m in telemetry["models"].as_array().into_iter().flatten() {
            let Some(version) = m["version"].as_str().and_then(|v| v.parse().ok()) else {
                continue;
            };
            let n = out.entry(version).or_default();
            let labelled = m["quality"]["labelled_rows"].as_u64().unwrap_or(0);
            n.labelled += labelled;
            n.correct += m["quality"]["accuracy"].as_f64().unwrap_or(0.0) * labelled as f64;
            if let Some(p95) = m["window"]["latency_seconds"]["p95"].as_f64() {
                n.p95_ms = Some(n.p95_ms.unwrap_or(0.0).max(p95 * 1e3));
            }
            if m["active"] == true {
                n.active_on += 1;
            }
        }
    }
    Ok(out)
}

fn describe(version: u64, n: &VersionNumbers) -> String {
    format!(
        "version {version}: accuracy {} on {} labels, p95 {}, serving on {} box(es)",
        n.accuracy().map_or("-".into(), |a| format!("{a:.3}")),
        n.labelled,
        n.p95_ms.map_or("-".into(), |p| format!("{p:.2} ms")),
        n.active_on
    )
}

pub fn versions(numbers: &BTreeMap<u64, VersionNumbers>) -> String {
    numbers
        .iter()
        .map(|(v, n)| format!("  {}\n", describe(*v, n)))
        .collect()
}

/// One line per second while the rollout runs.
pub fn live_line(status: &RolloutStatus, numbers: &BTreeMap<u64, VersionNumbers>) -> String {
    let r = &status.rollout;
    let waves: Vec<String> = status
        .waves
        .iter()
        .map(|w| {
            let states: Vec<String> = w.states.iter().map(|(k, v)| format!("{v} {k}")).collect();
            format!("wave {}: {}", w.wave, states.join(", "))
        })
        .collect();
    let fields: Vec<String> = numbers
        .iter()
        .map(|(v, n)| {
            format!(
                "v{v} acc {} p95 {}",
                n.accuracy().map_or("-".into(), |a| format!("{a:.2}")),
                n.p95_ms.map_or("-".into(), |p| format!("{p:.2}ms"))
            )
        })
        .collect();
    format!(
        "[{} {}] {} | {}",
        r.id,
        wire_name(&r.state),
        waves.join(" | "),
        fields.join(" | ")
    )
}

/// The closing table.
pub fn summary(
    status: &RolloutStatus,
    numbers: &BTreeMap<u64, VersionNumbers>,
    serving: &[String],
    acknowledged: u64,
    stored: u64,
    new_version: u64,
) -> String {
    let r = &status.rollout;
    let on_new = serving
        .iter()
        .filter(|v| **v == new_version.to_string())
        .count();
    let mut out = String::from("\nSUMMARY\n");
    out.push_str(&format!(
        "rollout {}: {}{}\n",
        r.id,
        wire_name(&r.state),
        r.reason
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default()
    ));
    out.push_str(&format!(
        "boxes on version {new_version}: {on_new}/{} (serving: {})\n",
        serving.len(),
        serving.join(", ")
    ));
    for (v, n) in numbers {
        out.push_str(&format!("{}\n", describe(*v, n)));
    }
    out.push_str(&format!(
        "records acknowledged by the boxes: {acknowledged}, stored by the fleet: {stored}, lost: {}\n",
        acknowledged.saturating_sub(stored)
    ));
    out
}
