//! The flat layout of a tree ensemble: both ONNX encodings are read (in `trees.rs`) into
//! [`Raw`] (interior nodes and leaves by position in the file, children as references), and
//! [`flatten`] numbers each tree depth-first from its root so that every child comes after
//! its parent, the order the device's load check demands and every walk relies on to end.

use std::collections::BTreeMap;

use edge_model::format::{Aggregate, LEAF, MemberSet, PostTransform, TreeClasses, Trees};

type Res<T> = Result<T, String>;

/// Where a branch goes: an interior node or a leaf, by position in the file.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ref {
    Node(usize),
    Leaf(usize),
}

pub(super) struct RawNode {
    pub(super) feature: u32,
    pub(super) split: f64,
    /// A [`NodeMode`] code, with [`MISSING_TRUE`] or not.
    pub(super) mode: u8,
    pub(super) yes: Ref,
    pub(super) no: Ref,
    pub(super) set: Option<Vec<f64>>,
}

/// An ensemble as read from either encoding.
pub(super) struct Raw {
    pub(super) roots: Vec<Ref>,
    pub(super) nodes: Vec<RawNode>,
    /// Per leaf: its (target, weight) pairs.
    pub(super) leaves: Vec<Vec<(u32, f64)>>,
}

/// What the flat arrays carry besides the trees.
pub(super) struct Finish {
    pub(super) targets: usize,
    pub(super) aggregate: Aggregate,
    pub(super) post: PostTransform,
    pub(super) base_values: Vec<f64>,
    pub(super) classes: Option<TreeClasses>,
    pub(super) f64_output: bool,
}

/// Numbers every tree depth-first from its root (children after parents) and lays the result
/// out flat; leaves are numbered as first reached.
pub(super) fn flatten(raw: Raw, finish: Finish) -> Res<Trees> {
    let mut new_node: Vec<Option<u32>> = vec![None; raw.nodes.len()];
    let mut new_leaf: Vec<Option<u32>> = vec![None; raw.leaves.len()];
    let mut order: Vec<usize> = Vec::new();
    let mut leaf_order: Vec<usize> = Vec::new();
    let mut number = |r: Ref,
                      order: &mut Vec<usize>,
                      leaf_order: &mut Vec<usize>,
                      stack: &mut Vec<usize>|
     -> Res<u32> {
        match r {
            Ref::Leaf(l) => {
                let slot = new_leaf
                    .get_mut(l)
                    .ok_or_else(|| format!("leaf {l} does not exist"))?;
                Ok(LEAF
                    | *slot.get_or_insert_with(|| {
                        leaf_order.push(l);
                        (leaf_order.len() - 1) as u32
                    }))
            }
            Ref::Node(i) => {
                let slot = new_node
                    .get_mut(i)
                    .ok_or_else(|| format!("node {i} does not exist"))?;
                if slot.is_some() {
                    return Err(format!(
                        "node {i} is reached twice: the trees are not a forest"
                    ));
                }
                let k = u32::try_from(order.len()).map_err(|_| "too many nodes".to_string())?;
                *slot = Some(k);
                order.push(i);
                stack.push(i);
                Ok(k)
            }
        }
    };
    let mut roots = Vec::with_capacity(raw.roots.len());
    let mut yes = vec![0u32; raw.nodes.len()];
    let mut no = vec![0u32; raw.nodes.len()];
    for &root in &raw.roots {
        let mut stack = Vec::new();
        roots.push(number(root, &mut order, &mut leaf_order, &mut stack)?);
        // Depth-first, true branch first: a node is numbered when first pushed, so its
        // children (numbered when it is popped) come after it.
        while let Some(i) = stack.pop() {
            let node = &raw.nodes[i];
            yes[i] = number(node.yes, &mut order, &mut leaf_order, &mut stack)?;
            no[i] = number(node.no, &mut order, &mut leaf_order, &mut stack)?;
        }
    }
    let mut trees = Trees {
        roots,
        feature: Vec::with_capacity(order.len()),
        features: 0,
        split: Vec::with_capacity(order.len()),
        mode: Vec::with_capacity(order.len()),
        true_next: Vec::with_capacity(order.len()),
        false_next: Vec::with_capacity(order.len()),
        leaf_start: vec![0],
        target: Vec::new(),
        weight: Vec::new(),
        sets: Vec::new(),
        targets: finish.targets,
        aggregate: finish.aggregate,
        post: finish.post,
        base_values: finish.base_values,
        classes: finish.classes,
        f64_output: finish.f64_output,
    };
    let mut sets = BTreeMap::new();
    for (k, &i) in order.iter().enumerate() {
        let node = &raw.nodes[i];
        trees.feature.push(node.feature);
        trees.features = trees.features.max(node.feature as usize + 1);
        trees.split.push(node.split);
        trees.mode.push(node.mode);
        trees.true_next.push(yes[i]);
        trees.false_next.push(no[i]);
        if let Some(set) = &node.set {
            sets.insert(k as u32, set.clone());
        }
    }
    trees.sets = sets
        .into_iter()
        .map(|(node, values)| MemberSet { node, values })
        .collect();
    for &l in &leaf_order {
        for &(t, w) in &raw.leaves[l] {
            trees.target.push(t);
            trees.weight.push(w);
        }
        trees.leaf_start.push(trees.weight.len() as u32);
    }
    Ok(trees)
}
