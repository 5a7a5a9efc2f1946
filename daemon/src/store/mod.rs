//! The durable buffer: every prediction and label the daemon accepts, in sled on disk. A
//! record stays until the quota evicts it (the local API reads it, and the quality metrics
//! are rebuilt from it after a restart); with a fleet configured, it is also queued in an
//! outbox until the fleet has it.
//!
//! What "durable" means: sled keeps writes in memory buffers and writes them to its log in
//! the background every `store.background_flush`. A durable flush ([`edge_durable::Durable`])
//! writes the buffers and then fsyncs every file they depend on (sled's own `Db::flush` only
//! calls `sync_file_range`, which survives kill -9 but not a power cut). With
//! `store.durable_ack = true` a prediction or label is acknowledged only after a durable flush
//! that started after it was written (see `commit`), so an acknowledged record survives kill
//! -9 and power loss, as far as the disk honours fsync. With `durable_ack = false` the
//! acknowledgement comes right after the write to sled's memory: a crash loses what arrived
//! in the last `background_flush`. Writes are single-key sled operations, ordered so that what
//! a crash leaves between two is harmless (sled recovers a prefix of its log): a correlation
//! key is written before its prediction (a key without one is taken over), a record before
//! its outbox entry, and eviction removes a label and a key before their prediction.
//!
//! The upload: with a fleet configured, every new prediction and label is queued in the
//! outbox, in arrival order, right after the record itself is written. The daemon's fleet
//! link reads the oldest entries as one batch ([`Store::outbox_batch`]), sends it as a
//! signed, compressed envelope under a sequence number from [`Store::next_uplink_seq`]
//! (persisted, and above the clock, so neither a crash nor a restored backup reuses one),
//! keeps one batch in flight, and removes its entries ([`Store::outbox_remove`]) only when
//! the fleet application's signed acknowledgement of that batch arrives — a broker PUBACK is
//! not enough. A batch not acknowledged in time is sent again; the fleet deduplicates by
//! (device, record id). An uploaded record stays in the buffer; one evicted before it went
//! up leaves an empty outbox entry, removed with the batch that finds it. A retried request
//! (or label) answered from the buffer is queued again and waits for a durable flush before
//! its answer: a crash between a record and its outbox entry would otherwise leave an
//! acknowledged record that never goes up (found by `fault-bench edged-kill`).
//!
//! Eviction: when the logical size (keys + values) passes the quota, the oldest predictions
//! without a label go first, then the oldest labelled ones with their labels, down to 95% of
//! the quota. Labelled pairs are kept longest because they are what model quality is judged
//! on. Every evicted record is counted by reason, and the counts are persisted.
//!
//! Here: opening, the errors and the shared types. The work is one file per job: `write`
//! (predictions, labels and their join by id or correlation key), `evict`, `outbox` (the
//! upload queue and the envelope sequence numbers), `read`; `commit` is the group commit,
//! `record` the records and their key layout.

mod commit;
mod evict;
mod outbox;
mod read;
pub mod record;
mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use commit::{CommitStats, GroupCommit};
use record::{COUNTER, LABEL, PREDICTION};
pub use record::{LabelRecord, PredictionRecord, now_ms};

use crate::config::StoreConfig;

/// Errors of the buffer, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the buffer at {path}: {source}")]
    Open { path: PathBuf, source: sled::Error },
    #[error("buffer {op} failed: {source}")]
    Sled {
        op: &'static str,
        source: sled::Error,
    },
    #[error("buffer record {key} is unreadable: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("the write was not made durable: {0}")]
    NotDurable(String),
    #[error("model '{model}' has no prediction {target}")]
    UnknownPrediction { model: String, target: String },
    #[error("prediction {id} already has a different label")]
    LabelConflict { id: u64 },
    #[error("{0}")]
    BadLabel(String),
}

type Result<T> = std::result::Result<T, StoreError>;

fn sled_err(op: &'static str) -> impl FnOnce(sled::Error) -> StoreError {
    move |source| StoreError::Sled { op, source }
}

/// What a label refers to.
#[derive(Debug, Clone)]
pub enum LabelTarget {
    Id(u64),
    Correlation(String),
}

impl std::fmt::Display for LabelTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(id) => write!(f, "with id {id}"),
            Self::Correlation(key) => write!(f, "with correlation key '{key}'"),
        }
    }
}

/// A prediction as stored: new, or the one already stored under the same correlation key.
#[derive(Debug)]
pub enum Stored {
    New(PredictionRecord),
    Existing(PredictionRecord),
}

/// A label as stored, with its prediction.
#[derive(Debug)]
pub struct LabelOutcome {
    pub prediction: PredictionRecord,
    pub label: LabelRecord,
    /// False when the same label was already stored (a replay): nothing changed.
    pub new: bool,
}

/// Counts of what the buffer holds and has dropped.
#[derive(Debug, Clone, Default)]
pub struct StoreStats {
    pub bytes: u64,
    pub quota_bytes: u64,
    pub predictions: u64,
    pub labelled: u64,
    pub disk_bytes: u64,
    pub dropped: BTreeMap<&'static str, u64>,
    pub flushes: u64,
    pub flushed_tickets: u64,
    pub flush_seconds: f64,
    pub flush_failures: u64,
}

/// Why records were dropped; each is a persisted counter.
pub const DROP_REASONS: [&str; 2] = ["evicted_unlabelled", "evicted_labelled"];

/// The buffer.
#[derive(Debug)]
pub struct Store {
    db: sled::Db,
    /// Durable flushes of `db` (the group commit, the sequence reservation, shutdown).
    durable: Arc<edge_durable::Durable>,
    tree: sled::Tree,
    commit: Arc<GroupCommit>,
    durable_ack: bool,
    quota: u64,
    bytes: AtomicU64,
    predictions: AtomicU64,
    labelled: AtomicU64,
    dropped: [AtomicU64; 2],
    evicting: Mutex<()>,
    /// Eviction of unlabelled predictions resumes from here (ids below are labelled or gone).
    unlabelled_cursor: AtomicU64,
    /// Next outbox sequence number, or `None` when nothing is uploaded (no fleet configured).
    outbox: Option<AtomicU64>,
    outbox_len: AtomicU64,
    /// The last uplink sequence number handed out, and the one reserved on disk up to.
    uplink: Mutex<(u64, u64)>,
    /// Serialises writes that share a correlation key (by hash stripe).
    key_locks: [Mutex<()>; KEY_STRIPES],
}

const KEY_STRIPES: usize = 64;

impl Store {
    /// Opens (or creates) the buffer and rebuilds its counts from what is on disk; with
    /// `outbox`, every new prediction and label is also queued for upload to the fleet.
    pub fn open(dir: &Path, config: &StoreConfig, outbox: bool) -> Result<Self> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(8 << 20)
            .mode(sled::Mode::HighThroughput)
            .flush_every_ms(Some(config.background_flush.as_millis().max(1) as u64))
            .open()
            .map_err(|source| StoreError::Open {
                path: dir.to_path_buf(),
                source,
            })?;
        let tree = db.open_tree("records").map_err(sled_err("open tree"))?;
        let durable = Arc::new(edge_durable::Durable::new(db.clone(), dir).map_err(|e| {
            StoreError::NotDurable(format!("opening the buffer at {}: {e}", dir.display()))
        })?);
        let mut store = Self {
            commit: GroupCommit::new(durable.clone(), config.commit_interval),
            durable,
            db,
            tree,
            durable_ack: config.durable_ack,
            quota: config.quota_bytes,
            bytes: AtomicU64::new(0),
            predictions: AtomicU64::new(0),
            labelled: AtomicU64::new(0),
            dropped: Default::default(),
            evicting: Mutex::new(()),
            unlabelled_cursor: AtomicU64::new(0),
            key_locks: std::array::from_fn(|_| Mutex::new(())),
            outbox: None,
            outbox_len: AtomicU64::new(0),
            uplink: Mutex::new((0, 0)),
        };
        if outbox {
            store.open_outbox()?;
        }
        store.rebuild_counts()?;
        Ok(store)
    }

    fn rebuild_counts(&self) -> Result<()> {
        let (mut bytes, mut predictions, mut labelled) = (0u64, 0u64, 0u64);
        for item in self.tree.iter() {
            let (key, value) = item.map_err(sled_err("scan"))?;
            match key.first() {
                Some(&COUNTER) => {
                    let name = String::from_utf8_lossy(&key[1..]).into_owned();
                    if let Some(i) = DROP_REASONS.iter().position(|r| *r == name) {
                        self.dropped[i].store(decode_u64(&value), Ordering::Relaxed);
                    }
                    continue;
                }
                Some(&PREDICTION) => predictions += 1,
                Some(&LABEL) => labelled += 1,
                _ => {}
            }
            bytes += (key.len() + value.len()) as u64;
        }
        self.bytes.store(bytes, Ordering::Relaxed);
        self.predictions.store(predictions, Ordering::Relaxed);
        self.labelled.store(labelled, Ordering::Relaxed);
        tracing::info!(predictions, labelled, bytes, "buffer opened");
        Ok(())
    }

    /// The group commit, whose loop the daemon runs as a task.
    pub fn group_commit(&self) -> Arc<GroupCommit> {
        self.commit.clone()
    }

    /// Whether acknowledgements wait for the disk.
    pub fn durable_ack(&self) -> bool {
        self.durable_ack
    }

    /// Writes everything to disk and syncs it (shutdown).
    pub fn flush(&self) -> Result<()> {
        self.durable
            .flush()
            .map_err(|e| StoreError::NotDurable(e.to_string()))
    }
}

fn decode_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or_default()
}

fn decode_prediction(bytes: &[u8]) -> Result<PredictionRecord> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: "prediction".into(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
