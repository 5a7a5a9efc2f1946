//! Unit tests of the ops with several outputs (Split, TopK), the host-side index ops (GatherND,
//! ScatterND, ScatterElements, OneHot) and the ops whose parameters arrive at run time (Pad,
//! Clip): ONNX's rules on small cases, and a bad index failing only that request.

use super::test_graphs::{fixed, io, load, node, spec};
use super::*;
use crate::format::{DataType, Dim, NodeSpec, Op, PadMode, ScatterReduction};
use crate::weights::{HostData, HostTensor, Weights};

fn t<T>(shape: &[usize], v: Vec<T>) -> HostTensor
where
    Vec<T>: Into<HostData>,
{
    HostTensor::typed(shape.to_vec(), v).expect("tensor")
}

fn run(model: &Model, inputs: Vec<(&str, HostTensor)>) -> Result<Vec<HostTensor>> {
    model
        .run(
            inputs
                .into_iter()
                .map(|(n, t)| (n.to_string(), t))
                .collect(),
        )
        .map(|out| out.into_iter().map(|(_, t)| t).collect())
}

fn split_model(outputs: &[&str]) -> ModelSpec {
    let mut s = spec(
        vec![io("x", DataType::Fp32, fixed(&[5]))],
        outputs
            .iter()
            .map(|o| io(o, DataType::Fp32, vec![Dim::Named(format!("{o}_n"))]))
            .collect(),
        vec![node(
            "split",
            Op::Split {
                axis: 0,
                outputs: 2,
            },
            &["x"],
            "y0",
        )],
    );
    s.nodes[0].outputs = outputs.iter().map(|o| o.to_string()).collect();
    s
}

#[test]
fn split_without_sizes_gives_ceil_sized_parts_the_last_smaller() {
    let model = load(
        split_model(&["y0", "y1"]),
        Weights::new(),
        DeviceChoice::Cpu,
    )
    .expect("load");
    let out = run(
        &model,
        vec![("x", t(&[5], vec![1.0f32, 2.0, 3.0, 4.0, 5.0]))],
    )
    .expect("run");
    assert_eq!(out[0].data, HostData::F32(vec![1.0, 2.0, 3.0]));
    assert_eq!(out[1].data, HostData::F32(vec![4.0, 5.0]));
}

#[test]
fn a_split_node_with_fewer_outputs_than_parts_is_refused_at_load() {
    let err = load(split_model(&["y0"]), Weights::new(), DeviceChoice::Cpu)
        .expect_err("one output for two parts")
        .to_string();
    assert!(err.contains("2 output(s)"), "{err}");
}

fn top_k_model(largest: bool) -> (ModelSpec, Weights) {
    let mut s = spec(
        vec![io("x", DataType::Fp32, fixed(&[1, 5]))],
        vec![
            io("values", DataType::Fp32, fixed(&[1, 2])),
            io("indices", DataType::Int64, fixed(&[1, 2])),
        ],
        vec![node(
            "topk",
            Op::TopK {
                axis: -1,
                largest,
                sorted: true,
            },
            &["x", "k"],
            "values",
        )],
    );
    s.nodes[0].outputs = vec!["values".into(), "indices".into()];
    let mut w = Weights::new();
    w.insert("k".into(), t(&[1], vec![2i64]));
    (s, w)
}

fn check_top_k(device: DeviceChoice) {
    let x = || t(&[1, 5], vec![3.0f32, 1.0, 3.0, 2.0, 3.0]);
    let (s, w) = top_k_model(true);
    let model = load(s, w, device).expect("load");
    let out = run(&model, vec![("x", x())]).expect("run");
    assert_eq!(out[0].data, HostData::F32(vec![3.0, 3.0]));
    // Ties keep index order: the first two 3s, at 0 and 2.
    assert_eq!(out[1].data, HostData::I64(vec![0, 2]));
    let (s, w) = top_k_model(false);
    let model = load(s, w, device).expect("load");
    let out = run(&model, vec![("x", x())]).expect("run");
    assert_eq!(out[0].data, HostData::F32(vec![1.0, 2.0]));
    assert_eq!(out[1].data, HostData::I64(vec![1, 3]));
}

#[test]
fn top_k_keeps_ties_in_index_order_and_gives_int64_indices() {
    check_top_k(DeviceChoice::Cpu);
}

#[test]
fn top_k_of_a_gpu_model_runs_on_the_host_and_gives_the_same_answer() {
    check_top_k(DeviceChoice::Gpu);
}

fn scatter_nd_model() -> ModelSpec {
    spec(
        vec![
            io("data", DataType::Fp32, fixed(&[4])),
            io("indices", DataType::Int64, fixed(&[1, 1])),
            io("updates", DataType::Fp32, fixed(&[1])),
        ],
        vec![io("y", DataType::Fp32, fixed(&[4]))],
        vec![node(
            "scatter",
            Op::ScatterND {
                reduction: ScatterReduction::None,
            },
            &["data", "indices", "updates"],
            "y",
        )],
    )
}

#[test]
fn scatter_nd_with_an_index_out_of_range_fails_that_request_and_the_next_one_succeeds() {
    let model = load(scatter_nd_model(), Weights::new(), DeviceChoice::Cpu).expect("load");
    let inputs = |index: i64| {
        vec![
            ("data", t(&[4], vec![1.0f32, 2.0, 3.0, 4.0])),
            ("indices", t(&[1, 1], vec![index])),
            ("updates", t(&[1], vec![9.0f32])),
        ]
    };
    let err = run(&model, inputs(4))
        .expect_err("index 4 of 4")
        .to_string();
    assert!(err.contains("index 4 is out of range"), "{err}");
    let out = run(&model, inputs(-1)).expect("a negative index counts from the end");
    assert_eq!(out[0].data, HostData::F32(vec![1.0, 2.0, 3.0, 9.0]));
}

#[test]
fn gather_nd_with_batch_dims_indexes_each_batch_on_its_own() {
    let s = spec(
        vec![
            io("data", DataType::Int64, fixed(&[2, 2, 2])),
            io("indices", DataType::Int64, fixed(&[2, 1])),
        ],
        vec![io("y", DataType::Int64, fixed(&[2, 2]))],
        vec![node(
            "gather",
            Op::GatherND { batch_dims: 1 },
            &["data", "indices"],
            "y",
        )],
    );
    let model = load(s, Weights::new(), DeviceChoice::Cpu).expect("load");
    let out = run(
        &model,
        vec![
            ("data", t(&[2, 2, 2], (0..8i64).collect::<Vec<_>>())),
            ("indices", t(&[2, 1], vec![1i64, 0])),
        ],
    )
    .expect("run");
    // Batch 0 takes its row 1 ([2, 3]), batch 1 its row 0 ([4, 5]).
    assert_eq!(out[0].data, HostData::I64(vec![2, 3, 4, 5]));
}

#[test]
fn scatter_elements_with_add_accumulates_duplicate_indices() {
    let s = spec(
        vec![
            io("data", DataType::Fp32, fixed(&[1, 5])),
            io("indices", DataType::Int64, fixed(&[1, 2])),
            io("updates", DataType::Fp32, fixed(&[1, 2])),
        ],
        vec![io("y", DataType::Fp32, fixed(&[1, 5]))],
        vec![node(
            "scatter",
            Op::ScatterElements {
                axis: 1,
                reduction: ScatterReduction::Add,
            },
            &["data", "indices", "updates"],
            "y",
        )],
    );
    let model = load(s, Weights::new(), DeviceChoice::Cpu).expect("load");
    let out = run(
        &model,
        vec![
            ("data", t(&[1, 5], vec![1.0f32; 5])),
            ("indices", t(&[1, 2], vec![1i64, 1])),
            ("updates", t(&[1, 2], vec![1.0f32, 2.0])),
        ],
    )
    .expect("run");
    assert_eq!(out[0].data, HostData::F32(vec![1.0, 4.0, 1.0, 1.0, 1.0]));
}

fn one_hot_model(depth: i64) -> (ModelSpec, Weights) {
    let s = spec(
        vec![io("i", DataType::Int64, vec![Dim::Named("n".into())])],
        vec![io(
            "y",
            DataType::Fp32,
            vec![Dim::Named("n".into()), Dim::Named("depth".into())],
        )],
        vec![node(
            "onehot",
            Op::OneHot { axis: -1 },
            &["i", "depth", "values"],
            "y",
        )],
    );
    let mut w = Weights::new();
    w.insert("depth".into(), t(&[], vec![depth]));
    w.insert("values".into(), t(&[2], vec![0.0f32, 1.0]));
    (s, w)
}

#[test]
fn one_hot_of_an_index_out_of_range_is_a_row_of_off_values() {
    let (s, w) = one_hot_model(3);
    let model = load(s, w, DeviceChoice::Cpu).expect("load");
    let out = run(&model, vec![("i", t(&[3], vec![0i64, -1, 5]))]).expect("run");
    #[rustfmt::skip]
    let want = vec![
        1.0, 0.0, 0.0,
        0.0, 0.0, 1.0,
        0.0, 0.0, 0.0,
    ];
    assert_eq!(out[0].data, HostData::F32(want));
}

#[test]
fn a_one_hot_over_the_element_limit_fails_that_request_without_allocating() {
    let (s, w) = one_hot_model(1 << 20);
    let model = load(s, w, DeviceChoice::Cpu).expect("load");
    let err = run(&model, vec![("i", t(&[1024], vec![0i64; 1024]))])
        .expect_err("2^30 elements")
        .to_string();
    assert!(err.contains("over the limit"), "{err}");
}

#[test]
fn pad_at_run_time_crops_negative_pads_and_fills_with_the_given_value() {
    let s = spec(
        vec![
            io("x", DataType::Int64, fixed(&[4])),
            io("pads", DataType::Int64, fixed(&[2])),
        ],
        vec![io("y", DataType::Int64, vec![Dim::Named("m".into())])],
        vec![node(
            "pad",
            Op::PadDynamic {
                mode: PadMode::Constant,
                value: true,
                axes: false,
            },
            &["x", "pads", "value"],
            "y",
        )],
    );
    let mut w = Weights::new();
    w.insert("value".into(), t(&[], vec![9i64]));
    let model = load(s, w, DeviceChoice::Cpu).expect("load");
    let out = run(
        &model,
        vec![
            ("x", t(&[4], vec![1i64, 2, 3, 4])),
            ("pads", t(&[2], vec![-1i64, 2])),
        ],
    )
    .expect("run");
    assert_eq!(out[0].data, HostData::I64(vec![2, 3, 4, 9, 9]));
    let err = run(
        &model,
        vec![
            ("x", t(&[4], vec![1i64, 2, 3, 4])),
            ("pads", t(&[2], vec![-3i64, -1])),
        ],
    )
    .expect_err("cropped to nothing")
    .to_string();
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn clip_with_bounds_at_run_time_gives_max_when_min_is_above_it() {
    let s = spec(
        vec![
            io("x", DataType::Fp32, fixed(&[3])),
            io("lo", DataType::Fp32, vec![]),
            io("hi", DataType::Fp32, vec![]),
        ],
        vec![io("y", DataType::Fp32, fixed(&[3]))],
        vec![NodeSpec {
            name: "clip".into(),
            op: Op::ClipBounds {
                min: true,
                max: true,
            },
            inputs: vec!["x".into(), "lo".into(), "hi".into()],
            outputs: vec!["y".into()],
            when: Vec::new(),
        }],
    );
    let model = load(s, Weights::new(), DeviceChoice::Cpu).expect("load");
    let clip = |lo: f32, hi: f32| {
        run(
            &model,
            vec![
                ("x", t(&[3], vec![-1.0f32, 3.0, 7.0])),
                ("lo", t(&[], vec![lo])),
                ("hi", t(&[], vec![hi])),
            ],
        )
        .expect("run")
        .remove(0)
        .data
    };
    assert_eq!(clip(0.0, 5.0), HostData::F32(vec![0.0, 3.0, 5.0]));
    assert_eq!(clip(2.0, 1.0), HostData::F32(vec![1.0, 1.0, 1.0]));
}
