//! Writes: predictions and labels, and the join between them — a label names its prediction
//! by id or by the caller's correlation key, and a correlation key already stored makes a
//! retried prediction return the stored one (idempotent writes).

use std::sync::Mutex;
use std::sync::atomic::Ordering;

use super::record::{LABEL, PREDICTION, correlation_key, id_key, now_ms};
use super::{
    KEY_STRIPES, LabelOutcome, LabelRecord, LabelTarget, PredictionRecord, Result, Store,
    StoreError, Stored, decode_prediction, decode_u64, sled_err,
};

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
            let existing = {
                // Requests with the same key are serialised here; other keys proceed.
                let _same_key = lock(&self.key_locks[stripe(&ckey)]);
                let mut existing = None;
                if let Some(id) = self.tree.get(&ckey).map_err(sled_err("read"))? {
                    if let Some(bytes) = self
                        .tree
                        .get(id_key(PREDICTION, decode_u64(&id)))
                        .map_err(sled_err("read"))?
                    {
                        existing = Some(decode_prediction(&bytes)?);
                    }
                } else {
                    added += (ckey.len() + 8) as u64;
                }
                if existing.is_none() {
                    self.tree
                        .insert(&ckey, &record.id.to_be_bytes())
                        .map_err(sled_err("insert"))?;
                    self.tree.insert(pkey, value).map_err(sled_err("insert"))?;
                }
                existing
            };
            if let Some(existing) = existing {
                self.replayed(b'P', existing.id).await?;
                return Ok(Stored::Existing(existing));
            }
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

    /// The prediction stored under a correlation key, for a retry answered without running
    /// the model: made whole first, as in [`Store::put_prediction`]'s own replay (queued for
    /// upload again, flushed). Found by `fault-bench edged-kill` after the first fix: this
    /// fast path answered most retries (MQTT redeliveries above all) and still lost records.
    pub async fn replay_correlation(
        &self,
        model: &str,
        key: &str,
    ) -> Result<Option<PredictionRecord>> {
        let Some(record) = self.find_correlation(model, key)? else {
            return Ok(None);
        };
        self.replayed(b'P', record.id).await?;
        Ok(Some(record))
    }

    /// Stores the label of one prediction of `model`. `check` validates the classes against
    /// the prediction (rows, class range). Sending the same label again is accepted and
    /// changes nothing; a different label for a labelled prediction is a conflict.
    pub async fn put_label(
        &self,
        model: &str,
        target: &LabelTarget,
        classes: Vec<u32>,
        values: Vec<f64>,
        check: impl Fn(&PredictionRecord) -> std::result::Result<(), String>,
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
        check(&prediction).map_err(StoreError::BadLabel)?;
        let label = LabelRecord {
            time_ms: now_ms(),
            classes,
            values,
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
            if existing.classes == label.classes && existing.values == label.values {
                self.replayed(b'L', id).await?;
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

    /// A retried prediction or label answered from the store. A crash may have come between
    /// the record and its outbox entry (single-key writes, recovered as a prefix), and the
    /// record may be back from sled's log without having been synced: so the record is queued
    /// for upload again (the fleet deduplicates by record id) and the answer waits for a
    /// durable flush, as for a new record. Found by `fault-bench edged-kill`: without this, a
    /// retry acknowledged a stored prediction that never reached the fleet.
    async fn replayed(&self, kind: u8, id: u64) -> Result<()> {
        let queued = self.enqueue(kind, id)?;
        self.bytes.fetch_add(queued, Ordering::Relaxed);
        self.wait_durable().await
    }

    async fn after_write(&self) -> Result<()> {
        if self.bytes.load(Ordering::Relaxed) > self.quota {
            self.evict()?;
        }
        self.wait_durable().await
    }

    /// With `durable_ack`, waits for a group commit that covers what this task wrote.
    async fn wait_durable(&self) -> Result<()> {
        if self.durable_ack {
            self.commit
                .wait_durable()
                .await
                .map_err(StoreError::NotDurable)?;
        }
        Ok(())
    }
}
