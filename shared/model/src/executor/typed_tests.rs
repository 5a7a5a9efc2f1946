//! Unit tests of typed values: integer, boolean and FP64 graphs, run-time shapes, and the
//! range checks between the host and the GPU.

use super::test_graphs::{fixed, io, load, node, spec};
use super::*;
use crate::format::{DataType, Dim, Op};
use crate::weights::{HostData, HostTensor, Weights};

/// `y = table[ids]`: an INT64 input indexing an FP32 weight.
fn embedding() -> (ModelSpec, Weights) {
    let s = spec(
        vec![io("ids", DataType::Int64, vec![Dim::Named("n".into())])],
        vec![io(
            "y",
            DataType::Fp32,
            vec![Dim::Named("n".into()), Dim::Fixed(2)],
        )],
        vec![node(
            "lookup",
            Op::Gather { axis: 0 },
            &["table", "ids"],
            "y",
        )],
    );
    let mut w = Weights::new();
    w.insert(
        "table".into(),
        HostTensor::typed(vec![3, 2], vec![0.0f32, 1.0, 10.0, 11.0, 20.0, 21.0]).expect("t"),
    );
    (s, w)
}

#[test]
fn int64_indices_gather_rows_and_an_index_out_of_range_fails_only_that_request() {
    let (s, w) = embedding();
    let model = load(s, w, DeviceChoice::Cpu).expect("load");
    let ids = |v: Vec<i64>| {
        vec![(
            "ids".to_string(),
            HostTensor::typed(vec![v.len()], v).expect("t"),
        )]
    };
    let out = model.run(ids(vec![2, -3])).expect("run");
    assert_eq!(out[0].1.as_f32(), Some(&[20.0, 21.0, 0.0, 1.0][..]));
    let err = model
        .run(ids(vec![1, 3]))
        .expect_err("index 3 accepted")
        .to_string();
    assert!(err.contains("index 3 is out of range"), "{err}");
    assert!(model.run(ids(vec![1])).is_ok(), "the model still serves");
}

#[test]
fn a_request_of_the_wrong_datatype_is_refused_naming_both_types() {
    let (s, w) = embedding();
    let model = load(s, w, DeviceChoice::Cpu).expect("load");
    let err = model
        .run(vec![(
            "ids".into(),
            HostTensor::typed(vec![1], vec![1.0f32]).expect("t"),
        )])
        .expect_err("FP32 ids accepted")
        .to_string();
    assert!(err.contains("FP32") && err.contains("INT64"), "{err}");
}

fn fp64_add() -> ModelSpec {
    let d = || fixed(&[2]);
    spec(
        vec![io("a", DataType::Fp64, d()), io("b", DataType::Fp64, d())],
        vec![io("y", DataType::Fp64, d())],
        vec![node("add", Op::Add, &["a", "b"], "y")],
    )
}

#[test]
fn an_fp64_model_computes_in_f64_on_the_cpu() {
    let model = load(fp64_add(), Weights::new(), DeviceChoice::Cpu).expect("load");
    let t = |v: Vec<f64>| HostTensor::typed(vec![2], v).expect("t");
    let out = model
        .run(vec![
            ("a".into(), t(vec![1.0, 1e-300])),
            ("b".into(), t(vec![1e-16, 1e-300])),
        ])
        .expect("run");
    // 1 + 1e-16 and 2e-300 are not representable in f32.
    assert_eq!(out[0].1.data, HostData::F64(vec![1.0 + 1e-16, 2e-300]));
}

#[test]
fn an_fp64_model_is_refused_on_the_gpu_and_auto_picks_the_cpu() {
    let err = load(fp64_add(), Weights::new(), DeviceChoice::Gpu)
        .expect_err("FP64 on the GPU")
        .to_string();
    assert!(err.contains("FP64") && err.contains("WGSL"), "{err}");
    let model =
        Model::from_parts(fp64_add(), Weights::new(), &LoadOptions::default()).expect("auto");
    assert_eq!(model.backend(), BackendKind::Cpu);
    assert!(
        model
            .report()
            .gpu_unavailable
            .as_deref()
            .is_some_and(|r| r.contains("FP64")),
        "{:?}",
        model.report()
    );
}

/// `y = x + ConstantOfShape(Shape(x), 1)`: a shape computed from the request.
#[test]
fn a_shape_subgraph_runs_at_any_batch_size() {
    let s = spec(
        vec![io(
            "x",
            DataType::Fp32,
            vec![Dim::Named("batch".into()), Dim::Fixed(3)],
        )],
        vec![
            io(
                "y",
                DataType::Fp32,
                vec![Dim::Named("batch".into()), Dim::Fixed(3)],
            ),
            io("n", DataType::Int64, vec![]),
        ],
        vec![
            node(
                "shape",
                Op::Shape {
                    start: 0,
                    end: None,
                },
                &["x"],
                "s",
            ),
            node(
                "ones",
                Op::ConstantOfShape {
                    dtype: DataType::Fp32,
                    value: 1.0,
                },
                &["s"],
                "one",
            ),
            node("add", Op::Add, &["x", "one"], "y"),
            node("size", Op::Size, &["x"], "n"),
        ],
    );
    let model = load(s, Weights::new(), DeviceChoice::Cpu).expect("load");
    for batch in [1usize, 5] {
        let x = HostTensor::typed(vec![batch, 3], vec![2.0f32; batch * 3]).expect("t");
        let out = model.run(vec![("x".into(), x)]).expect("run");
        assert_eq!(out[0].1.shape, vec![batch, 3]);
        assert!(out[0].1.as_f32().expect("f32").iter().all(|&v| v == 3.0));
        assert_eq!(out[1].1.shape, Vec::<usize>::new(), "Size is a scalar");
        assert_eq!(out[1].1.data, HostData::I64(vec![batch as i64 * 3]));
    }
}

#[test]
fn comparisons_give_booleans_and_where_selects() {
    let d = || fixed(&[3]);
    let s = spec(
        vec![io("x", DataType::Fp32, d())],
        vec![io("pos", DataType::Bool, d()), io("y", DataType::Fp32, d())],
        vec![
            node(
                "gt",
                Op::Binary {
                    func: crate::format::BinaryFn::Greater,
                },
                &["x", "zero"],
                "pos",
            ),
            node("where", Op::Where, &["pos", "x", "zero"], "y"),
        ],
    );
    let mut w = Weights::new();
    w.insert(
        "zero".into(),
        HostTensor::typed(vec![], vec![0.0f32]).expect("t"),
    );
    let model = load(s, w, DeviceChoice::Cpu).expect("load");
    let x = HostTensor::typed(vec![3], vec![-1.0f32, 2.0, 0.0]).expect("t");
    let out = model.run(vec![("x".into(), x)]).expect("run");
    assert_eq!(out[0].1.data, HostData::Bool(vec![false, true, false]));
    assert_eq!(out[1].1.as_f32(), Some(&[0.0, 2.0, 0.0][..]));
}

#[test]
fn casts_truncate_toward_zero_and_wrap_like_onnx_runtime() {
    let d = || fixed(&[4]);
    let s = spec(
        vec![io("x", DataType::Fp32, d())],
        vec![io("i", DataType::Int64, d()), io("u", DataType::Uint8, d())],
        vec![
            node(
                "to_i64",
                Op::Cast {
                    to: DataType::Int64,
                },
                &["x"],
                "i",
            ),
            node(
                "to_u8",
                Op::Cast {
                    to: DataType::Uint8,
                },
                &["i"],
                "u",
            ),
        ],
    );
    let model = load(s, Weights::new(), DeviceChoice::Cpu).expect("load");
    let x = HostTensor::typed(vec![4], vec![-1.5f32, 2.7, 256.0, 300.0]).expect("t");
    let out = model.run(vec![("x".into(), x)]).expect("run");
    assert_eq!(out[0].1.data, HostData::I64(vec![-1, 2, 256, 300]));
    assert_eq!(out[1].1.data, HostData::U8(vec![255, 2, 0, 44]));
}

/// An INT64 request value meets an integer made on the GPU: it must fit the GPU's i32.
#[test]
fn an_int64_beyond_the_gpus_32_bits_fails_that_request_never_wraps() {
    let d = || fixed(&[1]);
    let s = spec(
        vec![io("x", DataType::Fp32, d()), io("k", DataType::Int64, d())],
        vec![io("y", DataType::Int64, d())],
        vec![
            node(
                "to_int",
                Op::Cast {
                    to: DataType::Int64,
                },
                &["x"],
                "xi",
            ),
            node("add", Op::Add, &["xi", "k"], "y"),
        ],
    );
    let model = load(s, Weights::new(), DeviceChoice::Gpu).expect("a GPU (lavapipe) is needed");
    let run = |k: i64| {
        model.run(vec![
            (
                "x".into(),
                HostTensor::typed(vec![1], vec![2.0f32]).expect("t"),
            ),
            ("k".into(), HostTensor::typed(vec![1], vec![k]).expect("t")),
        ])
    };
    assert_eq!(run(40).expect("run")[0].1.data, HostData::I64(vec![42]));
    let err = run(5_000_000_000).expect_err("wrapped").to_string();
    assert!(
        err.contains("5000000000") && err.contains("32-bit"),
        "{err}"
    );
    assert!(run(1).is_ok(), "the model still serves");
}

/// `y = ConstantOfShape(shape)`, the shape taken from the request.
fn constant_of_requested_shape() -> ModelSpec {
    spec(
        vec![io("shape", DataType::Int64, fixed(&[2]))],
        vec![io(
            "y",
            DataType::Fp32,
            vec![Dim::Named("a".into()), Dim::Named("b".into())],
        )],
        vec![node(
            "fill",
            Op::ConstantOfShape {
                dtype: DataType::Fp32,
                value: 0.5,
            },
            &["shape"],
            "y",
        )],
    )
}

#[test]
fn a_shape_over_the_element_limit_fails_that_request_without_allocating() {
    let shape = |a: i64, b: i64| {
        vec![(
            "shape".into(),
            HostTensor::typed(vec![2], vec![a, b]).expect("t"),
        )]
    };
    let model = load(
        constant_of_requested_shape(),
        Weights::new(),
        DeviceChoice::Cpu,
    )
    .expect("load");
    // 2^60 elements (4 EiB of f32): refused by the default limit of 2^28 before any allocation.
    let err = model
        .run(shape(1 << 30, 1 << 30))
        .expect_err("allocated")
        .to_string();
    assert!(
        err.contains("over the limit of 268435456 elements"),
        "{err}"
    );
    assert!(model.run(shape(2, 3)).is_ok(), "the model still serves");
    // The limit is the load option's.
    let small = Model::from_parts(
        constant_of_requested_shape(),
        Weights::new(),
        &LoadOptions {
            device: DeviceChoice::Cpu,
            warmup_runs: 0,
            max_elements: 100,
            max_memory: None,
        },
    )
    .expect("load");
    assert!(small.run(shape(10, 10)).is_ok());
    let err = small.run(shape(10, 11)).expect_err("over 100").to_string();
    assert!(err.contains("over the limit of 100 elements"), "{err}");
}

#[test]
fn a_negative_dimension_from_a_shape_subgraph_fails_that_request() {
    let model = load(
        constant_of_requested_shape(),
        Weights::new(),
        DeviceChoice::Cpu,
    )
    .expect("load");
    let err = model
        .run(vec![(
            "shape".into(),
            HostTensor::typed(vec![2], vec![2i64, -3]).expect("t"),
        )])
        .expect_err("negative dim")
        .to_string();
    assert!(err.contains("negative dimension -3"), "{err}");
}

#[test]
fn a_reshape_to_a_shape_that_never_fits_fails_that_request_not_the_model() {
    let s = spec(
        vec![
            io("x", DataType::Fp32, fixed(&[2, 6])),
            io("shape", DataType::Int64, fixed(&[2])),
        ],
        vec![io(
            "y",
            DataType::Fp32,
            vec![Dim::Named("a".into()), Dim::Named("b".into())],
        )],
        vec![node(
            "reshape",
            Op::ReshapeDynamic { allowzero: false },
            &["x", "shape"],
            "y",
        )],
    );
    let model = load(s, Weights::new(), DeviceChoice::Cpu).expect("load");
    let run = |a: i64, b: i64| {
        model.run(vec![
            (
                "x".into(),
                HostTensor::new(vec![2, 6], vec![1.0; 12]).expect("t"),
            ),
            (
                "shape".into(),
                HostTensor::typed(vec![2], vec![a, b]).expect("t"),
            ),
        ])
    };
    for (a, b) in [(5, -1), (7, 2), (-1, -1)] {
        let err = run(a, b).expect_err("bad shape accepted").to_string();
        assert!(err.contains("reshape"), "({a}, {b}): {err}");
    }
    assert_eq!(run(3, -1).expect("run")[0].1.shape, vec![3, 4]);
}

#[test]
fn a_model_whose_shapes_come_from_an_input_value_loads_though_zeros_would_be_refused() {
    // y = Range(0, n, 1): n = 0 gives an empty tensor, which the warm-up on zeros refuses.
    let s = spec(
        vec![io("n", DataType::Int64, vec![])],
        vec![io("y", DataType::Int64, vec![Dim::Named("n".into())])],
        vec![node("range", Op::Range, &["start", "n", "delta"], "y")],
    );
    let mut w = Weights::new();
    w.insert(
        "start".into(),
        HostTensor::typed(vec![], vec![0i64]).expect("t"),
    );
    w.insert(
        "delta".into(),
        HostTensor::typed(vec![], vec![1i64]).expect("t"),
    );
    let model = Model::from_parts(
        s,
        w,
        &LoadOptions {
            device: DeviceChoice::Cpu,
            ..Default::default()
        },
    )
    .expect("the warm-up falls back to ones");
    let out = model
        .run(vec![(
            "n".into(),
            HostTensor::typed(vec![], vec![3i64]).expect("t"),
        )])
        .expect("run");
    assert_eq!(out[0].1.data, HostData::I64(vec![0, 1, 2]));
}
