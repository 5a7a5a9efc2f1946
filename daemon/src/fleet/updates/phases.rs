//! Step 4 of an update, once every file is downloaded: install and check the version (on the
//! blocking pool), the optional shadow phase (the candidate answers copies of live requests
//! beside the active version; its class agreement and latency decide whether to go on), then
//! the switch, which starts the health window.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::{Value, json};

use super::trial::{Stage, Trial};
use super::{Updater, Watch, activate};
use crate::fleet::shadow::ShadowRun;

/// A version in its shadow phase.
#[derive(Debug)]
pub struct Shadowing {
    pub(super) model: String,
    pub(super) version: u64,
    pub(super) digest: String,
    /// The installed candidate's directory, removed when it fails.
    pub(super) dir: PathBuf,
    pub(super) run: ShadowRun,
    pub(super) until: Instant,
}

impl Updater {
    pub(super) async fn activate(&mut self) {
        let Some(job) = self.job.take() else { return };
        let (model, version) = (job.manifest.model.clone(), job.manifest.version);
        self.report(&model, json!({"version": version, "state": "verifying"}))
            .await;
        // Durably "trying" before the first load: should loading it take the box down, the
        // next start puts the previous version back (`trial.rs`).
        let trial = Trial {
            model: model.clone(),
            version,
            digest: job.digest.clone(),
            previous: self
                .service
                .registry
                .get(&model)
                .map_or(0, |served| served.version),
            previous_pointer: std::fs::read_to_string(
                self.models_root.join(&model).join("current"),
            )
            .ok()
            .map(|p| p.trim().to_string()),
            stage: Stage::Check,
            stopped_cleanly: false,
        };
        if let Err(e) = self.begin_trial(trial) {
            let detail = format!("cannot record the trial before loading: {e}");
            self.fail(&model, version, None, "io", detail).await;
            return;
        }
        let (models_root, blobs) = (self.models_root.clone(), self.blobs.clone());
        let options = self
            .service
            .registry
            .load_options(&model)
            .unwrap_or_default();
        let shadow = !self.config.shadow_window.is_zero();
        let (manifest, text) = (job.manifest.clone(), job.manifest_text.clone());
        let result = tokio::task::spawn_blocking(move || {
            let dir = activate::install(&models_root, &manifest, &text, &blobs)?;
            if let Err(e) = activate::check(&dir, &options) {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
            // The candidate for the shadow phase, loaded and warm.
            let candidate = if shadow {
                let loaded = edge_model::Model::load(&dir, &options)?;
                Some(loaded)
            } else {
                None
            };
            Ok((dir, candidate))
        })
        .await;
        match result {
            Ok(Ok((dir, Some(candidate)))) => {
                self.trial_stage(&model, Stage::Shadow);
                self.start_shadow(&model, version, job.digest, dir, candidate)
                    .await;
            }
            Ok(Ok((_, None))) => self.switch_in(&model, version, &job.digest, None).await,
            Ok(Err(e)) => {
                self.abandon_trial(&model);
                self.fail(
                    &model,
                    version,
                    Some(&job.digest),
                    e.reason(),
                    e.to_string(),
                )
                .await
            }
            Err(e) => {
                self.abandon_trial(&model);
                self.fail(&model, version, Some(&job.digest), "io", e.to_string())
                    .await
            }
        }
    }

    /// Detaches the shadow of `model` from the registry and hands over its phase to stop.
    pub(super) fn end_shadow_of(&mut self, model: &str) -> Option<Shadowing> {
        if self.shadowing.as_ref().is_none_or(|s| s.model != model) {
            return None;
        }
        let s = self.shadowing.take()?;
        self.service.registry.set_shadow(&s.model, None);
        Some(s)
    }

    /// Ends a shadow phase in progress (when the updater stops) and waits for its worker.
    pub(super) async fn end_shadow(&mut self) {
        let Some(model) = self.shadowing.as_ref().map(|s| s.model.clone()) else {
            return;
        };
        if let Some(s) = self.end_shadow_of(&model) {
            s.run.stop().await;
        }
    }

    pub(super) async fn start_shadow(
        &mut self,
        model: &str,
        version: u64,
        digest: String,
        dir: PathBuf,
        candidate: edge_model::Model,
    ) {
        let run = ShadowRun::start(version, candidate);
        self.service
            .registry
            .set_shadow(model, Some(run.tap.clone()));
        tracing::info!(model, version, window = ?self.config.shadow_window, "shadow phase started");
        self.shadowing = Some(Shadowing {
            model: model.to_string(),
            version,
            digest,
            dir,
            run,
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
        let model = s.model.clone();
        let stats = s.run.shadow.stats();
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
            let Some(s) = self.end_shadow_of(&model) else {
                return;
            };
            let (model, version, digest, dir) = (s.model, s.version, s.digest, s.dir);
            s.run.stop().await;
            let _ = std::fs::remove_dir_all(&dir);
            self.abandon_trial(&model);
            self.fail(&model, version, Some(&digest), reason, detail)
                .await;
        } else if Instant::now() >= s.until {
            let Some(s) = self.end_shadow_of(&model) else {
                return;
            };
            let (model, version, digest) = (s.model, s.version, s.digest);
            s.run.stop().await;
            tracing::info!(model = %model, version, %summary, "shadow phase passed");
            self.switch_in(&model, version, &digest, Some(summary))
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
        let result = self.switch(model, version).await;
        match result {
            Ok(previous) => {
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
                    self.watches.insert(
                        model.to_string(),
                        Watch {
                            model: model.to_string(),
                            version,
                            previous,
                            digest: digest.to_string(),
                            until: Instant::now() + self.config.health_window,
                        },
                    );
                }
                self.replaced_trials.remove(model);
                if watching {
                    self.trial_stage(model, Stage::Health);
                } else {
                    self.end_trial(model);
                }
                let health = if watching { "watching" } else { "committed" };
                self.report(
                    model,
                    json!({"version": version, "state": "active", "previous": previous, "health": health, "shadow": shadow}),
                )
                .await;
                if !watching {
                    self.reclaim(model).await;
                }
            }
            Err(e) => {
                self.abandon_trial(model);
                self.fail(model, version, Some(digest), e.reason(), e.to_string())
                    .await
            }
        }
    }
}
