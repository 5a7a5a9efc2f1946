//! Metrics history: one compact point per telemetry message a device sends (per model
//! version: request rate, p95 latency, error ratio, accuracy and labelled rows; the upload
//! backlog; memory), kept for [`RETENTION_MS`], so an operator sees how each version did over
//! time and not only its latest numbers. Points are keyed by device and the fleet's receive
//! time (box clocks drift), so one range scan reads a device's history in order.

use serde_json::{Value, json};

use super::registry::{Registry, Result, sled_err};

/// How long points are kept.
pub const RETENTION_MS: u64 = 7 * 24 * 3600 * 1000;

fn key(device: &str, time_ms: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(device.len() + 9);
    key.extend_from_slice(device.as_bytes());
    key.push(0);
    key.extend_from_slice(&time_ms.to_be_bytes());
    key
}

/// The part of a telemetry document (edged's `/v2/status` + backlog) worth keeping.
pub fn summarise(telemetry: &Value) -> Value {
    let models: Vec<Value> = telemetry["models"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            json!({
                "model": m["model"],
                "version": m["version"],
                "active": m["active"],
                "hardware": m["device"],
                "rate_per_second": m["window"]["rate_per_second"],
                "p95_seconds": m["window"]["latency_seconds"]["p95"],
                "error_ratio": m["window"]["error_ratio"],
                "accuracy": m["quality"]["accuracy"],
                "labelled_rows": m["quality"]["labelled_rows"],
                "predictions_total": m["predictions_total"],
            })
        })
        .collect();
    json!({
        "backlog": telemetry["backlog"],
        "resident_bytes": telemetry["process"]["resident_bytes"],
        "models": models,
    })
}

impl Registry {
    /// Keeps a summary of `telemetry` received at `time_ms`, dropping the device's points
    /// older than the retention.
    pub fn record_metrics(&self, device: &str, time_ms: u64, telemetry: &Value) -> Result<()> {
        let mut point = summarise(telemetry);
        point["time_ms"] = time_ms.into();
        let bytes = serde_json::to_vec(&point).unwrap_or_default();
        self.metrics
            .insert(key(device, time_ms), bytes)
            .map_err(sled_err("write metrics"))?;
        let cutoff = time_ms.saturating_sub(RETENTION_MS);
        for old in self
            .metrics
            .range(key(device, 0)..key(device, cutoff))
            .keys()
        {
            let old = old.map_err(sled_err("scan metrics"))?;
            self.metrics
                .remove(old)
                .map_err(sled_err("prune metrics"))?;
        }
        Ok(())
    }

    /// The device's points received at or after `since_ms`, oldest first, at most the newest
    /// `limit`.
    pub fn metrics_history(&self, device: &str, since_ms: u64, limit: usize) -> Result<Vec<Value>> {
        let mut points = Vec::new();
        for item in self
            .metrics
            .range(key(device, since_ms)..key(device, u64::MAX))
            .rev()
            .take(limit)
        {
            let (_, bytes) = item.map_err(sled_err("scan metrics"))?;
            if let Ok(point) = serde_json::from_slice(&bytes) {
                points.push(point);
            }
        }
        points.reverse();
        Ok(points)
    }
}
