//! `fleet devices list|show|approve|revoke`: the admin API from the command line.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::BodyExt;
use serde_json::Value;

/// Why an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminCallError {
    #[error("cannot reach the fleet admin API at {addr}: {reason}")]
    Unreachable { addr: SocketAddr, reason: String },
    #[error("the fleet answered {status}: {message}")]
    Refused { status: u16, message: String },
}

/// One admin API call; returns the JSON answer.
pub async fn call(
    addr: SocketAddr,
    token: &str,
    method: &str,
    path: &str,
) -> Result<Value, AdminCallError> {
    call_with(addr, token, method, path, None).await
}

/// One admin API call with an optional JSON body.
pub async fn call_with(
    addr: SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, AdminCallError> {
    let unreachable = |reason: String| AdminCallError::Unreachable { addr, reason };
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<hyper::body::Bytes>>();
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let request = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(hyper::body::Bytes::from(bytes)))
        .map_err(|e| unreachable(e.to_string()))?;
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .map_err(|_| unreachable("no answer within 10 s".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| unreachable(e.to_string()))?
        .to_bytes();
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if status >= 400 {
        return Err(AdminCallError::Refused {
            status,
            message: value["error"].as_str().unwrap_or("no message").to_string(),
        });
    }
    Ok(value)
}

/// A table of devices for a person.
pub fn render_list(value: &Value) -> String {
    let mut out = format!(
        "{:<24} {:<9} {:>8} {:>9} {:>14}\n",
        "DEVICE", "STATE", "RECORDS", "DUPLICATE", "LAST SEEN (ms)"
    );
    for d in value["devices"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<24} {:<9} {:>8} {:>9} {:>14}\n",
            d["id"].as_str().unwrap_or("?"),
            d["approval"].as_str().unwrap_or("?"),
            d["records"],
            d["duplicates"],
            d["last_seen_ms"],
        ));
    }
    out
}

fn ago(ms: &Value) -> String {
    let Some(ms) = ms.as_u64().filter(|ms| *ms > 0) else {
        return "never".into();
    };
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
pub fn render_device(device: &Value, history: &Value) -> String {
    let t = &device["telemetry"];
    let mut out = format!(
        "device      {} ({})\nsoftware    {}\nfirst seen  {}\nlast seen   {}\nrecords     {} stored ({} resent duplicates); backlog on the box: {}\n",
        device["id"].as_str().unwrap_or("?"),
        device["approval"].as_str().unwrap_or("?"),
        device["hello"]["software"].as_str().unwrap_or("?"),
        ago(&device["first_seen_ms"]),
        ago(&device["last_seen_ms"]),
        device["records"],
        device["duplicates"],
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
    let points = history.as_array().map(Vec::as_slice).unwrap_or_default();
    out.push_str(&format!("\nhistory: {} points", points.len()));
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        out.push_str(&format!(
            ", {} to {}",
            ago(&first["time_ms"]),
            ago(&last["time_ms"])
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
