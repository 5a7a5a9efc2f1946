//! What a real `edged run` makes of models that are not plain score classifiers, with the
//! metrics and labels each kind gets (issue 14, part 7): a scikit-learn classifier whose
//! predicted class is an INT64 label output and whose probabilities are a second output
//! (accuracy from one, ROC AUC from the other); a gradient-boosting regressor that takes float
//! labels and reports MAE and RMSE, also after a restart; and a BERT-style encoder served
//! as an embedder, with latency and error metrics only and labels refused. The models are the
//! committed fixtures (`fixtures/make_classical.py`, `fixtures/make_sequence.py`), imported
//! with `fleet model import --check`.

#![allow(clippy::expect_used)] // test helpers outside #[test] fns

use e2e::config::EdgedConfig;
use e2e::daemon::{Daemon, set_current};
use e2e::{binary, repo_root, run};
use serde_json::{Value, json};

/// Imports `fixtures/onnx/{kind}/{name}` as model `as_name` version 1 into `state`.
fn import(state: &std::path::Path, kind: &str, name: &str, as_name: &str) {
    let fixture = |ext: &str| repo_root().join(format!("fixtures/onnx/{kind}/{name}.{ext}"));
    let out = state.join("models").join(as_name).join("1");
    let (status, stdout, stderr) = run(binary("fleet")
        .args(["model", "import"])
        .arg(fixture("onnx"))
        .args(["--name", as_name, "--version", "1", "--out"])
        .arg(&out)
        .arg("--check")
        .arg(fixture("cases.json")));
    assert!(status.status.success(), "import {name}: {stdout}{stderr}");
    set_current(state, as_name, 1);
}

/// The inputs of the fixture's case `case` (0: batch 1, 1: the larger batch).
fn case_inputs(kind: &str, name: &str, case: usize) -> Value {
    let path = repo_root().join(format!("fixtures/onnx/{kind}/{name}.cases.json"));
    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("cases")).expect("json");
    cases["cases"][case]["inputs"].clone()
}

fn infer(d: &Daemon, model: &str, inputs: &Value) -> Value {
    let (status, body) = d.post_json(
        &format!("/v2/models/{model}/infer"),
        &json!({ "inputs": inputs }).to_string(),
    );
    assert_eq!(status, 200, "{model}: {body}");
    body
}

fn output<'a>(reply: &'a Value, name: &str) -> &'a Value {
    reply["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no output {name} in {reply}"))
}

fn label(d: &Daemon, model: &str, reply: &Value, label: Value) -> (u16, Value) {
    let body = json!({"prediction_id": reply["parameters"]["prediction_id"], "label": label});
    d.post_json(&format!("/v2/models/{model}/labels"), &body.to_string())
}

fn quality(d: &Daemon, model: &str) -> Value {
    let (status, body) = d.get_json("/v2/status");
    assert_eq!(status, 200, "{body}");
    body["models"]
        .as_array()
        .expect("models")
        .iter()
        .find(|m| m["model"] == model)
        .unwrap_or_else(|| panic!("no {model} in {body}"))["quality"]
        .clone()
}

#[test]
fn a_classifier_reads_its_class_from_the_label_output_and_its_auc_from_the_probabilities() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    import(&state, "classical", "logreg_breast_cancer", "cancer");
    let d = Daemon::start(&state, &EdgedConfig::serving(&state, &["cancer"]));
    let (_, model) = d.get_json("/v2/models/cancer");
    assert_eq!(
        model["parameters"],
        json!({"device": "cpu", "directory": model["parameters"]["directory"], "task": "classification",
               "label_output": "output_label", "score_output": "output_probability"}),
        "{model}"
    );
    let reply = infer(
        &d,
        "cancer",
        &case_inputs("classical", "logreg_breast_cancer", 1),
    );
    let predicted: Vec<u64> = output(&reply, "output_label")["data"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|v| v.as_u64().expect("an integer class"))
        .collect();
    assert_eq!(predicted.len(), 64);
    // The truth is the predicted class, except for every fourth row: accuracy 0.75.
    let truth: Vec<u64> = predicted
        .iter()
        .enumerate()
        .map(|(i, &c)| if i % 4 == 0 { 1 - c } else { c })
        .collect();
    let (status, body) = label(&d, "cancer", &reply, json!(truth));
    assert_eq!(status, 200, "{body}");
    let q = quality(&d, "cancer");
    assert_eq!(q["task"], "classification", "{q}");
    assert_eq!(q["labelled_rows"], 64, "{q}");
    assert_eq!(q["accuracy"], 0.75, "{q}");
    let auc = q["roc_auc"].as_f64().expect("AUC from the probabilities");
    assert!(auc > 0.0 && auc < 1.0, "{q}");
    assert_eq!(
        d.metric("edged_model_accuracy{model=\"cancer\",version=\"1\"}"),
        Some(0.75)
    );
    // A float label is no class.
    let again = infer(
        &d,
        "cancer",
        &case_inputs("classical", "logreg_breast_cancer", 0),
    );
    let (status, body) = label(&d, "cancer", &again, json!(0.5));
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("bad_label")),
        "{body}"
    );
}

#[test]
fn a_regression_model_takes_float_labels_and_reports_mae_and_rmse_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    import(&state, "classical", "gbr_diabetes", "diabetes");
    let config =
        EdgedConfig::serving(&state, &["diabetes"]).set("models.diabetes", "task", "regression");
    let d = Daemon::start(&state, &config);
    let reply = infer(&d, "diabetes", &case_inputs("classical", "gbr_diabetes", 1));
    let predicted: Vec<f64> = output(&reply, "variable")["data"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| v.as_f64().expect("a number"))
        .collect();
    assert_eq!(predicted.len(), 64);
    // Errors of +3 and -1 in turn: MAE 2, RMSE sqrt(5).
    let truth: Vec<f64> = predicted
        .iter()
        .enumerate()
        .map(|(i, p)| if i % 2 == 0 { p - 3.0 } else { p + 1.0 })
        .collect();
    // Wrong counts and non-numbers are refused and change nothing.
    for bad in [json!(truth[..63]), json!("3.7"), json!([truth[0], "x"])] {
        let (status, body) = label(&d, "diabetes", &reply, bad.clone());
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("bad_label")),
            "{bad}: {body}"
        );
    }
    assert_eq!(quality(&d, "diabetes"), Value::Null);
    let (status, body) = label(&d, "diabetes", &reply, json!(truth));
    assert_eq!(status, 200, "{body}");
    let check = |q: &Value| {
        assert_eq!(q["task"], "regression", "{q}");
        assert_eq!(q["labelled_values"], 64, "{q}");
        let (mae, rmse) = (
            q["mae"].as_f64().expect("mae"),
            q["rmse"].as_f64().expect("rmse"),
        );
        assert!((mae - 2.0).abs() < 1e-4, "{q}");
        assert!((rmse - 5f64.sqrt()).abs() < 1e-4, "{q}");
    };
    check(&quality(&d, "diabetes"));
    let mae = d.metric("edged_model_mae{model=\"diabetes\",version=\"1\"}");
    assert!(mae.is_some_and(|m| (m - 2.0).abs() < 1e-4), "{mae:?}");
    // `edged status` prints the errors under its table.
    let (status, stdout, stderr) =
        run(binary("edged").args(["status", "--addr", &d.addr.to_string()]));
    assert!(status.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("diabetes v1: MAE 2.0000, RMSE 2.2361 on 64 labelled values"),
        "{stdout}"
    );
    // One number labels a one-row prediction.
    let one = infer(&d, "diabetes", &case_inputs("classical", "gbr_diabetes", 0));
    let p = output(&one, "variable")["data"][0].as_f64().expect("value");
    let (status, body) = label(&d, "diabetes", &one, json!(p));
    assert_eq!(status, 200, "{body}");
    assert_eq!(quality(&d, "diabetes")["labelled_values"], 65);
    // The float labels are in the buffer: the window is rebuilt after a restart.
    assert!(d.terminate().success());
    let d = Daemon::start(&state, &config);
    let q = quality(&d, "diabetes");
    assert_eq!(q["labelled_values"], 65, "{q}");
    let mae = q["mae"].as_f64().expect("mae");
    assert!((mae - 2.0 * 64.0 / 65.0).abs() < 1e-4, "{q}");
}

#[test]
fn an_embedding_model_gets_latency_and_error_metrics_only_and_refuses_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    import(&state, "sequence", "bert_encoder", "embedder");
    let config =
        EdgedConfig::serving(&state, &["embedder"]).set("models.embedder", "task", "embedding");
    let d = Daemon::start(&state, &config);
    let reply = infer(&d, "embedder", &case_inputs("sequence", "bert_encoder", 0));
    assert_eq!(output(&reply, "pooler_output")["shape"], json!([1, 128]));
    let (status, body) = label(&d, "embedder", &reply, json!(1));
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("bad_label")),
        "{body}"
    );
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("takes no labels")),
        "{body}"
    );
    assert_eq!(quality(&d, "embedder"), Value::Null);
    let (_, status) = d.get_json("/v2/status");
    let m = &status["models"][0];
    assert_eq!(m["predictions_total"], 1, "{m}");
    assert!(
        m["window"]["latency_seconds"]["p95"].as_f64().is_some(),
        "{m}"
    );
    let (_, model) = d.get_json("/v2/models/embedder");
    assert_eq!(model["parameters"]["task"], "none", "{model}");
}
