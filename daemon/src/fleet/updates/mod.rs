//! Model updates on the box: the fleet's signed desired state names a version of a model
//! with its release-signed manifest and the chain of root documents. The updater, one task
//! fed by the fleet link, takes a version through these steps, one file per job, reporting
//! each to the fleet as the device's status:
//!
//! 1. trust (`trust.rs`): move trust along the root chain from the key pinned in the config;
//! 2. intake (`desired.rs`): refuse replays and unknown models, verify the manifest
//!    (`edge_bundle::verify_manifest`: signatures, expiry, rollback, hardware, size, and that
//!    it is the manifest the desired state names), or roll back on the fleet's instruction;
//! 3. download (`download.rs`): fetch the missing files chunk by chunk into
//!    `STATE_DIR/updates/blobs/`, resuming from what is on disk after a disconnect or a
//!    restart, refusing anything past a file's declared length, hashing on the blocking pool;
//! 4. activation (`phases.rs`, `activate.rs`): install atomically, run the check cases on
//!    this hardware, an optional shadow phase on live traffic, the switch;
//! 5. health (`health.rs`): watch the new version for `health_window` and roll back by itself
//!    when it does worse than the one it replaced (`rollback.rs` holds both ways back).
//!
//! From the first load to the commit a version is *trying* (`trial.rs`): a durable record
//! lets the next start, before any model loads, put the previous version back when the box
//! went down meanwhile — a hostile or broken model costs at most one restart.
//!
//! One job at a time: a desired state for another model while one is in progress waits for
//! the next desired state.

mod activate;
mod desired;
mod download;
mod health;
mod phases;
mod reclaim;
mod rollback;
mod state;
mod trial;
mod trust;

pub use trial::{Recovered, recover};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edge_bundle::{FileEntry, Manifest};
use edge_protocol::envelope::Kind;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::channel::{Incoming, Outgoing, UpdaterEnds};
use crate::config::UpdatesConfig;
use crate::service::Service;
use activate::ActivateError;
use state::UpdateState;

/// One version being fetched.
#[derive(Debug)]
struct Job {
    manifest: Manifest,
    manifest_text: String,
    digest: String,
    /// The fetch in flight: (file, offset) and when it was sent.
    waiting: Option<(FileEntry, u64, Instant)>,
    /// Fetches in a row that got no answer within `fetch_timeout`.
    unanswered: u32,
}

/// A version in its health window.
#[derive(Debug)]
struct Watch {
    model: String,
    version: u64,
    previous: u64,
    digest: String,
    until: Instant,
}

/// The updater task's state.
#[derive(Debug)]
pub struct Updater {
    config: UpdatesConfig,
    dir: PathBuf,
    blobs: PathBuf,
    models_root: PathBuf,
    service: Arc<Service>,
    out: mpsc::Sender<Outgoing>,
    state: UpdateState,
    job: Option<Job>,
    shadowing: Option<phases::Shadowing>,
    /// Versions in their health window, one per model.
    watches: BTreeMap<String, Watch>,
    reports: BTreeMap<String, Value>,
    last_progress: Instant,
    /// The versions trying now, as recorded on disk (`trial.rs`).
    trials: trial::Trials,
    /// Records a newer version's trial replaced, until that one is switched in or fails.
    replaced_trials: trial::Trials,
    /// Versions that went down with the box, reported when the updater starts.
    crashed: Vec<trial::Trial>,
}

fn now_ms() -> u64 {
    crate::store::now_ms()
}

impl Updater {
    /// Opens `STATE_DIR/updates`, cleans staging leftovers of a crash, and records the served
    /// versions as activated (a crash between the switch and saving the state loses nothing).
    /// `recovered` is what [`recover`] settled before the models were loaded. Returns the
    /// updater and the receiver of what the link passes on.
    pub fn open(
        config: UpdatesConfig,
        state_dir: &std::path::Path,
        service: Arc<Service>,
        ends: UpdaterEnds,
        recovered: Vec<Recovered>,
    ) -> std::io::Result<(Self, mpsc::Receiver<Incoming>)> {
        let dir = state_dir.join("updates");
        let blobs = dir.join("blobs");
        std::fs::create_dir_all(&blobs)?;
        let models_root = state_dir.join("models");
        let mut state = UpdateState::load(&dir)?;
        for name in service.registry.names() {
            if let Some(served) = service.registry.get(name) {
                let highest = state.highest.entry(name.to_string()).or_default();
                *highest = (*highest).max(served.version);
            }
            if let Ok(entries) = std::fs::read_dir(models_root.join(name)) {
                for e in entries.flatten() {
                    if e.file_name().to_string_lossy().ends_with(".staging") {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
        state.save(&dir)?;
        let mut updater = Self {
            config,
            dir,
            blobs,
            models_root,
            service,
            out: ends.outgoing,
            state,
            job: None,
            shadowing: None,
            watches: BTreeMap::new(),
            reports: BTreeMap::new(),
            last_progress: Instant::now(),
            trials: trial::Trials::new(),
            replaced_trials: trial::Trials::new(),
            crashed: Vec::new(),
        };
        updater.crashed = updater.resume_trials(recovered);
        Ok((updater, ends.incoming))
    }

    /// Handles the fleet's messages until `shutdown`; a shadow phase in progress is ended
    /// (its worker stopped) before this returns.
    pub async fn run(
        mut self,
        mut incoming: mpsc::Receiver<Incoming>,
        shutdown: CancellationToken,
    ) {
        let crashed = std::mem::take(&mut self.crashed);
        self.report_crashed(crashed).await;
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                message = incoming.recv() => match message {
                    Some(Incoming::Desired(e)) => self.on_desired(e).await,
                    Some(Incoming::Chunk(e)) => self.on_chunk(&e.body).await,
                    None => break,
                },
                _ = tick.tick() => self.on_tick().await,
            }
        }
        self.end_shadow().await;
        // Only a shutdown is a clean stop: with the link gone for another reason the daemon
        // goes on serving, and a crash after that must still count. (On a shutdown the link,
        // stopped by the same token, may close the channel first: the token says which.)
        if shutdown.is_cancelled() {
            self.stop_trials_cleanly();
        }
    }

    async fn report(&mut self, model: &str, value: Value) {
        self.reports.insert(model.to_string(), value);
        let served: BTreeMap<&str, u64> = self
            .service
            .registry
            .names()
            .filter_map(|n| Some((n, self.service.registry.get(n)?.version)))
            .collect();
        let body = json!({"models": served, "updates": self.reports});
        let _ = self
            .out
            .send(Outgoing {
                kind: Kind::Status,
                body,
            })
            .await;
    }

    async fn fail(
        &mut self,
        model: &str,
        version: u64,
        digest: Option<&str>,
        reason: &str,
        detail: String,
    ) {
        tracing::warn!(model, version, reason, %detail, "model update refused");
        if let Some(d) = digest {
            self.state.failed.insert(model.to_string(), d.to_string());
            self.save();
        }
        self.report(
            model,
            json!({"version": version, "state": "failed", "reason": reason, "detail": detail}),
        )
        .await;
    }

    fn save(&self) {
        if let Err(e) = self.state.save(&self.dir) {
            tracing::error!(error = %e, "cannot save the update state");
        }
    }

    /// Points `model` at `version` and swaps it in, on the blocking pool; returns the version
    /// served before. Every switch (forward, rollback, health rollback) goes through here.
    async fn switch(&self, model: &str, version: u64) -> Result<u64, ActivateError> {
        let (models_root, service, name) = (
            self.models_root.clone(),
            self.service.clone(),
            model.to_string(),
        );
        tokio::task::spawn_blocking(move || {
            activate::switch(&models_root, &service.registry, &name, version)
        })
        .await
        .map_err(|e| ActivateError::Task(e.to_string()))?
    }

    async fn on_tick(&mut self) {
        self.check_shadow().await;
        self.check_health().await;
        let stale = self
            .job
            .as_ref()
            .and_then(|j| j.waiting.as_ref())
            .is_some_and(|(_, _, at)| at.elapsed() > self.config.fetch_timeout);
        if !stale {
            return;
        }
        let Some(job) = &mut self.job else { return };
        job.waiting = None;
        job.unanswered += 1;
        if job.unanswered < self.config.fetch_attempts {
            self.advance().await;
            return;
        }
        // Not remembered as a failed manifest: the fleet may only have been away.
        let (model, version) = (job.manifest.model.clone(), job.manifest.version);
        let detail = format!(
            "{} fetches in a row got no answer within {:?}",
            job.unanswered, self.config.fetch_timeout
        );
        self.job = None;
        self.fail(&model, version, None, "fetch_timeout", detail)
            .await;
    }
}
