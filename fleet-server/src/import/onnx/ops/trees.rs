//! Tree ensembles (TreeEnsembleRegressor, TreeEnsembleClassifier and opset 5's TreeEnsemble,
//! all `ai.onnx.ml`, all reaching us as custom nodes) converted to the flat [`Trees`] arrays.
//!
//! Both ONNX encodings are read here into one shape (`tree_layout::Raw`), which
//! `tree_layout::flatten` lays out flat, children after parents; a node reached twice (a
//! cycle, or two parents) is refused there: the file is not a forest.

use std::collections::HashMap;

use edge_model::format::{
    Aggregate, LEAF, MISSING_TRUE, NodeMode, Op, PostTransform, TreeClasses, Trees,
};
use onnx_ir::{ArgType, CustomNode, DType, PublicAttributesOwned};

use super::tree_layout::{Finish, Raw, RawNode, Ref, flatten};
use super::{Lowered, Lowering};

type Res<T> = Result<T, String>;

pub(super) fn tree_ensemble(n: &CustomNode) -> Lowering {
    let a = &n.attrs;
    let trees = match n.op_type.as_str() {
        "TreeEnsemble" => opset5(n)?,
        "TreeEnsembleRegressor" | "TreeEnsembleClassifier" => legacy(n, a)?,
        other => return Err(format!("{other} is not a tree ensemble")),
    };
    trees.check()?;
    Lowered::reads(
        Op::TreeEnsemble {
            trees: Box::new(trees),
        },
        1,
    )
}

/// ONNX's post_transform names (the legacy ops) and codes (opset 5).
fn post_named(name: &str) -> Res<PostTransform> {
    Ok(match name {
        "NONE" => PostTransform::None,
        "SOFTMAX" => PostTransform::Softmax,
        "LOGISTIC" => PostTransform::Logistic,
        "SOFTMAX_ZERO" => PostTransform::SoftmaxZero,
        "PROBIT" => PostTransform::Probit,
        other => return Err(format!("post_transform '{other}' is not an ONNX transform")),
    })
}

pub(super) fn post_transform(a: &PublicAttributesOwned) -> Res<PostTransform> {
    post_named(a.get_string("post_transform").unwrap_or("NONE"))
}

/// A float list given as FLOATS or as a tensor (`<name>_as_tensor`, FP64 in practice).
fn floats(a: &PublicAttributesOwned, name: &str) -> Res<Option<Vec<f64>>> {
    if let Some(v) = a.get_f32s(name) {
        return Ok(Some(v.iter().map(|&x| f64::from(x)).collect()));
    }
    let tensor = format!("{name}_as_tensor");
    match a.get_tensor(&tensor) {
        Some(t) => tensor_floats(t, &tensor).map(Some),
        None => Ok(None),
    }
}

fn tensor_floats(t: &onnx_ir::TensorData, name: &str) -> Res<Vec<f64>> {
    t.clone()
        .try_into_vec_as::<f64>()
        .map_err(|e| format!("{name}: {e:?}"))
}

fn ints<'a>(a: &'a PublicAttributesOwned, name: &str) -> &'a [i64] {
    a.get_i64s(name).unwrap_or(&[])
}

fn index(v: i64, what: &str) -> Res<u32> {
    u32::try_from(v)
        .ok()
        .filter(|&v| v & LEAF == 0)
        .ok_or_else(|| format!("{what} {v} is out of range"))
}

/// TreeEnsembleRegressor and TreeEnsembleClassifier: nodes named by (tree id, node id).
fn legacy(n: &CustomNode, a: &PublicAttributesOwned) -> Res<Trees> {
    let classifier = n.op_type == "TreeEnsembleClassifier";
    let tree_ids = ints(a, "nodes_treeids");
    let node_ids = ints(a, "nodes_nodeids");
    let features = ints(a, "nodes_featureids");
    let yes = ints(a, "nodes_truenodeids");
    let no = ints(a, "nodes_falsenodeids");
    let missing = ints(a, "nodes_missing_value_tracks_true");
    let modes = a.get_strings("nodes_modes").unwrap_or(&[]);
    let splits = floats(a, "nodes_values")?.unwrap_or_default();
    let count = tree_ids.len();
    if count == 0
        || [
            node_ids.len(),
            features.len(),
            modes.len(),
            yes.len(),
            no.len(),
            splits.len(),
        ]
        .iter()
        .any(|&l| l != count)
        || !(missing.is_empty() || missing.len() == count)
    {
        return Err("the nodes_* attributes are missing or differ in length".into());
    }
    // Positions by (tree, node); trees in order of first appearance, each contiguous.
    let mut at: HashMap<(i64, i64), usize> = HashMap::new();
    let mut roots_at: Vec<usize> = Vec::new();
    let mut seen_trees: HashMap<i64, ()> = HashMap::new();
    for i in 0..count {
        if at.insert((tree_ids[i], node_ids[i]), i).is_some() {
            return Err(format!(
                "node {} of tree {} is listed twice",
                node_ids[i], tree_ids[i]
            ));
        }
        if i == 0 || tree_ids[i] != tree_ids[i - 1] {
            if seen_trees.insert(tree_ids[i], ()).is_some() {
                return Err(format!(
                    "the nodes of tree {} are not contiguous",
                    tree_ids[i]
                ));
            }
            roots_at.push(i);
        }
    }
    // Leaves and interior nodes get their own positions.
    let mut leaf_of: HashMap<usize, usize> = HashMap::new();
    let mut node_of: HashMap<usize, usize> = HashMap::new();
    for (i, mode) in modes.iter().enumerate() {
        if mode == "LEAF" {
            let l = leaf_of.len();
            leaf_of.insert(i, l);
        } else {
            let k = node_of.len();
            node_of.insert(i, k);
        }
    }
    let refer = |i: usize| -> Ref {
        match leaf_of.get(&i) {
            Some(&l) => Ref::Leaf(l),
            None => Ref::Node(node_of[&i]),
        }
    };
    let mut nodes = Vec::with_capacity(node_of.len());
    let mut order: Vec<(usize, usize)> = node_of.iter().map(|(&i, &k)| (k, i)).collect();
    order.sort_unstable();
    for (_, i) in order {
        let child = |id: i64| -> Res<Ref> {
            match at.get(&(tree_ids[i], id)) {
                Some(&j) if j != i => Ok(refer(j)),
                _ => Err(format!(
                    "node {} of tree {}: child {id} is not a node of that tree",
                    node_ids[i], tree_ids[i]
                )),
            }
        };
        let mode = match modes[i].as_str() {
            "BRANCH_LEQ" => NodeMode::Leq,
            "BRANCH_LT" => NodeMode::Lt,
            "BRANCH_GTE" => NodeMode::Gte,
            "BRANCH_GT" => NodeMode::Gt,
            "BRANCH_EQ" => NodeMode::Eq,
            "BRANCH_NEQ" => NodeMode::Neq,
            other => return Err(format!("node mode '{other}' is not an ONNX mode")),
        };
        let missing_true = missing.get(i).is_some_and(|&m| m == 1);
        nodes.push(RawNode {
            feature: index(features[i], "feature id")?,
            split: splits[i],
            mode: mode as u8 | if missing_true { MISSING_TRUE } else { 0 },
            yes: child(yes[i])?,
            no: child(no[i])?,
            set: None,
        });
    }
    let prefix = if classifier { "class" } else { "target" };
    let w_trees = ints(a, &format!("{prefix}_treeids"));
    let w_nodes = ints(a, &format!("{prefix}_nodeids"));
    let w_ids = ints(a, &format!("{prefix}_ids"));
    let w_values = floats(a, &format!("{prefix}_weights"))?.unwrap_or_default();
    if [w_nodes.len(), w_ids.len(), w_values.len()]
        .iter()
        .any(|&l| l != w_trees.len())
    {
        return Err(format!("the {prefix}_* attributes differ in length"));
    }
    let mut leaves = vec![Vec::new(); leaf_of.len()];
    for k in 0..w_trees.len() {
        let Some(&i) = at.get(&(w_trees[k], w_nodes[k])) else {
            return Err(format!(
                "a weight names node {} of tree {}, which does not exist",
                w_nodes[k], w_trees[k]
            ));
        };
        // Weights on interior nodes are never reached (ONNX Runtime ignores them too).
        if let Some(&l) = leaf_of.get(&i) {
            leaves[l].push((index(w_ids[k], &format!("{prefix} id"))?, w_values[k]));
        }
    }
    let raw = Raw {
        roots: roots_at.iter().map(|&i| refer(i)).collect(),
        nodes,
        leaves,
    };
    let base_values = floats(a, "base_values")?.unwrap_or_default();
    let post = post_transform(a)?;
    let (targets, aggregate, classes) = if classifier {
        if a.get_strings("classlabels_strings").is_some() {
            return Err(
                "string class labels are not supported (we have no string tensors): \
                        export the classifier with integer labels (in scikit-learn, fit on \
                        integer-encoded classes)"
                    .into(),
            );
        }
        let labels = ints(a, "classlabels_int64s").to_vec();
        if labels.len() < 2 {
            return Err(format!(
                "{} class labels (at least 2 are needed)",
                labels.len()
            ));
        }
        let mut distinct: Vec<i64> = w_ids.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let classes = TreeClasses {
            binary: labels.len() == 2 && distinct.len() == 1,
            all_positive: w_values.iter().all(|&w| w >= 0.0),
            labels,
        };
        (classes.labels.len(), Aggregate::Sum, Some(classes))
    } else {
        let aggregate = match a.get_string("aggregate_function").unwrap_or("SUM") {
            "SUM" => Aggregate::Sum,
            "AVERAGE" => Aggregate::Average,
            "MIN" => Aggregate::Min,
            "MAX" => Aggregate::Max,
            other => return Err(format!("aggregate_function '{other}' is not an ONNX one")),
        };
        let targets = usize::try_from(a.get_i64("n_targets").unwrap_or(1))
            .map_err(|_| "n_targets is negative".to_string())?;
        (targets, aggregate, None)
    };
    flatten(
        raw,
        Finish {
            targets,
            aggregate,
            post,
            base_values,
            classes,
            f64_output: false,
        },
    )
}

/// The opset-5 TreeEnsemble: nodes and leaves by position, roots listed.
fn opset5(n: &CustomNode) -> Res<Trees> {
    let a = &n.attrs;
    let roots = ints(a, "tree_roots");
    let features = ints(a, "nodes_featureids");
    let yes = ints(a, "nodes_truenodeids");
    let no = ints(a, "nodes_falsenodeids");
    let yes_leaf = ints(a, "nodes_trueleafs");
    let no_leaf = ints(a, "nodes_falseleafs");
    let missing = ints(a, "nodes_missing_value_tracks_true");
    let tensor = |name: &str| -> Res<Vec<f64>> {
        match a.get_tensor(name) {
            Some(t) => tensor_floats(t, name),
            None => Ok(Vec::new()),
        }
    };
    let splits = tensor("nodes_splits")?;
    let modes = tensor("nodes_modes")?;
    let members = tensor("membership_values")?;
    let leaf_targets = ints(a, "leaf_targetids");
    let leaf_weights = tensor("leaf_weights")?;
    let count = features.len();
    if roots.is_empty()
        || [
            yes.len(),
            no.len(),
            yes_leaf.len(),
            no_leaf.len(),
            splits.len(),
            modes.len(),
        ]
        .iter()
        .any(|&l| l != count)
        || !(missing.is_empty() || missing.len() == count)
        || leaf_targets.len() != leaf_weights.len()
    {
        return Err(
            "the tree_roots, nodes_* or leaf_* attributes are missing or differ in length".into(),
        );
    }
    let mut sets = members.split(|v| v.is_nan()).map(<[f64]>::to_vec);
    let mut nodes = Vec::with_capacity(count);
    let refer = |id: i64, leaf: i64| -> Res<Ref> {
        let i = usize::try_from(id).map_err(|_| format!("child {id} is negative"))?;
        Ok(if leaf != 0 {
            Ref::Leaf(i)
        } else {
            Ref::Node(i)
        })
    };
    for i in 0..count {
        let code = modes[i] as i64;
        let mode = u8::try_from(code)
            .ok()
            .and_then(NodeMode::from_code)
            .filter(|_| code < i64::from(MISSING_TRUE))
            .ok_or_else(|| format!("node {i}: mode {code} is not an ONNX mode"))?;
        let set = if mode == NodeMode::Member {
            Some(
                sets.next()
                    .ok_or_else(|| format!("node {i}: no membership set left"))?,
            )
        } else {
            None
        };
        let missing_true = missing.get(i).is_some_and(|&m| m == 1);
        nodes.push(RawNode {
            feature: index(features[i], "feature id")?,
            split: splits[i],
            mode: mode as u8 | if missing_true { MISSING_TRUE } else { 0 },
            yes: refer(yes[i], yes_leaf[i])?,
            no: refer(no[i], no_leaf[i])?,
            set,
        });
    }
    let leaves = leaf_targets
        .iter()
        .zip(&leaf_weights)
        .map(|(&t, &w)| Ok(vec![(index(t, "leaf target id")?, w)]))
        .collect::<Res<Vec<_>>>()?;
    let roots = roots
        .iter()
        .map(|&r| refer(r, 0))
        .collect::<Res<Vec<_>>>()?;
    let aggregate = match a.get_i64("aggregate_function").unwrap_or(1) {
        0 => Aggregate::Average,
        1 => Aggregate::Sum,
        2 => Aggregate::Min,
        3 => Aggregate::Max,
        other => return Err(format!("aggregate_function {other} is not 0 to 3")),
    };
    let post = match a.get_i64("post_transform").unwrap_or(0) {
        0 => PostTransform::None,
        1 => PostTransform::Softmax,
        2 => PostTransform::Logistic,
        3 => PostTransform::SoftmaxZero,
        4 => PostTransform::Probit,
        other => return Err(format!("post_transform {other} is not 0 to 4")),
    };
    let targets = a
        .get_i64("n_targets")
        .and_then(|t| usize::try_from(t).ok())
        .ok_or("n_targets is required")?;
    let f64_output = matches!(n.inputs.first().map(|i| &i.ty), Some(ArgType::Tensor(t)) if t.dtype == DType::F64);
    flatten(
        Raw {
            roots,
            nodes,
            leaves,
        },
        Finish {
            targets,
            aggregate,
            post,
            base_values: Vec::new(),
            classes: None,
            f64_output,
        },
    )
}
