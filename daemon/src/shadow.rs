//! Shadow runs: a candidate version, loaded beside the active one, gets a copy of every live
//! request after the active version has answered; its outputs are never served or stored.
//! What is kept is how often its predicted class (arg-max of the first output, per row)
//! agrees with the active version's, and both latencies — what the updater needs to decide
//! whether to switch. The copy runs on a spawned task, so the request path only pays for
//! cloning the request while a shadow is attached.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use edge_model::Model;
use edge_model::oip::{InferenceRequest, ResponseTensor};

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
        let result = crate::predict::infer(&self.model, request);
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
