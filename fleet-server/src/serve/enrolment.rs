//! Self-enrolment under a flood. Any key can say hello and become a pending device (that is
//! what lets a box enrol without provisioned secrets), so new hellos are bounded three ways
//! before anything is stored: by size (`[limits] max_hello_bytes`), by rate (a token bucket,
//! `enrolments_per_second` with `enrolment_burst`) and by the number of devices waiting for
//! approval (`max_pending_devices`). A refused hello is counted by reason
//! (`hello_too_large`, `enrolment_rate`, `enrolment_full` in `/api/stats`) and stores
//! nothing; the box says hello again on its next connection, so once an operator approves or
//! revokes the backlog, it gets in. Hellos of known devices pass untouched.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::registry::{Approval, Registry, RegistryError};

/// The configured bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnrolmentLimits {
    pub max_pending: u64,
    pub per_second: f64,
    pub burst: f64,
    pub max_hello_bytes: usize,
}

/// Why a new device's hello was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnrolmentRefused {
    #[error("the hello is {size} bytes, over {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("too many new devices per second")]
    Rate,
    #[error("{0} devices already wait for approval")]
    Full(u64),
}

impl EnrolmentRefused {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "hello_too_large",
            Self::Rate => "enrolment_rate",
            Self::Full(_) => "enrolment_full",
        }
    }
}

/// How often the pending count is recounted from the store (approvals and revocations made
/// since then show up within this).
const RECOUNT: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct State {
    tokens: f64,
    refilled: Instant,
    pending: u64,
    counted: Option<Instant>,
}

/// The gate new devices pass.
#[derive(Debug)]
pub struct Enrolment {
    limits: EnrolmentLimits,
    state: Mutex<State>,
}

impl Enrolment {
    pub fn new(limits: EnrolmentLimits) -> Self {
        Self {
            limits,
            state: Mutex::new(State {
                tokens: limits.burst,
                refilled: Instant::now(),
                pending: 0,
                counted: None,
            }),
        }
    }

    /// Admits one hello of an unknown device of `size` bytes, or says why not.
    pub fn admit(
        &self,
        size: usize,
        registry: &Registry,
    ) -> Result<Result<(), EnrolmentRefused>, RegistryError> {
        if size > self.limits.max_hello_bytes {
            return Ok(Err(EnrolmentRefused::TooLarge {
                size,
                limit: self.limits.max_hello_bytes,
            }));
        }
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let elapsed = now.duration_since(s.refilled).as_secs_f64();
        s.tokens = (s.tokens + elapsed * self.limits.per_second).min(self.limits.burst);
        s.refilled = now;
        if s.tokens < 1.0 {
            return Ok(Err(EnrolmentRefused::Rate));
        }
        if s.counted.is_none_or(|at| now.duration_since(at) >= RECOUNT) {
            s.pending = registry
                .devices()?
                .iter()
                .filter(|d| d.approval == Approval::Pending)
                .count() as u64;
            s.counted = Some(now);
        }
        if s.pending >= self.limits.max_pending {
            return Ok(Err(EnrolmentRefused::Full(s.pending)));
        }
        s.tokens -= 1.0;
        s.pending += 1;
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_second: f64, burst: f64, max_pending: u64) -> EnrolmentLimits {
        EnrolmentLimits {
            max_pending,
            per_second,
            burst,
            max_hello_bytes: 1024,
        }
    }

    #[test]
    fn a_burst_passes_then_the_rate_holds_and_the_pending_cap_holds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = Registry::open(dir.path()).expect("open");
        let gate = Enrolment::new(limits(0.01, 5.0, 1000));
        let admitted = (0..20)
            .filter(|_| gate.admit(100, &registry).expect("db").is_ok())
            .count();
        assert_eq!(admitted, 5, "the burst, then nothing at 0.01/s");
        let gate = Enrolment::new(limits(1e6, 1e6, 3));
        let results: Vec<_> = (0..5)
            .map(|_| gate.admit(100, &registry).expect("db"))
            .collect();
        assert_eq!(results[..3], [Ok(()), Ok(()), Ok(())]);
        assert_eq!(results[3], Err(EnrolmentRefused::Full(3)));
        assert_eq!(
            gate.admit(2000, &registry).expect("db"),
            Err(EnrolmentRefused::TooLarge {
                size: 2000,
                limit: 1024
            })
        );
    }
}
