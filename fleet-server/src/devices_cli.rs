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
    let unreachable = |reason: String| AdminCallError::Unreachable { addr, reason };
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<hyper::body::Bytes>>();
    let request = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .body(http_body_util::Empty::new())
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
