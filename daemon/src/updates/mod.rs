//! Model updates on the box (issue 5): the fleet's signed desired state names a version of a
//! model with its release-signed manifest and the chain of root documents; the updater moves
//! its trust along that chain from the root key pinned in the config, verifies the manifest
//! (`edge_bundle::verify_manifest`: signatures, expiry, rollback, hardware, size, and that it
//! is the manifest the desired state names), fetches the missing files chunk by chunk over the
//! fleet link into `STATE_DIR/updates/blobs/` (resuming from what is on disk after a
//! disconnect or a restart, refusing anything past a file's declared length), then activates
//! (`activate.rs`). Each step is reported to the fleet as the device's status.
//!
//! Not yet: shadow runs, the health window with automatic rollback, several models updating
//! at once (one job at a time; the others wait for the next desired state).

mod activate;
mod health;
mod phases;
mod state;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edge_bundle::signed::{Domain, Signed};
use edge_bundle::{DeviceFacts, Expected, FileEntry, Manifest, Root};
use edge_protocol::envelope::{Envelope, Kind};
use edge_protocol::messages::{Chunk, Desired, Fetch};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::UpdatesConfig;
use crate::service::Service;
use state::UpdateState;

/// What the uplink hands the updater (already verified as signed by the fleet).
#[derive(Debug)]
pub enum Incoming {
    Desired(Envelope),
    Chunk(Envelope),
}

/// What the updater asks the uplink to sign and send (JSON bodies).
#[derive(Debug)]
pub struct Outgoing {
    pub kind: Kind,
    pub body: Value,
}

/// One version being fetched.
#[derive(Debug)]
struct Job {
    manifest: Manifest,
    manifest_text: String,
    digest: String,
    /// The fetch in flight: (file, offset) and when it was sent.
    waiting: Option<(FileEntry, u64, Instant)>,
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
    watch: Option<Watch>,
    reports: BTreeMap<String, Value>,
    last_progress: Instant,
}

fn now_ms() -> u64 {
    crate::store::now_ms()
}

impl Updater {
    /// Opens `STATE_DIR/updates`, cleans staging leftovers of a crash, and records the served
    /// versions as activated (a crash between the switch and saving the state loses nothing).
    pub fn open(
        config: UpdatesConfig,
        state_dir: &std::path::Path,
        service: Arc<Service>,
        out: mpsc::Sender<Outgoing>,
    ) -> std::io::Result<Self> {
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
        Ok(Self {
            config,
            dir,
            blobs,
            models_root,
            service,
            out,
            state,
            job: None,
            shadowing: None,
            watch: None,
            reports: BTreeMap::new(),
            last_progress: Instant::now(),
        })
    }

    /// Handles the fleet's messages until `shutdown`.
    pub async fn run(
        mut self,
        mut incoming: mpsc::Receiver<Incoming>,
        shutdown: CancellationToken,
    ) {
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

    /// Moves trust along the desired state's root chain; returns the root now trusted.
    fn trust(&mut self, roots: &[String]) -> Result<Root, edge_bundle::BundleError> {
        let chain = roots
            .iter()
            .map(|r| Signed::parse(Domain::Root, r.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let now = now_ms();
        let trusted = match &self.state.root {
            Some(text) => {
                Signed::parse(Domain::Root, text.as_bytes())?.payload::<Root>(Domain::Root)?
            }
            None => {
                let first = chain
                    .first()
                    .ok_or_else(|| edge_bundle::BundleError::Malformed {
                        what: "root document",
                        reason: "the desired state carries no root documents".into(),
                    })?;
                Root::verify_initial(&self.config.root_key, first)?
            }
        };
        let newest = trusted.update(&chain, now)?;
        if newest.version != trusted.version || self.state.root.is_none() {
            let text = chain
                .iter()
                .zip(roots)
                .find(|(s, _)| {
                    s.payload::<Root>(Domain::Root)
                        .is_ok_and(|r| r.version == newest.version)
                })
                .map(|(_, t)| t.clone());
            self.state.root = text;
            self.save();
        }
        Ok(newest)
    }

    async fn on_desired(&mut self, envelope: Envelope) {
        if envelope.seq <= self.state.last_desired_seq {
            tracing::warn!(
                seq = envelope.seq,
                last = self.state.last_desired_seq,
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
        self.state.last_desired_seq = envelope.seq;
        self.save();
        let root = match self.trust(&desired.roots) {
            Ok(r) => r,
            Err(e) => {
                for (model, d) in &desired.models {
                    self.fail(model, d.version, None, e.reason(), e.to_string())
                        .await;
                }
                return;
            }
        };
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
            let facts = DeviceFacts {
                now_ms: now_ms(),
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
                        &root,
                        &signed,
                        &facts,
                        self.state.highest.get(&model).copied(),
                        &expected,
                    )
                });
            match verified {
                Ok(manifest) if self.job.is_none() => {
                    tracing::info!(model = %model, version = d.version, "model update accepted; fetching");
                    self.job = Some(Job {
                        manifest,
                        manifest_text: d.manifest,
                        digest: d.manifest_sha256,
                        waiting: None,
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

    /// Goes back to `version`, which this box activated before and kept on disk.
    async fn roll_back(&mut self, model: &str, version: u64, serving: u64) {
        let dir = self.models_root.join(model).join(version.to_string());
        let ran_it = version < serving
            && self.state.highest.get(model).is_some_and(|h| version <= *h)
            && dir.join("model.json").is_file();
        if !ran_it {
            self.fail(
                model,
                version,
                None,
                "rollback_unavailable",
                format!("{model} {version} is not a previous version kept on this box"),
            )
            .await;
            return;
        }
        if self.job.as_ref().is_some_and(|j| j.manifest.model == model) {
            self.job = None;
        }
        if self.watch.as_ref().is_some_and(|w| w.model == model) {
            self.watch = None;
        }
        if self.shadowing.as_ref().is_some_and(|s| s.model() == model) {
            self.shadowing = None;
            self.service.registry.set_shadow(model, None);
        }
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
            Ok(Ok(from)) => {
                tracing::warn!(
                    model,
                    from,
                    to = version,
                    "rolled back on the fleet's instruction"
                );
                self.report(
                    model,
                    json!({"version": version, "state": "rolled_back", "from": from}),
                )
                .await;
            }
            Ok(Err(e)) => {
                self.fail(model, version, None, e.reason(), e.to_string())
                    .await
            }
            Err(e) => self.fail(model, version, None, "io", e.to_string()).await,
        }
    }

    fn part(&self, sha: &str) -> PathBuf {
        self.blobs.join(format!("{sha}.part"))
    }

    /// Asks for the next chunk, finishes a complete file, or activates a complete job.
    async fn advance(&mut self) {
        let Some(job) = &self.job else { return };
        let (model, version, digest) = (
            job.manifest.model.clone(),
            job.manifest.version,
            job.digest.clone(),
        );
        let total = job.manifest.total_length();
        let mut done = 0u64;
        let mut next = None;
        for f in &job.manifest.files {
            if self.blobs.join(&f.sha256).is_file() {
                done += f.length;
                continue;
            }
            let have = std::fs::metadata(self.part(&f.sha256))
                .map(|m| m.len())
                .unwrap_or(0);
            next = Some((f.clone(), have));
            done += have.min(f.length);
            break;
        }
        match next {
            Some((file, have)) if have >= file.length => {
                // Complete: check the hash (and a part longer than declared is refused).
                let part = self.part(&file.sha256);
                match edge_bundle::check_file(&part, &file) {
                    Ok(()) => {
                        if let Err(e) = std::fs::rename(&part, self.blobs.join(&file.sha256)) {
                            tracing::error!(error = %e, "cannot store a verified file");
                            return;
                        }
                        Box::pin(self.advance()).await;
                    }
                    Err(e) => {
                        let _ = std::fs::remove_file(&part);
                        self.job = None;
                        self.fail(&model, version, Some(&digest), e.reason(), e.to_string())
                            .await;
                    }
                }
            }
            Some((file, have)) => {
                let length = (file.length - have).min(u64::from(self.config.chunk_bytes)) as u32;
                let fetch = Fetch {
                    sha256: file.sha256.clone(),
                    offset: have,
                    length,
                };
                if self.last_progress.elapsed() > Duration::from_secs(1) || have == 0 {
                    self.last_progress = Instant::now();
                    self.report(&model, json!({"version": version, "state": "downloading", "bytes": done, "total": total})).await;
                }
                let _ = self
                    .out
                    .send(Outgoing {
                        kind: Kind::Fetch,
                        body: serde_json::to_value(&fetch).unwrap_or_default(),
                    })
                    .await;
                if let Some(job) = &mut self.job {
                    job.waiting = Some((file, have, Instant::now()));
                }
            }
            None => self.activate().await,
        }
    }

    async fn on_chunk(&mut self, body: &[u8]) {
        let Ok(chunk) = Chunk::decode(body) else {
            return;
        };
        let Some((file, offset, _)) = self.job.as_ref().and_then(|j| j.waiting.clone()) else {
            return;
        };
        if chunk.sha256 != file.sha256 || chunk.offset != offset {
            return; // a late answer to an earlier fetch
        }
        let fits = chunk.total == file.length
            && offset.saturating_add(chunk.data.len() as u64) <= file.length
            && !chunk.data.is_empty();
        if !fits {
            let (model, version, digest) = self
                .job
                .as_ref()
                .map(|j| {
                    (
                        j.manifest.model.clone(),
                        j.manifest.version,
                        j.digest.clone(),
                    )
                })
                .unwrap_or_default();
            self.job = None;
            let _ = std::fs::remove_file(self.part(&file.sha256));
            let e = edge_bundle::BundleError::FileTooLong {
                name: file.name.clone(),
                declared: file.length,
            };
            self.fail(
                &model,
                version,
                Some(&digest),
                e.reason(),
                format!("{e} (the fleet says {} bytes)", chunk.total),
            )
            .await;
            return;
        }
        let part = self.part(&file.sha256);
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&part)
            .and_then(|mut f| {
                f.write_all(&chunk.data)?;
                f.sync_data()
            });
        if let Err(e) = written {
            tracing::error!(error = %e, path = %part.display(), "cannot write a downloaded chunk");
            return;
        }
        if let Some(job) = &mut self.job {
            job.waiting = None;
        }
        self.advance().await;
    }

    /// Judges the version in its health window: rolls it back, commits it, or waits.
    async fn check_health(&mut self) {
        let Some(w) = &self.watch else { return };
        let report = self.service.report();
        if let Some((reason, detail)) = health::judge(
            &report,
            &w.model,
            w.version,
            w.previous,
            &self.config.health,
        ) {
            let Some(w) = self.watch.take() else { return };
            let (models_root, service, name, previous) = (
                self.models_root.clone(),
                self.service.clone(),
                w.model.clone(),
                w.previous,
            );
            let switched = tokio::task::spawn_blocking(move || {
                activate::switch(&models_root, &service.registry, &name, previous)
            })
            .await;
            if !matches!(switched, Ok(Ok(_))) {
                tracing::error!(model = %w.model, "cannot roll back after a failed health check");
            }
            self.state.failed.insert(w.model.clone(), w.digest.clone());
            self.save();
            tracing::warn!(model = %w.model, version = w.version, previous, reason, %detail, "rolled back by the health check");
            self.report(
                &w.model,
                json!({"version": w.version, "state": "failed", "reason": reason, "detail": detail, "rolled_back_to": previous}),
            )
            .await;
        } else if Instant::now() >= w.until {
            let (model, version) = (w.model.clone(), w.version);
            self.watch = None;
            tracing::info!(model = %model, version, "health window passed; update committed");
            self.report(
                &model,
                json!({"version": version, "state": "active", "health": "committed"}),
            )
            .await;
        }
    }

    async fn on_tick(&mut self) {
        self.check_shadow().await;
        self.check_health().await;
        let stale = self
            .job
            .as_ref()
            .and_then(|j| j.waiting.as_ref())
            .is_some_and(|(_, _, at)| at.elapsed() > self.config.fetch_timeout);
        if stale {
            if let Some(job) = &mut self.job {
                job.waiting = None;
            }
            self.advance().await;
        }
    }

    async fn activate(&mut self) {
        let Some(job) = self.job.take() else { return };
        let (model, version) = (job.manifest.model.clone(), job.manifest.version);
        self.report(&model, json!({"version": version, "state": "verifying"}))
            .await;
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
                let loaded = edge_model::Model::load(&dir, &options)
                    .map_err(|e| activate::ActivateError::Load(e.to_string()))?;
                Some(loaded)
            } else {
                None
            };
            Ok((dir, candidate))
        })
        .await;
        match result {
            Ok(Ok((dir, Some(candidate)))) => {
                self.start_shadow(&model, version, job.digest, dir, candidate)
                    .await;
            }
            Ok(Ok((_, None))) => self.switch_in(&model, version, &job.digest, None).await,
            Ok(Err(e)) => {
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
                self.fail(&model, version, Some(&job.digest), "io", e.to_string())
                    .await
            }
        }
    }
}
