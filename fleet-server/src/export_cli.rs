//! `fleet records export`: labelled predictions for retraining, as JSON lines or CSV, streamed
//! from the admin API with a progress bar on stderr.
//!
//! CSV has one row per row of each prediction's batch: `device,id,row,model,version,time_ms,
//! label`, then the inputs (when the box sampled them) and the outputs, flattened per row as
//! `in_NAME_J` and `out_NAME_J`. The header follows the first record; a record of another
//! layout is an error rather than a silently misaligned row.

use std::io::Write;
use std::net::SocketAddr;

use http_body_util::BodyExt;
use serde_json::Value;

use crate::devices_cli::AdminCallError;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Admin(#[from] AdminCallError),
    #[error("cannot write the export: {0}")]
    Write(#[from] std::io::Error),
    #[error("record {index} has another layout than the first (CSV needs one layout): {reason}")]
    Layout { index: u64, reason: String },
}

/// Streams the export to `out`; returns the number of records written.
pub async fn export(
    addr: SocketAddr,
    token: &str,
    query: &str,
    format: Format,
    out: &mut dyn Write,
) -> Result<u64, ExportError> {
    let unreachable = |reason: String| AdminCallError::Unreachable { addr, reason };
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<hyper::body::Bytes>>();
    let request = hyper::Request::get(format!("http://{addr}/api/records/export?{query}"))
        .header("authorization", format!("Bearer {token}"))
        .body(http_body_util::Empty::new())
        .map_err(|e| unreachable(e.to_string()))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let status = response.status().as_u16();
    let total: u64 = response
        .headers()
        .get("x-records-total")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = response.into_body();
    if status >= 400 {
        let bytes = body
            .collect()
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        return Err(AdminCallError::Refused {
            status,
            message: value["error"].as_str().unwrap_or("no message").to_string(),
        }
        .into());
    }
    let mut progress = Progress::new(total);
    let mut pending = Vec::new();
    let mut header: Option<Vec<String>> = None;
    let mut n = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| unreachable(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            n += 1;
            match format {
                Format::Jsonl => out.write_all(&line)?,
                Format::Csv => {
                    let record: Value = serde_json::from_slice(&line).unwrap_or(Value::Null);
                    write_csv(&record, &mut header, n, out)?;
                }
            }
            progress.tick(n);
        }
    }
    progress.finish(n);
    out.flush()?;
    Ok(n)
}

/// The columns and values of one record's rows.
fn rows(record: &Value) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let outputs = record["outputs"].as_array().cloned().unwrap_or_default();
    let batch = outputs
        .first()
        .and_then(|o| o["shape"][0].as_u64())
        .unwrap_or(1)
        .max(1) as usize;
    let mut columns: Vec<String> = [
        "device", "id", "row", "model", "version", "time_ms", "label",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut tensors = Vec::new();
    for (prefix, list) in [("in", record["inputs"].as_array()), ("out", Some(&outputs))] {
        for t in list.into_iter().flatten() {
            let data: Vec<f64> = t["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64)
                .collect();
            if !data.len().is_multiple_of(batch) {
                return Err(format!(
                    "{} values do not split into {batch} rows",
                    data.len()
                ));
            }
            let width = data.len() / batch;
            let name = t["name"].as_str().unwrap_or("?");
            columns.extend((0..width).map(|j| format!("{prefix}_{name}_{j}")));
            tensors.push((width, data));
        }
    }
    let labels: Vec<String> = record["label"]
        .as_array()
        .map(|l| l.iter().map(|c| c.to_string()).collect())
        .unwrap_or_default();
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    let values = (0..batch)
        .map(|r| {
            let mut row = vec![
                text(&record["device"]),
                text(&record["id"]),
                r.to_string(),
                text(&record["model"]),
                text(&record["version"]),
                text(&record["time_ms"]),
                labels.get(r).cloned().unwrap_or_default(),
            ];
            for (width, data) in &tensors {
                row.extend(
                    data[r * width..(r + 1) * width]
                        .iter()
                        .map(|v| v.to_string()),
                );
            }
            row
        })
        .collect();
    Ok((columns, values))
}

fn write_csv(
    record: &Value,
    header: &mut Option<Vec<String>>,
    index: u64,
    out: &mut dyn Write,
) -> Result<(), ExportError> {
    let (columns, values) = rows(record).map_err(|reason| ExportError::Layout { index, reason })?;
    match header {
        None => {
            writeln!(out, "{}", columns.join(","))?;
            *header = Some(columns);
        }
        Some(h) if *h != columns => {
            return Err(ExportError::Layout {
                index,
                reason: format!("{} columns instead of {}", columns.len(), h.len()),
            });
        }
        Some(_) => {}
    }
    for row in values {
        let escaped: Vec<String> = row
            .iter()
            .map(|v| {
                if v.contains([',', '"', '\n']) {
                    format!("\"{}\"", v.replace('"', "\"\""))
                } else {
                    v.clone()
                }
            })
            .collect();
        writeln!(out, "{}", escaped.join(","))?;
    }
    Ok(())
}

/// A progress bar on stderr, drawn only when stderr is a terminal, at most 10 times a second.
/// (indicatif would do this, but adding it changes the feature set of crates shared with the
/// Burn stack and costs a 30-minute rebuild; this is 30 lines.)
struct Progress {
    total: u64,
    shown: bool,
    started: std::time::Instant,
    last: std::time::Instant,
}

impl Progress {
    fn new(total: u64) -> Self {
        let now = std::time::Instant::now();
        Self {
            total,
            shown: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            started: now,
            last: now,
        }
    }

    fn tick(&mut self, n: u64) {
        if !self.shown || self.last.elapsed() < std::time::Duration::from_millis(100) {
            return;
        }
        self.last = std::time::Instant::now();
        let width = 40usize;
        let filled = if self.total == 0 {
            0
        } else {
            (n.min(self.total) as usize * width) / self.total as usize
        };
        let rate = n as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        eprint!(
            "\r[{}{}] {n}/{} records, {rate:.0}/s",
            "#".repeat(filled),
            " ".repeat(width - filled),
            self.total
        );
    }

    fn finish(&mut self, n: u64) {
        if self.shown {
            eprint!("\r{}\r", " ".repeat(80));
        }
        let _ = n;
    }
}
