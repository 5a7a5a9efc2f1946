//! Step 2 of an update: intake of a desired state, which the link has checked to be the
//! fleet's and addressed to this box. A replayed (its sequence number is not above the last
//! one taken, persisted) or malformed one is ignored;
//! for each model it names, the updater reports what it already serves, rolls back on the
//! fleet's instruction, skips a manifest that failed before, or verifies the manifest and
//! starts a download job.

use edge_bundle::signed::{Domain, Signed};
use edge_bundle::{DeviceFacts, Expected};
use edge_protocol::envelope::Envelope;
use edge_protocol::messages::Desired;
use serde_json::json;

use super::{Job, Updater};

impl Updater {
    pub(super) async fn on_desired(&mut self, envelope: Envelope) {
        if envelope.seq <= self.state.desired_seq {
            self.service.metrics.record_refused_downlink("replayed");
            tracing::warn!(
                seq = envelope.seq,
                last = self.state.desired_seq,
                "replayed desired state ignored"
            );
            return;
        }
        let desired: Desired = match serde_json::from_slice(&envelope.body) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "malformed desired state ignored");
                return;
            }
        };
        self.state.desired_seq = envelope.seq;
        // The fleet signed this time: the box's clock is never taken to be earlier.
        self.raise_time_floor(envelope.time_ms);
        self.save();
        // A failed trust chain refuses every new bundle, but not a rollback (which installs
        // nothing) nor a version the box already serves: an expired root must not keep a box
        // on a version the fleet is taking back.
        let root = self.trust(&desired.roots);
        for (model, d) in desired.models {
            let Some(served) = self.service.registry.get(&model) else {
                self.fail(
                    &model,
                    d.version,
                    None,
                    "unknown_model",
                    format!("{model} is not configured on this box"),
                )
                .await;
                continue;
            };
            if served.version == d.version {
                let state = if d.rollback { "rolled_back" } else { "active" };
                self.report(&model, json!({"version": d.version, "state": state}))
                    .await;
                continue;
            }
            if d.rollback {
                self.roll_back(&model, d.version, served.version).await;
                continue;
            }
            let root = match &root {
                Ok(root) => root,
                Err(e) => {
                    self.fail(&model, d.version, None, e.reason(), e.to_string())
                        .await;
                    continue;
                }
            };
            if self.state.failed.get(&model) == Some(&d.manifest_sha256) {
                self.state.ignored_failed += 1;
                self.save();
                continue;
            }
            if self
                .job
                .as_ref()
                .is_some_and(|j| j.digest == d.manifest_sha256)
            {
                continue;
            }
            // A newer instruction for the model being fetched replaces that job: a stuck
            // download never holds back what the fleet wants now.
            if self.job.as_ref().is_some_and(|j| j.manifest.model == model) {
                tracing::info!(model = %model, "a new desired version replaces the download in progress");
                self.job = None;
            }
            let facts = DeviceFacts {
                now_ms: self.trusted_now(),
                hardware: self.config.hardware_class.clone(),
                daemon_version: env!("CARGO_PKG_VERSION").to_string(),
                size_cap: self.config.max_bundle_bytes,
            };
            let expected = Expected {
                model: &model,
                version: d.version,
                manifest_sha256: &d.manifest_sha256,
            };
            let verified =
                Signed::parse(Domain::Manifest, d.manifest.as_bytes()).and_then(|signed| {
                    edge_bundle::verify_manifest(
                        root,
                        &signed,
                        &facts,
                        self.state.highest.get(&model).copied(),
                        &expected,
                    )
                });
            match verified {
                Ok(manifest) if self.job.is_none() => {
                    tracing::info!(model = %model, version = d.version, "model update accepted; fetching");
                    self.raise_time_floor(manifest.created_ms);
                    self.save();
                    self.job = Some(Job {
                        manifest,
                        manifest_text: d.manifest,
                        digest: d.manifest_sha256,
                        waiting: None,
                        unanswered: 0,
                    });
                }
                Ok(_) => {}
                Err(e) => {
                    self.fail(
                        &model,
                        d.version,
                        Some(&d.manifest_sha256),
                        e.reason(),
                        e.to_string(),
                    )
                    .await;
                }
            }
        }
        self.advance().await;
    }
}
