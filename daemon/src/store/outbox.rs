//! The upload queue and the uplink's sequence numbers: what the fleet link sends, in arrival
//! order, and removes once the fleet acknowledged it (see the module doc of `store`).

use std::sync::atomic::{AtomicU64, Ordering};

use super::record::{OUTBOX, counter_key, id_key, key_id, now_ms};
use super::{Result, Store, StoreError, decode_u64, sled_err};

impl Store {
    /// Starts queueing for upload: the next outbox sequence number follows the last one on
    /// disk, and the queue length is counted.
    pub(super) fn open_outbox(&mut self) -> Result<()> {
        let next = match self.tree.scan_prefix([OUTBOX]).last() {
            Some(item) => key_id(&item.map_err(sled_err("scan"))?.0).map_or(0, |s| s + 1),
            None => 0,
        };
        let len = self.tree.scan_prefix([OUTBOX]).count() as u64;
        self.outbox = Some(AtomicU64::new(next));
        self.outbox_len.store(len, Ordering::Relaxed);
        Ok(())
    }

    /// Queues a record for upload (after the record itself is written: sled recovers a
    /// prefix of its log, so an outbox entry never survives without its record). Returns the
    /// bytes added.
    pub(super) fn enqueue(&self, kind: u8, id: u64) -> Result<u64> {
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
                Some(b'L') => self.label(id)?.map(|l| {
                    if l.values.is_empty() {
                        Entry::Label {
                            id,
                            time_ms: l.time_ms,
                            classes: l.classes,
                        }
                    } else {
                        Entry::Values {
                            id,
                            time_ms: l.time_ms,
                            values: l.values,
                        }
                    }
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

    /// The next uplink sequence number: above every one handed out before, also across a
    /// power cut, and at least the clock in µs. Numbers are reserved on disk in blocks
    /// (written and flushed before the first of a block is used), so a crash skips the
    /// rest of a block instead of handing a number out twice: on a box whose clock reads
    /// 1970 after the cut, nothing else would keep its messages above the ones the fleet
    /// already took (the fleet would refuse them as replays).
    pub fn next_uplink_seq(&self) -> Result<u64> {
        const BLOCK: u64 = 1024;
        let key = counter_key("uplink_seq");
        let mut guard = self
            .uplink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (last, reserved) = &mut *guard;
        if *reserved == 0 {
            // First use since open: continue above everything reserved before.
            let stored = self.tree.get(&key).map_err(sled_err("sequence"))?;
            *last = stored.map_or(0, |v| decode_u64(&v));
            *reserved = *last;
        }
        let next = (*last + 1).max(now_ms() * 1000);
        if next > *reserved {
            let block = next + BLOCK;
            self.tree
                .insert(&key, &block.to_be_bytes())
                .map_err(sled_err("sequence"))?;
            self.durable
                .flush()
                .map_err(|e| StoreError::NotDurable(format!("sequence reservation: {e}")))?;
            *reserved = block;
        }
        *last = next;
        Ok(next)
    }
}

fn wire_tensor(t: edge_model::oip::ResponseTensor) -> edge_protocol::records::Tensor {
    edge_protocol::records::Tensor {
        name: t.name,
        shape: t.shape.iter().map(|&d| d as u32).collect(),
        // Records carry f32 (exact for FP32, FP16, INT8, UINT8, BOOL and integers below 2^24).
        data: t.data.to_f32_lossy(),
    }
}
