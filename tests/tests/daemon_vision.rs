//! Vision models through the real binaries: `fleet model import --check` of the generated
//! MobileNetV3-small and YOLOv8n fixtures (fixtures/make_vision.py), served by a real
//! `edged run` over the Open Inference Protocol's JSON form (the detector on the GPU path,
//! the classifier on the CPU), and the two-model detection pipeline of docs/pipelines.md: the
//! client decodes the detector's boxes, crops the best one and sends it to the classifier.

#![allow(clippy::expect_used)] // test helpers outside #[test] fns

use e2e::config::EdgedConfig;
use e2e::daemon::{Daemon, set_current};
use e2e::{binary, repo_root, run};
use serde_json::{Value, json};

fn fixture(name: &str) -> std::path::PathBuf {
    repo_root().join("fixtures/onnx/vision").join(name)
}

/// Imports fixture `name` as model `as_name` version 1 into `state`, checked against its
/// ONNX Runtime references.
fn import(state: &std::path::Path, name: &str, as_name: &str) {
    let out = state.join("models").join(as_name).join("1");
    let (status, stdout, stderr) = run(binary("fleet")
        .args(["model", "import"])
        .arg(fixture(&format!("{name}.onnx")))
        .args(["--name", as_name, "--version", "1", "--out"])
        .arg(&out)
        .arg("--check")
        .arg(fixture(&format!("{name}.cases.json"))));
    assert!(status.status.success(), "import {name}: {stdout}{stderr}");
    set_current(state, as_name, 1);
}

/// The first case of a fixture: its OIP input tensor and the reference output.
fn first_case(name: &str) -> (Value, Value) {
    let text = std::fs::read_to_string(fixture(&format!("{name}.cases.json"))).expect("cases");
    let cases: Value = serde_json::from_str(&text).expect("json");
    let case = &cases["cases"][0];
    (case["inputs"][0].clone(), case["outputs"][0].clone())
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn infer(d: &Daemon, model: &str, input: &Value) -> Value {
    let (status, body) = d.post_json(
        &format!("/v2/models/{model}/infer"),
        &json!({ "inputs": [input] }).to_string(),
    );
    assert_eq!(status, 200, "{model}: {body}");
    body["outputs"][0].clone()
}

fn start() -> (tempfile::TempDir, Daemon) {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    import(&state, "mobilenetv3_small", "classifier");
    import(&state, "yolov8n", "detector");
    let config = EdgedConfig::serving(&state, &["classifier", "detector"]).set(
        "models.detector",
        "device",
        "gpu",
    );
    let d = Daemon::start(&state, &config);
    (dir, d)
}

#[test]
fn an_image_classifier_and_a_detector_answer_oip_json_as_onnx_runtime_does() {
    let (_dir, d) = start();
    for (fixture, model) in [("mobilenetv3_small", "classifier"), ("yolov8n", "detector")] {
        let (input, reference) = first_case(fixture);
        let output = infer(&d, model, &input);
        assert_eq!(output["shape"], reference["shape"], "{model}");
        let (ours, theirs) = (floats(&output["data"]), floats(&reference["data"]));
        let worst = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs() / (1e-3 + 1e-3 * b.abs()))
            .fold(0.0, f64::max);
        assert!(worst <= 1.0, "{model}: {worst} times the tolerance");
    }
    let (status, body) = d.get_json("/v2/models/detector");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["inputs"][0]["shape"], json!([-1, 3, 64, 64]), "{body}");
}

/// The best box of a YOLOv8 output `[1, 4 + classes, anchors]`: (cx, cy, w, h), in pixels.
fn best_box(output: &Value) -> [f64; 4] {
    let shape: Vec<usize> = output["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|d| d.as_u64().expect("dim") as usize)
        .collect();
    let data = floats(&output["data"]);
    let (rows, anchors) = (shape[1], shape[2]);
    let score = |a: usize| (4..rows).map(|r| data[r * anchors + a]).fold(0.0, f64::max);
    let best = (0..anchors)
        .max_by(|&a, &b| score(a).total_cmp(&score(b)))
        .expect("anchors");
    [0, 1, 2, 3].map(|r| data[r * anchors + best])
}

/// The box's pixels of a `[1, 3, h, w]` image, resized (nearest) to `size` x `size`.
fn crop(image: &Value, [cx, cy, bw, bh]: [f64; 4], size: usize) -> Value {
    let data = floats(&image["data"]);
    let (h, w) = (64usize, 64usize);
    let clamp = |v: f64, hi: usize| (v.max(0.0) as usize).min(hi - 1);
    let (x0, y0) = (clamp(cx - bw / 2.0, w), clamp(cy - bh / 2.0, h));
    let (x1, y1) = (
        clamp(cx + bw / 2.0, w).max(x0),
        clamp(cy + bh / 2.0, h).max(y0),
    );
    let mut out = Vec::with_capacity(3 * size * size);
    for c in 0..3 {
        for y in 0..size {
            for x in 0..size {
                let sy = y0 + y * (y1 - y0 + 1) / size;
                let sx = x0 + x * (x1 - x0 + 1) / size;
                out.push(data[(c * h + sy) * w + sx]);
            }
        }
    }
    json!({"name": "images", "shape": [1, 3, size, size], "datatype": "FP32", "data": out})
}

#[test]
fn a_detection_pipeline_is_two_models_the_client_calls_in_turn() {
    let (_dir, d) = start();
    let (image, _) = first_case("yolov8n");
    let detections = infer(&d, "detector", &image);
    let b = best_box(&detections);
    assert!(b.iter().all(|v| v.is_finite()), "{b:?}");
    let classes = infer(&d, "classifier", &crop(&image, b, 64));
    assert_eq!(classes["shape"], json!([1, 10]), "{classes}");
    let scores = floats(&classes["data"]);
    assert!(scores.iter().all(|s| s.is_finite()), "{scores:?}");
}
