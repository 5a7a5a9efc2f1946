//! `edged status`: a readable summary of a running daemon, from its GET /v2/status. The one
//! HTTP client of the daemon lives here: a GET with a timeout, nothing more.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use http_body_util::BodyExt;
use serde_json::Value;

use super::{EXIT_FAILURE, Outcome, fail, load_config, runtime};

/// Where `edged status` looks when given neither `--config` nor `--addr`.
const DEFAULT_ADDR: ([u8; 4], u16) = ([127, 0, 0, 1], 8080);

pub fn status(config: Option<&Path>, addr: Option<SocketAddr>, json: bool) -> Outcome {
    let addr = match (config, addr) {
        (_, Some(addr)) => addr,
        (Some(path), None) => daemon_addr(path)?,
        (None, None) => SocketAddr::from(DEFAULT_ADDR),
    };
    let value = runtime()?
        .block_on(fetch(addr, Duration::from_secs(5)))
        .map_err(|e| fail(EXIT_FAILURE)(&e))?;
    if json {
        println!("{value:#}");
    } else {
        print!("{}", render(&value));
    }
    Ok(ExitCode::SUCCESS)
}

/// The HTTP address of the daemon running with the config at `path`: `http.listen`, or with
/// port 0 the address the daemon wrote to its state directory.
fn daemon_addr(path: &Path) -> Result<SocketAddr, ExitCode> {
    let config = load_config(path)?;
    if config.http.listen.port() != 0 {
        return Ok(config.http.listen);
    }
    let file = config.http_addr_file();
    match std::fs::read_to_string(&file).map(|s| s.trim().parse()) {
        Ok(Ok(addr)) => Ok(addr),
        _ => Err(fail(EXIT_FAILURE)(&format!(
            "http.listen uses port 0 and {} does not hold the bound address; is edged running?",
            file.display()
        ))),
    }
}

/// Why the status could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("cannot reach edged at {addr}: {reason}")]
    Unreachable { addr: SocketAddr, reason: String },
    #[error("edged at {addr} answered with something unexpected: {reason}")]
    BadAnswer { addr: SocketAddr, reason: String },
}

/// Fetches GET /v2/status from the daemon at `addr`.
async fn fetch(addr: SocketAddr, timeout: Duration) -> Result<Value, StatusError> {
    let unreachable = |reason: String| StatusError::Unreachable { addr, reason };
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<hyper::body::Bytes>>();
    let uri: hyper::Uri = format!("http://{addr}/v2/status")
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| unreachable(e.to_string()))?;
    let response = tokio::time::timeout(timeout, client.get(uri))
        .await
        .map_err(|_| unreachable(format!("no answer within {timeout:?}")))?
        .map_err(|e| unreachable(e.to_string()))?;
    let body = tokio::time::timeout(timeout, response.into_body().collect())
        .await
        .map_err(|_| unreachable("body timed out".into()))?
        .map_err(|e| unreachable(e.to_string()))?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|e| StatusError::BadAnswer {
        addr,
        reason: e.to_string(),
    })
}

/// Formats the status for a person.
fn render(status: &Value) -> String {
    let mut out = String::new();
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let mib = |v: &Value| f(v) / (1024.0 * 1024.0);
    out.push_str(&format!(
        "edged: {}, up {}, RSS {:.1} MiB, CPU {:.1} s\n",
        if status["ready"].as_bool() == Some(true) {
            "ready"
        } else {
            "NOT READY"
        },
        humantime::format_duration(Duration::from_secs(f(&status["uptime_seconds"]) as u64)),
        mib(&status["process"]["resident_bytes"]),
        f(&status["process"]["cpu_seconds"]),
    ));
    out.push_str(&format!(
        "\nmodels (request window {}):\n",
        humantime::format_duration(Duration::from_secs(f(&status["window_seconds"]) as u64))
    ));
    out.push_str(&format!(
        "  {:<16} {:>8} {:<4} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9} {:>9} {:>7}\n",
        "MODEL",
        "VERSION",
        "DEV",
        "REQ/S",
        "P50 ms",
        "P95 ms",
        "P99 ms",
        "ERR %",
        "ACCURACY",
        "MACRO F1",
        "AUC"
    ));
    for m in status["models"].as_array().into_iter().flatten() {
        let w = &m["window"];
        let lat = |q: &str| {
            w["latency_seconds"][q]
                .as_f64()
                .map_or("-".to_string(), |s| format!("{:.3}", s * 1e3))
        };
        let q = &m["quality"];
        let opt = |v: &Value, pct: bool| {
            v.as_f64().map_or("-".to_string(), |x| {
                if pct {
                    format!("{:.1}%", x * 100.0)
                } else {
                    format!("{x:.3}")
                }
            })
        };
        out.push_str(&format!(
            "{} {:<16} {:>8} {:<4} {:>9.1} {:>9} {:>9} {:>9} {:>7} {:>9} {:>9} {:>7}\n",
            if m["active"].as_bool() == Some(true) {
                "*"
            } else {
                " "
            },
            m["model"].as_str().unwrap_or("?"),
            m["version"].as_str().unwrap_or("?"),
            m["device"].as_str().unwrap_or("?"),
            f(&w["rate_per_second"]),
            lat("p50"),
            lat("p95"),
            lat("p99"),
            format!("{:.2}", f(&w["error_ratio"]) * 100.0),
            opt(&q["accuracy"], true),
            opt(&q["macro_f1"], false),
            opt(&q["roc_auc"], false),
        ));
    }
    // Regression models have errors, not accuracy: one line each under the table.
    for m in status["models"].as_array().into_iter().flatten() {
        let q = &m["quality"];
        if let (Some(mae), Some(rmse)) = (q["mae"].as_f64(), q["rmse"].as_f64()) {
            out.push_str(&format!(
                "  {} v{}: MAE {mae:.4}, RMSE {rmse:.4} on {} labelled values\n",
                m["model"].as_str().unwrap_or("?"),
                m["version"].as_str().unwrap_or("?"),
                q["labelled_values"],
            ));
        }
    }
    let b = &status["buffer"];
    out.push_str(&format!(
        "\nbuffer: {} predictions ({} labelled), {:.1} of {:.1} MiB quota, {:.1} MiB on disk, durable ack {}\n",
        b["predictions"], b["labelled"], mib(&b["bytes"]), mib(&b["quota_bytes"]), mib(&b["disk_bytes"]),
        if b["durable_ack"].as_bool() == Some(true) { "on" } else { "off" },
    ));
    if let Some(dropped) = b["dropped"].as_object() {
        let parts: Vec<String> = dropped.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push_str(&format!("dropped: {}\n", parts.join(", ")));
    }
    if let Some(fleet) = status.get("fleet") {
        let state = if fleet["connected"].as_bool() == Some(true) {
            "connected".to_string()
        } else {
            format!(
                "NOT CONNECTED ({})",
                fleet["last_error"].as_str().unwrap_or("connecting")
            )
        };
        let ack = fleet["last_ack_ms"]
            .as_u64()
            .map_or("never".to_string(), |ms| {
                let age = crate::store::now_ms().saturating_sub(ms) / 1000;
                format!(
                    "{} ago",
                    humantime::format_duration(Duration::from_secs(age))
                )
            });
        out.push_str(&format!(
            "fleet: {} via {} ({}), {state}; backlog {} records, {} acknowledged, last ack {ack}\n",
            fleet["device"].as_str().unwrap_or("?"),
            fleet["broker"].as_str().unwrap_or("?"),
            fleet["transport"].as_str().unwrap_or("?"),
            fleet["backlog"],
            fleet["records_acknowledged"],
        ));
    }
    let errors: Vec<String> = status["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let model = e["model"]
                .as_str()
                .filter(|m| !m.is_empty())
                .unwrap_or("(unknown model)");
            format!(
                "{model} {} {}",
                e["code"].as_str().unwrap_or("?"),
                e["count"]
            )
        })
        .collect();
    if !errors.is_empty() {
        out.push_str(&format!("errors since start: {}\n", errors.join(", ")));
    }
    out
}
