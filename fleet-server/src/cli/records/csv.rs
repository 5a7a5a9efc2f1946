//! The CSV layout of `fleet records export --format csv`: one row per row of each
//! prediction's batch: `device,id,row,model,version,time_ms,label`, then the inputs (when the
//! box sampled them) and the outputs, flattened per row as `in_NAME_J` and `out_NAME_J`. The
//! header follows the first record; a record of another layout is an error rather than a
//! silently misaligned row.

use std::io::Write;

use serde_json::Value;

/// Why a record could not be written as CSV.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("cannot write the export: {0}")]
    Write(#[from] std::io::Error),
    #[error("record {index} has another layout than the first (CSV needs one layout): {reason}")]
    Layout { index: u64, reason: String },
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

/// Writes one record's rows, and the header before the first record (`index` counts records
/// from 1, for the error message).
pub(super) fn write_csv(
    record: &Value,
    header: &mut Option<Vec<String>>,
    index: u64,
    out: &mut dyn Write,
) -> Result<(), CsvError> {
    let (columns, values) = rows(record).map_err(|reason| CsvError::Layout { index, reason })?;
    match header {
        None => {
            writeln!(out, "{}", columns.join(","))?;
            *header = Some(columns);
        }
        Some(h) if *h != columns => {
            return Err(CsvError::Layout {
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
