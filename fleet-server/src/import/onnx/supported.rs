//! What the importer claims, in one place: each ONNX op type it accepts with the attributes it
//! honours, and attribute values it refuses. A node using any other attribute (or a refused
//! value) is refused before parsing, naming the op, the node and `docs/ops.md`, never run
//! with the attribute ignored. A leaf module: the pre-parse check and the error type read it
//! without importing the converters. Adding an op: a line here, its converter in its family
//! file under `ops/`, its executor in `edge_model`'s family file, and its conformance cases.

/// One claimed op type, the attributes its converter reads, and what a user should know about
/// how it runs (written out in `docs/ops.md`).
#[derive(Debug, Clone, Copy)]
pub struct Claim {
    pub op: &'static str,
    pub attributes: &'static [&'static str],
    pub notes: &'static str,
}

const fn claim(op: &'static str, attributes: &'static [&'static str]) -> Claim {
    Claim {
        op,
        attributes,
        notes: "",
    }
}

impl Claim {
    const fn note(self, notes: &'static str) -> Claim {
        Claim { notes, ..self }
    }
}

/// The note of the index-heavy ops that run on the host.
const ON_HOST: &str = "runs on the host CPU on every device (indices checked there); a GPU model's data makes a round trip";

const REDUCE: &[&str] = &["axes", "keepdims", "noop_with_empty_axes"];

const RECURRENT: &[&str] = &[
    "activation_alpha",
    "activation_beta",
    "activations",
    "clip",
    "direction",
    "hidden_size",
    "layout",
];
const RECURRENT_LSTM: &[&str] = &[
    "activation_alpha",
    "activation_beta",
    "activations",
    "clip",
    "direction",
    "hidden_size",
    "layout",
    "input_forget",
];
const RECURRENT_GRU: &[&str] = &[
    "activation_alpha",
    "activation_beta",
    "activations",
    "clip",
    "direction",
    "hidden_size",
    "layout",
    "linear_before_reset",
];
const RECURRENT_NOTE: &str = "forward, reverse, bidirectional; sequence_lens, initial states, peepholes (LSTM), both layouts, clip, every ONNX activation with its alpha/beta; Y, Y_h (and Y_c) all available; converted by our own pass (onnx-ir's refuses sequence_lens)";

const TREE_CLASSIFIER: &[&str] = &[
    "nodes_falsenodeids",
    "nodes_featureids",
    "nodes_hitrates",
    "nodes_hitrates_as_tensor",
    "nodes_missing_value_tracks_true",
    "nodes_modes",
    "nodes_nodeids",
    "nodes_treeids",
    "nodes_truenodeids",
    "nodes_values",
    "nodes_values_as_tensor",
    "base_values",
    "base_values_as_tensor",
    "class_ids",
    "class_nodeids",
    "class_treeids",
    "class_weights",
    "class_weights_as_tensor",
    "classlabels_int64s",
    "post_transform",
];
const TREE_REGRESSOR: &[&str] = &[
    "nodes_falsenodeids",
    "nodes_featureids",
    "nodes_hitrates",
    "nodes_hitrates_as_tensor",
    "nodes_missing_value_tracks_true",
    "nodes_modes",
    "nodes_nodeids",
    "nodes_treeids",
    "nodes_truenodeids",
    "nodes_values",
    "nodes_values_as_tensor",
    "aggregate_function",
    "base_values",
    "base_values_as_tensor",
    "n_targets",
    "post_transform",
    "target_ids",
    "target_nodeids",
    "target_treeids",
    "target_weights",
    "target_weights_as_tensor",
];

const TREE_NOTE: &str = "all node modes (NaN by nodes_missing_value_tracks_true), aggregate functions, post transforms and base values, as ONNX Runtime computes them; walked on the host CPU on every device (flat arrays, blocks of 256 rows on rayon's pool)";
const ML_NOTE: &str = "runs on the host CPU on every device, as ONNX Runtime computes it";

const QUANT_NOTE: &str = "INT8 and UINT8, per tensor or per axis; run as dequantized float arithmetic on the model's device, so a value at a rounding boundary can land one quantization step from ONNX Runtime's integer kernels; blocked, 16-bit, 4-bit and float8 forms refused";
const CONV_ATTRS: &[&str] = &[
    "auto_pad",
    "dilations",
    "group",
    "kernel_shape",
    "pads",
    "strides",
];

/// Every op type the importer accepts (Conv and the pools in 1-D and 2-D; the spatial rank is
/// checked after parsing).
pub const CLAIMS: &[Claim] = &[
    claim("Gemm", &["alpha", "beta", "transA", "transB"]),
    claim("MatMul", &[]).note("float only"),
    claim("Einsum", &["equation"]).note(
        "float only; any number of operands, run as sums and batched matmuls; ellipses (...) and diagonals (a letter repeated within a term) refused",
    ),
    claim(
        "Attention",
        &[
            "is_causal",
            "kv_num_heads",
            "q_num_heads",
            "qk_matmul_output_mode",
            "scale",
            "softcap",
            "softmax_precision",
        ],
    )
    .note("3-D and 4-D, boolean or float masks (padded when shorter than the keys), causal, softcap, grouped-query heads; also what onnx-ir fuses decomposed attention into; computed in f32; past_key/past_value (a KV cache), nonpad_kv_seqlen and the present_key, present_value and qk_matmul outputs refused"),
    claim("QuantizeLinear", &["axis", "block_size", "output_dtype", "saturate"]).note(QUANT_NOTE),
    claim("DequantizeLinear", &["axis", "block_size", "output_dtype"]).note(QUANT_NOTE),
    claim("DynamicQuantizeLinear", &[]).note("UINT8, as ONNX Runtime computes it (scale 1 for an all-zero input)"),
    claim("MatMulInteger", &[]).note("accumulated in f32: exact while partial sums stay under 2^24"),
    claim("ConvInteger", CONV_ATTRS).note("1-D and 2-D; accumulated in f32: exact while partial sums stay under 2^24"),
    claim("QLinearMatMul", &[]).note(QUANT_NOTE),
    claim("QLinearConv", CONV_ATTRS).note(QUANT_NOTE),
    claim("LSTM", RECURRENT_LSTM).note(RECURRENT_NOTE),
    claim("GRU", RECURRENT_GRU).note(RECURRENT_NOTE),
    claim("RNN", RECURRENT).note(RECURRENT_NOTE),
    claim("Add", &[]),
    claim("Sub", &[]),
    claim("Mul", &[]),
    claim("Div", &[]),
    claim("Relu", &[]),
    claim("LeakyRelu", &["alpha"]),
    claim("Sigmoid", &[]),
    claim("Tanh", &[]),
    claim("Softmax", &["axis"]),
    claim("LogSoftmax", &["axis"]),
    claim("Erf", &[]),
    claim("Gelu", &["approximate"]),
    claim(
        "Conv",
        &[
            "kernel_shape",
            "strides",
            "dilations",
            "group",
            "pads",
            "auto_pad",
        ],
    )
    .note("1-D and 2-D"),
    claim(
        "MaxPool",
        &[
            "kernel_shape",
            "strides",
            "dilations",
            "pads",
            "auto_pad",
            "ceil_mode",
            "storage_order",
        ],
    )
    .note("1-D and 2-D; the Indices output is refused"),
    claim(
        "AveragePool",
        &[
            "kernel_shape",
            "strides",
            "pads",
            "auto_pad",
            "ceil_mode",
            "count_include_pad",
        ],
    ),
    claim(
        "ConvTranspose",
        &[
            "kernel_shape",
            "strides",
            "dilations",
            "group",
            "pads",
            "output_padding",
            "output_shape",
            "auto_pad",
        ],
    )
    .note("1-D and 2-D; symmetric explicit pads (onnx-ir's parser), or derived from output_shape or auto_pad"),
    claim(
        "Resize",
        &[
            "mode",
            "coordinate_transformation_mode",
            "nearest_mode",
            "cubic_coeff_a",
            "exclude_outside",
            "antialias",
            "keep_aspect_ratio_policy",
        ],
    )
    .note("nearest (every nearest_mode; any element type), linear, cubic; half_pixel, pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn; scales or sizes at import or run time; not tf_crop_and_resize, half_pixel_symmetric, axes, antialias, exclude_outside, keep_aspect_ratio_policy other than stretch"),
    claim("Upsample", &["mode", "scales"])
        .note("nearest only (onnx-ir refuses linear); scales at import or run time"),
    claim("GlobalAveragePool", &[]),
    claim("GlobalMaxPool", &[]),
    claim(
        "BatchNormalization",
        &["epsilon", "momentum", "training_mode", "spatial"],
    )
    .note("inference only (training_mode refused)"),
    claim("LayerNormalization", &["axis", "epsilon", "stash_type"])
        .note("computed in f32; the Mean and InvStdDev outputs too"),
    claim("InstanceNormalization", &["epsilon"]),
    claim("GroupNormalization", &["epsilon", "num_groups", "stash_type"])
        .note("computed in f32; scale and bias per channel (opset 21) or per group (opset 18)"),
    claim("LpNormalization", &["axis", "p"]).note("p = 1 or 2"),
    claim("LRN", &["alpha", "beta", "bias", "size"]),
    claim("DepthToSpace", &["blocksize", "mode"]).note("DCR and CRD; 4-D"),
    claim("SpaceToDepth", &["blocksize"]).note("4-D"),
    claim("Flatten", &["axis"]),
    claim("Reshape", &["allowzero"]),
    claim("Transpose", &["perm"]),
    claim("Concat", &["axis"]),
    claim("Squeeze", &["axes"]),
    claim("Unsqueeze", &["axes"]),
    claim("Clip", &["min", "max"]).note("bounds known at import or read at run time"),
    claim("Pad", &["mode", "pads", "value"])
        .note("constant, reflect, edge (not wrap); pads, value and axes at import or run time; negative pads crop"),
    claim("Dropout", &["ratio", "seed"]).note("inference only (training_mode refused); the mask output is refused"),
    claim("Identity", &[]),
    claim("Loop", &["body"]).note(
        "only with a trip count known at import and no early exit: unrolled at import (at most 20,000 body nodes in all); any other Loop is refused naming why",
    ),
    claim("If", &["then_branch", "else_branch"]).note(
        "condition folded at import (one branch kept), or a boolean scalar at run time (only the taken branch runs; the condition is read on the host)",
    ),
    claim(
        "Constant",
        &[
            "value",
            "value_float",
            "value_floats",
            "value_int",
            "value_ints",
        ],
    ),
    // Element-wise and activations.
    claim("Pow", &[]),
    claim("Sqrt", &[]),
    claim("Exp", &[]),
    claim("Log", &[]),
    claim("Abs", &[]),
    claim("Neg", &[]),
    claim("Reciprocal", &[]),
    claim("Floor", &[]),
    claim("Ceil", &[]),
    claim("Round", &[]),
    claim("Sign", &[]),
    claim("Min", &[]),
    claim("Max", &[]),
    claim("Sum", &[]),
    claim("Mean", &[]),
    claim("Mod", &["fmod"]),
    claim("Where", &[]),
    claim("Equal", &[]),
    claim("Less", &[]),
    claim("LessOrEqual", &[]),
    claim("Greater", &[]),
    claim("GreaterOrEqual", &[]),
    claim("And", &[]),
    claim("Or", &[]),
    claim("Not", &[]),
    claim("Xor", &[]),
    claim("IsNaN", &[]),
    claim("IsInf", &["detect_negative", "detect_positive"]),
    claim("Cast", &["to", "saturate"])
        .note("float to integer truncates toward zero; FP8, BF16, INT4, STRING and unsigned types above UINT8 refused"),
    claim("CastLike", &["saturate"]),
    claim("HardSigmoid", &["alpha", "beta"]),
    claim("HardSwish", &[]),
    claim("PRelu", &[]),
    claim("Elu", &["alpha"]),
    claim("Selu", &["alpha", "gamma"]),
    claim("Celu", &["alpha"]),
    claim("Softplus", &[]),
    claim("Softsign", &[]),
    claim("Mish", &[]),
    claim("ThresholdedRelu", &["alpha"]),
    claim("Sin", &[]),
    claim("Cos", &[]),
    claim("Tan", &[]),
    claim("Asin", &[]),
    claim("Acos", &[]),
    claim("Atan", &[]),
    claim("Sinh", &[]),
    claim("Cosh", &[]),
    // Shape and indexing.
    claim("Shape", &["start", "end"]),
    claim("Size", &[]),
    claim("Gather", &["axis"]),
    claim("Slice", &["starts", "ends", "axes"]),
    claim("Expand", &[]),
    claim("Tile", &[]),
    claim("ConstantOfShape", &["value"]),
    claim("Range", &[]),
    claim("GatherElements", &["axis"]),
    claim("ArgMax", &["axis", "keepdims", "select_last_index"]),
    claim("ArgMin", &["axis", "keepdims", "select_last_index"]),
    claim("CumSum", &["exclusive", "reverse"]),
    claim("Trilu", &["upper"]),
    claim("Split", &["axis", "num_outputs", "split"]).note("sizes at import or run time; several outputs"),
    claim("TopK", &["axis", "largest", "sorted", "k"])
        .note("results always sorted, ties to the lower index; runs on the host CPU on every device"),
    claim("OneHot", &["axis"]).note(ON_HOST),
    claim("GatherND", &["batch_dims"]).note(ON_HOST),
    claim("ScatterND", &["reduction"]).note(ON_HOST),
    claim("ScatterElements", &["axis", "reduction"]).note(ON_HOST),
    claim("Scatter", &["axis"]).note("the deprecated name of ScatterElements; runs on the host CPU"),
    // Reductions.
    claim("ReduceSum", REDUCE),
    claim("ReduceMax", REDUCE),
    claim("ReduceMin", REDUCE),
    claim("ReduceProd", REDUCE),
    claim("ReduceL1", REDUCE),
    claim("ReduceL2", REDUCE),
    claim("ReduceLogSum", REDUCE),
    claim("ReduceLogSumExp", REDUCE),
    claim("ReduceSumSquare", REDUCE),
    claim("ReduceMean", REDUCE),
    // Audio and signal front-ends.
    claim("STFT", &["onesided"]).note(
        "real signals [B, T] or [B, T, 1]; frame_step and frame_length constant; a matrix DFT on the model's device (any frame length, not only powers of two)",
    ),
    claim("DFT", &["axis", "inverse", "onesided"])
        .note("real or complex input; dft_length and axis constant; a matrix DFT on the model's device"),
    claim("HannWindow", &["output_datatype", "periodic"]),
    claim("HammingWindow", &["output_datatype", "periodic"]),
    claim("BlackmanWindow", &["output_datatype", "periodic"]),
    claim("MelWeightMatrix", &["output_datatype"]).note("the ONNX reference's filter edges"),
    // The classical-ML domain (named with it, as `refusals` looks them up).
    claim("ai.onnx.ml::TreeEnsembleClassifier", TREE_CLASSIFIER).note(
        "integer class labels only (INT64 labels output, FP32 scores); ONNX Runtime's binary-classifier rules; see TreeEnsembleRegressor",
    ),
    claim("ai.onnx.ml::TreeEnsembleRegressor", TREE_REGRESSOR).note(TREE_NOTE),
    claim(
        "ai.onnx.ml::TreeEnsemble",
        &[
            "aggregate_function",
            "leaf_targetids",
            "leaf_weights",
            "membership_values",
            "n_targets",
            "nodes_falseleafs",
            "nodes_falsenodeids",
            "nodes_featureids",
            "nodes_hitrates",
            "nodes_missing_value_tracks_true",
            "nodes_modes",
            "nodes_splits",
            "nodes_trueleafs",
            "nodes_truenodeids",
            "post_transform",
            "tree_roots",
        ],
    )
    .note("opset 5, with BRANCH_MEMBER sets; FP32 or FP64 scores; see TreeEnsembleRegressor"),
    claim(
        "ai.onnx.ml::LinearClassifier",
        &[
            "classlabels_ints",
            "coefficients",
            "intercepts",
            "multi_class",
            "post_transform",
        ],
    )
    .note("integer class labels only; multi_class is read and ignored, as ONNX Runtime does; runs on the host CPU"),
    claim(
        "ai.onnx.ml::LinearRegressor",
        &["coefficients", "intercepts", "post_transform", "targets"],
    )
    .note(ML_NOTE),
    claim("ai.onnx.ml::Normalizer", &["norm"])
        .note("MAX is the row's maximum (ONNX Runtime's reading); runs on the host CPU"),
    claim("ai.onnx.ml::Scaler", &["offset", "scale"]).note(ML_NOTE),
    claim("ai.onnx.ml::Binarizer", &["threshold"]).note(ML_NOTE),
    claim("ai.onnx.ml::ArrayFeatureExtractor", &[]).note(ML_NOTE),
    claim(
        "ai.onnx.ml::LabelEncoder",
        &[
            "default_float",
            "default_int64",
            "default_tensor",
            "keys_floats",
            "keys_int64s",
            "keys_tensor",
            "values_floats",
            "values_int64s",
            "values_tensor",
        ],
    )
    .note("numbers only (integer or float keys and values): string keys and values are refused; runs on the host CPU"),
    claim(
        "ai.onnx.ml::Imputer",
        &[
            "imputed_value_floats",
            "imputed_value_int64s",
            "replaced_value_float",
            "replaced_value_int64",
        ],
    )
    .note(ML_NOTE),
];

/// Attribute values that are claimed only at their default: (op, attribute, the one integer
/// value accepted).
pub const ONLY_DEFAULT: &[(&str, &str, i64)] = &[
    ("Reshape", "allowzero", 0),
    ("MaxPool", "storage_order", 0),
    ("BatchNormalization", "training_mode", 0),
    ("Resize", "exclude_outside", 0),
    ("Resize", "antialias", 0),
];

/// What an unclaimed op's refusal adds, where there is more to say than "not supported".
pub fn refusal_detail(op: &str) -> &'static str {
    match op {
        "Scan" => {
            ": scans are not run; export the model with the loop unrolled (a fixed sequence \
             length), or keep the loop outside the model"
        }
        _ => "",
    }
}

/// The claimed op types, in the list's order.
pub fn names() -> impl Iterator<Item = &'static str> {
    CLAIMS.iter().map(|c| c.op)
}

/// The claim for `op`, if there is one.
pub fn claim_for(op: &str) -> Option<&'static Claim> {
    CLAIMS.iter().find(|c| c.op == op)
}

/// Where the claims are written out for people.
pub const OPS_DOC: &str = "docs/ops.md";
