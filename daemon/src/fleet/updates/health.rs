//! The health window after a switch: the box watches the new version's own numbers against
//! the version it replaced — error ratio of its requests, p95 latency relative to the previous
//! version's, accuracy on labels relative to the previous version's (MAE, for a regression
//! model) — and rolls back by itself
//! when one is out of bounds, fleet or no fleet. Nothing is judged before `min_samples`
//! requests (or labelled predictions, for accuracy) have been seen. A version that passes
//! the window is committed; one that fails is switched back and its manifest marked failed.

use std::time::Instant;

use serde_json::json;

use super::Updater;
use crate::config::updates::HealthLimits;
use crate::metrics::{Report, VersionSnapshot};

fn snapshot<'a>(report: &'a Report, model: &str, version: u64) -> Option<&'a VersionSnapshot> {
    report
        .versions
        .iter()
        .find(|v| v.model == model && v.version == version)
}

/// Why the new version is unhealthy (reason code, detail), if it is.
pub fn judge(
    report: &Report,
    model: &str,
    new: u64,
    previous: u64,
    limits: &HealthLimits,
) -> Option<(&'static str, String)> {
    let now = snapshot(report, model, new)?;
    let before = snapshot(report, model, previous);
    let seen = now.window.requests + now.window.errors;
    if seen >= limits.min_samples && now.window.error_ratio() > limits.max_error_rate {
        return Some((
            "health_error_rate",
            format!(
                "error ratio {:.3} over {seen} requests > {}",
                now.window.error_ratio(),
                limits.max_error_rate
            ),
        ));
    }
    if let (Some([_, p95, _]), Some([_, p95_before, _])) =
        (now.window.latency, before.and_then(|b| b.window.latency))
        && now.window.requests >= limits.min_samples
        && p95_before > 0.0
        && p95 / p95_before > limits.max_latency_ratio
    {
        return Some((
            "health_latency",
            format!(
                "p95 {:.2} ms against {:.2} ms before (more than {}x)",
                p95 * 1e3,
                p95_before * 1e3,
                limits.max_latency_ratio
            ),
        ));
    }
    if let (Some(q), Some(q_before)) = (&now.quality, before.and_then(|b| b.quality.as_ref()))
        && q.samples >= limits.min_samples
        && q_before.samples >= limits.min_samples
        && q_before.accuracy - q.accuracy > limits.max_accuracy_drop
    {
        return Some((
            "health_accuracy",
            format!(
                "accuracy {:.3} on {} labels against {:.3} before (drop > {})",
                q.accuracy, q.samples, q_before.accuracy, limits.max_accuracy_drop
            ),
        ));
    }
    if let (Some(r), Some(r_before)) = (&now.regression, before.and_then(|b| b.regression.as_ref()))
        && r.samples >= limits.min_samples
        && r_before.samples >= limits.min_samples
        && r.mae > r_before.mae * (1.0 + limits.max_mae_increase)
    {
        return Some((
            "health_mae",
            format!(
                "MAE {:.4} on {} labelled values against {:.4} before (more than {}% worse)",
                r.mae,
                r.samples,
                r_before.mae,
                limits.max_mae_increase * 100.0
            ),
        ));
    }
    None
}

impl Updater {
    /// Judges each version in its health window: rolls it back, commits it, or waits.
    pub(super) async fn check_health(&mut self) {
        let models: Vec<String> = self.watches.keys().cloned().collect();
        for model in models {
            self.check_health_of(&model).await;
        }
    }

    async fn check_health_of(&mut self, model: &str) {
        let Some(w) = self.watches.get(model) else {
            return;
        };
        let report = self.service.report();
        if let Some((reason, detail)) = judge(
            &report,
            &w.model,
            w.version,
            w.previous,
            &self.config.health,
        ) {
            let Some(w) = self.watches.remove(model) else {
                return;
            };
            let previous = w.previous;
            if self.switch(&w.model, previous).await.is_err() {
                tracing::error!(model = %w.model, "cannot roll back after a failed health check");
            }
            self.state.failed.insert(w.model.clone(), w.digest.clone());
            self.save();
            self.end_trial(&w.model);
            tracing::warn!(model = %w.model, version = w.version, previous, reason, %detail, "rolled back by the health check");
            self.report(
                &w.model,
                json!({"version": w.version, "state": "failed", "reason": reason, "detail": detail, "rolled_back_to": previous}),
            )
            .await;
        } else if Instant::now() >= w.until {
            let version = w.version;
            self.watches.remove(model);
            self.end_trial(model);
            tracing::info!(model = %model, version, "health window passed; update committed");
            self.report(
                model,
                json!({"version": version, "state": "active", "health": "committed"}),
            )
            .await;
            self.reclaim(model).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::regression::RegressionSummary;
    use crate::metrics::window::WindowSummary;

    fn version(version: u64, mae: f64) -> VersionSnapshot {
        VersionSnapshot {
            model: "m".into(),
            version,
            device: "cpu".into(),
            active: true,
            predictions_total: 100,
            labels_total: 100,
            window: WindowSummary {
                seconds: 60.0,
                requests: 100,
                errors: 0,
                latency: Some([1e-3, 2e-3, 3e-3]),
            },
            quality: None,
            regression: Some(RegressionSummary {
                samples: 50,
                mae,
                rmse: mae * 1.2,
                non_finite: 0,
            }),
        }
    }

    fn report(before: f64, after: f64) -> Report {
        Report {
            versions: vec![version(1, before), version(2, after)],
            errors: Default::default(),
            dropped: Default::default(),
            store: Default::default(),
            process: Default::default(),
            uptime: std::time::Duration::from_secs(60),
            window: std::time::Duration::from_secs(60),
            durable_ack: true,
        }
    }

    fn limits() -> HealthLimits {
        HealthLimits {
            max_error_rate: 0.1,
            max_latency_ratio: 3.0,
            max_accuracy_drop: 0.05,
            max_mae_increase: 0.25,
            min_samples: 20,
        }
    }

    #[test]
    fn a_regression_version_whose_mae_grew_past_the_limit_is_unhealthy() {
        let verdict = judge(&report(2.0, 2.6), "m", 2, 1, &limits());
        assert_eq!(verdict.map(|(reason, _)| reason), Some("health_mae"));
    }

    #[test]
    fn a_regression_version_within_the_mae_limit_is_healthy() {
        assert_eq!(judge(&report(2.0, 2.4), "m", 2, 1, &limits()), None);
        // Better is always fine.
        assert_eq!(judge(&report(2.0, 0.5), "m", 2, 1, &limits()), None);
    }
}
