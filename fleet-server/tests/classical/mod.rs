//! Classical-ML models (the `ai.onnx.ml` domain) made by `fixtures/make_classical.py`:
//! scikit-learn forests, gradient boosting and logistic-regression pipelines exported by
//! skl2onnx, hand-written ensembles covering every node mode, aggregate and transform, the
//! opset-5 TreeEnsemble, and the feature transforms; checked against ONNX Runtime's outputs
//! on the CPU and the GPU path (labels exactly). Then the import-time rules: ZipMap removed
//! at a graph output and refused elsewhere, string labels refused, and a hostile "tree" with a
//! cycle refused before it can hang a walk.

use std::path::PathBuf;

use edge_model::format::{DataType, Op};
use fleet::import::{ImportError, onnx};
use onnx_ir::ModelProto;

fn path(name: &str) -> PathBuf {
    super::fixtures().join(format!("classical/{name}.onnx"))
}

#[test]
fn classical_models_match_onnx_runtime_on_cpu_and_gpu() {
    let files = super::onnx_files("classical");
    assert!(files.len() >= 10, "the classical fixtures are missing");
    super::verify_on_cpu_and_gpu(&files);
}

#[test]
fn a_zipmap_at_a_graph_output_is_removed_and_its_probabilities_become_the_output() {
    let converted = onnx::convert(&path("rf_breast_cancer"), "rf", 1).expect("import");
    let outputs: Vec<(&str, DataType, usize)> = converted
        .spec
        .outputs
        .iter()
        .map(|o| (o.name.as_str(), o.datatype, o.shape.len()))
        .collect();
    assert_eq!(
        outputs,
        [
            ("output_label", DataType::Int64, 1),
            ("output_probability", DataType::Fp32, 2)
        ]
    );
    assert!(
        converted.notes.iter().any(|n| n.contains("removed ZipMap")),
        "{:?}",
        converted.notes
    );
    assert!(
        converted
            .spec
            .nodes
            .iter()
            .any(|n| matches!(n.op, Op::TreeEnsemble { .. })),
        "the forest is one TreeEnsemble node"
    );
}

/// The fixture's protobuf, changed by `edit`, written to a temporary file.
fn edited(name: &str, edit: impl FnOnce(&mut ModelProto)) -> (tempfile::TempDir, PathBuf) {
    super::edited(&path(name), edit)
}

#[test]
fn a_zipmap_not_feeding_a_graph_output_is_refused_with_the_export_hint() {
    let (_dir, file) = edited("rf_breast_cancer", |p| {
        let graph = p.graph.as_mut().expect("graph");
        graph.output.retain(|o| o.name != "output_probability");
    });
    let err = onnx::convert(&file, "rf", 1).expect_err("refused");
    let text = err.to_string();
    assert!(matches!(err, ImportError::Unsupported { .. }), "{text}");
    assert!(
        text.contains("ZipMap") && text.contains("'zipmap': False"),
        "{text}"
    );
}

#[test]
fn string_class_labels_are_refused_naming_the_attribute() {
    let (_dir, file) = edited("rf_iris", |p| {
        let graph = p.graph.as_mut().expect("graph");
        for node in &mut graph.node {
            for a in &mut node.attribute {
                if a.name == "classlabels_int64s" {
                    a.name = "classlabels_strings".into();
                    a.strings = a
                        .ints
                        .iter()
                        .map(|i| i.to_string().into_bytes().into())
                        .collect();
                    a.ints.clear();
                    a.type_ = onnx_ir::AttributeType::STRINGS.into();
                }
            }
        }
    });
    let err = onnx::convert(&file, "rf", 1).expect_err("refused");
    assert!(err.to_string().contains("classlabels_strings"), "{err}");
}

#[test]
fn a_hostile_tree_with_a_cycle_is_refused_at_import() {
    // The first interior node after the root sends its true branch back to the root: a walk
    // would never end.
    let (_dir, file) = edited("rf_iris", |p| {
        let graph = p.graph.as_mut().expect("graph");
        let node = &mut graph.node[0];
        let modes = node
            .attribute
            .iter()
            .find(|a| a.name == "nodes_modes")
            .expect("modes");
        let interior = (1..modes.strings.len())
            .find(|&i| modes.strings[i][..] != b"LEAF"[..])
            .expect("an interior node");
        let a = node
            .attribute
            .iter_mut()
            .find(|a| a.name == "nodes_truenodeids")
            .expect("truenodeids");
        a.ints[interior] = 0;
    });
    let err = onnx::convert(&file, "rf", 1).expect_err("refused");
    assert!(err.to_string().contains("reached twice"), "{err}");
}

#[test]
fn a_tree_child_in_another_tree_is_refused_at_import() {
    let (_dir, file) = edited("rf_iris", |p| {
        let graph = p.graph.as_mut().expect("graph");
        let a = graph.node[0]
            .attribute
            .iter_mut()
            .find(|a| a.name == "nodes_falsenodeids")
            .expect("falsenodeids");
        a.ints[0] = 100_000;
    });
    let err = onnx::convert(&file, "rf", 1).expect_err("refused");
    assert!(
        err.to_string().contains("is not a node of that tree"),
        "{err}"
    );
}
