//! Model quality on this box, from predictions joined with their labels: accuracy,
//! precision, recall and F1 per class and macro-averaged, and ROC AUC for binary models.
//!
//! Definitions follow scikit-learn's defaults, so numbers can be checked there: the classes
//! reported are those seen in the labels or the predictions; a precision or recall with no
//! denominator is 0; macro averages are plain means over those classes; AUC is the
//! Mann-Whitney statistic with ties counted half, and is reported only when both classes
//! have labels.

use std::collections::{BTreeMap, VecDeque};

use edge_model::oip::ResponseTensor;

/// How a model's class output turns into a predicted class and a score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scoring {
    /// One score per row: class 1 when the score is at or above the threshold.
    Threshold(f32),
    /// One value per class: the argmax; with two classes, the score is x1 - x0 (the ranking of
    /// the softmax probability of class 1).
    Argmax { classes: usize },
    /// Integer class labels, one per row (a scikit-learn classifier's `label` output); the
    /// scores of a second output with `score_width` values per row, when there is one: with
    /// two, p1 - p0; with one, the value itself; with more, none (AUC is binary).
    Labels { score_width: Option<usize> },
}

impl Scoring {
    /// Number of classes a label may name (class labels may be any class value).
    pub fn classes(self) -> Option<usize> {
        match self {
            Self::Threshold(_) => Some(2),
            Self::Argmax { classes } => Some(classes),
            Self::Labels { .. } => None,
        }
    }

    fn width(self) -> usize {
        match self {
            Self::Threshold(_) | Self::Labels { .. } => 1,
            Self::Argmax { classes } => classes,
        }
    }

    /// Predicted class and binary score of each row of `output` (and of `scores`, the score
    /// output of a model with class labels).
    pub fn rows(
        self,
        output: &ResponseTensor,
        scores: Option<&ResponseTensor>,
    ) -> Vec<(u32, Option<f32>)> {
        // Integer outputs (class labels) score as numbers too.
        let values = output.data.to_f32_lossy();
        if let Self::Labels { score_width } = self {
            let scores = scores.map(|s| s.data.to_f32_lossy()).unwrap_or_default();
            let width = score_width.unwrap_or(0);
            return values
                .iter()
                .enumerate()
                .map(|(i, &label)| {
                    let row = scores.get(i * width..(i + 1) * width);
                    let score = match (width, row) {
                        (1, Some(r)) => Some(r[0]),
                        (2, Some(r)) => Some(r[1] - r[0]),
                        _ => None,
                    };
                    // A negative or fractional label is no class a label can name.
                    let class = if label >= 0.0 && label.fract() == 0.0 {
                        label as u32
                    } else {
                        u32::MAX
                    };
                    (class, score)
                })
                .collect();
        }
        values
            .chunks(self.width().max(1))
            .map(|row| match self {
                Self::Threshold(t) => {
                    let s = row.first().copied().unwrap_or(f32::NAN);
                    (u32::from(s >= t), Some(s))
                }
                Self::Argmax { classes } => {
                    let best = row
                        .iter()
                        .enumerate()
                        .fold((0usize, f32::NEG_INFINITY), |acc, (i, &v)| {
                            if v > acc.1 { (i, v) } else { acc }
                        })
                        .0;
                    let score = (classes == 2).then(|| row[1] - row[0]);
                    (best as u32, score)
                }
                Self::Labels { .. } => (u32::MAX, None),
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    time_ms: u64,
    predicted: u32,
    truth: u32,
    score: Option<f32>,
}

/// Labelled rows of one model version inside the quality window.
#[derive(Debug)]
pub struct QualityWindow {
    window_ms: u64,
    max_samples: usize,
    samples: VecDeque<Sample>,
}

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

/// The quality metrics of a window.
#[derive(Debug, Clone, PartialEq)]
pub struct QualitySummary {
    pub samples: u64,
    pub accuracy: f64,
    pub per_class: BTreeMap<u32, ClassScores>,
    pub macro_avg: ClassScores,
    pub roc_auc: Option<f64>,
}

impl QualityWindow {
    pub fn new(window_ms: u64, max_samples: usize) -> Self {
        Self {
            window_ms,
            max_samples,
            samples: VecDeque::new(),
        }
    }

    /// Adds the rows of one labelled prediction.
    pub fn add(&mut self, time_ms: u64, rows: &[(u32, Option<f32>)], truth: &[u32]) {
        for (&(predicted, score), &truth) in rows.iter().zip(truth) {
            if self.samples.len() >= self.max_samples {
                self.samples.pop_front();
            }
            self.samples.push_back(Sample {
                time_ms,
                predicted,
                truth,
                score,
            });
        }
    }

    fn expire(&mut self, now_ms: u64) {
        let oldest = now_ms.saturating_sub(self.window_ms);
        while self.samples.front().is_some_and(|s| s.time_ms < oldest) {
            self.samples.pop_front();
        }
    }

    /// The metrics over the rows labelled in the last window; `None` without any.
    pub fn summary(&mut self, now_ms: u64) -> Option<QualitySummary> {
        self.expire(now_ms);
        summarise(self.samples.iter().copied())
    }
}

fn summarise(samples: impl Iterator<Item = Sample> + Clone) -> Option<QualitySummary> {
    #[derive(Default)]
    struct Counts {
        tp: u64,
        predicted: u64,
        actual: u64,
    }
    let mut counts: BTreeMap<u32, Counts> = BTreeMap::new();
    let (mut n, mut correct) = (0u64, 0u64);
    for s in samples.clone() {
        n += 1;
        counts.entry(s.predicted).or_default().predicted += 1;
        let truth = counts.entry(s.truth).or_default();
        truth.actual += 1;
        if s.predicted == s.truth {
            truth.tp += 1;
            correct += 1;
        }
    }
    if n == 0 {
        return None;
    }
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let per_class: BTreeMap<u32, ClassScores> = counts
        .iter()
        .map(|(&class, c)| {
            let precision = ratio(c.tp, c.predicted);
            let recall = ratio(c.tp, c.actual);
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            (
                class,
                ClassScores {
                    precision,
                    recall,
                    f1,
                    support: c.actual,
                },
            )
        })
        .collect();
    let k = per_class.len() as f64;
    let mean = |f: fn(&ClassScores) -> f64| per_class.values().map(f).sum::<f64>() / k;
    let macro_avg = ClassScores {
        precision: mean(|c| c.precision),
        recall: mean(|c| c.recall),
        f1: mean(|c| c.f1),
        support: n,
    };
    Some(QualitySummary {
        samples: n,
        accuracy: correct as f64 / n as f64,
        macro_avg,
        roc_auc: roc_auc(samples),
        per_class,
    })
}

/// Mann-Whitney AUC of the binary scores (truth 1 = positive), ties counted half.
fn roc_auc(samples: impl Iterator<Item = Sample>) -> Option<f64> {
    let mut scored: Vec<(f32, bool)> = Vec::new();
    for s in samples {
        if s.truth > 1 {
            return None;
        }
        scored.push((s.score.filter(|v| !v.is_nan())?, s.truth == 1));
    }
    let positives = scored.iter().filter(|(_, p)| *p).count() as f64;
    let negatives = scored.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Sum of the (1-based, tie-averaged) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < scored.len() {
        let mut j = i;
        while j < scored.len() && scored[j].0 == scored[i].0 {
            j += 1;
        }
        let average_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += scored[i..j].iter().filter(|(_, p)| *p).count() as f64 * average_rank;
        i = j;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(rows: &[(u32, Option<f32>)], truth: &[u32]) -> QualitySummary {
        let mut w = QualityWindow::new(1000, 1000);
        w.add(10, rows, truth);
        w.summary(10).expect("samples")
    }

    // Reference numbers from scikit-learn 1.5:
    // y_true = [0, 1, 2, 2, 1, 0], y_pred = [0, 2, 2, 2, 1, 1]
    // accuracy 0.6667; precision [1.0, 0.5, 0.6667]; recall [0.5, 0.5, 1.0];
    // f1 [0.6667, 0.5, 0.8]; macro precision 0.7222, recall 0.6667, f1 0.6556
    #[test]
    fn multiclass_scores_match_scikit_learn() {
        let pred = [0, 2, 2, 2, 1, 1].map(|c| (c, None));
        let s = window(&pred, &[0, 1, 2, 2, 1, 0]);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-4;
        assert!(close(s.accuracy, 4.0 / 6.0));
        assert!(close(s.per_class[&0].precision, 1.0));
        assert!(close(s.per_class[&1].precision, 0.5));
        assert!(close(s.per_class[&2].precision, 2.0 / 3.0));
        assert!(close(s.per_class[&0].recall, 0.5));
        assert!(close(s.per_class[&2].recall, 1.0));
        assert!(close(s.per_class[&2].f1, 0.8));
        assert!(close(s.macro_avg.precision, 0.72222));
        assert!(close(s.macro_avg.recall, 0.66667));
        assert!(close(s.macro_avg.f1, 0.65556));
        assert_eq!(s.roc_auc, None);
    }

    // roc_auc_score([0, 0, 1, 1, 1], [0.1, 0.4, 0.35, 0.8, 0.4]) = 0.75 (one tie at 0.4)
    #[test]
    fn binary_auc_matches_scikit_learn_with_ties() {
        let scores = [0.1, 0.4, 0.35, 0.8, 0.4];
        let rows: Vec<_> = scores
            .iter()
            .map(|&s| (u32::from(s >= 0.5), Some(s)))
            .collect();
        let s = window(&rows, &[0, 0, 1, 1, 1]);
        let auc = s.roc_auc.expect("auc");
        assert!((auc - 0.75).abs() < 1e-9, "{auc}");
    }

    #[test]
    fn argmax_scoring_of_two_logits_ranks_by_their_difference() {
        let out = ResponseTensor {
            name: "logits".into(),
            shape: vec![2, 2],
            datatype: "FP32".into(),
            data: vec![0.0f32, 2.0, 1.0, -1.0].into(),
        };
        let rows = Scoring::Argmax { classes: 2 }.rows(&out, None);
        assert_eq!(rows, vec![(1, Some(2.0)), (0, Some(-2.0))]);
    }

    #[test]
    fn class_labels_come_from_one_output_and_binary_scores_from_the_other() {
        let labels = ResponseTensor {
            name: "label".into(),
            shape: vec![3],
            datatype: "INT64".into(),
            data: vec![1i64, 0, 7].into(),
        };
        let probabilities = ResponseTensor {
            name: "probabilities".into(),
            shape: vec![3, 2],
            datatype: "FP32".into(),
            data: vec![0.25f32, 0.75, 0.5, 0.5, 1.0, 0.0].into(),
        };
        let two = Scoring::Labels {
            score_width: Some(2),
        };
        assert_eq!(
            two.rows(&labels, Some(&probabilities)),
            vec![(1, Some(0.5)), (0, Some(0.0)), (7, Some(-1.0))]
        );
        let none = Scoring::Labels { score_width: None };
        assert_eq!(
            none.rows(&labels, None),
            vec![(1, None), (0, None), (7, None)]
        );
    }

    #[test]
    fn samples_leave_by_time_and_by_count() {
        let mut w = QualityWindow::new(100, 3);
        w.add(0, &[(1, None)], &[1]);
        w.add(50, &[(0, None), (0, None), (0, None)], &[1, 1, 1]);
        assert_eq!(w.summary(60).map(|s| s.samples), Some(3));
        assert_eq!(w.summary(60).map(|s| s.accuracy), Some(0.0));
        assert_eq!(w.summary(200), None);
    }

    #[test]
    fn one_class_only_has_no_auc() {
        let s = window(&[(1, Some(0.9)), (1, Some(0.8))], &[1, 1]);
        assert_eq!(s.roc_auc, None);
        assert_eq!(s.accuracy, 1.0);
    }
}
