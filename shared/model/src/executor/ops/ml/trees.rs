//! Tree ensembles: a walk over the flat arrays of [`Trees`] on the host CPU, whatever the
//! model's device (a tree walk is branchy, dependent loads: nothing a GPU does well, and the
//! models are small), in blocks of rows so that each tree's nodes stay in cache while a block
//! of rows goes through it. Blocks run on rayon's pool, the one Burn's CPU backend computes on.
//!
//! The arithmetic follows ONNX Runtime's `tree_ensemble_aggregator.h` (which the ONNX spec
//! leaves open in places): scores are accumulated in the output's precision, in tree order;
//! one-target regressors apply only PROBIT; and a two-class classifier whose leaves weigh only
//! one class derives the other class's score by ONNX Runtime's binary rules.

use rayon::prelude::*;

use super::post::{f32r, logistic, probit, transform};
use crate::format::{Aggregate, LEAF, MISSING_TRUE, NodeMode, PostTransform, Trees};

/// Rows per block (ONNX Runtime uses the same).
const BLOCK: usize = 256;

/// The walk's result: the INT64 labels of a classifier, and the scores `[rows, targets]`.
pub(crate) struct TreeOutput {
    pub(crate) labels: Option<Vec<i64>>,
    pub(crate) scores: Vec<f64>,
}

/// Runs the ensemble on `rows` rows of `width` features (row-major `x`).
pub(crate) fn run(
    trees: &Trees,
    x: &[f64],
    rows: usize,
    width: usize,
) -> Result<TreeOutput, String> {
    if width < trees.features {
        return Err(format!(
            "the input has {width} features; the trees read feature {}",
            trees.features - 1
        ));
    }
    let targets = trees.targets;
    let mut scores = vec![0.0; rows * targets];
    let mut labels = trees.classes.as_ref().map(|_| vec![0i64; rows]);
    let blocks = scores.par_chunks_mut(BLOCK * targets).enumerate();
    let label_blocks: Vec<Option<&mut [i64]>> = match labels.as_mut() {
        Some(l) => l.chunks_mut(BLOCK).map(Some).collect(),
        None => (0..rows.div_ceil(BLOCK)).map(|_| None).collect(),
    };
    blocks
        .zip(label_blocks)
        .for_each(|((block, out), mut labels)| {
            let first = block * BLOCK;
            let n = out.len() / targets;
            let xs = &x[first * width..(first + n) * width];
            let mut acc = Accumulator::new(trees, n);
            for &root in &trees.roots {
                for r in 0..n {
                    let leaf = walk(trees, root, &xs[r * width..(r + 1) * width]);
                    acc.add(r, leaf);
                }
            }
            for r in 0..n {
                let row = &mut out[r * targets..(r + 1) * targets];
                let label = acc.finish(r, row);
                if let (Some(labels), Some(label)) = (labels.as_deref_mut(), label) {
                    labels[r] = label;
                }
            }
        });
    Ok(TreeOutput { labels, scores })
}

/// Follows one tree from `root` to its leaf for one row.
fn walk(trees: &Trees, root: u32, row: &[f64]) -> usize {
    let mut next = root;
    while next & LEAF == 0 {
        let i = next as usize;
        let x = row[trees.feature[i] as usize];
        let code = trees.mode[i];
        let t = trees.split[i];
        // ONNX Runtime's rule: the comparison, or NaN with the missing bit (so BRANCH_NEQ
        // sends NaN to the true branch either way).
        let hit = match NodeMode::from_code(code) {
            Some(NodeMode::Leq) => x <= t,
            Some(NodeMode::Lt) => x < t,
            Some(NodeMode::Gte) => x >= t,
            Some(NodeMode::Gt) => x > t,
            Some(NodeMode::Eq) => x == t,
            Some(NodeMode::Neq) => x != t,
            Some(NodeMode::Member) => trees.set_of(i).is_some_and(|s| s.contains(&x)),
            None => false,
        } || (code & MISSING_TRUE != 0 && x.is_nan());
        next = if hit {
            trees.true_next[i]
        } else {
            trees.false_next[i]
        };
    }
    (next & !LEAF) as usize
}

/// Per-row scores of one block, with whether each target has been touched (ONNX Runtime's
/// `has_score`, which Min, Max and the classifier rules read).
struct Accumulator<'a> {
    trees: &'a Trees,
    scores: Vec<f64>,
    has: Vec<bool>,
    /// Rounds to the output precision after every step, as an FP32 accumulator would.
    round: fn(f64) -> f64,
}

fn exact(v: f64) -> f64 {
    v
}

impl<'a> Accumulator<'a> {
    fn new(trees: &'a Trees, rows: usize) -> Self {
        let n = rows * trees.targets;
        Self {
            trees,
            scores: vec![0.0; n],
            has: vec![false; n],
            round: if trees.f64_output { exact } else { f32r },
        }
    }

    fn add(&mut self, row: usize, leaf: usize) {
        let t = self.trees;
        let range = t.leaf_start[leaf] as usize..t.leaf_start[leaf + 1] as usize;
        // One-target sums read only a leaf's first weight (ONNX Runtime's one-output path).
        let range = if t.targets == 1 && t.classes.is_none() && !range.is_empty() {
            range.start..range.start + 1
        } else {
            range
        };
        for k in range {
            let i = row * t.targets + t.target[k] as usize;
            let w = t.weight[k];
            let s = &mut self.scores[i];
            *s = match t.aggregate {
                Aggregate::Sum | Aggregate::Average => (self.round)(*s + w),
                Aggregate::Min if !self.has[i] || w < *s => w,
                Aggregate::Max if !self.has[i] || w > *s => w,
                Aggregate::Min | Aggregate::Max => *s,
            };
            self.has[i] = true;
        }
    }

    /// Writes row `row`'s final scores into `out`; a classifier's label comes back.
    fn finish(&self, row: usize, out: &mut [f64]) -> Option<i64> {
        let t = self.trees;
        let n = t.targets;
        let scores = &self.scores[row * n..(row + 1) * n];
        let has = &self.has[row * n..(row + 1) * n];
        let round = self.round;
        if t.classes.is_some() {
            return Some(self.finish_classifier(scores, has, out));
        }
        let trees = t.roots.len() as f64;
        let base = |j: usize| -> f64 {
            if t.base_values.len() == n {
                t.base_values[j]
            } else {
                0.0
            }
        };
        if n == 1 {
            let origin = if t.base_values.len() == 1 {
                t.base_values[0]
            } else {
                0.0
            };
            let s = match t.aggregate {
                Aggregate::Sum => round(scores[0] + origin),
                Aggregate::Average => round(round(scores[0] / trees) + origin),
                Aggregate::Min | Aggregate::Max if has[0] => round(scores[0] + origin),
                Aggregate::Min | Aggregate::Max => origin,
            };
            out[0] = if t.post == PostTransform::Probit {
                round(probit(s))
            } else {
                s
            };
            return None;
        }
        for j in 0..n {
            out[j] = match t.aggregate {
                Aggregate::Sum => round(scores[j] + base(j)),
                Aggregate::Average => round(round(scores[j] / trees) + base(j)),
                Aggregate::Min | Aggregate::Max => {
                    round(base(j) + if has[j] { scores[j] } else { 0.0 })
                }
            };
        }
        transform(out, t.post, round);
        None
    }

    /// ONNX Runtime's classifier finish (`TreeAggregatorClassifier::FinalizeScores`).
    fn finish_classifier(&self, scores: &[f64], has: &[bool], out: &mut [f64]) -> i64 {
        let t = self.trees;
        let round = self.round;
        let Some(classes) = &t.classes else {
            return 0;
        };
        let labels = &classes.labels;
        let base = &t.base_values;
        let mut s = scores.to_vec();
        let mut has = has.to_vec();
        if s.len() > 2 {
            for (k, &b) in base.iter().enumerate().take(s.len()) {
                s[k] = if has[k] { round(s[k] + b) } else { b };
                has[k] = true;
            }
            let mut best: Option<usize> = None;
            for k in 0..s.len() {
                if has[k] && best.is_none_or(|b| s[k] > s[b]) {
                    best = Some(k);
                }
            }
            out.copy_from_slice(&s);
            transform(out, t.post, round);
            return labels[best.unwrap_or(0)];
        }
        // Two classes.
        let mut second = None;
        match base.len() {
            2 if has[1] => {
                s[1] = round(base[1] + s[0]);
                s[0] = -s[1];
            }
            2 => {
                s[1] = round(s[1] + base[1]);
                s[0] = round(s[0] + base[0]);
            }
            1 => s[0] = round(s[0] + base[0]),
            _ => second = Some(3),
        }
        let single = base.len() < 2 && !has[1];
        let positive = if !single && has[1] {
            s[1]
        } else if has[0] {
            s[0]
        } else {
            0.0
        };
        let label = if classes.binary {
            let (mode, label) = match (classes.all_positive, positive) {
                (true, p) if p > 0.5 => (0, labels[1]),
                (true, _) => (1, labels[0]),
                (false, p) if p > 0.0 => (2, labels[1]),
                (false, _) => (3, labels[0]),
            };
            second = Some(mode);
            label
        } else if positive > 0.0 {
            1
        } else {
            0
        };
        if !single {
            out.copy_from_slice(&s);
            transform(out, t.post, round);
            return label;
        }
        // One score: the second column is derived (ONNX Runtime's `write_scores`).
        let v = s[0];
        let (a, b) = match (t.post, second) {
            (PostTransform::Probit, _) => (probit(v), 0.0),
            (_, Some(0 | 1)) => (1.0 - v, v),
            (PostTransform::Logistic, Some(2 | 3)) => (logistic(-v), logistic(v)),
            (_, Some(2 | 3)) => (-v, v),
            _ => (v, 0.0),
        };
        out[0] = round(a);
        out[1] = round(b);
        label
    }
}
