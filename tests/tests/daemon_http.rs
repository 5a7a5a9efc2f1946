//! The HTTP API of a real `edged run` on port 0: Open Inference Protocol v2, labels, stored
//! predictions, /metrics, `edged status`, and one test per kind of bad input.

#![allow(clippy::expect_used)] // test helpers outside #[test] fns

use e2e::config::{self, EdgedConfig};
use e2e::daemon::{Daemon, install_model, mlp_request};
use e2e::{binary, run};
use serde_json::Value;

/// An edged serving the example MLP, with the `(table, key, value)` settings `extra`.
fn daemon(extra: &[(&str, &str, config::Value)]) -> (tempfile::TempDir, Daemon) {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    install_model(&state, "mlp", 1);
    let mut config = EdgedConfig::new(&state);
    for (table, key, value) in extra {
        config = config.set(table, key, value.clone());
    }
    let daemon = Daemon::start(&state, &config);
    (dir, daemon)
}

fn argmax(row: &[Value]) -> u32 {
    let values: Vec<f64> = row.iter().map(|v| v.as_f64().expect("number")).collect();
    (0..values.len()).fold(0, |best, i| if values[i] > values[best] { i } else { best }) as u32
}

#[test]
fn health_metadata_and_inference_follow_the_open_inference_protocol() {
    let (_dir, d) = daemon(&[]);
    assert_eq!(
        d.get_json("/v2/health/live"),
        (200, serde_json::json!({"live": true}))
    );
    assert_eq!(
        d.get_json("/v2/health/ready"),
        (200, serde_json::json!({"ready": true}))
    );
    let (status, meta) = d.get_json("/v2/models/mlp");
    assert_eq!(status, 200);
    assert_eq!(meta["name"], "mlp");
    assert_eq!(meta["versions"], serde_json::json!(["1"]));
    assert_eq!(meta["inputs"][0]["shape"], serde_json::json!([-1, 16]));
    assert_eq!(meta["parameters"]["device"], "cpu");

    let (status, reply) = d.post_json("/v2/models/mlp/infer", &mlp_request(None, 3, 1));
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["model_name"], "mlp");
    assert_eq!(reply["model_version"], "1");
    let logits = reply["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .find(|o| o["name"] == "logits")
        .expect("logits");
    assert_eq!(logits["shape"], serde_json::json!([3, 4]));
    assert_eq!(reply["parameters"]["durable"], true);
    assert!(reply["parameters"]["latency_us"].as_u64().is_some());

    // The same request through `edged predict` gives the same numbers.
    let request = _dir.path().join("req.json");
    std::fs::write(&request, mlp_request(None, 3, 1)).expect("write");
    let (out, stdout, stderr) = run(binary("edged")
        .args(["predict", "--device", "cpu", "--model"])
        .arg(d.state.join("models/mlp/1"))
        .arg("--input")
        .arg(&request));
    assert!(out.status.success(), "{stderr}");
    let direct: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(direct["outputs"], reply["outputs"]);

    // Versioned infer path (Triton) matches the active version only.
    let (status, _) = d.post_json("/v2/models/mlp/versions/1/infer", &mlp_request(None, 1, 1));
    assert_eq!(status, 200);
    let (status, body) = d.post_json("/v2/models/mlp/versions/7/infer", &mlp_request(None, 1, 1));
    assert_eq!(status, 404, "{body}");
}

#[test]
fn labels_join_predictions_by_id_or_request_id_and_feed_quality_metrics() {
    let (_dir, d) = daemon(&[]);
    let mut correct = 0;
    let total = 20;
    for i in 0..total {
        let request_id = format!("req-{i}");
        let (status, reply) = d.post_json(
            "/v2/models/mlp/infer",
            &mlp_request(Some(&request_id), 1, i),
        );
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["id"], request_id.as_str());
        let logits = reply["outputs"]
            .as_array()
            .expect("outputs")
            .iter()
            .find(|o| o["name"] == "logits")
            .expect("logits");
        let predicted = argmax(logits["data"].as_array().expect("data"));
        // Label half right: the even ones get the predicted class, the odd ones another.
        let truth = if i % 2 == 0 {
            predicted
        } else {
            (predicted + 1) % 4
        };
        if truth == predicted {
            correct += 1;
        }
        let body = if i % 3 == 0 {
            serde_json::json!({"request_id": request_id, "label": truth})
        } else {
            serde_json::json!({"prediction_id": reply["parameters"]["prediction_id"], "label": [truth]})
        };
        let (status, label) = d.post_json("/v2/models/mlp/labels", &body.to_string());
        assert_eq!(status, 200, "{label}");
        assert_eq!(label["new"], true);
        let id = reply["parameters"]["prediction_id"].as_str().expect("id");
        let (status, stored) = d.get_json(&format!("/v2/models/mlp/predictions/{id}"));
        assert_eq!(status, 200);
        assert_eq!(stored["label"]["classes"], serde_json::json!([truth]));
        assert_eq!(stored["correlation"], request_id.as_str());
    }
    let accuracy = d
        .metric("edged_model_accuracy{model=\"mlp\",version=\"1\"}")
        .expect("accuracy");
    assert!(
        (accuracy - f64::from(correct) / f64::from(total)).abs() < 1e-9,
        "{accuracy}"
    );
    assert_eq!(
        d.metric("edged_labels_total{model=\"mlp\",version=\"1\"}"),
        Some(f64::from(total))
    );
    assert_eq!(
        d.metric("edged_predictions_total{model=\"mlp\",version=\"1\"}"),
        Some(f64::from(total))
    );
    let text = d.get("/metrics").1;
    for family in [
        "edged_model_f1{model=\"mlp\",version=\"1\",class=\"macro\"}",
        "edged_model_precision{model=\"mlp\",version=\"1\",class=\"macro\"}",
        "edged_model_recall{model=\"mlp\",version=\"1\",class=\"macro\"}",
        "edged_request_latency_seconds{model=\"mlp\",version=\"1\",window=\"5m\",quantile=\"0.99\"}",
        "edged_request_rate{model=\"mlp\",version=\"1\",window=\"5m\"}",
        "edged_model_info{model=\"mlp\",version=\"1\",device=\"cpu\"} 1",
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        "edged_buffer_records{kind=\"label\"} 20",
    ] {
        assert!(text.contains(family), "missing {family} in\n{text}");
    }
    // The listing pages through every stored prediction with its label.
    let (_, page) = d.get_json("/v2/models/mlp/predictions?limit=7");
    assert_eq!(page["predictions"].as_array().map(Vec::len), Some(7));
    let after = page["next_after"].as_str().expect("next");
    let (_, rest) = d.get_json(&format!(
        "/v2/models/mlp/predictions?after={after}&limit=100"
    ));
    let (_, all) = d.get_json("/v2/models/mlp/predictions?limit=100");
    let ids = |v: &Value| {
        v["predictions"]
            .as_array()
            .expect("list")
            .iter()
            .map(|p| p["id"].as_str().expect("id").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        rest["predictions"].as_array().map(Vec::len),
        Some(13),
        "{after} {:?} {:?}",
        ids(&page),
        ids(&all)
    );
}

#[test]
fn replayed_request_id_returns_the_stored_prediction_without_a_second_record() {
    let (_dir, d) = daemon(&[]);
    let (_, first) = d.post_json("/v2/models/mlp/infer", &mlp_request(Some("same"), 1, 1));
    let (status, second) = d.post_json("/v2/models/mlp/infer", &mlp_request(Some("same"), 1, 1));
    assert_eq!(status, 200);
    assert_eq!(second["parameters"]["replayed"], true);
    assert_eq!(
        first["parameters"]["prediction_id"],
        second["parameters"]["prediction_id"]
    );
    assert_eq!(
        d.metric("edged_buffer_records{kind=\"prediction\"}"),
        Some(1.0)
    );
}

#[test]
fn replayed_label_is_idempotent_and_a_conflicting_label_is_409() {
    let (_dir, d) = daemon(&[]);
    let (_, reply) = d.post_json("/v2/models/mlp/infer", &mlp_request(None, 1, 1));
    let id = reply["parameters"]["prediction_id"].clone();
    let label = serde_json::json!({"prediction_id": id, "label": 2}).to_string();
    assert_eq!(d.post_json("/v2/models/mlp/labels", &label).1["new"], true);
    let (status, again) = d.post_json("/v2/models/mlp/labels", &label);
    assert_eq!((status, again["new"].clone()), (200, Value::Bool(false)));
    let other = serde_json::json!({"prediction_id": id, "label": 3}).to_string();
    let (status, body) = d.post_json("/v2/models/mlp/labels", &other);
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("label_conflict")),
        "{body}"
    );
    assert_eq!(
        d.metric("edged_labels_total{model=\"mlp\",version=\"1\"}"),
        Some(1.0)
    );
}

/// Each bad input gets its status and code, is counted, and the daemon keeps serving.
fn refused(d: &Daemon, path: &str, body: &str, status: u16, code: &str) {
    let (got, text) = d.post(path, body);
    let value: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{path}: non-JSON error {text:?}: {e}"));
    assert_eq!(
        (got, value["code"].as_str()),
        (status, Some(code)),
        "{value}"
    );
    assert!(value["error"].as_str().is_some_and(|m| !m.is_empty()));
    let (ok, _) = d.post_json("/v2/models/mlp/infer", &mlp_request(None, 1, 9));
    assert_eq!(ok, 200, "daemon stopped serving after {code}");
}

#[test]
fn malformed_json_is_400_not_json() {
    let (_dir, d) = daemon(&[]);
    refused(
        &d,
        "/v2/models/mlp/infer",
        "{\"inputs\": [",
        400,
        "not_json",
    );
    refused(
        &d,
        "/v2/models/mlp/infer",
        "\u{1}\u{2}binary",
        400,
        "not_json",
    );
    assert_eq!(
        d.metric("edged_errors_total{model=\"mlp\",reason=\"not_json\"}"),
        Some(2.0)
    );
}

#[test]
fn wrong_shape_dtype_or_input_name_is_400_bad_input() {
    let (_dir, d) = daemon(&[]);
    let shape = r#"{"inputs":[{"name":"x","shape":[1,15],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]}]}"#;
    refused(&d, "/v2/models/mlp/infer", shape, 400, "bad_input");
    let dtype = mlp_request(None, 1, 1).replace("FP32", "INT64");
    refused(&d, "/v2/models/mlp/infer", &dtype, 400, "bad_input");
    let name = mlp_request(None, 1, 1).replace("\"x\"", "\"y\"");
    refused(&d, "/v2/models/mlp/infer", &name, 400, "bad_input");
    let forged =
        r#"{"inputs":[{"name":"x","shape":[4294967296,4294967296],"datatype":"FP32","data":[1]}]}"#;
    refused(&d, "/v2/models/mlp/infer", forged, 400, "bad_input");
    refused(
        &d,
        "/v2/models/mlp/infer",
        r#"{"outputs": 3}"#,
        400,
        "bad_input",
    );
    assert_eq!(
        d.metric("edged_errors_total{model=\"mlp\",reason=\"bad_input\"}"),
        Some(5.0)
    );
    let ratio = d
        .metric("edged_error_ratio{model=\"mlp\",version=\"1\",window=\"5m\"}")
        .expect("ratio");
    assert!((ratio - 0.5).abs() < 1e-9, "{ratio}");
}

#[test]
fn oversized_body_is_413_too_large() {
    let (_dir, d) = daemon(&[("limits", "max_request_bytes", "4KiB".into())]);
    let big = mlp_request(None, 64, 1);
    assert!(big.len() > 4096);
    refused(&d, "/v2/models/mlp/infer", &big, 413, "too_large");
    refused(
        &d,
        "/v2/models/mlp/labels",
        &" ".repeat(5000),
        413,
        "too_large",
    );
    assert_eq!(
        d.metric("edged_errors_total{model=\"mlp\",reason=\"too_large\"}"),
        Some(2.0)
    );
}

#[test]
fn unknown_model_is_404_and_creates_no_series_for_made_up_names() {
    let (_dir, d) = daemon(&[]);
    refused(
        &d,
        "/v2/models/nope/infer",
        &mlp_request(None, 1, 1),
        404,
        "unknown_model",
    );
    refused(&d, "/v2/models/nope/labels", "{}", 404, "unknown_model");
    assert_eq!(d.get_json("/v2/models/nope").0, 404);
    assert_eq!(
        d.metric("edged_errors_total{model=\"\",reason=\"unknown_model\"}"),
        Some(3.0)
    );
    assert!(!d.get("/metrics").1.contains("nope"));
    assert_eq!(d.get_json("/no/such/endpoint").1["code"], "not_found");
}

#[test]
fn label_for_an_unknown_prediction_is_404_unknown_prediction() {
    let (_dir, d) = daemon(&[]);
    refused(
        &d,
        "/v2/models/mlp/labels",
        r#"{"prediction_id": "999999", "label": 1}"#,
        404,
        "unknown_prediction",
    );
    refused(
        &d,
        "/v2/models/mlp/labels",
        r#"{"request_id": "never-sent", "label": 1}"#,
        404,
        "unknown_prediction",
    );
}

#[test]
fn malformed_labels_are_400_bad_label() {
    let (_dir, d) = daemon(&[]);
    let (_, reply) = d.post_json("/v2/models/mlp/infer", &mlp_request(None, 2, 1));
    let id = reply["parameters"]["prediction_id"].clone();
    for body in [
        serde_json::json!({"prediction_id": id, "label": 4}), // class out of range
        serde_json::json!({"prediction_id": id, "label": [1]}), // 2 rows, 1 class
        serde_json::json!({"prediction_id": id, "label": -1}), // not a class
        serde_json::json!({"prediction_id": id, "label": "cat"}), // not a class
        serde_json::json!({"label": 1}),                      // no target
        serde_json::json!({"prediction_id": "abc", "label": 1}), // not an id
        serde_json::json!({"prediction_id": id, "label": 1, "x": 1}), // unknown field
    ] {
        refused(
            &d,
            "/v2/models/mlp/labels",
            &body.to_string(),
            400,
            "bad_label",
        );
    }
    refused(&d, "/v2/models/mlp/labels", "not json", 400, "not_json");
}

#[test]
fn status_command_summarises_a_running_daemon() {
    let (_dir, d) = daemon(&[]);
    for i in 0..5 {
        d.post_json("/v2/models/mlp/infer", &mlp_request(None, 1, i));
    }
    let (out, stdout, stderr) = run(binary("edged").args(["status", "--config"]).arg(&d.config));
    assert!(out.status.success(), "{stderr}");
    for needle in ["edged: ready", "mlp", "cpu", "buffer: 5 predictions", "RSS"] {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }
    let (out, stdout, _) =
        run(binary("edged").args(["status", "--json", "--addr", &d.addr.to_string()]));
    assert!(out.status.success());
    let value: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(value["models"][0]["predictions_total"], 5);
    let (out, _, stderr) = run(binary("edged").args(["status", "--addr", "127.0.0.1:1"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("cannot reach edged"), "{stderr}");
}

#[test]
fn two_models_are_served_side_by_side_with_their_own_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    install_model(&state, "mlp", 1);
    install_model(&state, "mlp-b", 7);
    let config = EdgedConfig::new(&state).model("mlp-b");
    let d = Daemon::start(&state, &config);
    let (status, a) = d.post_json("/v2/models/mlp/infer", &mlp_request(None, 1, 1));
    assert_eq!(status, 200);
    for i in 0..3 {
        let (status, b) = d.post_json("/v2/models/mlp-b/infer", &mlp_request(None, 1, i));
        assert_eq!((status, b["model_version"].as_str()), (200, Some("7")));
        assert_eq!(b["model_name"], "mlp-b");
    }
    assert_eq!(a["model_version"], "1");
    assert_eq!(
        d.metric("edged_predictions_total{model=\"mlp\",version=\"1\"}"),
        Some(1.0)
    );
    assert_eq!(
        d.metric("edged_predictions_total{model=\"mlp-b\",version=\"7\"}"),
        Some(3.0)
    );
    // A prediction belongs to its model: it cannot be read or labelled through the other.
    let id = a["parameters"]["prediction_id"].as_str().expect("id");
    assert_eq!(
        d.get_json(&format!("/v2/models/mlp-b/predictions/{id}")).0,
        404
    );
    let label = serde_json::json!({"prediction_id": id, "label": 1}).to_string();
    assert_eq!(
        d.post_json("/v2/models/mlp-b/labels", &label).1["code"],
        "unknown_prediction"
    );
}

#[test]
fn inputs_are_stored_for_the_sampled_share_of_predictions() {
    for (share, expected) in [(1.0, true), (0.0, false)] {
        let (_dir, d) = daemon(&[("store", "sample_inputs", share.into())]);
        let request = mlp_request(None, 2, 5);
        let (_, reply) = d.post_json("/v2/models/mlp/infer", &request);
        let id = reply["parameters"]["prediction_id"].as_str().expect("id");
        let (_, stored) = d.get_json(&format!("/v2/models/mlp/predictions/{id}"));
        assert_eq!(
            stored["inputs"].is_array(),
            expected,
            "sample_inputs = {share}: {stored}"
        );
        if expected {
            let sent: Value = serde_json::from_str(&request).expect("json");
            assert_eq!(stored["inputs"][0]["shape"], serde_json::json!([2, 16]));
            let sent_data = sent["inputs"][0]["data"].as_array().expect("data");
            let kept = stored["inputs"][0]["data"].as_array().expect("data");
            assert_eq!(sent_data.len(), kept.len());
            for (a, b) in sent_data.iter().zip(kept) {
                let (a, b) = (a.as_f64().expect("n"), b.as_f64().expect("n"));
                assert!((a - b).abs() < 1e-6, "{a} vs {b}");
            }
        }
    }
}

#[test]
fn binary_model_reports_roc_auc_and_threshold_accuracy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    e2e::daemon::install_binary_model(&state, "fraud");
    let config =
        EdgedConfig::serving(&state, &["fraud"]).set("models.fraud", "binary_threshold", 0.5);
    let d = Daemon::start(&state, &config);
    // score = sigmoid(x0). Positives at x0 = -1, 1, 2; negatives at -2, 0.3, 0:
    // 7 of 9 (positive, negative) pairs are ranked right, so AUC = 7/9; at threshold 0.5
    // the predictions are [0, 1, 0, 1, 1, 1] against truth [0, 0, 1, 1, 1, 0]: accuracy 1/2.
    let x0 = [-2.0, 0.3, -1.0, 1.0, 2.0, 0.0];
    let data: Vec<f64> = x0.iter().flat_map(|&v| [v, 9.0]).collect();
    let request = serde_json::json!({"inputs": [{"name": "x", "shape": [6, 2], "datatype": "FP32", "data": data}]});
    let (status, reply) = d.post_json("/v2/models/fraud/infer", &request.to_string());
    assert_eq!(status, 200, "{reply}");
    let id = reply["parameters"]["prediction_id"].clone();
    let label = serde_json::json!({"prediction_id": id, "label": [0, 0, 1, 1, 1, 0]});
    assert_eq!(
        d.post_json("/v2/models/fraud/labels", &label.to_string()).0,
        200
    );
    let auc = d
        .metric("edged_model_roc_auc{model=\"fraud\",version=\"1\"}")
        .expect("auc");
    assert!((auc - 7.0 / 9.0).abs() < 1e-9, "{auc}");
    assert_eq!(
        d.metric("edged_model_accuracy{model=\"fraud\",version=\"1\"}"),
        Some(0.5)
    );
    // Class 1: predicted 4 times, 2 right (precision 0.5); 3 actual, 2 found (recall 2/3).
    assert_eq!(
        d.metric("edged_model_precision{model=\"fraud\",version=\"1\",class=\"1\"}"),
        Some(0.5)
    );
    let recall = d
        .metric("edged_model_recall{model=\"fraud\",version=\"1\",class=\"1\"}")
        .expect("recall");
    assert!((recall - 2.0 / 3.0).abs() < 1e-9);
    // A class outside {0, 1} is refused for a binary model.
    let (_, reply) = d.post_json("/v2/models/fraud/infer", &request.to_string());
    let bad = serde_json::json!({"prediction_id": reply["parameters"]["prediction_id"], "label": [0, 0, 2, 1, 1, 0]});
    assert_eq!(
        d.post_json("/v2/models/fraud/labels", &bad.to_string()).1["code"],
        "bad_label"
    );
}

/// Installs `state/models/NAME/1`: `y = table[ids]`, INT64 ids of shape [n] indexing an FP32
/// table of 3 rows of 2 (a Gather: typed values over the wire).
fn install_embedding_model(state: &std::path::Path, name: &str) {
    let dir = state.join("models").join(name).join("1");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let spec = serde_json::json!({
        "format_version": 2, "name": name, "version": 1, "producer": "e2e test",
        "inputs": [{"name": "ids", "datatype": "INT64", "shape": ["n"]}],
        "outputs": [{"name": "y", "datatype": "FP32", "shape": ["n", 2]}],
        "nodes": [{"name": "lookup", "op": {"type": "Gather", "axis": 0},
                   "inputs": ["table", "ids"], "outputs": ["y"]}]
    });
    std::fs::write(dir.join("model.json"), spec.to_string()).expect("model.json");
    let header = br#"{"table":{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    for v in [0.0f32, 1.0, 10.0, 11.0, 20.0, 21.0] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(dir.join("weights.safetensors"), bytes).expect("weights");
    e2e::daemon::set_current(state, name, 1);
}

#[test]
fn an_int64_index_out_of_range_fails_that_request_and_every_model_keeps_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    install_model(&state, "mlp", 1);
    install_embedding_model(&state, "embed");
    let config = EdgedConfig::new(&state)
        .model("embed")
        .set("models.embed", "device", "cpu");
    let d = Daemon::start(&state, &config);
    let ids = |v: &[i64]| {
        serde_json::json!({"inputs": [{"name": "ids", "shape": [v.len()], "datatype": "INT64", "data": v}]})
            .to_string()
    };
    let (status, body) = d.post_json("/v2/models/embed/infer", &ids(&[2, -3]));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outputs"][0]["datatype"], "FP32");
    assert_eq!(body["outputs"][0]["shape"], serde_json::json!([2, 2]));
    assert_eq!(
        body["outputs"][0]["data"],
        serde_json::json!([20.0, 21.0, 0.0, 1.0])
    );

    let (status, body) = d.post_json("/v2/models/embed/infer", &ids(&[1, 5]));
    assert_eq!(status, 500, "{body}");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(message.contains("index 5 is out of range"), "{body}");
    // FP32 ids for an INT64 input: a bad request naming both types.
    let wrong = r#"{"inputs": [{"name": "ids", "shape": [1], "datatype": "FP32", "data": [1.0]}]}"#;
    let (status, body) = d.post_json("/v2/models/embed/infer", wrong);
    assert_eq!(status, 400, "{body}");

    // The same model and the other model still answer.
    assert_eq!(d.post_json("/v2/models/embed/infer", &ids(&[0])).0, 200);
    assert_eq!(
        d.post_json("/v2/models/mlp/infer", &mlp_request(None, 1, 1))
            .0,
        200
    );
}
