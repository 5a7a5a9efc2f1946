//! The durable "trying version V" record: a signed model is still hostile input until it has
//! run here. Loading it can abort the process (an allocation the kernel refuses, a limit
//! systemd enforces), and a version that crashes the box on live traffic would crash it
//! again on every restart. So before a version is first loaded the updater writes, synced,
//! `STATE_DIR/updates/trials.json`: model, version, manifest digest, what `current` said
//! before, and the stage (check, shadow, health window). The record goes when the version is
//! committed or has failed in an orderly way.
//!
//! At start, before the registry loads any model, [`recover`] reads it. A record left by a
//! process that did not stop cleanly (a crash, kill -9, the OOM killer, a power cut) means
//! the version was trying and the box went down: `current` is pointed back at what it said
//! before, the version's directory removed and its manifest marked failed, so the restart
//! serves the previous version and the fleet's desired state is not tried again — at most one
//! restart, never a crash loop. A clean stop in the health window marks the record so the
//! restart resumes the window instead (an operator's restart is not a failure of the model);
//! a clean stop in the shadow phase just drops it (the candidate never served).
//!
//! A power cut in the health window counts as a failure of the version, as it does for
//! Mender's uncommitted updates: the box cannot tell it from a crash the version caused.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::activate::{remove_current, write_current};
use super::state::UpdateState;

/// Where a trying version is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Installed and being loaded, warmed up and checked (`current` not yet changed).
    Check,
    /// Loaded beside the active version, answering copies of live requests.
    Shadow,
    /// Switched in and serving, in its health window.
    Health,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Check => "check",
            Self::Shadow => "shadow",
            Self::Health => "health",
        }
    }
}

/// One trying version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trial {
    pub model: String,
    pub version: u64,
    pub digest: String,
    /// The version served before (the health window's comparison and way back).
    pub previous: u64,
    /// What `current` said before (`None`: the model was served from its directory itself).
    pub previous_pointer: Option<String>,
    pub stage: Stage,
    /// Set when the daemon stopped cleanly with this trial in progress.
    #[serde(default)]
    pub stopped_cleanly: bool,
}

/// What [`recover`] found for one model.
#[derive(Debug)]
pub enum Recovered {
    /// The box went down while the version was trying: it is marked failed and the previous
    /// version is the one to serve.
    Failed(Trial),
    /// A clean stop during the health window: the window starts again.
    Resumed(Trial),
}

const FILE: &str = "trials.json";

/// The trials in progress, keyed by model.
pub type Trials = BTreeMap<String, Trial>;

pub fn read(dir: &Path) -> std::io::Result<Trials> {
    let path = dir.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Trials::new()),
        Err(e) => Err(e),
    }
}

/// Writes `trials` (temporary file, synced, renamed, directory synced); an empty set removes
/// the file.
pub fn write(dir: &Path, trials: &Trials) -> std::io::Result<()> {
    let path = dir.join(FILE);
    if trials.is_empty() {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        }
    } else {
        let tmp = dir.join("trials.json.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(trials).unwrap_or_default())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
    }
    std::fs::File::open(dir)?.sync_all()
}

/// Settles the trials a previous run left, before any model is loaded (blocking).
pub fn recover(state_dir: &Path) -> std::io::Result<Vec<Recovered>> {
    let dir = state_dir.join("updates");
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let trials = match read(&dir) {
        Ok(trials) => trials,
        // Unreadable (a torn write cannot happen: it is renamed into place): nothing to
        // recover from, and no reason to keep the box from starting.
        Err(e) => {
            tracing::error!(error = %e, "the trial record is unreadable; it is dropped");
            Trials::new()
        }
    };
    if trials.is_empty() {
        return Ok(Vec::new());
    }
    let mut state = UpdateState::load(&dir)?;
    let mut kept = Trials::new();
    let mut found = Vec::new();
    for (model, trial) in trials {
        match (trial.stopped_cleanly, trial.stage) {
            (true, Stage::Health) => {
                tracing::info!(model = %model, version = trial.version, "resuming the health window a clean stop interrupted");
                // Kept as not clean from here on: should loading the version now take the
                // box down, the next start fails it.
                let trial = Trial {
                    stopped_cleanly: false,
                    ..trial
                };
                kept.insert(model, trial.clone());
                found.push(Recovered::Resumed(trial));
            }
            (true, _) => {
                tracing::info!(model = %model, version = trial.version, "a clean stop ended the shadow phase; the fleet's next desired state starts it again");
            }
            (false, stage) => {
                tracing::error!(
                    model = %model,
                    version = trial.version,
                    stage = stage.as_str(),
                    "the daemon went down while this version was trying: it is marked failed and the previous version restored"
                );
                go_back(&state_dir.join("models").join(&model), &trial)?;
                state.failed.insert(model, trial.digest.clone());
                found.push(Recovered::Failed(trial));
            }
        }
    }
    state.save(&dir)?;
    write(&dir, &kept)?;
    Ok(found)
}

/// Points `current` back where it was and removes the failed version's directory.
fn go_back(base: &Path, trial: &Trial) -> std::io::Result<()> {
    let tried = trial.version.to_string();
    let current = std::fs::read_to_string(base.join("current")).ok();
    if current.as_deref().map(str::trim) == Some(tried.as_str()) {
        match &trial.previous_pointer {
            Some(previous) => write_current(base, previous.trim()),
            None => remove_current(base),
        }
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    }
    let dir = base.join(&tried);
    if trial.previous_pointer.as_deref().map(str::trim) != Some(tried.as_str()) && dir.is_dir() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

impl super::Updater {
    /// Records that `trial` is starting; an update whose trial cannot be recorded is not
    /// loaded.
    /// A trial it replaces (a newer version of a model whose previous one is still in its
    /// health window) is put back should the new one fail before it is switched in.
    pub(super) fn begin_trial(&mut self, trial: Trial) -> std::io::Result<()> {
        let model = trial.model.clone();
        let replaced = self.trials.insert(model.clone(), trial);
        let written = write(&self.dir, &self.trials);
        match (&written, replaced) {
            (Err(_), Some(old)) => {
                self.trials.insert(model, old);
            }
            (Err(_), None) => {
                self.trials.remove(&model);
            }
            (Ok(()), Some(old)) => {
                self.replaced_trials.insert(model, old);
            }
            (Ok(()), None) => {}
        }
        written
    }

    /// The trial of `model` failed before its switch: the record it replaced, if any, is
    /// back (that version is still serving, still in its window).
    pub(super) fn abandon_trial(&mut self, model: &str) {
        match self.replaced_trials.remove(model) {
            Some(old) => {
                self.trials.insert(model.to_string(), old);
            }
            None => {
                self.trials.remove(model);
            }
        }
        self.write_trials();
    }

    /// Moves the trial of `model` on to `stage`.
    pub(super) fn trial_stage(&mut self, model: &str, stage: Stage) {
        if let Some(t) = self.trials.get_mut(model) {
            t.stage = stage;
            self.write_trials();
        }
    }

    /// The trial of `model` is over (committed, failed after its switch, rolled back).
    pub(super) fn end_trial(&mut self, model: &str) {
        self.replaced_trials.remove(model);
        if self.trials.remove(model).is_some() {
            self.write_trials();
        }
    }

    /// At a clean stop: what is in progress was interrupted, not crashed.
    pub(super) fn stop_trials_cleanly(&mut self) {
        if self.trials.is_empty() {
            return;
        }
        for t in self.trials.values_mut() {
            t.stopped_cleanly = true;
        }
        self.write_trials();
    }

    fn write_trials(&self) {
        if let Err(e) = write(&self.dir, &self.trials) {
            tracing::error!(error = %e, "cannot save the trials in progress");
        }
    }

    /// Takes over what [`recover`] found: a resumed health window is watched again, a
    /// version that went down with the box is reported failed.
    pub(super) fn resume_trials(&mut self, recovered: Vec<Recovered>) -> Vec<Trial> {
        let mut failed = Vec::new();
        for r in recovered {
            match r {
                Recovered::Resumed(mut t) => {
                    let serving = self.service.registry.get(&t.model).map(|s| s.version);
                    if serving != Some(t.version) {
                        continue;
                    }
                    self.watches.insert(
                        t.model.clone(),
                        super::Watch {
                            model: t.model.clone(),
                            version: t.version,
                            previous: t.previous,
                            digest: t.digest.clone(),
                            until: std::time::Instant::now() + self.config.health_window,
                        },
                    );
                    t.stopped_cleanly = false;
                    self.trials.insert(t.model.clone(), t);
                }
                Recovered::Failed(t) => failed.push(t),
            }
        }
        self.write_trials();
        failed
    }

    /// Tells the fleet about each version that went down with the box.
    pub(super) async fn report_crashed(&mut self, failed: Vec<Trial>) {
        for t in failed {
            let detail = format!(
                "edged went down without a clean stop while {} {} was in its {} stage; \
                 {} is served again and this manifest is not tried again",
                t.model,
                t.version,
                t.stage.as_str(),
                t.previous
            );
            self.report(
                &t.model,
                serde_json::json!({"version": t.version, "state": "failed", "reason": "crashed_during_activation", "detail": detail, "rolled_back_to": t.previous}),
            )
            .await;
        }
    }
}
