//! The phases after a version is installed and its check cases passed: the optional shadow
//! phase (the candidate answers copies of live requests beside the active version; its class
//! agreement and latency decide whether to go on), then the switch, which starts the health
//! window.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use super::{Updater, Watch, activate};
use crate::shadow::Shadow;

/// A version in its shadow phase.
#[derive(Debug)]
pub struct Shadowing {
    model: String,
    version: u64,
    digest: String,
    dir: PathBuf,
    shadow: Arc<Shadow>,
    until: Instant,
}

impl Shadowing {
    pub fn model(&self) -> &str {
        &self.model
    }
}

impl Updater {
    pub(super) async fn start_shadow(
        &mut self,
        model: &str,
        version: u64,
        digest: String,
        dir: PathBuf,
        candidate: edge_model::Model,
    ) {
        let shadow = Arc::new(Shadow::new(version, candidate));
        self.service
            .registry
            .set_shadow(model, Some(shadow.clone()));
        tracing::info!(model, version, window = ?self.config.shadow_window, "shadow phase started");
        self.shadowing = Some(Shadowing {
            model: model.to_string(),
            version,
            digest,
            dir,
            shadow,
            until: Instant::now() + self.config.shadow_window,
        });
        self.report(
            model,
            json!({"version": version, "state": "shadowing", "runs": 0}),
        )
        .await;
    }

    /// Ends the shadow phase early on a bad verdict, or at its end switches.
    pub(super) async fn check_shadow(&mut self) {
        let Some(s) = &self.shadowing else { return };
        let stats = s.shadow.stats();
        let limits = &self.config.shadow;
        let judged = stats.runs >= limits.min_samples;
        let verdict = if stats.errors >= limits.min_samples && stats.errors > stats.runs {
            Some((
                "shadow_errors",
                format!("{} of its runs failed", stats.errors),
            ))
        } else if judged && stats.agreement() < limits.min_agreement {
            Some((
                "shadow_disagreement",
                format!(
                    "agreed with the active version on {:.3} of {} requests (< {})",
                    stats.agreement(),
                    stats.runs,
                    limits.min_agreement
                ),
            ))
        } else if judged && stats.latency_ratio() > limits.max_latency_ratio {
            Some((
                "shadow_latency",
                format!(
                    "{:.2}x the active version's latency (> {})",
                    stats.latency_ratio(),
                    limits.max_latency_ratio
                ),
            ))
        } else {
            None
        };
        let summary = json!({"runs": stats.runs, "agreement": stats.agreement(), "latency_ratio": stats.latency_ratio()});
        if let Some((reason, detail)) = verdict {
            let Some(s) = self.shadowing.take() else {
                return;
            };
            self.service.registry.set_shadow(&s.model, None);
            let _ = std::fs::remove_dir_all(&s.dir);
            self.fail(&s.model, s.version, Some(&s.digest), reason, detail)
                .await;
        } else if Instant::now() >= s.until {
            let Some(s) = self.shadowing.take() else {
                return;
            };
            self.service.registry.set_shadow(&s.model, None);
            tracing::info!(model = %s.model, version = s.version, %summary, "shadow phase passed");
            self.switch_in(&s.model, s.version, &s.digest, Some(summary))
                .await;
        }
    }

    /// Switches to an installed, checked version and starts its health window.
    pub(super) async fn switch_in(
        &mut self,
        model: &str,
        version: u64,
        digest: &str,
        shadow: Option<Value>,
    ) {
        let (models_root, service, name) = (
            self.models_root.clone(),
            self.service.clone(),
            model.to_string(),
        );
        let result = tokio::task::spawn_blocking(move || {
            activate::switch(&models_root, &service.registry, &name, version)
        })
        .await;
        match result {
            Ok(Ok(previous)) => {
                self.state.highest.insert(model.to_string(), version);
                self.save();
                tracing::info!(
                    model,
                    from = previous,
                    to = version,
                    "model update activated"
                );
                let watching = !self.config.health_window.is_zero() && previous != version;
                if watching {
                    self.watch = Some(Watch {
                        model: model.to_string(),
                        version,
                        previous,
                        digest: digest.to_string(),
                        until: Instant::now() + self.config.health_window,
                    });
                }
                let health = if watching { "watching" } else { "committed" };
                self.report(
                    model,
                    json!({"version": version, "state": "active", "previous": previous, "health": health, "shadow": shadow}),
                )
                .await;
            }
            Ok(Err(e)) => {
                self.fail(model, version, Some(digest), e.reason(), e.to_string())
                    .await
            }
            Err(e) => {
                self.fail(model, version, Some(digest), "io", e.to_string())
                    .await
            }
        }
    }
}
