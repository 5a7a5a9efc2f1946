//! What `fleet devices list` and `fleet devices show` print: a table of devices, and one
//! device with its latest numbers per model version and how they moved over its history.
//!
//! The numbers of the device table are printed as they are, not padded to their columns (as
//! they always were: scripts may read them).

use std::time::Duration;

use serde_json::Value;

use crate::serve::admin::types::{Device, wire_name};

/// A table of devices for a person.
pub(super) fn list(devices: &[Device]) -> String {
    let mut out = format!(
        "{:<24} {:<9} {:>8} {:>9} {:>14}\n",
        "DEVICE", "STATE", "RECORDS", "DUPLICATE", "LAST SEEN (ms)"
    );
    for d in devices {
        out.push_str(&format!(
            "{:<24} {:<9} {} {} {}\n",
            d.id,
            wire_name(&d.approval),
            d.records,
            d.duplicates,
            d.last_seen_ms,
        ));
    }
    out
}

fn ago(ms: u64) -> String {
    if ms == 0 {
        return "never".into();
    }
    let seconds = crate::serve::registry::now_ms().saturating_sub(ms) / 1000;
    format!(
        "{} ago",
        humantime::format_duration(Duration::from_secs(seconds))
    )
}

fn number(v: &Value, scale: f64, decimals: usize) -> String {
    v.as_f64()
        .map_or("-".into(), |x| format!("{:.*}", decimals, x * scale))
}

/// One device for a person: identity and state, the latest telemetry per model version, and
/// the history of each version over the points given.
pub(super) fn device(device: &Device, points: &[Value]) -> String {
    let t = device.telemetry.as_ref().unwrap_or(&Value::Null);
    let hello = device.hello.as_ref().unwrap_or(&Value::Null);
    let mut out = format!(
        "device      {} ({})\nsoftware    {}\nfirst seen  {}\nlast seen   {}\nrecords     {} stored ({} resent duplicates); backlog on the box: {}\n",
        device.id,
        wire_name(&device.approval),
        hello["software"].as_str().unwrap_or("?"),
        ago(device.first_seen_ms),
        ago(device.last_seen_ms),
        device.records,
        device.duplicates,
        t["backlog"]
            .as_u64()
            .map_or("unknown".into(), |b| format!("{b} records")),
    );
    out.push_str(&format!(
        "\n{:<16} {:>8} {:<6} {:<4} {:>8} {:>8} {:>7} {:>9} {:>9}\n",
        "MODEL", "VERSION", "ACTIVE", "HW", "REQ/S", "P95 ms", "ERR %", "ACCURACY", "LABELLED"
    ));
    for m in t["models"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<16} {:>8} {:<6} {:<4} {:>8} {:>8} {:>7} {:>9} {:>9}\n",
            m["model"].as_str().unwrap_or("?"),
            m["version"].as_str().unwrap_or("?"),
            if m["active"].as_bool() == Some(true) {
                "yes"
            } else {
                "no"
            },
            m["device"].as_str().unwrap_or("?"),
            number(&m["window"]["rate_per_second"], 1.0, 1),
            number(&m["window"]["latency_seconds"]["p95"], 1e3, 2),
            number(&m["window"]["error_ratio"], 100.0, 2),
            number(&m["quality"]["accuracy"], 1.0, 3),
            m["quality"]["labelled_rows"]
                .as_u64()
                .map_or("-".into(), |n| n.to_string()),
        ));
    }
    out.push_str(&format!("\nhistory: {} points", points.len()));
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        out.push_str(&format!(
            ", {} to {}",
            ago(first["time_ms"].as_u64().unwrap_or(0)),
            ago(last["time_ms"].as_u64().unwrap_or(0))
        ));
    }
    out.push('\n');
    // Per model version: how accuracy, p95 and errors moved over the history.
    let mut versions: std::collections::BTreeMap<(String, String), Vec<&Value>> =
        Default::default();
    for point in points {
        for m in point["models"].as_array().into_iter().flatten() {
            let id = (
                m["model"].as_str().unwrap_or("?").to_string(),
                m["version"].as_str().unwrap_or("?").to_string(),
            );
            versions.entry(id).or_default().push(m);
        }
    }
    if !versions.is_empty() {
        out.push_str(&format!(
            "{:<16} {:>8} {:>7} {:>9} {:>9} {:>9} {:>10} {:>9}\n",
            "MODEL",
            "VERSION",
            "POINTS",
            "ACC FIRST",
            "ACC LAST",
            "ACC MIN",
            "P95 MAX ms",
            "ERR MAX %"
        ));
    }
    for ((model, version), samples) in &versions {
        let series = |field: &str| -> Vec<f64> {
            samples.iter().filter_map(|m| m[field].as_f64()).collect()
        };
        let accuracy = series("accuracy");
        let max = |v: Vec<f64>| {
            v.into_iter()
                .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
        };
        let show = |x: Option<f64>, scale: f64, d: usize| {
            x.map_or("-".into(), |x| format!("{:.*}", d, x * scale))
        };
        out.push_str(&format!(
            "{:<16} {:>8} {:>7} {:>9} {:>9} {:>9} {:>10} {:>9}\n",
            model,
            version,
            samples.len(),
            show(accuracy.first().copied(), 1.0, 3),
            show(accuracy.last().copied(), 1.0, 3),
            show(
                accuracy
                    .iter()
                    .copied()
                    .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.min(x)))),
                1.0,
                3
            ),
            show(max(series("p95_seconds")), 1e3, 2),
            show(max(series("error_ratio")), 100.0, 2),
        ));
    }
    out
}
