//! The Prometheus text exposition format (version 0.0.4) of a [`Report`].
//!
//! Written by hand: the `prometheus-client` crate has no summaries, and our quantiles come
//! from sliding windows that it cannot express; the format itself is a few lines per family.

use std::fmt::Write;

use super::{DropQueue, Report};

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.0, "{k}=\"{v}\"");
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {}", number(value));
    }
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// Renders the report.
pub fn render(report: &Report) -> String {
    let mut o = Out(String::with_capacity(8192));
    let window = format!("{}", humantime::format_duration(report.window));

    o.family("edged_model_info", "gauge", "Model versions known since start; active=1 for the one serving, and the device it runs on.");
    for v in &report.versions {
        let version = v.version.to_string();
        o.sample(
            "edged_model_info",
            &[
                ("model", &v.model),
                ("version", &version),
                ("device", &v.device),
            ],
            if v.active { 1.0 } else { 0.0 },
        );
    }
    o.family(
        "edged_predictions_total",
        "counter",
        "Predictions answered since start.",
    );
    for v in &report.versions {
        let version = v.version.to_string();
        o.sample(
            "edged_predictions_total",
            &[("model", &v.model), ("version", &version)],
            v.predictions_total as f64,
        );
    }
    o.family(
        "edged_labels_total",
        "counter",
        "Labels joined to predictions since start.",
    );
    for v in &report.versions {
        let version = v.version.to_string();
        o.sample(
            "edged_labels_total",
            &[("model", &v.model), ("version", &version)],
            v.labels_total as f64,
        );
    }
    o.family(
        "edged_request_rate",
        "gauge",
        "Predictions per second over the sliding window.",
    );
    for v in &report.versions {
        let version = v.version.to_string();
        o.sample(
            "edged_request_rate",
            &[
                ("model", &v.model),
                ("version", &version),
                ("window", &window),
            ],
            v.window.rate(),
        );
    }
    o.family(
        "edged_error_ratio",
        "gauge",
        "Refused requests / all requests over the sliding window.",
    );
    for v in &report.versions {
        let version = v.version.to_string();
        o.sample(
            "edged_error_ratio",
            &[
                ("model", &v.model),
                ("version", &version),
                ("window", &window),
            ],
            v.window.error_ratio(),
        );
    }
    o.family(
        "edged_request_latency_seconds",
        "summary",
        "Time from request parsed to response ready, over the sliding window.",
    );
    for v in &report.versions {
        let version = v.version.to_string();
        if let Some(q) = v.window.latency {
            for (quantile, value) in ["0.5", "0.95", "0.99"].iter().zip(q) {
                o.sample(
                    "edged_request_latency_seconds",
                    &[
                        ("model", &v.model),
                        ("version", &version),
                        ("window", &window),
                        ("quantile", quantile),
                    ],
                    value,
                );
            }
        }
        o.sample(
            "edged_request_latency_seconds_count",
            &[
                ("model", &v.model),
                ("version", &version),
                ("window", &window),
            ],
            v.window.requests as f64,
        );
    }
    o.family("edged_errors_total", "counter", "Refused requests and labels since start, by reason; model=\"\" when the model name was unknown.");
    for ((model, kind), n) in &report.errors {
        o.sample(
            "edged_errors_total",
            &[("model", model), ("reason", kind.code())],
            *n as f64,
        );
    }
    quality(&mut o, report);
    regression(&mut o, report);
    store(&mut o, report);
    dropped(&mut o, report);
    o.family(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    );
    if let Some(b) = report.process.resident_bytes {
        o.sample("process_resident_memory_bytes", &[], b as f64);
    }
    o.family(
        "process_cpu_seconds_total",
        "counter",
        "User and system CPU time spent in seconds.",
    );
    if let Some(s) = report.process.cpu_seconds {
        o.sample("process_cpu_seconds_total", &[], s);
    }
    o.family(
        "edged_uptime_seconds",
        "gauge",
        "Seconds since the daemon started.",
    );
    o.sample("edged_uptime_seconds", &[], report.uptime.as_secs_f64());
    o.0
}

fn quality(o: &mut Out, report: &Report) {
    let qualities: Vec<_> = report
        .versions
        .iter()
        .filter_map(|v| Some((v, v.quality.as_ref()?, v.version.to_string())))
        .collect();
    o.family(
        "edged_model_labelled_rows",
        "gauge",
        "Labelled rows in the quality window.",
    );
    for (v, q, version) in &qualities {
        o.sample(
            "edged_model_labelled_rows",
            &[("model", &v.model), ("version", version)],
            q.samples as f64,
        );
    }
    o.family(
        "edged_model_accuracy",
        "gauge",
        "Share of labelled rows predicted right, over the quality window.",
    );
    for (v, q, version) in &qualities {
        o.sample(
            "edged_model_accuracy",
            &[("model", &v.model), ("version", version)],
            q.accuracy,
        );
    }
    for (name, help, pick) in [
        (
            "edged_model_precision",
            "Precision per class and macro-averaged, over the quality window.",
            (|c: &super::quality::ClassScores| c.precision) as fn(&_) -> f64,
        ),
        (
            "edged_model_recall",
            "Recall per class and macro-averaged, over the quality window.",
            |c| c.recall,
        ),
        (
            "edged_model_f1",
            "F1 per class and macro-averaged, over the quality window.",
            |c| c.f1,
        ),
    ] {
        o.family(name, "gauge", help);
        for (v, q, version) in &qualities {
            for (class, scores) in &q.per_class {
                let class = class.to_string();
                o.sample(
                    name,
                    &[("model", &v.model), ("version", version), ("class", &class)],
                    pick(scores),
                );
            }
            o.sample(
                name,
                &[
                    ("model", &v.model),
                    ("version", version),
                    ("class", "macro"),
                ],
                pick(&q.macro_avg),
            );
        }
    }
    o.family(
        "edged_model_roc_auc",
        "gauge",
        "ROC AUC of binary models, over the quality window.",
    );
    for (v, q, version) in &qualities {
        if let Some(auc) = q.roc_auc {
            o.sample(
                "edged_model_roc_auc",
                &[("model", &v.model), ("version", version)],
                auc,
            );
        }
    }
}

/// MAE and RMSE of regression models, with the labelled values they average over.
fn regression(o: &mut Out, report: &Report) {
    let versions: Vec<_> = report
        .versions
        .iter()
        .filter_map(|v| Some((v, v.regression.as_ref()?, v.version.to_string())))
        .collect();
    for (name, help, pick) in [
        (
            "edged_model_labelled_values",
            "Labelled values of regression models in the quality window.",
            (|r: &super::regression::RegressionSummary| r.samples as f64) as fn(&_) -> f64,
        ),
        (
            "edged_model_mae",
            "Mean absolute error of regression models, over the quality window.",
            |r| r.mae,
        ),
        (
            "edged_model_rmse",
            "Root mean squared error of regression models, over the quality window.",
            |r| r.rmse,
        ),
    ] {
        o.family(name, "gauge", help);
        for (v, r, version) in &versions {
            o.sample(name, &[("model", &v.model), ("version", version)], pick(r));
        }
    }
}

fn store(o: &mut Out, report: &Report) {
    let s = &report.store;
    o.family(
        "edged_buffer_records",
        "gauge",
        "Records in the buffer by kind.",
    );
    o.sample(
        "edged_buffer_records",
        &[("kind", "prediction")],
        s.predictions as f64,
    );
    o.sample(
        "edged_buffer_records",
        &[("kind", "label")],
        s.labelled as f64,
    );
    o.family(
        "edged_buffer_bytes",
        "gauge",
        "Logical size of buffered records (what the quota counts).",
    );
    o.sample("edged_buffer_bytes", &[], s.bytes as f64);
    o.family("edged_buffer_quota_bytes", "gauge", "The buffer quota.");
    o.sample("edged_buffer_quota_bytes", &[], s.quota_bytes as f64);
    o.family(
        "edged_buffer_disk_bytes",
        "gauge",
        "Size of sled's files on disk.",
    );
    o.sample("edged_buffer_disk_bytes", &[], s.disk_bytes as f64);
    o.family(
        "edged_buffer_dropped_total",
        "counter",
        "Records dropped, by reason (persisted across restarts).",
    );
    for (reason, n) in &s.dropped {
        o.sample(
            "edged_buffer_dropped_total",
            &[("reason", reason)],
            *n as f64,
        );
    }
    o.family(
        "edged_buffer_commits_total",
        "counter",
        "Group commits (sled flush + fsync) since start.",
    );
    o.sample("edged_buffer_commits_total", &[], s.flushes as f64);
    o.family(
        "edged_buffer_committed_writes_total",
        "counter",
        "Acknowledged writes covered by those commits.",
    );
    o.sample(
        "edged_buffer_committed_writes_total",
        &[],
        s.flushed_tickets as f64,
    );
    o.family(
        "edged_buffer_commit_seconds_total",
        "counter",
        "Time spent in group commits.",
    );
    o.sample("edged_buffer_commit_seconds_total", &[], s.flush_seconds);
    o.family(
        "edged_buffer_commit_failures_total",
        "counter",
        "Group commits that failed.",
    );
    o.sample(
        "edged_buffer_commit_failures_total",
        &[],
        s.flush_failures as f64,
    );
    o.family(
        "edged_buffer_durable_ack",
        "gauge",
        "1 when acknowledgements wait for the disk.",
    );
    o.sample(
        "edged_buffer_durable_ack",
        &[],
        if report.durable_ack { 1.0 } else { 0.0 },
    );
}

fn dropped(o: &mut Out, report: &Report) {
    o.family(
        "edged_shadow_copies_dropped_total",
        "counter",
        "Request copies not given to a candidate in its shadow phase because its queue was full.",
    );
    for ((_, model), n) in report
        .dropped
        .iter()
        .filter(|((q, _), _)| *q == DropQueue::Shadow)
    {
        o.sample(
            "edged_shadow_copies_dropped_total",
            &[("model", model)],
            *n as f64,
        );
    }
    o.family(
        "edged_fleet_link_dropped_total",
        "counter",
        "Fleet link messages dropped from a full channel, by direction and message kind.",
    );
    for (direction, queue) in [("down", DropQueue::FleetDown), ("up", DropQueue::FleetUp)] {
        for ((_, kind), n) in report.dropped.iter().filter(|((q, _), _)| *q == queue) {
            o.sample(
                "edged_fleet_link_dropped_total",
                &[("direction", direction), ("kind", kind)],
                *n as f64,
            );
        }
    }
    o.family(
        "edged_fleet_link_refused_total",
        "counter",
        "Messages from the fleet's topics refused by the box's checks, by reason.",
    );
    for ((_, reason), n) in report
        .dropped
        .iter()
        .filter(|((q, _), _)| *q == DropQueue::FleetRefused)
    {
        o.sample(
            "edged_fleet_link_refused_total",
            &[("reason", reason)],
            *n as f64,
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::{DropQueue, Report, render};

    #[test]
    fn dropped_work_is_rendered_per_queue() {
        let mut dropped = BTreeMap::new();
        dropped.insert((DropQueue::Shadow, "mlp".to_string()), 3);
        dropped.insert((DropQueue::FleetDown, "chunk".to_string()), 2);
        dropped.insert((DropQueue::FleetUp, "telemetry".to_string()), 1);
        let report = Report {
            versions: Vec::new(),
            errors: BTreeMap::new(),
            dropped,
            store: crate::store::StoreStats::default(),
            process: crate::metrics::ProcessStats::default(),
            uptime: Duration::ZERO,
            window: Duration::from_secs(60),
            durable_ack: true,
        };
        let text = render(&report);
        assert!(text.contains("edged_shadow_copies_dropped_total{model=\"mlp\"} 3\n"));
        assert!(
            text.contains("edged_fleet_link_dropped_total{direction=\"down\",kind=\"chunk\"} 2\n")
        );
        assert!(
            text.contains(
                "edged_fleet_link_dropped_total{direction=\"up\",kind=\"telemetry\"} 1\n"
            )
        );
        // Each family's samples follow its own TYPE line.
        let shadow_type = text
            .find("# TYPE edged_shadow_copies_dropped_total")
            .unwrap_or(usize::MAX);
        let link_type = text
            .find("# TYPE edged_fleet_link_dropped_total")
            .unwrap_or(0);
        let shadow_sample = text.find("edged_shadow_copies_dropped_total{").unwrap_or(0);
        assert!(shadow_type < shadow_sample && shadow_sample < link_type);
    }
}
