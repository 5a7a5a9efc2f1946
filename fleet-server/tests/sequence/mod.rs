//! Sequence models made by `fixtures/make_sequence.py` the way their exporters write them (a
//! BERT-style encoder with int64 ids and masks at two sequence lengths, an LSTM anomaly
//! model, a bidirectional GRU tagger with ragged `sequence_lens`, a streaming LSTM detector,
//! attention written with Einsum, a keyword spotter with a log-mel front-end on raw audio),
//! checked against ONNX Runtime's outputs on the CPU and the GPU path; and the streaming
//! model run chunk by chunk, each chunk fed the state our runtime handed back.

use std::path::{Path, PathBuf};

use edge_model::checks::CheckCases;
use edge_model::{DeviceChoice, HostTensor, LoadOptions, Model};
use fleet::import::onnx;

const MODELS: [&str; 6] = [
    "bert_encoder",
    "lstm_anomaly",
    "bigru_tagger",
    "vad_streaming",
    "einsum_heads",
    "kws_mel",
];

fn path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../fixtures/onnx/sequence/{name}.onnx"))
}

#[test]
fn sequence_models_match_onnx_runtime_on_cpu_and_gpu() {
    let files: Vec<PathBuf> = MODELS.iter().map(|n| path(n)).collect();
    super::verify_on_cpu_and_gpu(&files);
}

#[test]
fn the_bert_encoder_imports_attention_as_one_fused_node() {
    let converted = onnx::convert(&path("bert_encoder"), "bert", 1).expect("import");
    let fused = converted
        .spec
        .nodes
        .iter()
        .filter(|n| n.op.name() == "Attention")
        .count();
    assert_eq!(fused, 2, "one Attention node per layer");
}

/// Runs case `first_chunk`, then case `next_chunk` with the state the first run returned in
/// place of ONNX Runtime's, and compares the second run with ONNX Runtime's.
#[test]
fn a_streaming_lstm_runs_chunk_by_chunk_carrying_its_own_state_on_cpu_and_gpu() {
    let file = path("vad_streaming");
    let cases = CheckCases::read(&file.with_extension("cases.json")).expect("cases");
    let case = |name: &str| {
        cases
            .cases
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("case {name}"))
            .clone()
    };
    let (first, next) = (case("first_chunk"), case("next_chunk"));
    for device in [DeviceChoice::Cpu, DeviceChoice::Gpu] {
        let converted = onnx::convert(&file, "vad", 1).expect("import");
        let model = Model::from_parts(
            converted.spec,
            converted.weights,
            &LoadOptions {
                device,
                ..Default::default()
            },
        )
        .expect("load");
        let inputs = |c: &edge_model::checks::CheckCase| -> Vec<_> {
            c.inputs
                .iter()
                .map(|t| (t.name.clone(), t.to_host().expect("input")))
                .collect()
        };
        let out = model.run(inputs(&first)).expect("first chunk");
        let state = |name: &str| {
            out.iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t.clone())
                .unwrap_or_else(|| panic!("output {name}"))
        };
        let mut second: Vec<_> = inputs(&next);
        for (name, value) in &mut second {
            match name.as_str() {
                "h" => *value = state("hn"),
                "c" => *value = state("cn"),
                _ => {}
            }
        }
        let out = model.run(second).expect("next chunk");
        for expected in &next.outputs {
            let want = expected.to_host().expect("reference");
            let got = &out
                .iter()
                .find(|(n, _)| *n == expected.name)
                .expect("output")
                .1;
            let (a, b) = (got.as_f32().expect("f32"), want.as_f32().expect("f32"));
            let worst = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst < 1e-4,
                "{device:?}: {} differs from ONNX Runtime's by {worst:e} after a carried state",
                expected.name
            );
        }
    }
}

fn load(name: &str, device: DeviceChoice) -> Model {
    let converted = onnx::convert(&path(name), name, 1).expect("import");
    Model::from_parts(
        converted.spec,
        converted.weights,
        &LoadOptions {
            device,
            ..Default::default()
        },
    )
    .expect("load")
}

#[test]
fn sequence_lens_longer_than_the_sequence_is_a_clear_error() {
    let model = load("bigru_tagger", DeviceChoice::Cpu);
    let tokens = HostTensor::f32(vec![9, 2, 12], vec![0.5; 9 * 2 * 12]);
    let lengths = HostTensor::typed(vec![2], vec![20i32, 3]).expect("lengths");
    let err = model
        .run(vec![("tokens".into(), tokens), ("lengths".into(), lengths)])
        .expect_err("a length past the sequence must be refused");
    assert!(
        err.to_string().contains("sequence_lens"),
        "the error names the input: {err}"
    );
}

/// Token ids: any batch and any length up to the 128-entry position table runs; a longer
/// sequence is an error naming the position lookup, not a panic or a wrong answer.
#[test]
fn the_bert_encoder_runs_any_batch_and_length_up_to_its_position_table() {
    let model = load("bert_encoder", DeviceChoice::Cpu);
    let feed = |batch: usize, seq: usize| -> Vec<(String, HostTensor)> {
        let n = batch * seq;
        let ids: Vec<i64> = (0..n).map(|i| (i * 13 % 500 + 1) as i64).collect();
        let t = |v: Vec<i64>| HostTensor::typed(vec![batch, seq], v).expect("ids");
        vec![
            ("input_ids".into(), t(ids)),
            ("attention_mask".into(), t(vec![1; n])),
            ("token_type_ids".into(), t(vec![0; n])),
        ]
    };
    for (batch, seq) in [(3, 1), (5, 37), (1, 128)] {
        let out = model.run(feed(batch, seq)).expect("run");
        let hidden = &out
            .iter()
            .find(|(n, _)| n == "last_hidden_state")
            .expect("output")
            .1;
        assert_eq!(hidden.shape, vec![batch, seq, 128]);
        assert!(
            hidden.as_f32().expect("f32").iter().all(|v| v.is_finite()),
            "finite outputs at batch {batch}, sequence {seq}"
        );
    }
    let err = model
        .run(feed(1, 129))
        .expect_err("129 positions do not fit a 128-entry table");
    assert!(err.to_string().contains("Gather"), "{err}");
}
