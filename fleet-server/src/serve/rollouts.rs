//! Rollouts in canary waves, gated on what the devices measure in the field.
//!
//! A rollout targets the approved devices whose tags match its selector, in a deterministic
//! order (SHA-256 of model, version and device id), and grows in waves of cumulative
//! percentages. A wave's devices get the new version as their desired state; once all of them
//! run it, the wave soaks; then the gates are evaluated over the devices that reported
//! telemetry for the new version: window error ratio, p95 latency, and accuracy on labels
//! against the version each device ran before (both from the same telemetry). Gates that hold
//! advance the rollout to the next wave; a gate that fails, or a device that refuses or fails
//! the update, halts it and sends every targeted device back to its previous version (which it
//! kept on disk). The controller runs every 500 ms in `fleet serve`; rollouts are stored in the
//! registry, so a restarted fleet carries on.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::ingest::Ingest;
use super::registry::{Approval, DesiredEntry, Device, Registry, Result, decode, now_ms, sled_err};

/// What the operator asked for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutSpec {
    pub model: String,
    pub version: u64,
    /// Tags a device must have (all of them).
    #[serde(default)]
    pub select: BTreeMap<String, String>,
    /// Cumulative percentages of the targeted devices, increasing, the last 100.
    pub waves: Vec<f64>,
    /// How long a wave runs the new version before its gates are evaluated.
    pub soak_ms: u64,
    #[serde(default)]
    pub max_error_rate: Option<f64>,
    #[serde(default)]
    pub max_p95_ms: Option<f64>,
    #[serde(default)]
    pub max_accuracy_drop: Option<f64>,
    /// For regression models: the most a device's MAE may grow over the version it ran
    /// before, as a ratio of it (0.25 = 25% worse).
    #[serde(default)]
    pub max_mae_increase: Option<f64>,
    /// A device not heard from for this long does not hold its wave back; it gets the new
    /// version when it returns (its desired state is waiting for it).
    #[serde(default = "default_offline_after")]
    pub offline_after_ms: u64,
}

fn default_offline_after() -> u64 {
    5 * 60 * 1000
}

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutState {
    Running,
    Paused,
    Completed,
    /// Stopped by the operator; devices keep what they run.
    Aborted,
    /// Halted (a gate or a device failed, or the operator asked) and sent back.
    RolledBack,
}

/// A stored rollout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rollout {
    pub id: String,
    pub spec: RolloutSpec,
    pub state: RolloutState,
    #[serde(default)]
    pub reason: Option<String>,
    pub created_ms: u64,
    /// The wave being rolled out or soaked.
    pub wave: usize,
    /// When every device of the current wave ran the new version.
    #[serde(default)]
    pub soak_started_ms: Option<u64>,
    /// Targeted devices in wave order.
    pub devices: Vec<String>,
    /// The version each device ran when its wave started.
    #[serde(default)]
    pub previous: BTreeMap<String, u64>,
}

/// Why a rollout request was refused.
pub fn check_spec(spec: &RolloutSpec) -> std::result::Result<(), String> {
    let increasing = spec.waves.windows(2).all(|w| w[0] < w[1]);
    let in_range = spec.waves.iter().all(|p| *p > 0.0 && *p <= 100.0);
    if spec.waves.is_empty() || !increasing || !in_range || spec.waves.last() != Some(&100.0) {
        return Err("waves must be increasing percentages in (0, 100] ending at 100".into());
    }
    let bad_limit = [
        spec.max_error_rate,
        spec.max_p95_ms,
        spec.max_accuracy_drop,
        spec.max_mae_increase,
    ]
    .into_iter()
    .flatten()
    .any(|x| !x.is_finite() || x < 0.0);
    if bad_limit {
        return Err("gate limits must be non-negative numbers".into());
    }
    Ok(())
}

impl Rollout {
    /// Devices in waves 0..=`wave`.
    pub fn wave_end(&self, wave: usize) -> usize {
        let n = self.devices.len();
        let pct = self.spec.waves.get(wave).copied().unwrap_or(100.0);
        ((n as f64 * pct / 100.0).ceil() as usize).clamp(1.min(n), n)
    }
}

fn tags_match(device: &Device, select: &BTreeMap<String, String>) -> bool {
    select
        .iter()
        .all(|(k, v)| device.hello.as_ref().and_then(|h| h["tags"][k].as_str()) == Some(v.as_str()))
}

/// The version of `model` a device runs now, from its latest report.
fn running(device: &Device, model: &str) -> Option<u64> {
    if let Some(v) = device
        .status
        .as_ref()
        .and_then(|s| s["models"][model].as_u64())
    {
        return Some(v);
    }
    let models = device.telemetry.as_ref()?["models"].as_array()?.clone();
    models
        .iter()
        .find(|m| m["model"] == model && m["active"] == true)
        .and_then(|m| m["version"].as_str()?.parse().ok())
}

/// The device's update report for the rollout's model: (state, detail).
fn device_state(rollout: &Rollout, device: Option<&Device>, targeted: bool) -> (String, Value) {
    let Some(device) = device else {
        return ("unknown_device".into(), Value::Null);
    };
    let report = device
        .status
        .as_ref()
        .map(|s| s["updates"][&rollout.spec.model].clone())
        .unwrap_or(Value::Null);
    let previous = rollout.previous.get(&device.id).copied();
    if rollout.state == RolloutState::RolledBack && report["state"] == "rolled_back" {
        return ("rolled_back".into(), report);
    }
    if report["version"] == rollout.spec.version {
        let state = report["state"].as_str().unwrap_or("pending").to_string();
        return (state, report);
    }
    if targeted && running(device, &rollout.spec.model) == Some(rollout.spec.version) {
        return ("active".into(), report);
    }
    if rollout.state == RolloutState::RolledBack
        && previous.is_some()
        && running(device, &rollout.spec.model) == previous
    {
        return ("rolled_back".into(), report);
    }
    let offline = now_ms().saturating_sub(device.last_seen_ms) >= rollout.spec.offline_after_ms;
    let state = match (targeted, offline) {
        (true, true) => "offline",
        (true, false) => "pending",
        (false, _) => "waiting",
    };
    (state.into(), report)
}

impl Registry {
    pub fn put_rollout(&self, rollout: &Rollout) -> Result<()> {
        let bytes = serde_json::to_vec(rollout).unwrap_or_default();
        self.rollouts
            .insert(rollout.id.as_bytes(), bytes)
            .map_err(sled_err("write rollout"))?;
        self.flush()
    }

    pub fn rollout(&self, id: &str) -> Result<Option<Rollout>> {
        match self.rollouts.get(id).map_err(sled_err("read rollout"))? {
            Some(bytes) => decode(id.as_bytes(), &bytes).map(Some),
            None => Ok(None),
        }
    }

    pub fn rollouts(&self) -> Result<Vec<Rollout>> {
        let mut out: Vec<Rollout> = Vec::new();
        for item in self.rollouts.iter() {
            let (key, bytes) = item.map_err(sled_err("scan rollouts"))?;
            out.push(decode(&key, &bytes)?);
        }
        out.sort_by_key(|r| r.created_ms);
        Ok(out)
    }

    /// Creates a rollout over the approved devices matching `spec.select`.
    pub fn create_rollout(&self, spec: RolloutSpec) -> Result<Rollout> {
        let mut devices: Vec<(String, String)> = self
            .devices()?
            .into_iter()
            .filter(|d| d.approval == Approval::Approved && tags_match(d, &spec.select))
            .map(|d| {
                let order = Sha256::digest(format!("{}/{}/{}", spec.model, spec.version, d.id));
                (hex::encode(order), d.id)
            })
            .collect();
        devices.sort();
        let id = format!("r-{}", self.db.generate_id().map_err(sled_err("id"))? + 1);
        let rollout = Rollout {
            id,
            spec,
            state: RolloutState::Running,
            reason: None,
            created_ms: now_ms(),
            wave: 0,
            soak_started_ms: None,
            devices: devices.into_iter().map(|(_, id)| id).collect(),
            previous: BTreeMap::new(),
        };
        self.put_rollout(&rollout)?;
        Ok(rollout)
    }
}

/// The rollout with, per wave, how many devices are in each state, and every device's state.
pub fn status(registry: &Registry, rollout: &Rollout) -> Result<Value> {
    let mut waves = Vec::new();
    let mut devices = Vec::new();
    let mut start = 0;
    for (w, pct) in rollout.spec.waves.iter().enumerate() {
        let end = rollout.wave_end(w);
        let targeted = rollout.state == RolloutState::Completed || w <= rollout.wave;
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
        for id in rollout.devices.get(start..end).unwrap_or_default() {
            let device = registry.device(id)?;
            let (state, report) = device_state(rollout, device.as_ref(), targeted);
            *counts.entry(state.clone()).or_default() += 1;
            if let Some(reason) = report["reason"].as_str() {
                *reasons.entry(reason.to_string()).or_default() += 1;
            }
            devices.push(json!({"device": id, "wave": w, "state": state, "report": report}));
        }
        waves.push(json!({"wave": w + 1, "percent": pct, "devices": end - start, "states": counts, "failures": reasons}));
        start = end;
    }
    Ok(json!({"rollout": rollout, "waves": waves, "devices": devices}))
}

/// The numbers of one model version in a device's latest telemetry.
fn version_numbers<'a>(device: &'a Device, model: &str, version: u64) -> Option<&'a Value> {
    device.telemetry.as_ref()?["models"]
        .as_array()?
        .iter()
        .find(|m| {
            // Telemetry carries versions as strings.
            m["model"] == model
                && m["version"].as_str().and_then(|v| v.parse().ok()) == Some(version)
        })
}

/// The first gate that fails over the devices of waves 0..=`wave`, if any.
fn failed_gate(registry: &Registry, rollout: &Rollout) -> Result<Option<String>> {
    let spec = &rollout.spec;
    for id in &rollout.devices[..rollout.wave_end(rollout.wave)] {
        let Some(device) = registry.device(id)? else {
            continue;
        };
        let Some(new) = version_numbers(&device, &spec.model, spec.version) else {
            continue;
        };
        let previous = rollout.previous.get(id).copied();
        let old = previous.and_then(|v| version_numbers(&device, &spec.model, v));
        if let Some(reason) = device_gate(spec, id, new, old) {
            return Ok(Some(reason));
        }
    }
    Ok(None)
}

/// The gate one device's telemetry fails, if any: `new` is the rolled-out version's numbers,
/// `old` those of the version the device ran before (same telemetry message).
fn device_gate(spec: &RolloutSpec, id: &str, new: &Value, old: Option<&Value>) -> Option<String> {
    if let (Some(max), Some(rate)) = (spec.max_error_rate, new["window"]["error_ratio"].as_f64()) {
        let seen = new["window"]["requests"].as_u64().unwrap_or(0)
            + new["window"]["errors"].as_u64().unwrap_or(0);
        if seen > 0 && rate > max {
            return Some(format!("error rate {rate:.3} > {max} on {id}"));
        }
    }
    if let (Some(max), Some(p95)) = (
        spec.max_p95_ms,
        new["window"]["latency_seconds"]["p95"].as_f64(),
    ) && p95 * 1e3 > max
    {
        return Some(format!(
            "p95 latency {:.2} ms > {max} ms on {id}",
            p95 * 1e3
        ));
    }
    let old = old?;
    let both = |key: &str| Some((old["quality"][key].as_f64()?, new["quality"][key].as_f64()?));
    if let (Some(max), Some((before, after))) = (spec.max_accuracy_drop, both("accuracy"))
        && before - after > max
    {
        return Some(format!(
            "accuracy {after:.3} against {before:.3} before (drop > {max}) on {id}"
        ));
    }
    if let (Some(max), Some((before, after))) = (spec.max_mae_increase, both("mae"))
        && after > before * (1.0 + max)
    {
        return Some(format!(
            "MAE {after:.4} against {before:.4} before (more than {:.0}% worse) on {id}",
            max * 100.0
        ));
    }
    None
}

/// Halts a rollout and sends its targeted devices back to the versions they ran before.
pub fn roll_back(ingest: &Ingest, rollout: &mut Rollout, reason: String) -> Result<()> {
    tracing::warn!(rollout = %rollout.id, %reason, "rollout halted; rolling back");
    rollout.state = RolloutState::RolledBack;
    rollout.reason = Some(reason);
    ingest.registry.put_rollout(rollout)?;
    for (device, version) in &rollout.previous {
        let entry = DesiredEntry {
            version: *version,
            rollback: true,
        };
        if let Err(e) = ingest.set_and_send_desired(device, &rollout.spec.model, entry) {
            tracing::error!(%device, error = %e, "cannot send the rollback");
        }
    }
    Ok(())
}

/// One step of one running rollout.
fn step(ingest: &Ingest, mut rollout: Rollout) -> Result<()> {
    let registry = &ingest.registry;
    let end = rollout.wave_end(rollout.wave);
    let mut changed = false;
    // The soak starts once every device of the wave that is online runs the new version
    // (and at least one does).
    let (mut online_pending, mut active) = (false, 0usize);
    for i in 0..end {
        let id = rollout.devices[i].clone();
        let Some(device) = registry.device(&id)? else {
            continue;
        };
        if !rollout.previous.contains_key(&id)
            && let Some(v) = running(&device, &rollout.spec.model)
        {
            rollout.previous.insert(id.clone(), v);
            changed = true;
        }
        let wanted = DesiredEntry {
            version: rollout.spec.version,
            rollback: false,
        };
        if registry.desired_of(&id)?.get(&rollout.spec.model) != Some(&wanted)
            && let Err(e) = ingest.set_and_send_desired(&id, &rollout.spec.model, wanted)
        {
            tracing::error!(device = %id, error = %e, "cannot send the desired state");
        }
        let (state, report) = device_state(&rollout, Some(&device), true);
        if state == "failed" {
            let reason = format!(
                "{id} failed the update: {}",
                report["reason"].as_str().unwrap_or("unknown")
            );
            return roll_back(ingest, &mut rollout, reason);
        }
        let online = now_ms().saturating_sub(device.last_seen_ms) < rollout.spec.offline_after_ms;
        if state == "active" {
            active += 1;
        } else if online {
            online_pending = true;
        }
    }
    let now = now_ms();
    match rollout.soak_started_ms {
        None if active > 0 && !online_pending => {
            rollout.soak_started_ms = Some(now);
            changed = true;
        }
        Some(started) if now.saturating_sub(started) >= rollout.spec.soak_ms => {
            if let Some(reason) = failed_gate(registry, &rollout)? {
                return roll_back(ingest, &mut rollout, reason);
            }
            if rollout.wave + 1 >= rollout.spec.waves.len() {
                rollout.state = RolloutState::Completed;
                tracing::info!(rollout = %rollout.id, "rollout completed");
            } else {
                rollout.wave += 1;
                rollout.soak_started_ms = None;
                tracing::info!(rollout = %rollout.id, wave = rollout.wave + 1, "rollout advances");
            }
            changed = true;
        }
        _ => {}
    }
    if changed {
        registry.put_rollout(&rollout)?;
    }
    Ok(())
}

/// Drives every running rollout until `shutdown`.
pub async fn run(ingest: std::sync::Arc<Ingest>, shutdown: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let ingest = ingest.clone();
        let result = tokio::task::spawn_blocking(move || -> Result<()> {
            for rollout in ingest.registry.rollouts()? {
                if rollout.state == RolloutState::Running {
                    step(&ingest, rollout)?;
                }
            }
            Ok(())
        })
        .await;
        if let Ok(Err(e)) = result {
            tracing::error!(error = %e, "rollout controller");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RolloutSpec {
        serde_json::from_value(json!({
            "model": "price", "version": 2, "waves": [100.0], "soak_ms": 0,
            "max_accuracy_drop": 0.05, "max_mae_increase": 0.25,
        }))
        .unwrap_or_else(|e| panic!("spec: {e}"))
    }

    fn regression(mae: f64) -> Value {
        json!({"window": {"requests": 50, "errors": 0, "error_ratio": 0.0},
               "quality": {"task": "regression", "labelled_values": 50, "mae": mae, "rmse": mae}})
    }

    #[test]
    fn a_device_whose_mae_grew_past_the_gate_fails_it() {
        let reason = device_gate(&spec(), "box-1", &regression(2.6), Some(&regression(2.0)));
        assert!(
            reason
                .as_deref()
                .is_some_and(|r| r.starts_with("MAE 2.6000")),
            "{reason:?}"
        );
    }

    #[test]
    fn a_device_within_the_mae_gate_or_without_a_previous_version_passes() {
        assert_eq!(
            device_gate(&spec(), "box-1", &regression(2.4), Some(&regression(2.0))),
            None
        );
        assert_eq!(device_gate(&spec(), "box-1", &regression(9.0), None), None);
    }

    #[test]
    fn a_classifier_is_judged_on_accuracy_not_mae() {
        let classifier =
            |accuracy: f64| json!({"quality": {"task": "classification", "accuracy": accuracy}});
        let reason = device_gate(&spec(), "box-1", &classifier(0.80), Some(&classifier(0.90)));
        assert!(
            reason.as_deref().is_some_and(|r| r.starts_with("accuracy")),
            "{reason:?}"
        );
    }
}
