//! Sliding-window request statistics: a ring of time slots, each with a request count, an
//! error count and a latency histogram (hdrhistogram, 2 significant digits). Reading merges
//! the slots still inside the window, so the numbers describe the last `window`, not the
//! whole uptime, and cost nothing per request beyond one histogram increment.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

const SLOTS: u64 = 10;

#[derive(Debug)]
struct Slot {
    epoch: u64,
    requests: u64,
    errors: u64,
    latency_us: Histogram<u64>,
}

/// The request statistics of one model version over a sliding window.
#[derive(Debug)]
pub struct RequestWindow {
    origin: Instant,
    slot_len: Duration,
    slots: Vec<Slot>,
}

/// What a window holds right now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowSummary {
    /// Seconds the summary covers (less than the window just after start).
    pub seconds: f64,
    pub requests: u64,
    pub errors: u64,
    /// Latency quantiles p50, p95, p99 in seconds (none without requests).
    pub latency: Option<[f64; 3]>,
}

impl WindowSummary {
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.requests as f64 / self.seconds
        } else {
            0.0
        }
    }

    pub fn error_ratio(&self) -> f64 {
        let total = self.requests + self.errors;
        if total == 0 {
            0.0
        } else {
            self.errors as f64 / total as f64
        }
    }
}

impl RequestWindow {
    pub fn new(window: Duration, origin: Instant) -> Self {
        let slots = (0..SLOTS)
            .map(|_| Slot {
                epoch: u64::MAX,
                requests: 0,
                errors: 0,
                // 1 µs to 10 min; the bounds are constants, so this cannot fail.
                latency_us: Histogram::new_with_bounds(1, 600_000_000, 2)
                    .unwrap_or_else(|_| unreachable!("constant histogram bounds")),
            })
            .collect();
        Self {
            origin,
            slot_len: (window / SLOTS as u32).max(Duration::from_millis(1)),
            slots,
        }
    }

    fn epoch(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.origin).as_nanos() / self.slot_len.as_nanos()) as u64
    }

    fn slot(&mut self, now: Instant) -> &mut Slot {
        let epoch = self.epoch(now);
        let slot = &mut self.slots[(epoch % SLOTS) as usize];
        if slot.epoch != epoch {
            slot.epoch = epoch;
            slot.requests = 0;
            slot.errors = 0;
            slot.latency_us.reset();
        }
        slot
    }

    pub fn record_request(&mut self, now: Instant, latency: Duration) {
        let slot = self.slot(now);
        slot.requests += 1;
        slot.latency_us
            .saturating_record(latency.as_micros().max(1) as u64);
    }

    pub fn record_error(&mut self, now: Instant) {
        self.slot(now).errors += 1;
    }

    pub fn summary(&self, now: Instant) -> WindowSummary {
        let current = self.epoch(now);
        let oldest = current.saturating_sub(SLOTS - 1);
        let mut merged: Option<Histogram<u64>> = None;
        let mut summary = WindowSummary::default();
        for slot in self
            .slots
            .iter()
            .filter(|s| s.epoch != u64::MAX && s.epoch >= oldest && s.epoch <= current)
        {
            summary.requests += slot.requests;
            summary.errors += slot.errors;
            match &mut merged {
                None => merged = Some(slot.latency_us.clone()),
                Some(h) => {
                    let _ = h.add(&slot.latency_us);
                }
            }
        }
        let elapsed = now.saturating_duration_since(self.origin);
        let window = self.slot_len * SLOTS as u32;
        // The window covers the full slots before the current one plus the current one's
        // elapsed part, or the uptime when that is shorter.
        let into_current = elapsed.saturating_sub(self.slot_len * current as u32);
        summary.seconds = (self.slot_len * (SLOTS as u32 - 1) + into_current)
            .min(elapsed)
            .min(window)
            .as_secs_f64();
        if let Some(h) = merged.filter(|h| !h.is_empty()) {
            summary.latency = Some([0.5, 0.95, 0.99].map(|q| h.value_at_quantile(q) as f64 / 1e6));
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_rate_and_errors_over_the_window() {
        let origin = Instant::now();
        let mut w = RequestWindow::new(Duration::from_secs(100), origin);
        let now = origin + Duration::from_secs(50);
        for i in 1..=100u64 {
            w.record_request(now, Duration::from_micros(i * 100));
        }
        w.record_error(now);
        let s = w.summary(now);
        assert_eq!(s.requests, 100);
        assert_eq!(s.errors, 1);
        let [p50, p95, p99] = s.latency.expect("latency");
        assert!((p50 - 0.005).abs() < 0.0002, "{p50}");
        assert!((p95 - 0.0095).abs() < 0.0002, "{p95}");
        assert!((p99 - 0.0099).abs() < 0.0002, "{p99}");
        assert!((s.rate() - 2.0).abs() < 0.01, "{}", s.rate());
    }

    #[test]
    fn old_slots_leave_the_window() {
        let origin = Instant::now();
        let mut w = RequestWindow::new(Duration::from_secs(10), origin);
        w.record_request(origin, Duration::from_millis(1));
        assert_eq!(w.summary(origin + Duration::from_secs(5)).requests, 1);
        let later = origin + Duration::from_secs(11);
        assert_eq!(w.summary(later).requests, 0);
        w.record_request(later, Duration::from_millis(1));
        assert_eq!(w.summary(later).requests, 1);
    }
}
