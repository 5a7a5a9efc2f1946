//! Work the daemon's background queues gave up on because they were full: copies for a shadow
//! candidate, and fleet-link messages that did not fit the channel to the updater or to the
//! broker client; and downlink messages the link refused. Each such drop is deliberate (the serving path never waits for background
//! work) and counted here, so /metrics shows how much was lost.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::lock;

/// A bounded queue whose drops are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropQueue {
    /// Copies of live requests for a candidate in its shadow phase (label: the model).
    Shadow,
    /// Fleet messages (desired states, chunks) for the updater (label: the message kind).
    FleetDown,
    /// Signed messages for the fleet broker (label: the message kind).
    FleetUp,
    /// Messages on the box's downlink topics that failed its checks — signature, recipient,
    /// kind, sequence, version (label: the reason). Not a full queue, but the same kind of
    /// count: what the link threw away.
    FleetRefused,
}

/// Drops since start, by queue and label.
#[derive(Debug, Default)]
pub struct DropCounts(Mutex<BTreeMap<(DropQueue, String), u64>>);

impl DropCounts {
    pub fn record(&self, queue: DropQueue, label: &str) {
        let mut counts = lock(&self.0);
        *counts.entry((queue, label.to_string())).or_default() += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<(DropQueue, String), u64> {
        lock(&self.0).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::{DropCounts, DropQueue};

    #[test]
    fn drops_are_counted_by_queue_and_label() {
        let counts = DropCounts::default();
        counts.record(DropQueue::Shadow, "mlp");
        counts.record(DropQueue::Shadow, "mlp");
        counts.record(DropQueue::FleetDown, "chunk");
        let snapshot = counts.snapshot();
        assert_eq!(snapshot[&(DropQueue::Shadow, "mlp".to_string())], 2);
        assert_eq!(snapshot[&(DropQueue::FleetDown, "chunk".to_string())], 1);
        assert_eq!(snapshot.len(), 2);
    }
}
