//! `model.json`, as a box reads it from a signed bundle (a release key can be stolen, an
//! exporter can be wrong): parsed, then validated twice, once with no weights and once with
//! every name no node produces taken as a weight, so the graph checks (topological order,
//! outputs produced, attribute ranges, shapes over the limits) see every parsed graph. Never
//! a panic.

#![no_main]

use std::collections::HashSet;
use std::path::Path;

use edge_format::format::ModelSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = ModelSpec::parse(data, Path::new("model.json")) else {
        return;
    };
    let _ = spec.validate(&HashSet::new());
    let produced: HashSet<&str> = spec
        .nodes
        .iter()
        .flat_map(|n| n.outputs.iter().map(String::as_str))
        .chain(spec.inputs.iter().map(|i| i.name.as_str()))
        .collect();
    let weights: HashSet<String> = spec
        .nodes
        .iter()
        .flat_map(|n| n.inputs.iter())
        .filter(|name| !produced.contains(name.as_str()))
        .cloned()
        .collect();
    let _ = spec.validate(&weights);
});
