//! Reads: one prediction with its label, a model's predictions in id order, the labels that
//! arrived since a time (what the quality metrics are rebuilt from), and the counts.

use std::sync::atomic::Ordering;

use super::record::{LABEL, PREDICTION, id_key, key_id};
use super::{
    DROP_REASONS, LabelRecord, PredictionRecord, Result, Store, StoreError, StoreStats,
    decode_prediction, sled_err,
};

impl Store {
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

    pub(super) fn label(&self, id: u64) -> Result<Option<LabelRecord>> {
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
}
