//! Regression quality on this box, from predictions joined with their float labels: mean
//! absolute error and root mean squared error over the quality window (by label arrival time,
//! capped in values like the classifiers' window is in rows).
//!
//! One sample is one output value and its label, so a model with several targets averages
//! over all of them, as scikit-learn's `mean_absolute_error` and `root_mean_squared_error`
//! do by default (`multioutput="uniform_average"` over equally many rows per target). A
//! prediction that is not a finite number has no error to average: it is left out and
//! counted (`non_finite`), so one NaN does not turn the whole window into NaN.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy)]
struct Sample {
    time_ms: u64,
    error: f64,
}

/// Labelled values of one model version inside the quality window.
#[derive(Debug)]
pub struct RegressionWindow {
    window_ms: u64,
    max_samples: usize,
    samples: VecDeque<Sample>,
    non_finite: u64,
}

/// MAE and RMSE of a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegressionSummary {
    /// Labelled values in the window.
    pub samples: u64,
    pub mae: f64,
    pub rmse: f64,
    /// Predictions left out because they were NaN or infinite (since start).
    pub non_finite: u64,
}

impl RegressionWindow {
    pub fn new(window_ms: u64, max_samples: usize) -> Self {
        Self {
            window_ms,
            max_samples,
            samples: VecDeque::new(),
            non_finite: 0,
        }
    }

    /// Adds the values of one labelled prediction (`predicted` and `truth` pair up in order).
    pub fn add(&mut self, time_ms: u64, predicted: &[f64], truth: &[f64]) {
        for (&p, &t) in predicted.iter().zip(truth) {
            if !p.is_finite() {
                self.non_finite += 1;
                continue;
            }
            if self.samples.len() >= self.max_samples {
                self.samples.pop_front();
            }
            self.samples.push_back(Sample {
                time_ms,
                error: p - t,
            });
        }
    }

    /// The errors over the values labelled in the last window; `None` without any.
    pub fn summary(&mut self, now_ms: u64) -> Option<RegressionSummary> {
        let oldest = now_ms.saturating_sub(self.window_ms);
        while self.samples.front().is_some_and(|s| s.time_ms < oldest) {
            self.samples.pop_front();
        }
        let n = self.samples.len();
        if n == 0 {
            return None;
        }
        let (abs, sq) = self.samples.iter().fold((0.0, 0.0), |(a, s), x| {
            (a + x.error.abs(), s + x.error * x.error)
        });
        Some(RegressionSummary {
            samples: n as u64,
            mae: abs / n as f64,
            rmse: (sq / n as f64).sqrt(),
            non_finite: self.non_finite,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // scikit-learn 1.9: y_true = [3.0, -0.5, 2.0, 7.0], y_pred = [2.5, 0.0, 2.0, 8.0]
    // mean_absolute_error = 0.5, root_mean_squared_error = 0.6123724356957945
    #[test]
    fn mae_and_rmse_match_scikit_learn() {
        let mut w = RegressionWindow::new(1000, 100);
        w.add(10, &[2.5, 0.0, 2.0, 8.0], &[3.0, -0.5, 2.0, 7.0]);
        let s = w.summary(10).expect("samples");
        assert_eq!(s.samples, 4);
        assert!((s.mae - 0.5).abs() < 1e-12, "{}", s.mae);
        assert!(
            (s.rmse - 0.612_372_435_695_794_5).abs() < 1e-12,
            "{}",
            s.rmse
        );
    }

    #[test]
    fn a_nan_prediction_is_left_out_and_counted() {
        let mut w = RegressionWindow::new(1000, 100);
        w.add(10, &[f64::NAN, 1.0], &[0.0, 3.0]);
        let s = w.summary(10).expect("samples");
        assert_eq!((s.samples, s.non_finite), (1, 1));
        assert_eq!((s.mae, s.rmse), (2.0, 2.0));
    }

    #[test]
    fn values_leave_by_time_and_by_count() {
        let mut w = RegressionWindow::new(100, 2);
        w.add(0, &[1.0], &[0.0]);
        w.add(50, &[0.0, 0.0], &[4.0, 4.0]);
        assert_eq!(w.summary(60).map(|s| (s.samples, s.mae)), Some((2, 4.0)));
        assert_eq!(w.summary(200), None);
    }
}
