//! Quantized models made by `fixtures/make_quantized.py` with ONNX Runtime's quantization
//! tools (static QDQ per channel and per tensor, QOperator, dynamic MatMul and Conv), checked
//! against ONNX Runtime's outputs on the CPU and the GPU path within a few output
//! quantization steps; then what the import keeps (the 8-bit weights stay 8-bit) and what it
//! refuses (blocked scales, 16-bit values).

use std::path::PathBuf;

use edge_model::format::Op;
use edge_model::weights::HostData;
use fleet::import::onnx;
use onnx_ir::ModelProto;

fn path(name: &str) -> PathBuf {
    super::fixtures().join(format!("quantized/{name}.onnx"))
}

#[test]
fn quantized_models_match_onnx_runtime_on_cpu_and_gpu() {
    let files = super::onnx_files("quantized");
    assert!(files.len() >= 5, "the quantized fixtures are missing");
    super::verify_on_cpu_and_gpu(&files);
}

#[test]
fn a_qdq_model_keeps_its_weights_as_int8_behind_dequantize_linear() {
    let converted = onnx::convert(&path("qdq_cnn"), "qdq", 1).expect("import");
    let dequantized = converted
        .spec
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::DequantizeLinear { .. }))
        .count();
    assert!(dequantized >= 5, "{dequantized} DequantizeLinear nodes");
    let int8: usize = converted
        .weights
        .values()
        .filter_map(|w| match &w.data {
            HostData::I8(v) => Some(v.len()),
            _ => None,
        })
        .sum();
    let float: usize = converted
        .weights
        .values()
        .filter_map(|w| match &w.data {
            HostData::F32(v) if v.len() > 64 => Some(v.len()),
            _ => None,
        })
        .sum();
    assert!(int8 > 10_000, "{int8} int8 weight values");
    assert_eq!(float, 0, "no float weight tensor of any size");
}

#[test]
fn dynamic_quantization_outputs_the_uint8_values_their_scale_and_zero_point() {
    let converted = onnx::convert(&path("dyn_mlp"), "dyn", 1).expect("import");
    let node = converted
        .spec
        .nodes
        .iter()
        .find(|n| n.op == Op::DynamicQuantizeLinear)
        .expect("a DynamicQuantizeLinear node");
    assert_eq!(node.outputs.len(), 3, "{:?}", node.outputs);
    assert!(
        converted
            .spec
            .nodes
            .iter()
            .any(|n| n.op == Op::MatMulInteger),
        "MatMulInteger"
    );
}

/// The fixture's protobuf, changed by `edit`, written to a temporary file.
fn edited(name: &str, edit: impl FnOnce(&mut ModelProto)) -> (tempfile::TempDir, PathBuf) {
    super::edited(&path(name), edit)
}

#[test]
fn blocked_quantization_is_refused_naming_it() {
    let (_dir, file) = edited("qop_cnn", |p| {
        let graph = p.graph.as_mut().expect("graph");
        let node = graph
            .node
            .iter_mut()
            .find(|n| n.op_type == "DequantizeLinear")
            .expect("a DequantizeLinear");
        let mut block = node.attribute.first().cloned().unwrap_or_default();
        block.name = "block_size".into();
        block.i = 4;
        block.type_ = onnx_ir::AttributeType::INT.into();
        node.attribute.push(block);
    });
    let err = onnx::convert(&file, "q", 1).expect_err("refused");
    assert!(err.to_string().contains("block"), "{err}");
}

#[test]
fn a_16_bit_quantized_value_is_refused_naming_the_type() {
    // The uint8 zero points of the first QuantizeLinear become uint16 (TensorProto 4).
    let (_dir, file) = edited("qop_cnn", |p| {
        let graph = p.graph.as_mut().expect("graph");
        let zero = graph
            .node
            .iter()
            .find(|n| n.op_type == "QuantizeLinear")
            .and_then(|n| n.input.get(2).cloned())
            .expect("a zero point");
        let init = graph
            .initializer
            .iter_mut()
            .find(|i| i.name == zero)
            .expect("its initializer");
        init.raw_data = init.raw_data.iter().flat_map(|&b| [b, 0]).collect();
        init.data_type = 4;
    });
    let err = onnx::convert(&file, "q", 1).expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("U16") && text.contains("not supported"),
        "{text}"
    );
}
