//! Eviction: keeps the buffer under its quota, oldest unlabelled predictions first, then the
//! oldest labelled ones with their labels, and counts every record dropped by reason (the
//! counters are persisted).

use std::sync::atomic::Ordering;

use super::record::{LABEL, PREDICTION, correlation_key, counter_key, id_key, key_id};
use super::{DROP_REASONS, Result, Store, decode_prediction, decode_u64, sled_err};

impl Store {
    /// Evicts down to 95% of the quota: oldest unlabelled predictions first, then the oldest
    /// labelled ones. One caller evicts at a time; the others carry on.
    pub(super) fn evict(&self) -> Result<()> {
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
}
