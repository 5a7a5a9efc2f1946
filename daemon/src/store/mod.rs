//! The durable buffer: every prediction and label the daemon accepts, in sled on disk, until
//! the fleet has them (issue 4 adds the upload) or the quota evicts them.
//!
//! What "durable" means: sled keeps writes in memory buffers and writes them to its log in
//! the background every `store.background_flush`. `Db::flush` writes the buffers and fsyncs
//! the log; sled documents that once it returns, every earlier write is recovered after a
//! crash. With `store.durable_ack = true` a prediction or label is acknowledged only after a
//! flush that started after it was written (see `commit`), so an acknowledged record survives
//! kill -9 and power loss, as far as the disk honours fsync. With `durable_ack = false` the
//! acknowledgement comes right after the write to sled's memory: a crash loses what arrived
//! in the last `background_flush`.
//!
//! Eviction: when the logical size (keys + values) passes the quota, the oldest predictions
//! without a label go first, then the oldest labelled ones with their labels, down to 95% of
//! the quota. Labelled pairs are kept longest because they are what model quality is judged
//! on. Every evicted record is counted by reason, and the counts are persisted.

mod commit;
pub mod record;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use commit::{CommitStats, GroupCommit};
use record::{COUNTER, LABEL, OUTBOX, PREDICTION, correlation_key, counter_key, id_key, key_id};
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
    /// Serialises writes that share a correlation key (by hash stripe).
    key_locks: [Mutex<()>; KEY_STRIPES],
}

const KEY_STRIPES: usize = 64;

fn stripe(key: &[u8]) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % KEY_STRIPES as u64) as usize
}

fn lock(m: &Mutex<()>) -> std::sync::MutexGuard<'_, ()> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Store {
    /// Opens (or creates) the buffer and rebuilds its counts from what is on disk.
    /// Opens (or creates) the buffer; with `outbox`, every new prediction and label is also
    /// queued for upload to the fleet.
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
        let store = Self {
            commit: GroupCommit::new(db.clone(), config.commit_interval),
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
        };
        let mut store = store;
        if outbox {
            let next = match store.tree.scan_prefix([OUTBOX]).last() {
                Some(item) => key_id(&item.map_err(sled_err("scan"))?.0).map_or(0, |s| s + 1),
                None => 0,
            };
            let len = store.tree.scan_prefix([OUTBOX]).count() as u64;
            store.outbox = Some(AtomicU64::new(next));
            store.outbox_len.store(len, Ordering::Relaxed);
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

    /// A fresh prediction id; ids grow with time and are never reused, even after a crash.
    pub fn next_id(&self) -> Result<u64> {
        self.db.generate_id().map_err(sled_err("generate id"))
    }

    /// Stores a prediction. With a correlation key already stored for this model, nothing is
    /// written and the earlier prediction is returned: retries and redeliveries are idempotent.
    ///
    /// Every write here is a single-key sled operation: sled's batches and transactions seal
    /// and write its log buffer on every call, which cost more than the rest of a request.
    /// Crash consistency comes from order instead: sled recovers a prefix of its log, so the
    /// correlation key is written before the prediction it names; a key whose prediction is
    /// missing (a crash between the two, before any acknowledgement) is taken over.
    pub async fn put_prediction(&self, record: PredictionRecord) -> Result<Stored> {
        let value = serde_json::to_vec(&record).map_err(|e| StoreError::Corrupt {
            key: format!("p{}", record.id),
            reason: e.to_string(),
        })?;
        let pkey = id_key(PREDICTION, record.id);
        let mut added = (pkey.len() + value.len()) as u64;
        if let Some(key) = &record.correlation {
            let ckey = correlation_key(&record.model, key);
            // Requests with the same key are serialised here; other keys proceed.
            let _same_key = lock(&self.key_locks[stripe(&ckey)]);
            if let Some(id) = self.tree.get(&ckey).map_err(sled_err("read"))? {
                if let Some(bytes) = self
                    .tree
                    .get(id_key(PREDICTION, decode_u64(&id)))
                    .map_err(sled_err("read"))?
                {
                    return Ok(Stored::Existing(decode_prediction(&bytes)?));
                }
            } else {
                added += (ckey.len() + 8) as u64;
            }
            self.tree
                .insert(&ckey, &record.id.to_be_bytes())
                .map_err(sled_err("insert"))?;
            self.tree.insert(pkey, value).map_err(sled_err("insert"))?;
        } else {
            self.tree.insert(pkey, value).map_err(sled_err("insert"))?;
        }
        added += self.enqueue(b'P', record.id)?;
        self.bytes.fetch_add(added, Ordering::Relaxed);
        self.predictions.fetch_add(1, Ordering::Relaxed);
        self.after_write().await?;
        Ok(Stored::New(record))
    }

    /// The prediction stored under a correlation key, if any.
    pub fn find_correlation(&self, model: &str, key: &str) -> Result<Option<PredictionRecord>> {
        let Some(id) = self
            .tree
            .get(correlation_key(model, key))
            .map_err(sled_err("read"))?
        else {
            return Ok(None);
        };
        Ok(self.get(decode_u64(&id))?.map(|(p, _)| p))
    }

    /// Stores the label of one prediction of `model`. `check` validates the classes against
    /// the prediction (rows, class range). Sending the same label again is accepted and
    /// changes nothing; a different label for a labelled prediction is a conflict.
    pub async fn put_label(
        &self,
        model: &str,
        target: &LabelTarget,
        classes: Vec<u32>,
        check: impl Fn(&PredictionRecord, &[u32]) -> std::result::Result<(), String>,
    ) -> Result<LabelOutcome> {
        let unknown = || StoreError::UnknownPrediction {
            model: model.to_string(),
            target: target.to_string(),
        };
        let id = match target {
            LabelTarget::Id(id) => *id,
            LabelTarget::Correlation(key) => match self
                .tree
                .get(correlation_key(model, key))
                .map_err(sled_err("read"))?
            {
                Some(id) => decode_u64(&id),
                None => return Err(unknown()),
            },
        };
        let prediction = match self.get(id)? {
            Some((p, _)) if p.model == model => p,
            _ => return Err(unknown()),
        };
        check(&prediction, &classes).map_err(StoreError::BadLabel)?;
        let label = LabelRecord {
            time_ms: now_ms(),
            classes,
        };
        let value = serde_json::to_vec(&label).map_err(|e| StoreError::BadLabel(e.to_string()))?;
        let lkey = id_key(LABEL, id);
        let swapped = self
            .tree
            .compare_and_swap(lkey, None as Option<&[u8]>, Some(value.as_slice()))
            .map_err(sled_err("insert label"))?;
        if let Err(conflict) = swapped {
            let existing: LabelRecord = conflict
                .current
                .as_deref()
                .map(serde_json::from_slice)
                .transpose()
                .map_err(|e| StoreError::Corrupt {
                    key: format!("l{id}"),
                    reason: e.to_string(),
                })?
                .ok_or_else(unknown)?;
            if existing.classes == label.classes {
                return Ok(LabelOutcome {
                    prediction,
                    label: existing,
                    new: false,
                });
            }
            return Err(StoreError::LabelConflict { id });
        }
        // Eviction may have removed the prediction meanwhile: then the label goes too.
        if self
            .tree
            .get(id_key(PREDICTION, id))
            .map_err(sled_err("read"))?
            .is_none()
        {
            let _ = self.tree.remove(lkey);
            return Err(unknown());
        }
        self.bytes
            .fetch_add((lkey.len() + value.len()) as u64, Ordering::Relaxed);
        self.labelled.fetch_add(1, Ordering::Relaxed);
        let queued = self.enqueue(b'L', id)?;
        self.bytes.fetch_add(queued, Ordering::Relaxed);
        self.after_write().await?;
        Ok(LabelOutcome {
            prediction,
            label,
            new: true,
        })
    }

    async fn after_write(&self) -> Result<()> {
        if self.bytes.load(Ordering::Relaxed) > self.quota {
            self.evict()?;
        }
        if self.durable_ack {
            self.commit
                .wait_durable()
                .await
                .map_err(StoreError::NotDurable)?;
        }
        Ok(())
    }

    /// Evicts down to 95% of the quota: oldest unlabelled predictions first, then the oldest
    /// labelled ones. One caller evicts at a time; the others carry on.
    fn evict(&self) -> Result<()> {
        let Ok(_guard) = self.evicting.try_lock() else {
            return Ok(());
        };
        let target = self.quota / 20 * 19;
        // Unlabelled first: walk predictions from the oldest, skipping labelled ones. Every id
        // below the cursor is labelled or gone, so the walk resumes where it stopped.
        let mut cursor = self.unlabelled_cursor.load(Ordering::Relaxed);
        while self.bytes.load(Ordering::Relaxed) > target {
            let Some(id) = self.next_prediction(cursor)? else {
                break;
            };
            cursor = id + 1;
            if self
                .tree
                .contains_key(id_key(LABEL, id))
                .map_err(sled_err("read"))?
            {
                continue;
            }
            self.remove_prediction(id, 0)?;
        }
        self.unlabelled_cursor.store(cursor, Ordering::Relaxed);
        while self.bytes.load(Ordering::Relaxed) > target {
            let Some(id) = self.next_prediction(0)? else {
                break;
            };
            self.remove_prediction(id, 1)?;
        }
        Ok(())
    }

    fn next_prediction(&self, from: u64) -> Result<Option<u64>> {
        let start = id_key(PREDICTION, from).to_vec();
        match self.tree.range(start..vec![PREDICTION + 1]).next() {
            None => Ok(None),
            Some(item) => Ok(key_id(&item.map_err(sled_err("scan"))?.0)),
        }
    }

    /// Removes a prediction with its label and correlation key, and counts it. The label and
    /// key go first, so a crash in between leaves at worst an unlabelled prediction.
    fn remove_prediction(&self, id: u64, reason: usize) -> Result<()> {
        let mut freed = 0u64;
        let pkey = id_key(PREDICTION, id);
        let Some(bytes) = self.tree.get(pkey).map_err(sled_err("read"))? else {
            return Ok(());
        };
        let lkey = id_key(LABEL, id);
        let labelled = match self.tree.remove(lkey).map_err(sled_err("evict"))? {
            Some(label) => {
                freed += (lkey.len() + label.len()) as u64;
                true
            }
            None => false,
        };
        if let Ok(p) = decode_prediction(&bytes)
            && let Some(key) = &p.correlation
        {
            let ckey = correlation_key(&p.model, key);
            let owned = self
                .tree
                .compare_and_swap(&ckey, Some(&id.to_be_bytes()[..]), None as Option<&[u8]>)
                .map_err(sled_err("evict"))?;
            if owned.is_ok() {
                freed += (ckey.len() + 8) as u64;
            }
        }
        if self.tree.remove(pkey).map_err(sled_err("evict"))?.is_some() {
            freed += (pkey.len() + bytes.len()) as u64;
            self.predictions.fetch_sub(1, Ordering::Relaxed);
        }
        if labelled {
            self.labelled.fetch_sub(1, Ordering::Relaxed);
        }
        let counter = counter_key(DROP_REASONS[reason]);
        self.tree
            .update_and_fetch(&counter, |old| {
                Some((old.map_or(0, decode_u64) + 1).to_be_bytes().to_vec())
            })
            .map_err(sled_err("count"))?;
        self.dropped[reason].fetch_add(1, Ordering::Relaxed);
        let bytes_now = self.bytes.load(Ordering::Relaxed);
        self.bytes
            .fetch_sub(freed.min(bytes_now), Ordering::Relaxed);
        Ok(())
    }

    /// Queues a record for upload (after the record itself is written: sled recovers a
    /// prefix of its log, so an outbox entry never survives without its record). Returns the
    /// bytes added.
    fn enqueue(&self, kind: u8, id: u64) -> Result<u64> {
        let Some(next) = &self.outbox else {
            return Ok(0);
        };
        let seq = next.fetch_add(1, Ordering::SeqCst);
        let mut value = [0u8; 9];
        value[0] = kind;
        value[1..].copy_from_slice(&id.to_be_bytes());
        self.tree
            .insert(id_key(OUTBOX, seq), &value)
            .map_err(sled_err("queue"))?;
        self.outbox_len.fetch_add(1, Ordering::Relaxed);
        Ok(18)
    }

    /// The oldest queued records, up to `max`: (outbox seq, record). A record evicted since
    /// it was queued comes back as `None`, to be removed with the batch.
    pub fn outbox_batch(
        &self,
        max: usize,
    ) -> Result<Vec<(u64, Option<edge_protocol::records::Entry>)>> {
        use edge_protocol::records::Entry;
        let mut out = Vec::new();
        for item in self.tree.scan_prefix([OUTBOX]).take(max) {
            let (key, value) = item.map_err(sled_err("scan"))?;
            let Some(seq) = key_id(&key) else { continue };
            let id = key_id(&value).unwrap_or(u64::MAX);
            let entry = match value.first() {
                Some(b'P') => self.get(id)?.map(|(p, _)| Entry::Prediction {
                    id: p.id,
                    model: p.model,
                    version: p.version,
                    time_ms: p.time_ms,
                    latency_us: p.latency_us,
                    device: p.device,
                    correlation: p.correlation,
                    outputs: p.outputs.into_iter().map(wire_tensor).collect(),
                    inputs: p.inputs.map(|i| i.into_iter().map(wire_tensor).collect()),
                }),
                Some(b'L') => self.label(id)?.map(|l| Entry::Label {
                    id,
                    time_ms: l.time_ms,
                    classes: l.classes,
                }),
                _ => None,
            };
            out.push((seq, entry));
        }
        Ok(out)
    }

    /// Removes outbox entries once the fleet acknowledged them.
    pub fn outbox_remove(&self, seqs: &[u64]) -> Result<()> {
        for &seq in seqs {
            if self
                .tree
                .remove(id_key(OUTBOX, seq))
                .map_err(sled_err("dequeue"))?
                .is_some()
            {
                self.outbox_len.fetch_sub(1, Ordering::Relaxed);
                let now = self.bytes.load(Ordering::Relaxed);
                self.bytes.fetch_sub(18.min(now), Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Records waiting for upload.
    pub fn outbox_len(&self) -> u64 {
        self.outbox_len.load(Ordering::Relaxed)
    }

    /// The next uplink envelope sequence number: above the last one used (persisted) and
    /// above the clock in microseconds, so neither a crash nor a restored backup reuses one.
    pub fn next_uplink_seq(&self) -> Result<u64> {
        let floor = now_ms() * 1000;
        let key = counter_key("uplink_seq");
        let value = self
            .tree
            .update_and_fetch(&key, |old| {
                let next = old.map_or(0, decode_u64).max(floor) + 1;
                Some(next.to_be_bytes().to_vec())
            })
            .map_err(sled_err("sequence"))?;
        Ok(value.map_or(floor + 1, |v| decode_u64(&v)))
    }

    /// One prediction and its label.
    pub fn get(&self, id: u64) -> Result<Option<(PredictionRecord, Option<LabelRecord>)>> {
        let Some(bytes) = self
            .tree
            .get(id_key(PREDICTION, id))
            .map_err(sled_err("read"))?
        else {
            return Ok(None);
        };
        Ok(Some((decode_prediction(&bytes)?, self.label(id)?)))
    }

    fn label(&self, id: u64) -> Result<Option<LabelRecord>> {
        let Some(bytes) = self.tree.get(id_key(LABEL, id)).map_err(sled_err("read"))? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                key: format!("l{id}"),
                reason: e.to_string(),
            })
    }

    /// Predictions of `model` with ids above `after` (all when `None`), oldest first, with
    /// their labels.
    pub fn list(
        &self,
        model: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(PredictionRecord, Option<LabelRecord>)>> {
        let first = match after {
            None => 0,
            Some(u64::MAX) => return Ok(Vec::new()),
            Some(id) => id + 1,
        };
        let start = id_key(PREDICTION, first).to_vec();
        let end = vec![PREDICTION + 1];
        let mut out = Vec::new();
        for item in self.tree.range(start..end) {
            let (_, bytes) = item.map_err(sled_err("scan"))?;
            let p = decode_prediction(&bytes)?;
            if p.model == model {
                let label = self.label(p.id)?;
                out.push((p, label));
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Labels that arrived at or after `since_ms`, joined with their predictions: what the
    /// quality metrics are rebuilt from after a restart.
    pub fn labelled_since(&self, since_ms: u64) -> Result<Vec<(PredictionRecord, LabelRecord)>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix([LABEL]) {
            let (key, bytes) = item.map_err(sled_err("scan"))?;
            let Some(id) = key_id(&key) else { continue };
            let Ok(label) = serde_json::from_slice::<LabelRecord>(&bytes) else {
                tracing::warn!(id, "skipping an unreadable label");
                continue;
            };
            if label.time_ms < since_ms {
                continue;
            }
            if let Some((p, _)) = self.get(id)? {
                out.push((p, label));
            }
        }
        out.sort_by_key(|(_, l)| l.time_ms);
        Ok(out)
    }

    pub fn stats(&self) -> StoreStats {
        let c = self.commit.stats();
        StoreStats {
            bytes: self.bytes.load(Ordering::Relaxed),
            quota_bytes: self.quota,
            predictions: self.predictions.load(Ordering::Relaxed),
            labelled: self.labelled.load(Ordering::Relaxed),
            disk_bytes: self.db.size_on_disk().unwrap_or(0),
            dropped: DROP_REASONS
                .iter()
                .zip(&self.dropped)
                .map(|(r, c)| (*r, c.load(Ordering::Relaxed)))
                .collect(),
            flushes: c.flushes.load(Ordering::Relaxed),
            flushed_tickets: c.flushed_tickets.load(Ordering::Relaxed),
            flush_seconds: c.flush_micros.load(Ordering::Relaxed) as f64 / 1e6,
            flush_failures: c.failures.load(Ordering::Relaxed),
        }
    }

    /// Whether acknowledgements wait for the disk.
    pub fn durable_ack(&self) -> bool {
        self.durable_ack
    }

    /// Writes everything to disk (shutdown).
    pub fn flush(&self) -> Result<()> {
        self.db.flush().map(|_| ()).map_err(sled_err("flush"))
    }
}

fn wire_tensor(t: edge_model::oip::ResponseTensor) -> edge_protocol::records::Tensor {
    edge_protocol::records::Tensor {
        name: t.name,
        shape: t.shape.iter().map(|&d| d as u32).collect(),
        data: t.data,
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
