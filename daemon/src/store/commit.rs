//! Group commit: many writers wait on one durable flush (sled's flush, then the fsyncs of
//! [`edge_durable::Durable`]) instead of one each.
//!
//! A writer inserts into sled, takes a ticket (a sequence number taken *after* its insert
//! returned), and waits until a flush that *started* after that ticket has finished. One task
//! runs flushes back to back while tickets are outstanding, so under load each fsync covers
//! every write that arrived during the previous one: on a disk where an fsync costs 5 ms, a
//! thousand concurrent writers share it instead of queueing for 5 s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use edge_durable::Durable;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

/// Where flushing has got to.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// Every ticket up to this one is durable.
    durable: u64,
    /// The last flush failed for tickets up to this one.
    failed: u64,
    error: Option<String>,
}

/// Shared state of the group commit.
#[derive(Debug)]
pub struct GroupCommit {
    durable: Arc<Durable>,
    /// Shortest time between the starts of two flushes.
    interval: Duration,
    issued: AtomicU64,
    wake: Notify,
    progress: watch::Sender<Progress>,
    stats: CommitStats,
}

/// Counters of the flushes done, for /metrics.
#[derive(Debug, Default)]
pub struct CommitStats {
    pub flushes: AtomicU64,
    pub flushed_tickets: AtomicU64,
    pub flush_micros: AtomicU64,
    pub failures: AtomicU64,
}

impl GroupCommit {
    pub fn new(durable: Arc<Durable>, interval: Duration) -> Arc<Self> {
        Arc::new(Self {
            durable,
            interval,
            issued: AtomicU64::new(0),
            wake: Notify::new(),
            progress: watch::Sender::new(Progress::default()),
            stats: CommitStats::default(),
        })
    }

    pub fn stats(&self) -> &CommitStats {
        &self.stats
    }

    /// Waits until everything this task wrote to sled before the call is on disk.
    pub async fn wait_durable(&self) -> Result<(), String> {
        let ticket = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        self.wake.notify_one();
        let mut rx = self.progress.subscribe();
        let progress = rx
            .wait_for(|p| p.durable >= ticket || p.failed >= ticket)
            .await
            .map_err(|_| "the store is closed".to_string())?;
        if progress.durable >= ticket {
            Ok(())
        } else {
            Err(progress
                .error
                .clone()
                .unwrap_or_else(|| "flush failed".into()))
        }
    }

    /// Runs flushes while tickets are outstanding, until `stop` is cancelled; then flushes once
    /// more so no waiter is left behind.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let mut done = 0u64;
        let mut last_start: Option<Instant> = None;
        let mut last_batch = 0u64;
        loop {
            let target = self.issued.load(Ordering::SeqCst);
            if target == done {
                tokio::select! {
                    () = self.wake.notified() => continue,
                    () = stop.cancelled() => break,
                }
            }
            // Under concurrent load (the previous flush carried several writes), let writes
            // gather for `interval` after the previous flush began: every flush costs sled a
            // buffer write and an fsync, whatever it carries. A lone writer is not delayed.
            let wait = last_start
                .filter(|_| last_batch > 1)
                .and_then(|t| self.interval.checked_sub(t.elapsed()));
            if let Some(wait) = wait {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stop.cancelled() => break,
                }
            }
            let target = self.issued.load(Ordering::SeqCst);
            last_batch = target - done;
            done = target;
            last_start = Some(Instant::now());
            self.flush_upto(target).await;
        }
        let target = self.issued.load(Ordering::SeqCst);
        self.flush_upto(target).await;
    }

    async fn flush_upto(&self, target: u64) {
        let durable = self.durable.clone();
        let started = Instant::now();
        let result = tokio::task::spawn_blocking(move || durable.flush())
            .await
            .map_err(|e| format!("flush task failed: {e}"))
            .and_then(|r| r.map_err(|e| e.to_string()));
        let stats = &self.stats;
        stats
            .flush_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        stats.flushes.fetch_add(1, Ordering::Relaxed);
        self.progress.send_modify(|p| {
            stats.flushed_tickets.fetch_add(
                target.saturating_sub(p.durable.max(p.failed)),
                Ordering::Relaxed,
            );
            match &result {
                Ok(_) => p.durable = p.durable.max(target),
                Err(e) => {
                    stats.failures.fetch_add(1, Ordering::Relaxed);
                    p.failed = p.failed.max(target);
                    p.error = Some(e.clone());
                }
            }
        });
        if let Err(e) = result {
            tracing::error!(error = %e, "group commit failed; those writes are not acknowledged");
        }
    }

    /// Checks that the commit loop answers within `limit` (used by the systemd watchdog).
    pub async fn probe(&self, limit: Duration) -> bool {
        matches!(
            tokio::time::timeout(limit, self.wait_durable()).await,
            Ok(Ok(()))
        )
    }
}
