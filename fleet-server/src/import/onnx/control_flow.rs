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
//! renamed to the value it stands for. `Loop` and `Scan` are refused before parsing
//! (`supported.rs`).

use std::collections::BTreeSet;

use edge_model::format::{Guard, NodeSpec, Op};
use onnx_ir::node::if_node::IfNode;
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

/// Every value the nodes read, inside `If` branches too (onnx-ir's names).
pub(super) fn reads(nodes: &[Node], into: &mut BTreeSet<String>) {
    for node in nodes {
        into.extend(node.inputs().iter().map(|a| a.name.clone()));
        if let Node::If(n) = node {
            for branch in [&n.config.then_branch, &n.config.else_branch] {
                reads(&branch.nodes, into);
                into.extend(branch.outputs.iter().map(|a| a.name.clone()));
            }
        }
    }
}
