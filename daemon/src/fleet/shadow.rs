//! Shadow runs: a candidate version, loaded beside the active one, gets a copy of every live
//! request after the active version has answered; its outputs are never served or stored.
//! What is kept is how often its predicted class (arg-max of the first output, per row)
//! agrees with the active version's, and both latencies — what the updater needs to decide
//! whether to switch.
//!
//! The copies go through one bounded queue ([`QUEUE`] copies, the registry's [`ShadowTap`])
//! to one worker on the blocking pool that the phase owns: the request path only pays for
//! cloning the request and a `try_send`, a copy that does not fit is dropped and counted
//! (`edged_shadow_copies_dropped_total`), and ending the phase stops the worker and waits
//! for it, so no candidate run outlives its phase.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edge_model::oip::{InferenceRequest, ResponseTensor};
use edge_model::{BackendKind, Model};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::registry::{ShadowCopy, ShadowTap};

/// Copies waiting for the candidate at most; more are dropped and counted.
pub const QUEUE: usize = 64;

/// A candidate in its shadow phase.
#[derive(Debug)]
pub struct Shadow {
    pub version: u64,
    pub model: Model,
    stats: Mutex<ShadowStats>,
}

/// What the shadow phase measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShadowStats {
    /// Requests the candidate answered.
    pub runs: u64,
    /// Of those, how many predicted the same classes as the active version.
    pub agreed: u64,
    /// Requests the candidate failed.
    pub errors: u64,
    pub active_latency: Duration,
    pub shadow_latency: Duration,
}

impl ShadowStats {
    pub fn agreement(&self) -> f64 {
        if self.runs == 0 {
            1.0
        } else {
            self.agreed as f64 / self.runs as f64
        }
    }

    /// Candidate latency over the active version's (mean over the runs).
    pub fn latency_ratio(&self) -> f64 {
        if self.active_latency.is_zero() {
            1.0
        } else {
            self.shadow_latency.as_secs_f64() / self.active_latency.as_secs_f64()
        }
    }
}

/// Arg-max of each row of a tensor's last dimension.
fn classes(t: &ResponseTensor) -> Vec<usize> {
    let width = t.shape.last().copied().unwrap_or(1).max(1);
    t.data
        .to_f32_lossy()
        .chunks(width)
        .map(|row| {
            (0..row.len())
                .max_by(|a, b| row[*a].total_cmp(&row[*b]))
                .unwrap_or(0)
        })
        .collect()
}

impl Shadow {
    pub fn new(version: u64, model: Model) -> Self {
        Self {
            version,
            model,
            stats: Mutex::new(ShadowStats::default()),
        }
    }

    pub fn stats(&self) -> ShadowStats {
        *self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs the candidate on `request` (blocking) and compares with the active answer.
    pub fn compare(
        &self,
        request: InferenceRequest,
        active: &[ResponseTensor],
        active_latency: Duration,
    ) {
        let started = Instant::now();
        let result = crate::service::infer(&self.model, request);
        let elapsed = started.elapsed();
        let mut stats = self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match result {
            Ok(response) => {
                stats.runs += 1;
                stats.active_latency += active_latency;
                stats.shadow_latency += elapsed;
                let same = match (active.first(), response.outputs.first()) {
                    (Some(a), Some(s)) => classes(a) == classes(s),
                    _ => false,
                };
                if same {
                    stats.agreed += 1;
                }
            }
            Err(_) => stats.errors += 1,
        }
    }
}

/// A running shadow phase: the candidate, the tap to attach to the registry, and the worker.
#[derive(Debug)]
pub struct ShadowRun {
    pub shadow: Arc<Shadow>,
    pub tap: Arc<ShadowTap>,
    stop: CancellationToken,
    worker: JoinHandle<()>,
}

impl ShadowRun {
    /// Starts the worker of a shadow phase for a candidate at `version` (inside the runtime).
    /// The worker runs one copy at a time on the blocking pool.
    pub fn start(version: u64, model: Model) -> Self {
        let shadow = Arc::new(Shadow::new(version, model));
        let (tx, mut rx) = mpsc::channel::<ShadowCopy>(QUEUE);
        let stop = CancellationToken::new();
        let (candidate, stopped) = (shadow.clone(), stop.clone());
        let worker = tokio::spawn(async move {
            loop {
                let copy = tokio::select! {
                    () = stopped.cancelled() => break,
                    copy = rx.recv() => match copy {
                        Some(copy) => copy,
                        None => break,
                    },
                };
                let candidate = candidate.clone();
                let on_cpu = candidate.model.backend() == BackendKind::Cpu;
                let compare = move || {
                    candidate.compare(copy.request, &copy.active, copy.active_latency);
                };
                // The candidate's run shares the compute pool with the active models.
                let run = if on_cpu {
                    crate::compute::run(compare)
                        .await
                        .map_err(|e| e.to_string())
                } else {
                    tokio::task::spawn_blocking(compare)
                        .await
                        .map_err(|e| e.to_string())
                };
                if let Err(e) = run {
                    tracing::warn!(error = %e, "a shadow run failed");
                }
            }
        });
        Self {
            shadow,
            tap: Arc::new(ShadowTap::new(version, tx)),
            stop,
            worker,
        }
    }

    /// Ends the phase (detach the tap from the registry first): the copies still queued are
    /// dropped, and this returns once the worker has finished the run it is in.
    pub async fn stop(self) -> ShadowStats {
        self.stop.cancel();
        if let Err(e) = self.worker.await {
            tracing::warn!(error = %e, "the shadow worker failed");
        }
        self.shadow.stats()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use edge_model::oip::InferenceRequest;

    use super::ShadowRun;
    use crate::registry::ShadowCopy;
    use crate::service::testing::{example_model, example_request};

    fn copy() -> ShadowCopy {
        let request = InferenceRequest::from_json(&example_request())
            .unwrap_or_else(|e| panic!("request: {e}"));
        let active = crate::service::infer(&example_model(), request.clone())
            .unwrap_or_else(|e| panic!("infer: {e}"))
            .outputs;
        ShadowCopy {
            request,
            active,
            active_latency: Duration::from_millis(1),
        }
    }

    #[tokio::test]
    async fn the_worker_runs_queued_copies_and_stops_with_the_phase() {
        let run = ShadowRun::start(2, example_model());
        let tap = run.tap.clone();
        assert!(tap.offer(copy()));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while run.shadow.stats().runs == 0 {
            assert!(tokio::time::Instant::now() < deadline, "the copy never ran");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let stats = run.stop().await;
        assert_eq!((stats.runs, stats.agreed, stats.errors), (1, 1, 0));
        // The worker has ended even though a tap is still held: its queue is closed.
        assert!(
            !tap.offer(copy()),
            "no worker takes copies after the phase ended"
        );
    }
}
