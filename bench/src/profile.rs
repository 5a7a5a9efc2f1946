//! `--profile`: where our CPU path spends a run, per op type and per node, summed over
//! several profiled runs of the same inputs (`Model::profile`). This is the per-node profile
//! a row that misses its goal is explained with.

use std::collections::HashMap;
use std::time::Duration;

use edge_model::{HostTensor, Model};

/// Runs `runs` profiled inferences and prints the op types by total time, then the ten
/// slowest nodes.
pub fn report(
    label: &str,
    batch: usize,
    model: &Model,
    inputs: impl Fn() -> Result<Vec<(String, HostTensor)>, String>,
    runs: usize,
) -> Result<(), String> {
    let mut per_node: Vec<(String, &'static str, Duration)> = Vec::new();
    for run in 0..runs {
        let (_, times) = model.profile(inputs()?).map_err(|e| e.to_string())?;
        if run == 0 {
            per_node = times.into_iter().map(|t| (t.node, t.op, t.time)).collect();
        } else {
            for (slot, t) in per_node.iter_mut().zip(times) {
                slot.2 += t.time;
            }
        }
    }
    let total: Duration = per_node.iter().map(|n| n.2).sum();
    let mut per_op: HashMap<&str, (usize, Duration)> = HashMap::new();
    for (_, op, time) in &per_node {
        let entry = per_op.entry(op).or_default();
        entry.0 += 1;
        entry.1 += *time;
    }
    let mut ops: Vec<_> = per_op.into_iter().collect();
    ops.sort_by_key(|op| std::cmp::Reverse(op.1.1));
    let us = |d: Duration| d.as_secs_f64() * 1e6 / runs as f64;
    println!(
        "  profile {label} batch {batch}: {:.1} µs in {} nodes per run (mean of {runs} runs)",
        us(total),
        per_node.len()
    );
    for (op, (count, time)) in &ops {
        println!(
            "    {op:<24} {count:>4} nodes {:>10.1} µs {:>5.1}%",
            us(*time),
            100.0 * time.as_secs_f64() / total.as_secs_f64()
        );
    }
    per_node.sort_by_key(|n| std::cmp::Reverse(n.2));
    println!("    slowest nodes:");
    for (node, op, time) in per_node.iter().take(10) {
        println!("      {node:<40} {op:<20} {:>10.1} µs", us(*time));
    }
    Ok(())
}
