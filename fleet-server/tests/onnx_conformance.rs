//! Conformance: the ONNX backend node tests that ship with the `onnx` Python package (pinned in
//! `scripts/test.sh`), run through the real importer and executor on the CPU and on the GPU
//! path (lavapipe where there is no GPU), in one process: the way ONNX Runtime and tract prove
//! their op sets.
//!
//! A case counts for the claims when every op of its graph is claimed (`supported.rs`). Such a
//! case must either match the package's reference outputs, or be refused at import with a
//! message naming the op or attribute (an attribute, element type or form we do not claim);
//! a wrong answer, a crash, or any other error fails the test. Cases with an unclaimed op are
//! only counted. The run then writes the table of `docs/ops.md` and fails when the committed
//! file differs (regenerate: `UPDATE_OPS_DOC=1 cargo test --test onnx_conformance`).
//!
//! The data is found through `ONNX_TEST_DATA`, or by asking `python3` where the `onnx`
//! package is; the test fails, never skips, when neither works.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod conformance;

use conformance::{Device, Outcome, Suite, cases, data_dir, render_doc, run_case};

/// The light models the GPU path runs (the others: see `run_suite`).
const GPU_LIGHT: &[&str] = &[
    "light_densenet121",
    "light_inception_v2",
    "light_resnet50",
    "light_shufflenet",
    "light_squeezenet",
];

fn run_suite(device: Device) -> Suite {
    let root = data_dir();
    let mut suite = Suite::default();
    // The light models (ResNet-50, VGG-19, ... at 224x224) run on the CPU, and on the GPU path
    // those that pass there (6 to 48 s each on lavapipe, Mesa's software Vulkan). Not on the
    // GPU: AlexNet, ZFNet-512 and VGG-19 (their 150-400 MB fully connected weights fail on
    // wgpu with "An error happened during execution") and Inception v1 (1e-3 off on the
    // probabilities, over the 1e-3 relative tolerance): see docs/ops.md.
    for kind in ["node", "pytorch-converted", "pytorch-operator", "light"] {
        for case in cases(&root.join(kind), kind == "light") {
            if device == Device::Gpu && kind == "light" && !GPU_LIGHT.contains(&case.name.as_str())
            {
                continue;
            }
            suite.record(kind, &case, || run_case(&case, device));
        }
    }
    suite
}

#[test]
fn onnx_node_tests_pass_on_cpu_and_gpu_and_docs_ops_md_matches() {
    let started = std::time::Instant::now();
    let cpu = run_suite(Device::Cpu);
    let cpu_time = started.elapsed();
    // CONFORMANCE_CPU_ONLY=1: a quick local loop while working on an op (the docs check needs
    // both devices, so it is skipped, and says so).
    let cpu_only = std::env::var_os("CONFORMANCE_CPU_ONLY").is_some();
    let started = std::time::Instant::now();
    let gpu = if cpu_only {
        Suite::default()
    } else {
        run_suite(Device::Gpu)
    };
    let gpu_time = started.elapsed();
    for (name, suite, time) in [("cpu", &cpu, cpu_time), ("gpu", &gpu, gpu_time)] {
        eprintln!(
            "{name}: {} passed, {} failed, {} refused at import, {} with unclaimed ops ({:.1} s)",
            suite.count(Outcome::is_pass),
            suite.count(Outcome::is_fail),
            suite.count(Outcome::is_refused),
            suite.unclaimed,
            time.as_secs_f64()
        );
    }
    let failures: Vec<String> = cpu
        .failures("cpu")
        .into_iter()
        .chain(gpu.failures("gpu"))
        .collect();
    if cpu_only {
        eprintln!("{}", render_doc(&cpu, &gpu));
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        eprintln!("CONFORMANCE_CPU_ONLY: the GPU run and the docs/ops.md check were skipped");
        return;
    }
    let doc = render_doc(&cpu, &gpu);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ops.md");
    if std::env::var_os("UPDATE_OPS_DOC").is_some() {
        std::fs::write(&path, &doc).expect("write docs/ops.md");
    }
    assert!(
        failures.is_empty(),
        "{} claimed node cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == doc,
        "docs/ops.md disagrees with this run; regenerate it with \
         UPDATE_OPS_DOC=1 cargo test --test onnx_conformance"
    );
}
