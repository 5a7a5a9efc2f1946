//! The classical-ML ops' parameters (ONNX's `ai.onnx.ml` domain): tree ensembles as flat
//! arrays, the post-transforms and aggregations they share with the linear models, and the
//! load-time checks that make a hostile tree safe to walk.
//!
//! Why flat arrays: a tree walk is a chain of dependent loads, so its speed is the locality of
//! the node arrays (one `Vec` per field, indices instead of pointers, as tract and ONNX Runtime
//! also do). Why children after parents: the importer numbers each tree's nodes in depth-first
//! order, so every interior node's children have larger indices than it; [`Trees::check`]
//! refuses anything else, which proves every walk ends (no cycles, depth at most the node
//! count) without a visited set at run time.

use serde::{Deserialize, Serialize};

/// A child reference with this bit set names a leaf (the low bits are its index).
pub const LEAF: u32 = 1 << 31;
/// A node's `mode` with this bit set sends a missing (NaN) feature down the true branch.
pub const MISSING_TRUE: u8 = 0x80;

/// How an interior node compares its feature (`x`) with its split value; the low bits of
/// [`Trees::mode`]. A node goes to its true branch when the comparison holds, or when `x` is
/// NaN and the node has [`MISSING_TRUE`] (ONNX's `nodes_missing_value_tracks_true`); as in ONNX
/// Runtime, NaN compares unequal, so `Neq` sends it to the true branch either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum NodeMode {
    Leq = 0,
    Lt = 1,
    Gte = 2,
    Gt = 3,
    Eq = 4,
    Neq = 5,
    /// `x` is one of the node's set (its entry in [`Trees::sets`]).
    Member = 6,
}

impl NodeMode {
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code & !MISSING_TRUE {
            0 => NodeMode::Leq,
            1 => NodeMode::Lt,
            2 => NodeMode::Gte,
            3 => NodeMode::Gt,
            4 => NodeMode::Eq,
            5 => NodeMode::Neq,
            6 => NodeMode::Member,
            _ => return None,
        })
    }
}

/// How the leaves reached in each tree combine per target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

/// The transform applied to the scores at the end (ONNX `post_transform`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PostTransform {
    None,
    Softmax,
    Logistic,
    /// Softmax over the non-zero scores only (zeros stay zero).
    SoftmaxZero,
    Probit,
}

/// The classifier's side of a tree ensemble: its class labels and the facts ONNX Runtime's
/// binary-classifier rules read (see `executor/ops/ml/trees.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeClasses {
    /// The INT64 label of each class, by class index.
    pub labels: Vec<i64>,
    /// Two classes and every leaf weight for the same one: the other's score is derived.
    pub binary: bool,
    /// No leaf weight is negative (the binary rule then reads scores as probabilities).
    pub all_positive: bool,
}

/// A tree ensemble in flat arrays: interior nodes by index, leaves by index, each leaf's
/// weights a run of (target, weight) pairs. Every ONNX form (TreeEnsembleRegressor,
/// TreeEnsembleClassifier, opset-5 TreeEnsemble) is converted to this at import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trees {
    /// Each tree's root: an interior node's index, or `LEAF | leaf` for a one-leaf tree.
    pub roots: Vec<u32>,
    /// Per interior node: the feature (column of X) it reads.
    pub feature: Vec<u32>,
    /// How many features X must have at least (one more than the largest read).
    pub features: usize,
    /// Per interior node: the value it compares with (unused by `Member` nodes).
    #[serde(with = "float_list")]
    pub split: Vec<f64>,
    /// Per interior node: a [`NodeMode`] code, with [`MISSING_TRUE`] or not.
    pub mode: Vec<u8>,
    /// Per interior node: where a true comparison goes (a larger node index, or `LEAF | l`).
    pub true_next: Vec<u32>,
    /// Per interior node: where a false comparison goes.
    pub false_next: Vec<u32>,
    /// Per leaf, and one more: leaf `l`'s weights are `leaf_start[l]..leaf_start[l + 1]`.
    pub leaf_start: Vec<u32>,
    /// Per weight: the target (or class) it adds to.
    pub target: Vec<u32>,
    #[serde(with = "float_list")]
    pub weight: Vec<f64>,
    /// The sets of the `Member` nodes, by node index (sorted by node).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sets: Vec<MemberSet>,
    /// Columns of the score output.
    pub targets: usize,
    pub aggregate: Aggregate,
    pub post: PostTransform,
    /// Added to the aggregated scores (one per target, or one for all: ONNX Runtime's rule).
    #[serde(with = "float_list")]
    pub base_values: Vec<f64>,
    /// Present for TreeEnsembleClassifier: its labels are the first output.
    pub classes: Option<TreeClasses>,
    /// The scores are FP64 (opset-5 TreeEnsemble on an FP64 input); otherwise FP32.
    #[serde(default)]
    pub f64_output: bool,
}

/// The values a `Member` node tests its feature against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSet {
    pub node: u32,
    #[serde(with = "float_list")]
    pub values: Vec<f64>,
}

/// Most trees, nodes and leaf weights an ensemble may have (a 10,000-tree ensemble of depth 8
/// fits; the spec file's own limit is the tighter one in practice).
pub const MAX_TREE_NODES: usize = 1 << 22;
pub const MAX_TARGETS: usize = 1 << 16;

impl Trees {
    pub fn leaves(&self) -> usize {
        self.leaf_start.len().saturating_sub(1)
    }

    /// The structural checks a walk relies on: equal array lengths, every child reference in
    /// range and after its parent, every mode known, every target in range.
    pub fn check(&self) -> Result<(), String> {
        let nodes = self.feature.len();
        if nodes > MAX_TREE_NODES || self.weight.len() > MAX_TREE_NODES {
            return Err(format!("over {MAX_TREE_NODES} nodes or leaf weights"));
        }
        if [
            self.split.len(),
            self.mode.len(),
            self.true_next.len(),
            self.false_next.len(),
        ]
        .iter()
        .any(|&n| n != nodes)
        {
            return Err("the node arrays differ in length".into());
        }
        if self.roots.is_empty() || self.leaf_start.first() != Some(&0) {
            return Err("no trees, or leaf ranges not starting at 0".into());
        }
        if self.leaf_start.windows(2).any(|w| w[0] > w[1])
            || self.leaf_start.last().map(|&l| l as usize) != Some(self.weight.len())
            || self.target.len() != self.weight.len()
        {
            return Err("the leaf weight ranges are out of order or out of range".into());
        }
        if self.targets == 0 || self.targets > MAX_TARGETS {
            return Err(format!("{} targets (1 to {MAX_TARGETS})", self.targets));
        }
        if self.target.iter().any(|&t| t as usize >= self.targets) {
            return Err("a leaf weight names a target out of range".into());
        }
        let leaves = self.leaves();
        let child_ok = |parent: Option<usize>, next: u32| {
            if next & LEAF != 0 {
                ((next & !LEAF) as usize) < leaves
            } else {
                (next as usize) < nodes && parent.is_none_or(|p| next as usize > p)
            }
        };
        if !self.roots.iter().all(|&r| child_ok(None, r)) {
            return Err("a tree root is out of range".into());
        }
        for i in 0..nodes {
            if !child_ok(Some(i), self.true_next[i]) || !child_ok(Some(i), self.false_next[i]) {
                return Err(format!(
                    "node {i}: a child is out of range or not after its parent"
                ));
            }
            if self.feature[i] as usize >= self.features {
                return Err(format!(
                    "node {i}: feature {} out of range",
                    self.feature[i]
                ));
            }
            match NodeMode::from_code(self.mode[i]) {
                None => return Err(format!("node {i}: unknown mode {}", self.mode[i])),
                Some(NodeMode::Member) => {
                    if self.set_of(i).is_none() {
                        return Err(format!("node {i}: a set-membership node without a set"));
                    }
                }
                Some(_) => {}
            }
        }
        if self.sets.windows(2).any(|w| w[0].node >= w[1].node) {
            return Err("the membership sets are not sorted by node".into());
        }
        if let Some(classes) = &self.classes
            && classes.labels.len() != self.targets
        {
            return Err(format!(
                "{} class labels for {} classes",
                classes.labels.len(),
                self.targets
            ));
        }
        match self.base_values.len() {
            0 | 1 => Ok(()),
            n if n == self.targets => Ok(()),
            n => Err(format!("{n} base values for {} targets", self.targets)),
        }
    }

    /// The set of `Member` node `node`.
    pub fn set_of(&self, node: usize) -> Option<&[f64]> {
        self.sets
            .binary_search_by_key(&node, |s| s.node as usize)
            .ok()
            .map(|i| self.sets[i].values.as_slice())
    }
}

/// ONNX `Normalizer`'s norms (each row scaled by its max, L1 or L2 norm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Norm {
    Max,
    L1,
    L2,
}

/// A `LabelEncoder`'s keys or values: integers or floats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Labels {
    Ints(Vec<i64>),
    Floats(#[serde(with = "float_list")] Vec<f64>),
}

impl Labels {
    pub fn len(&self) -> usize {
        match self {
            Labels::Ints(v) => v.len(),
            Labels::Floats(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Float lists that may hold infinities and NaN (JSON has neither): those are written as the
/// strings `"inf"`, `"-inf"` and `"nan"`. Tree exporters write infinite thresholds for splits
/// that always go one way.
pub(crate) mod float_list {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Item {
        Number(f64),
        Named(String),
    }

    pub(crate) fn serialize<S: Serializer>(values: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(values.iter().map(|&v| {
            if v.is_finite() {
                Item::Number(v)
            } else if v.is_nan() {
                Item::Named("nan".into())
            } else if v > 0.0 {
                Item::Named("inf".into())
            } else {
                Item::Named("-inf".into())
            }
        }))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Vec::<Item>::deserialize(d)?
            .into_iter()
            .map(|item| match item {
                Item::Number(v) => Ok(v),
                Item::Named(name) => match name.as_str() {
                    "inf" => Ok(f64::INFINITY),
                    "-inf" => Ok(f64::NEG_INFINITY),
                    "nan" => Ok(f64::NAN),
                    other => Err(serde::de::Error::custom(format!(
                        "'{other}' is not a number (nor inf, -inf, nan)"
                    ))),
                },
            })
            .collect()
    }
}
