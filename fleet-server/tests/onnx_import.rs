//! Every supported op and the three fixture models, imported from ONNX and run on the CPU
//! and on the GPU path, against ONNX Runtime's reference outputs; and every malformed input
//! refused with a clear error. One test binary, so Burn is linked once.
//!
//! The GPU tests need a Vulkan device. On machines without a GPU, Mesa's lavapipe
//! (Debian: mesa-vulkan-drivers) provides one; the tests fail, never skip, when there is none.

// Test helpers fail the test by panicking with a message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use edge_model::checks::CheckCases;
use edge_model::{DeviceChoice, LoadOptions, Model};
use fleet::import::{ImportError, onnx};

mod classical;
mod quantized;
mod sequence;
mod vision;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/onnx")
}

/// The ONNX file at `path`, its protobuf changed by `edit`, written to a temporary directory
/// (kept alive by the returned guard) under the same file name.
fn edited(
    path: &Path,
    edit: impl FnOnce(&mut onnx_ir::ModelProto),
) -> (tempfile::TempDir, PathBuf) {
    use onnx_ir::Message;
    let bytes = std::fs::read(path).expect("fixture");
    let mut proto = onnx_ir::ModelProto::parse_from_bytes(&bytes).expect("parse");
    edit(&mut proto);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(path.file_name().expect("a file name"));
    std::fs::write(&file, proto.write_to_bytes().expect("write")).expect("save");
    (dir, file)
}

fn onnx_files(kind: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join(kind))
        .expect("fixtures directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {kind}");
    files
}

/// Imports `path`, runs its reference cases on `device`, and returns the worst absolute
/// difference, or a description of every mismatch.
fn verify(path: &Path, device: DeviceChoice) -> Result<f32, String> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
    let converted = onnx::convert(path, stem, 1).map_err(|e| format!("{stem}: import: {e}"))?;
    let cases =
        CheckCases::read(&path.with_extension("cases.json")).map_err(|e| format!("{stem}: {e}"))?;
    let options = LoadOptions {
        device,
        warmup_runs: 1,
        ..Default::default()
    };
    let model = Model::from_parts(converted.spec, converted.weights, &options)
        .map_err(|e| format!("{stem}: load: {e}"))?;
    let diffs = model
        .check(&cases)
        .map_err(|e| format!("{stem}: run: {e}"))?;
    let failed: Vec<String> = diffs
        .iter()
        .filter(|d| !d.passed())
        .map(|d| format!("{stem}/{}/{}: max|diff| {:e}", d.case, d.output, d.max_abs))
        .collect();
    if failed.is_empty() {
        Ok(diffs.iter().map(|d| d.max_abs).fold(0.0, f32::max))
    } else {
        Err(failed.join("; "))
    }
}

/// Verifies every file on both devices, printing each worst difference; fails listing every
/// mismatch.
fn verify_on_cpu_and_gpu(files: &[PathBuf]) {
    let failures: Vec<String> = files
        .iter()
        .flat_map(|p| [DeviceChoice::Cpu, DeviceChoice::Gpu].map(|d| (p, d)))
        .filter_map(|(p, d)| match verify(p, d) {
            Ok(worst) => {
                let name = p.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
                eprintln!("{name} on {d:?}: worst |diff| {worst:.2e}");
                None
            }
            Err(e) => Some(format!("{d:?}: {e}")),
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn verify_all(kind: &str, device: DeviceChoice) {
    let failures: Vec<String> = onnx_files(kind)
        .iter()
        .filter_map(|p| verify(p, device).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} fixtures failed on {device:?}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_supported_op_matches_onnx_runtime_on_cpu() {
    verify_all("ops", DeviceChoice::Cpu);
}

#[test]
fn every_supported_op_matches_onnx_runtime_on_gpu() {
    verify_all("ops", DeviceChoice::Gpu);
}

#[test]
fn mlp_cnn_and_residual_models_match_onnx_runtime_on_cpu() {
    verify_all("models", DeviceChoice::Cpu);
}

#[test]
fn mlp_cnn_and_residual_models_match_onnx_runtime_on_gpu() {
    verify_all("models", DeviceChoice::Gpu);
}

#[test]
fn if_with_a_run_time_condition_runs_only_the_taken_branch_on_cpu_and_gpu() {
    // The cases take each branch once; each branch would fail on the other's input width.
    let path = fixtures().join("control/if_runtime.onnx");
    for device in [DeviceChoice::Cpu, DeviceChoice::Gpu] {
        verify(&path, device).unwrap_or_else(|e| panic!("{device:?}: {e}"));
    }
    let converted = onnx::convert(&path, "if_runtime", 1).expect("import");
    let guarded = converted
        .spec
        .nodes
        .iter()
        .filter(|n| !n.when.is_empty())
        .count();
    assert!(guarded >= 4, "branch nodes are guarded: {guarded}");
    assert!(
        converted
            .spec
            .nodes
            .iter()
            .any(|n| matches!(n.op, edge_model::format::Op::If { outputs: 1 }))
    );
}

#[test]
fn if_with_a_constant_condition_keeps_only_the_taken_branch() {
    let path = fixtures().join("control/if_folded.onnx");
    verify(&path, DeviceChoice::Cpu).unwrap_or_else(|e| panic!("{e}"));
    let converted = onnx::convert(&path, "if_folded", 1).expect("import");
    let ops: Vec<&str> = converted.spec.nodes.iter().map(|n| n.op.name()).collect();
    assert!(
        ops.contains(&"Tanh") && !ops.contains(&"Sigmoid") && !ops.contains(&"If"),
        "{ops:?}"
    );
    assert!(converted.spec.nodes.iter().all(|n| n.when.is_empty()));
}

#[test]
fn a_loop_with_a_trip_count_known_at_import_is_unrolled_and_matches_on_cpu_and_gpu() {
    let path = fixtures().join("control/loop_fixed.onnx");
    for device in [DeviceChoice::Cpu, DeviceChoice::Gpu] {
        verify(&path, device).unwrap_or_else(|e| panic!("{device:?}: {e}"));
    }
}

#[test]
fn a_loop_with_a_run_time_trip_count_is_refused_saying_why() {
    let e = import_error("loop_dynamic");
    assert!(
        e.contains("trip count is computed at run time") && e.contains("unrolled"),
        "{e}"
    );
}

#[test]
fn every_op_named_in_the_issue_has_a_fixture() {
    let names: Vec<String> = onnx_files("ops")
        .iter()
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .collect();
    for op in [
        "gemm",
        "matmul",
        "add",
        "sub",
        "mul",
        "div",
        "relu",
        "leaky_relu",
        "sigmoid",
        "tanh",
        "softmax",
        "log_softmax",
        "erf",
        "gelu",
        "conv1d",
        "conv2d",
        "maxpool2d",
        "avgpool2d",
        "global_average_pool",
        "batch_norm",
        "layer_norm",
        "flatten",
        "reshape",
        "transpose",
        "concat",
        "squeeze",
        "unsqueeze",
        "clip",
        "pad",
        "reduce_mean",
        "dropout",
        "identity",
        "constant",
    ] {
        assert!(names.iter().any(|n| n == op), "no fixture for {op}");
    }
}

fn import_error(name: &str) -> String {
    match onnx::convert(
        &fixtures().join("bad").join(format!("{name}.onnx")),
        name,
        1,
    ) {
        Ok(_) => panic!("{name} was imported"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn unsupported_op_error_names_op_node_and_supported_list() {
    let message = import_error("unsupported_op");
    assert!(message.contains("Hardmax"), "{message}");
    assert!(message.contains("hardmax_node"), "{message}");
    assert!(
        message.contains("Supported ops (see docs/ops.md): Gemm"),
        "{message}"
    );
}

#[test]
fn conv3d_is_refused_not_run_wrong() {
    let message = import_error("conv3d");
    assert!(message.contains("Conv3d"), "{message}");
}

#[test]
fn a_string_input_is_refused_naming_its_type() {
    let message = import_error("string_input");
    assert!(message.contains("'x'"), "{message}");
    assert!(
        message.contains("STRING")
            || message.contains("String")
            || message.contains("element type"),
        "{message}"
    );
}

#[test]
fn cyclic_graph_is_refused() {
    let message = import_error("cycle");
    assert!(!message.is_empty());
}

#[test]
fn absurd_declared_dimensions_are_refused_without_allocating() {
    // Either the importer or graph validation refuses it; nothing tries to allocate 2^80 floats.
    let path = fixtures().join("bad/absurd_dims.onnx");
    let result = onnx::convert(&path, "absurd", 1)
        .map_err(|e| e.to_string())
        .and_then(|c| {
            Model::from_parts(
                c.spec,
                c.weights,
                &LoadOptions {
                    device: DeviceChoice::Cpu,
                    warmup_runs: 1,
                    ..Default::default()
                },
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
        });
    let message = result.expect_err("absurd dims accepted");
    assert!(
        message.contains("limit") || message.contains("overflow"),
        "{message}"
    );
}

#[test]
fn truncated_onnx_file_is_an_error_not_a_panic() {
    let bytes = std::fs::read(fixtures().join("models/cnn.onnx")).expect("fixture");
    let dir = tempfile::tempdir().expect("tempdir");
    for cut in [0, 1, 10, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
        let path = dir.path().join(format!("cut{cut}.onnx"));
        std::fs::write(&path, &bytes[..cut]).expect("write");
        assert!(
            matches!(
                onnx::convert(&path, "cut", 1),
                Err(ImportError::Parse { .. } | ImportError::Signature { .. })
            ),
            "truncated at {cut} bytes was accepted"
        );
    }
}

#[test]
fn garbage_bytes_are_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("garbage.onnx");
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&path, garbage).expect("write");
    assert!(onnx::convert(&path, "garbage", 1).is_err());
}

#[test]
fn a_request_of_the_wrong_shape_is_a_clear_error() {
    let converted = onnx::convert(&fixtures().join("models/mlp.onnx"), "mlp", 1).expect("import");
    let model = Model::from_parts(
        converted.spec,
        converted.weights,
        &LoadOptions {
            device: DeviceChoice::Cpu,
            warmup_runs: 1,
            ..Default::default()
        },
    )
    .expect("load");
    let wrong = edge_model::HostTensor::new(vec![1, 15], vec![0.0; 15]).expect("tensor");
    let message = model
        .run(vec![("x".into(), wrong)])
        .expect_err("accepted")
        .to_string();
    assert!(message.contains("[batch, 16]"), "{message}");
    let missing = model.run(vec![]).expect_err("accepted").to_string();
    assert!(
        message.len() > 10 && missing.contains("missing input 'x'"),
        "{missing}"
    );
}

#[test]
fn batch_dimension_is_free_and_results_are_per_row() {
    let converted = onnx::convert(&fixtures().join("models/mlp.onnx"), "mlp", 1).expect("import");
    let model = Model::from_parts(
        converted.spec,
        converted.weights,
        &LoadOptions {
            device: DeviceChoice::Cpu,
            warmup_runs: 1,
            ..Default::default()
        },
    )
    .expect("load");
    let row: Vec<f32> = (0..16).map(|i| i as f32 / 10.0).collect();
    let one = model
        .run(vec![(
            "x".into(),
            edge_model::HostTensor::new(vec![1, 16], row.clone()).expect("t"),
        )])
        .expect("run");
    let many: Vec<f32> = row.iter().cycle().take(16 * 64).copied().collect();
    let batch = model
        .run(vec![(
            "x".into(),
            edge_model::HostTensor::new(vec![64, 16], many).expect("t"),
        )])
        .expect("run");
    assert_eq!(batch[1].1.shape, vec![64, 4]);
    for r in 0..64 {
        for c in 0..4 {
            assert!((batch[1].1.data.to_f64()[r * 4 + c] - one[1].1.data.to_f64()[c]).abs() < 1e-5);
        }
    }
}

#[test]
fn batch_norm_after_conv_is_folded_into_the_conv_and_still_matches() {
    let path = fixtures().join("models/cnn.onnx");
    let converted = onnx::convert(&path, "cnn", 1).expect("import");
    let ops: Vec<&str> = converted.spec.nodes.iter().map(|n| n.op.name()).collect();
    assert!(!ops.contains(&"BatchNormalization"), "{ops:?}");
    assert_eq!(ops.iter().filter(|o| **o == "Conv").count(), 2, "{ops:?}");
    assert!(
        converted.weights.keys().all(|k| !k.starts_with("bn")),
        "the folded statistics are dropped: {:?}",
        converted.weights.keys().collect::<Vec<_>>()
    );
    verify(&path, DeviceChoice::Cpu).expect("folded model matches ONNX Runtime");
    // A BatchNormalization on a graph input has no Conv to fold into and still runs.
    let bn = onnx::convert(&fixtures().join("ops/batch_norm.onnx"), "bn", 1).expect("import");
    assert_eq!(bn.spec.nodes[0].op.name(), "BatchNormalization");
}
