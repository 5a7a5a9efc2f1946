//! ONNX `If`. Exporters emit it for checks on an input (a sample rate, a flag) and for
//! shape-dependent code paths. Our format has no subgraphs: a branch's nodes are converted
//! into the main graph.
//!
//! * A condition known at import (a constant, or folded by onnx-ir) keeps the taken branch
//!   only; the node disappears.
//! * A condition computed at run time (a boolean scalar) keeps both branches, each node
//!   guarded by the condition (`NodeSpec::when`), then an `If` node that hands on the taken
//!   branch's outputs. The executor skips the nodes of the branch not taken, so a branch that
//!   would fail on the other case's shapes never runs.
//!
//! A branch reads values of the enclosing graph by their names there; onnx-ir lists those
//! (`scope_ref_names`) and passes them as the node's extra inputs, so each inner name is
//! renamed to the value it stands for.
//!
//! ONNX `Loop` whose trip count is known at import, with no early exit (the body's condition
//! output is its condition input, or a constant true), is unrolled: the body's nodes once per
//! iteration, each copy's values named `VALUE@i`, the loop-carried values threaded from one copy
//! to the next, and each scan output stacked (Unsqueeze, Concat) after the last. Any other Loop
//! is refused naming the reason; `Scan` is refused before parsing (`supported.rs`).

use std::collections::BTreeSet;

use edge_model::format::{Guard, NodeSpec, Op};
use edge_model::weights::{HostData, HostTensor};
use onnx_ir::node::if_node::IfNode;
use onnx_ir::node::loop_node::LoopNode;
use onnx_ir::{Argument, Node, OnnxGraph, TensorDataExt};

use super::converter::{Converter, host_tensor};
use crate::import::error::ImportError;

impl Converter {
    pub(super) fn if_node(&mut self, node: &Node, n: &IfNode) -> Result<(), ImportError> {
        let c = &n.config;
        let cond = n
            .inputs
            .first()
            .ok_or_else(|| ImportError::unsupported(node, "no condition"))?;
        for branch in [&c.then_branch, &c.else_branch] {
            if branch.outputs.len() != n.outputs.len() {
                return Err(ImportError::unsupported(
                    node,
                    format!(
                        "a branch has {} outputs for the node's {}",
                        branch.outputs.len(),
                        n.outputs.len()
                    ),
                ));
            }
        }
        for (inner, arg) in c.scope_ref_names.iter().zip(n.inputs.iter().skip(1)) {
            let outer = self.name_of(arg);
            if outer != *inner {
                self.renames.insert(inner.clone(), outer);
            }
        }
        if let Some(data) = cond.value() {
            let taken = data
                .to_i64_vec()
                .ok()
                .and_then(|v| (v.len() == 1).then(|| v[0] != 0))
                .or_else(|| {
                    data.as_slice::<bool>()
                        .ok()
                        .and_then(|b| (b.len() == 1).then(|| b[0]))
                })
                .ok_or_else(|| {
                    ImportError::unsupported(node, "the condition is not one boolean")
                })?;
            let branch = if taken {
                &c.then_branch
            } else {
                &c.else_branch
            };
            let sources = self.branch(node, branch)?;
            for (out, source) in n.outputs.iter().zip(sources) {
                self.renames.insert(out.name.clone(), source);
            }
            return Ok(());
        }
        let cond_name = self.name_of(cond);
        let mut inputs = vec![cond_name.clone()];
        for (branch, is) in [(&c.then_branch, true), (&c.else_branch, false)] {
            self.guards.push(Guard {
                value: cond_name.clone(),
                is,
            });
            let sources = self.branch(node, branch);
            self.guards.pop();
            inputs.extend(sources?);
        }
        let outputs = n.outputs.iter().map(|o| self.name_of(o)).collect();
        self.nodes.push(NodeSpec {
            name: n.name.clone(),
            op: Op::If {
                outputs: n.outputs.len(),
            },
            inputs,
            outputs,
            when: self.guards.clone(),
        });
        Ok(())
    }

    /// Converts a branch's nodes (under the current guards) and gives the names of the
    /// values it returns.
    fn branch(&mut self, node: &Node, branch: &OnnxGraph) -> Result<Vec<String>, ImportError> {
        for inner in &branch.nodes {
            self.node(inner)?;
        }
        branch
            .outputs
            .iter()
            .map(|out| self.branch_output(node, out))
            .collect()
    }

    /// A branch output: a value of the graph, or a constant the branch returns as it is.
    fn branch_output(&mut self, node: &Node, out: &Argument) -> Result<String, ImportError> {
        let name = self.name_of(out);
        if out.is_static() && !self.weights.contains_key(&name) {
            let data = out
                .value()
                .ok_or_else(|| ImportError::unsupported(node, "a branch output has no value"))?;
            let host = host_tensor(node, &name, data)?;
            self.weights.insert(name.clone(), host);
        }
        Ok(name)
    }
}

/// Most body nodes an unrolled Loop may add (iterations × body nodes).
const MAX_UNROLLED_NODES: usize = 20_000;

impl Converter {
    pub(super) fn loop_node(&mut self, node: &Node, n: &LoopNode) -> Result<(), ImportError> {
        let refuse = |why: &str| {
            ImportError::unsupported(
                node,
                format!(
                    "{why}: only a Loop with a trip count known at import and no early exit is \
                     run (unrolled); export the model with the loop unrolled"
                ),
            )
        };
        let body = &n.config.body;
        let carried = body
            .inputs
            .len()
            .checked_sub(2)
            .ok_or_else(|| refuse("the body takes fewer than 2 inputs"))?;
        let scans = body
            .outputs
            .len()
            .checked_sub(1 + carried)
            .ok_or_else(|| refuse("the body returns fewer values than it carries"))?;
        let trips = n
            .inputs
            .first()
            .filter(|a| !a.is_optional())
            .and_then(|a| a.value())
            .and_then(|v| v.to_i64_vec().ok())
            .and_then(|v| v.first().copied())
            .ok_or_else(|| refuse("the trip count is computed at run time (or absent)"))?;
        let trips = usize::try_from(trips).map_err(|_| refuse("a negative trip count"))?;
        if trips == 0 {
            return Err(refuse("a trip count of 0 (empty scan outputs)"));
        }
        if trips.saturating_mul(body.nodes.len()) > MAX_UNROLLED_NODES {
            return Err(refuse(&format!(
                "{trips} iterations of {} nodes are over the limit of {MAX_UNROLLED_NODES}",
                body.nodes.len()
            )));
        }
        if let Some(cond) = n.inputs.get(1).filter(|a| !a.is_optional())
            && !is_true(cond)
        {
            return Err(refuse(
                "the loop's initial condition is computed at run time",
            ));
        }
        let scope = n.inputs.iter().skip(2 + carried);
        for (inner, arg) in n.config.scope_ref_names.iter().zip(scope) {
            let outer = self.name_of(arg);
            if outer != *inner {
                self.renames.insert(inner.clone(), outer);
            }
        }
        let mut state: Vec<String> = n.inputs[2..2 + carried]
            .iter()
            .map(|a| self.name_of(a))
            .collect();
        let mut stacked: Vec<Vec<String>> = vec![Vec::new(); scans];
        let mut produced = BTreeSet::new();
        outputs_of(&body.nodes, &mut produced);
        let cond_value =
            self.scalar_weight(&format!("{}.cond", n.name), HostData::Bool(vec![true]));
        for i in 0..trips {
            let index = HostData::I64(vec![i as i64]);
            let index = self.scalar_weight(&format!("{}.iteration{i}", n.name), index);
            self.renames.insert(body.inputs[0].name.clone(), index);
            self.renames
                .insert(body.inputs[1].name.clone(), cond_value.clone());
            for (input, value) in body.inputs[2..].iter().zip(&state) {
                self.renames.insert(input.name.clone(), value.clone());
            }
            for value in &produced {
                self.renames.insert(value.clone(), format!("{value}@{i}"));
            }
            let outputs = self.branch(node, body)?;
            let cond_out = &body.outputs[0];
            if outputs[0] != cond_value && !is_true(cond_out) {
                return Err(refuse(
                    "the body computes its own stop condition (an early exit)",
                ));
            }
            state = outputs[1..1 + carried].to_vec();
            for (s, value) in outputs[1 + carried..].iter().enumerate() {
                stacked[s].push(value.clone());
            }
        }
        for (out, value) in n.outputs.iter().zip(&state) {
            self.renames.insert(out.name.clone(), value.clone());
        }
        for (out, values) in n.outputs.iter().skip(carried).zip(stacked) {
            let mut rows = Vec::with_capacity(values.len());
            for (i, value) in values.into_iter().enumerate() {
                let row = format!("{}.scan{i}", self.name_of(out));
                self.emit(
                    format!("{}.stack{i}", n.name),
                    Op::Unsqueeze { axes: vec![0] },
                    vec![value],
                    row.clone(),
                );
                rows.push(row);
            }
            let name = self.name_of(out);
            self.emit(
                format!("{}.concat", n.name),
                Op::Concat { axis: 0 },
                rows,
                name,
            );
        }
        Ok(())
    }

    /// Appends a node the importer made (under the current guards).
    fn emit(&mut self, name: String, op: Op, inputs: Vec<String>, output: String) {
        self.nodes.push(NodeSpec {
            name,
            op,
            inputs,
            outputs: vec![output],
            when: self.guards.clone(),
        });
    }

    /// Stores a scalar weight under `name`, and returns the name.
    fn scalar_weight(&mut self, name: &str, data: HostData) -> String {
        let host = HostTensor {
            shape: Vec::new(),
            data,
        };
        self.weights.insert(name.to_string(), host);
        name.to_string()
    }
}

/// Whether `arg` is a constant true (or non-zero) scalar.
fn is_true(arg: &Argument) -> bool {
    arg.value().is_some_and(|v| {
        v.as_slice::<bool>().is_ok_and(|b| b == [true])
            || v.to_i64_vec().is_ok_and(|x| x.len() == 1 && x[0] != 0)
    })
}

/// Every value the nodes write, inside `If` branches and Loop bodies too.
fn outputs_of(nodes: &[Node], into: &mut BTreeSet<String>) {
    for node in nodes {
        into.extend(node.outputs().iter().map(|a| a.name.clone()));
        for graph in subgraphs(node) {
            outputs_of(&graph.nodes, into);
        }
    }
}

fn subgraphs(node: &Node) -> Vec<&OnnxGraph> {
    match node {
        Node::If(n) => vec![&n.config.then_branch, &n.config.else_branch],
        Node::Loop(n) => vec![&n.config.body],
        _ => Vec::new(),
    }
}

/// Every value the nodes read, inside `If` branches and Loop bodies too (onnx-ir's names).
pub(super) fn reads(nodes: &[Node], into: &mut BTreeSet<String>) {
    for node in nodes {
        into.extend(node.inputs().iter().map(|a| a.name.clone()));
        for graph in subgraphs(node) {
            reads(&graph.nodes, into);
            into.extend(graph.outputs.iter().map(|a| a.name.clone()));
        }
    }
}
