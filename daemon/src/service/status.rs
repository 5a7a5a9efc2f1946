//! The `/v2/status` document (also the body of the telemetry the fleet link sends): the
//! report in JSON, and the state of the fleet link. [`LinkStatus`] is a leaf type here, so the
//! link writes it through a `watch` channel and the service reads it without knowing the link.

use serde_json::{Value, json};

use crate::metrics::Report;

/// What `/v2/status` says about the fleet link (the backlog is added from the outbox).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LinkStatus {
    pub device: String,
    pub broker: String,
    pub transport: &'static str,
    pub connected: bool,
    /// Why the last connection attempt failed or the link was lost.
    pub last_error: Option<String>,
    /// When the fleet last acknowledged a batch (ms since the epoch).
    pub last_ack_ms: Option<u64>,
    pub records_acknowledged: u64,
}

/// The JSON behind GET /v2/status.
pub fn to_json(report: &Report, ready: bool) -> Value {
    let models: Vec<Value> = report
        .versions
        .iter()
        .map(|v| {
            let regression = v.regression.as_ref().map(|r| {
                json!({
                    "task": "regression",
                    "labelled_values": r.samples,
                    "mae": r.mae,
                    "rmse": r.rmse,
                    "non_finite_predictions": r.non_finite,
                })
            });
            let quality = v.quality.as_ref().map(|q| {
                json!({
                    "task": "classification",
                    "labelled_rows": q.samples,
                    "accuracy": q.accuracy,
                    "macro_precision": q.macro_avg.precision,
                    "macro_recall": q.macro_avg.recall,
                    "macro_f1": q.macro_avg.f1,
                    "roc_auc": q.roc_auc,
                    "per_class": q.per_class.iter().map(|(c, s)| json!({
                        "class": c, "precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support
                    })).collect::<Vec<_>>(),
                })
            });
            json!({
                "model": v.model,
                "version": v.version.to_string(),
                "active": v.active,
                "device": v.device,
                "predictions_total": v.predictions_total,
                "labels_total": v.labels_total,
                "window": {
                    "seconds": v.window.seconds,
                    "requests": v.window.requests,
                    "errors": v.window.errors,
                    "rate_per_second": v.window.rate(),
                    "error_ratio": v.window.error_ratio(),
                    "latency_seconds": v.window.latency.map(|[p50, p95, p99]| json!({"p50": p50, "p95": p95, "p99": p99})),
                },
                "quality": quality.or(regression),
            })
        })
        .collect();
    let errors: Vec<Value> = report
        .errors
        .iter()
        .map(|((model, kind), n)| json!({"model": model, "code": kind.code(), "count": n}))
        .collect();
    let s = &report.store;
    json!({
        "ready": ready,
        "uptime_seconds": report.uptime.as_secs_f64(),
        "window_seconds": report.window.as_secs_f64(),
        "process": {
            "resident_bytes": report.process.resident_bytes,
            "cpu_seconds": report.process.cpu_seconds,
            "compute_threads": crate::compute::threads(),
        },
        "models": models,
        "errors": errors,
        "buffer": {
            "durable_ack": report.durable_ack,
            "predictions": s.predictions,
            "labelled": s.labelled,
            "bytes": s.bytes,
            "quota_bytes": s.quota_bytes,
            "disk_bytes": s.disk_bytes,
            "dropped": s.dropped,
            "commits": s.flushes,
            "committed_writes": s.flushed_tickets,
        },
    })
}
