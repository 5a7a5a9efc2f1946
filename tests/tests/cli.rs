//! The operator's path through the real binaries: `fleet model import` (with verification)
//! then `edged predict`, and their answers to bad input.

// Test helpers fail the test by panicking with a message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use e2e::{binary, repo_root, run};
use serde_json::Value;

fn fixture(path: &str) -> std::path::PathBuf {
    repo_root().join("fixtures/onnx").join(path)
}

/// Imports the MLP fixture with its reference cases into `dir/mlp`.
fn import_mlp(dir: &std::path::Path) -> std::path::PathBuf {
    let out = dir.join("mlp");
    let (status, stdout, stderr) = run(binary("fleet")
        .args(["model", "import"])
        .arg(fixture("models/mlp.onnx"))
        .args(["--name", "mlp", "--version", "3", "--out"])
        .arg(&out)
        .arg("--check")
        .arg(fixture("models/mlp.cases.json")));
    assert!(status.status.success(), "import failed: {stdout}{stderr}");
    assert!(
        stdout.contains("check probabilities: worst max|diff|"),
        "{stdout}"
    );
    assert!(stdout.contains("check logits: worst max|diff|"), "{stdout}");
    out
}

/// Writes the first reference case of the MLP as an OIP request; returns it and the
/// expected outputs.
fn mlp_request(dir: &std::path::Path) -> (std::path::PathBuf, Vec<Value>) {
    let cases: Value =
        serde_json::from_slice(&std::fs::read(fixture("models/mlp.cases.json")).expect("cases"))
            .expect("json");
    let case = &cases["cases"][1];
    let path = dir.join("request.json");
    let request = serde_json::json!({"id": "req-1", "inputs": case["inputs"]});
    std::fs::write(&path, request.to_string()).expect("write");
    let outputs = case["outputs"].as_array().expect("outputs").clone();
    (path, outputs)
}

#[test]
fn import_then_predict_reproduces_onnx_runtime_outputs_on_cpu_and_gpu() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = import_mlp(dir.path());
    for file in ["model.json", "weights.safetensors", "checks.json"] {
        assert!(model.join(file).exists(), "{file} missing");
    }
    let (request, expected) = mlp_request(dir.path());
    for device in ["cpu", "gpu", "auto"] {
        let (status, stdout, stderr) = run(binary("edged")
            .args(["predict", "--check", "--device", device, "--model"])
            .arg(&model)
            .arg("--input")
            .arg(&request));
        assert!(status.status.success(), "{device}: {stderr}");
        let response: Value = serde_json::from_str(&stdout).expect("response JSON");
        assert_eq!(response["model_name"], "mlp");
        assert_eq!(response["model_version"], "3");
        assert_eq!(response["id"], "req-1");
        let outputs = response["outputs"].as_array().expect("outputs");
        assert_eq!(outputs.len(), 2, "every graph output is returned");
        for want in &expected {
            let got = outputs
                .iter()
                .find(|o| o["name"] == want["name"])
                .expect("output present");
            assert_eq!(got["shape"], want["shape"]);
            assert_eq!(got["datatype"], "FP32");
            let pairs = got["data"]
                .as_array()
                .expect("data")
                .iter()
                .zip(want["data"].as_array().expect("data"));
            for (g, w) in pairs {
                let (g, w) = (g.as_f64().expect("num"), w.as_f64().expect("num"));
                assert!(
                    (g - w).abs() <= 1e-4 + 1e-3 * w.abs(),
                    "{device}: {g} vs {w}"
                );
            }
        }
    }
}

#[test]
fn import_refuses_a_conversion_that_misses_the_reference_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cases: Value =
        serde_json::from_slice(&std::fs::read(fixture("models/mlp.cases.json")).expect("cases"))
            .expect("json");
    // A reference that the true model cannot reproduce: the training framework disagrees.
    let first = &mut cases["cases"][0]["outputs"][0]["data"][0];
    *first = Value::from(first.as_f64().expect("num") + 0.5);
    let check = dir.path().join("forged.cases.json");
    std::fs::write(&check, cases.to_string()).expect("write");
    let out = dir.path().join("mlp");
    let (status, stdout, stderr) = run(binary("fleet")
        .args(["model", "import"])
        .arg(fixture("models/mlp.onnx"))
        .args(["--name", "mlp", "--version", "1", "--out"])
        .arg(&out)
        .arg("--check")
        .arg(&check));
    assert_eq!(status.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("check logits: worst max|diff| 5.000e-1"),
        "{stdout}"
    );
    assert!(stdout.contains("FAILED"), "{stdout}");
    assert!(stderr.contains("does not match the reference"), "{stderr}");
    assert!(!out.exists(), "a refused model was written");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert_eq!(leftovers.len(), 1, "only the forged check file remains");
}

#[test]
fn import_of_an_unsupported_op_fails_with_the_op_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (status, _, stderr) = run(binary("fleet")
        .args(["model", "import"])
        .arg(fixture("bad/unsupported_op.onnx"))
        .args(["--name", "bad", "--version", "1", "--out"])
        .arg(dir.path().join("bad")));
    assert_eq!(status.status.code(), Some(1));
    assert!(stderr.contains("op Hardmax is not supported"), "{stderr}");
}

#[test]
fn inspect_shows_the_signature_the_ops_and_what_this_build_cannot_run_writing_nothing() {
    let (status, stdout, stderr) = run(binary("fleet")
        .args(["model", "inspect"])
        .arg(fixture("models/mlp.onnx")));
    assert!(status.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("x FP32 [batch, 16]"), "{stdout}");
    assert!(stdout.contains("this build runs every op"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.trim_start().starts_with("Gemm")),
        "{stdout}"
    );

    let (status, stdout, stderr) = run(binary("fleet")
        .args(["model", "inspect"])
        .arg(fixture("bad/unsupported_op.onnx")));
    assert!(status.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("this build cannot run (1 nodes)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("node 'hardmax_node': op Hardmax is not supported"),
        "{stdout}"
    );

    // A model directory: its signature as devices load it.
    let dir = tempfile::tempdir().expect("tempdir");
    let model = import_mlp(dir.path());
    let before: Vec<_> = std::fs::read_dir(&model).expect("dir").collect();
    let (status, stdout, _) = run(binary("fleet").args(["model", "inspect"]).arg(&model));
    assert!(status.status.success());
    assert!(
        stdout.contains("model directory, format version 2"),
        "{stdout}"
    );
    assert!(stdout.contains("probabilities FP32 [batch, 4]"), "{stdout}");
    let after: Vec<_> = std::fs::read_dir(&model).expect("dir").collect();
    assert_eq!(before.len(), after.len(), "inspect wrote nothing");
}

#[test]
fn import_with_a_fixed_input_shape_reports_it_and_a_wrong_rank_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("fixed");
    let (status, stdout, stderr) = run(binary("fleet")
        .args(["model", "import"])
        .arg(fixture("models/mlp.onnx"))
        .args([
            "--name",
            "mlp",
            "--version",
            "1",
            "--input-shape",
            "x=4,16",
            "--out",
        ])
        .arg(&out));
    assert!(status.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("fixed input x=[4, 16]"), "{stdout}");
    assert!(stdout.contains("ONNX nodes became"), "{stdout}");
    let spec: Value =
        serde_json::from_slice(&std::fs::read(out.join("model.json")).expect("model.json"))
            .expect("json");
    assert_eq!(spec["inputs"][0]["shape"], serde_json::json!([4, 16]));

    let (status, _, stderr) = run(binary("fleet")
        .args(["model", "import"])
        .arg(fixture("models/mlp.onnx"))
        .args([
            "--name",
            "mlp",
            "--version",
            "1",
            "--input-shape",
            "x=4,16,1",
            "--out",
        ])
        .arg(dir.path().join("wrong")));
    assert_eq!(status.status.code(), Some(1));
    assert!(
        stderr.contains("gives 3 dimensions; the file declares 2"),
        "{stderr}"
    );
    assert!(!dir.path().join("wrong").exists(), "nothing written");
}

#[test]
fn predict_rejects_wrong_shape_malformed_json_and_oversized_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = import_mlp(dir.path());
    let cases = [
        (
            "wrong_shape",
            r#"{"inputs":[{"name":"x","shape":[1,15],"datatype":"FP32","data":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}]}"#,
            "expects [batch, 16]",
        ),
        (
            "malformed",
            r#"{"inputs":[{"name":"x","#,
            "not an Open Inference Protocol request",
        ),
        (
            "wrong_dtype",
            r#"{"inputs":[{"name":"x","shape":[1,1],"datatype":"BYTES","data":["a"]}]}"#,
            "datatype BYTES",
        ),
        (
            "unknown_input",
            r#"{"inputs":[{"name":"x","shape":[1,16],"datatype":"FP32","data":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]},{"name":"z","shape":[1],"datatype":"FP32","data":[1]}]}"#,
            "no input 'z'",
        ),
        (
            "absurd_shape",
            r#"{"inputs":[{"name":"x","shape":[4294967296,4294967296],"datatype":"FP32","data":[1]}]}"#,
            "over the limit",
        ),
    ];
    for (name, body, expected) in cases {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, body).expect("write");
        let (status, stdout, stderr) = run(binary("edged")
            .args(["predict", "--device", "cpu", "--model"])
            .arg(&model)
            .arg("--input")
            .arg(&path));
        assert_eq!(status.status.code(), Some(65), "{name}: {stdout}{stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(stdout.is_empty(), "{name}: printed a response");
    }
}

#[test]
fn predict_with_a_bad_device_name_is_a_usage_error() {
    let (status, _, stderr) =
        run(binary("edged").args(["predict", "--device", "tpu", "--model", "x", "--input", "y"]));
    assert_eq!(status.status.code(), Some(64));
    assert!(stderr.contains("unknown device 'tpu'"), "{stderr}");
}

#[test]
fn the_shipped_example_model_answers_the_shipped_example_request() {
    let root = repo_root();
    let (status, stdout, stderr) = run(binary("edged")
        .args(["predict", "--device", "cpu", "--check", "--model"])
        .arg(root.join("examples/models/mlp"))
        .arg("--input")
        .arg(root.join("examples/requests/mlp.json")));
    assert!(status.status.success(), "{stderr}");
    let response: Value = serde_json::from_str(&stdout).expect("json");
    let probabilities = response["outputs"]
        .as_array()
        .and_then(|o| o.iter().find(|t| t["name"] == "probabilities"))
        .expect("probabilities");
    let sum: f64 = probabilities["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(Value::as_f64)
        .sum();
    assert!(
        (sum - 2.0).abs() < 1e-4,
        "two rows of probabilities sum to 2, got {sum}"
    );
}

#[test]
fn without_any_gpu_auto_falls_back_to_the_cpu_and_gpu_is_a_clear_error() {
    // Hide every Vulkan and EGL driver from this process: no adapter at all.
    let hide = |cmd: &mut std::process::Command| {
        cmd.env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
            .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
            .env("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl.json")
            .env("__EGL_VENDOR_LIBRARY_DIRS", "/nonexistent")
            .env("EDGED_LOG", "info");
    };
    let root = repo_root();
    let args = |device: &str| {
        let mut cmd = binary("edged");
        cmd.args(["predict", "--device", device, "--model"])
            .arg(root.join("examples/models/mlp"))
            .arg("--input")
            .arg(root.join("examples/requests/mlp.json"));
        hide(&mut cmd);
        cmd
    };
    let (status, stdout, stderr) = run(&mut args("auto"));
    assert!(status.status.success(), "{stderr}");
    assert!(stderr.contains("backend=cpu"), "{stderr}");
    assert!(
        stderr.contains("gpu_unavailable"),
        "the reason is logged: {stderr}"
    );
    assert!(stdout.contains("\"probabilities\""), "{stdout}");

    let (status, stdout, stderr) = run(&mut args("gpu"));
    assert_eq!(status.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("error: device 'gpu' is unusable"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("is unusable").count(), 1, "{stderr}");
    assert!(stdout.is_empty());
}

#[test]
fn the_shipped_wine_models_reproduce_their_documented_accuracy() {
    // examples/wine/README.md: 0.70, 1.00 and 0.00 on the 60 replay rows.
    let wine = repo_root().join("examples/wine");
    let replay: Value =
        serde_json::from_slice(&std::fs::read(wine.join("data/replay.json")).unwrap()).unwrap();
    let rows = replay["rows"].as_array().unwrap();
    let labels: Vec<u64> = replay["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let data: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
        .collect();
    let request = serde_json::json!({"inputs": [{"name": "x", "shape": [rows.len(), 13], "datatype": "FP32", "data": data}]});
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("replay.json");
    std::fs::write(&input, request.to_string()).unwrap();
    for (model, expected) in [("wine-1", 0.70), ("wine-2", 1.0), ("wine-bad", 0.0)] {
        let (status, stdout, stderr) = run(binary("edged")
            .args(["predict", "--device", "cpu", "--check", "--model"])
            .arg(wine.join("models").join(model))
            .arg("--input")
            .arg(&input));
        assert!(status.status.success(), "{model}: {stderr}");
        let response: Value = serde_json::from_str(&stdout).unwrap();
        let probs = response["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == "probabilities")
            .unwrap();
        let p: Vec<f64> = probs["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let correct = labels
            .iter()
            .enumerate()
            .filter(|(i, l)| {
                (0..3).max_by(|a, b| p[i * 3 + a].total_cmp(&p[i * 3 + b])) == Some(**l as usize)
            })
            .count();
        let accuracy = correct as f64 / labels.len() as f64;
        assert!((accuracy - expected).abs() < 1e-9, "{model}: {accuracy}");
    }
}
