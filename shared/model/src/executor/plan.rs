//! The execution plan, computed once at load: a slot for every value (weights, graph inputs,
//! node outputs), the nodes in their validated topological order, and for each input of each
//! node whether it is the value's last reader, so a run can move it out instead of cloning
//! and every intermediate is dropped right after its last use.

use std::collections::{HashMap, HashSet};

use crate::format::{ModelSpec, TensorSpec};
use crate::weights::Weights;

/// One step of the execution plan.
#[derive(Debug)]
pub(super) struct Step {
    pub(super) node: usize,
    pub(super) inputs: Vec<usize>,
    /// Per input: may the value be moved out (this is its last reader)?
    pub(super) take: Vec<bool>,
    /// One slot per output (Split, TopK and If have several).
    pub(super) outputs: Vec<usize>,
    /// The node runs only if each of these boolean slots holds the given value (an `If`
    /// branch); guards are read, never moved out.
    pub(super) guards: Vec<(usize, bool)>,
}

/// Value slots and the order to fill them, computed once at load.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) slots: usize,
    pub(super) inputs: Vec<(TensorSpec, usize)>,
    pub(super) outputs: Vec<(String, usize)>,
    pub(super) steps: Vec<Step>,
}

/// Assigns a slot to every value, and works out when each can be dropped.
pub(super) fn plan(spec: &ModelSpec, weights: &Weights) -> (Plan, Vec<(String, usize)>) {
    let mut slot_names: HashMap<String, usize> = HashMap::new();
    let mut slot = |name: &str| -> usize {
        let next = slot_names.len();
        *slot_names.entry(name.to_string()).or_insert(next)
    };
    let weight_slots: Vec<(String, usize)> = weights
        .keys()
        .map(|name| (name.clone(), slot(name)))
        .collect();
    let inputs = spec
        .inputs
        .iter()
        .map(|i| (i.clone(), slot(&i.name)))
        .collect();
    let mut steps: Vec<Step> = spec
        .nodes
        .iter()
        .enumerate()
        .map(|(index, node)| Step {
            node: index,
            inputs: node.inputs.iter().map(|n| slot(n)).collect(),
            take: vec![false; node.inputs.len()],
            outputs: node.outputs.iter().map(|n| slot(n)).collect(),
            guards: node.when.iter().map(|g| (slot(&g.value), g.is)).collect(),
        })
        .collect();
    let outputs: Vec<(String, usize)> = spec
        .outputs
        .iter()
        .map(|o| (o.name.clone(), slot(&o.name)))
        .collect();
    // Walk backwards: the first reader seen from the end is the last reader in time.
    let pinned: HashSet<usize> = outputs
        .iter()
        .map(|(_, s)| *s)
        .chain(weight_slots.iter().map(|(_, s)| *s))
        .collect();
    let mut seen: HashSet<usize> = HashSet::new();
    for step in steps.iter_mut().rev() {
        for (s, _) in &step.guards {
            seen.insert(*s);
        }
        for (i, s) in step.inputs.iter().enumerate().rev() {
            if !pinned.contains(s) && seen.insert(*s) {
                step.take[i] = true;
            }
        }
    }
    let slots = slot_names.len();
    (
        Plan {
            slots,
            inputs,
            outputs,
            steps,
        },
        weight_slots,
    )
}
