//! The operations a graph is made of, with their attributes normalised at import. A new op
//! starts here; what it declares about itself (name, element types, inputs and outputs) is in
//! `op_meta`, its attribute checks in `validate`, and its execution in its family's file under
//! `executor/ops/`.

use serde::{Deserialize, Serialize};

use super::ml::{Labels, Norm, PostTransform, Trees};
use super::op_params::{
    AutoPad, BinaryFn, CoordinateMode, FusedActivation, NearestMode, PadMode, ReduceFn, ResizeMode,
    ScatterReduction, UnaryFn, VariadicFn, WindowKind,
};
use super::quant::ConvAttrs;
use super::sequence::{Activation, Direction, RecurrentCell, RecurrentInputs};

/// The operations the executor runs, with attributes normalised at import (ONNX opset
/// differences, attribute-vs-input forms and defaults are resolved by the importer).
/// Spatial vectors (`kernel`, `strides`, ...) have one entry per spatial dimension; `pads` is
/// ONNX-ordered: all beginnings, then all ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum Op {
    /// `x · W (+ b)` with `W` stored as `[in, out]` (Gemm with constant weights, MatMul + Add).
    Linear {
        /// Applied to the output (fused at import); absent in files without one, so they
        /// stay readable by daemons from before fusion.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        activation: Option<FusedActivation>,
    },
    Gemm {
        alpha: f32,
        beta: f32,
        trans_a: bool,
        trans_b: bool,
    },
    MatMul,
    Add,
    Sub,
    Mul,
    Div,
    Relu,
    LeakyRelu {
        alpha: f32,
    },
    Sigmoid,
    Tanh,
    Erf,
    Gelu {
        tanh_approximation: bool,
    },
    Softmax {
        axis: i64,
    },
    LogSoftmax {
        axis: i64,
    },
    Conv {
        kernel: Vec<usize>,
        strides: Vec<usize>,
        dilations: Vec<usize>,
        groups: usize,
        pads: Vec<usize>,
        auto_pad: AutoPad,
        /// Applied to the output (fused at import); absent in files without one, so they
        /// stay readable by daemons from before fusion.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        activation: Option<FusedActivation>,
    },
    MaxPool {
        kernel: Vec<usize>,
        strides: Vec<usize>,
        dilations: Vec<usize>,
        pads: Vec<usize>,
        auto_pad: AutoPad,
        ceil_mode: bool,
    },
    AveragePool {
        kernel: Vec<usize>,
        strides: Vec<usize>,
        pads: Vec<usize>,
        auto_pad: AutoPad,
        ceil_mode: bool,
        count_include_pad: bool,
    },
    GlobalAveragePool,
    BatchNormalization {
        epsilon: f32,
    },
    /// `LayerNormalization(x, scale, bias?)` over the axes from `axis` on; with `stats`, also
    /// its Mean and InvStdDev outputs (f32, the normalised axes kept as 1).
    LayerNormalization {
        axis: i64,
        epsilon: f32,
        #[serde(default)]
        stats: bool,
    },
    Flatten {
        axis: i64,
    },
    /// ONNX semantics: 0 copies the input dimension, -1 is inferred.
    Reshape {
        shape: Vec<i64>,
    },
    Transpose {
        perm: Vec<usize>,
    },
    Concat {
        axis: i64,
    },
    /// Empty `axes` removes every dimension of size 1.
    Squeeze {
        axes: Vec<i64>,
    },
    Unsqueeze {
        axes: Vec<i64>,
    },
    Clip {
        min: Option<f32>,
        max: Option<f32>,
    },
    /// `pads` has 2 × rank entries, ONNX-ordered.
    Pad {
        pads: Vec<usize>,
        mode: PadMode,
        value: f32,
    },
    /// Empty `axes` reduces over every dimension.
    ReduceMean {
        axes: Vec<i64>,
        keepdims: bool,
    },
    Dropout,
    Identity,
    /// A parameterless element-wise function.
    Unary {
        func: UnaryFn,
    },
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    Elu {
        alpha: f32,
    },
    Selu {
        alpha: f32,
        gamma: f32,
    },
    Celu {
        alpha: f32,
    },
    ThresholdedRelu {
        alpha: f32,
    },
    IsInf {
        detect_positive: bool,
        detect_negative: bool,
    },
    Binary {
        func: BinaryFn,
    },
    Variadic {
        func: VariadicFn,
    },
    /// `Where(condition, x, y)`.
    Where,
    /// Converts to `to` (float → integer truncates toward zero, as ONNX Runtime does).
    Cast {
        to: super::DataType,
    },
    /// A reduction; `axes: None` reads the axes from the second input at run time, and an
    /// empty list reduces every axis unless `noop_with_empty_axes`.
    Reduce {
        func: ReduceFn,
        axes: Option<Vec<i64>>,
        keepdims: bool,
        noop_with_empty_axes: bool,
    },
    /// The input's shape as INT64, dimensions `start..end` (ONNX rules for negatives).
    Shape {
        start: i64,
        end: Option<i64>,
    },
    /// The number of elements, as an INT64 scalar.
    Size,
    /// A tensor of the shape given by the INT64 input, filled with `value` of `dtype`.
    ConstantOfShape {
        dtype: super::DataType,
        value: f64,
    },
    /// `Gather(data, indices)` along `axis`; negative indices count from the end.
    Gather {
        axis: i64,
    },
    /// `Expand(x, shape)`: broadcast to a shape given at run time.
    Expand,
    /// `Tile(x, repeats)`.
    Tile,
    /// `Range(start, limit, delta)` of the inputs' type.
    Range,
    /// `Slice(data, starts, ends, axes?, steps?)` with ONNX clamping and negative steps.
    Slice,
    /// Reshape to a shape given at run time (second input), ONNX semantics.
    ReshapeDynamic {
        allowzero: bool,
    },
    /// Unsqueeze with axes given at run time (second input).
    UnsqueezeDynamic,
    /// Squeeze with axes given at run time (second input).
    SqueezeDynamic,
    /// Index of the largest value along `axis` (INT64); ties go to the first index, or the
    /// last with `select_last_index`.
    ArgMax {
        axis: i64,
        keepdims: bool,
        select_last_index: bool,
    },
    ArgMin {
        axis: i64,
        keepdims: bool,
        select_last_index: bool,
    },
    /// `CumSum(x, axis)`: running sums along the axis given by the second input.
    CumSum {
        exclusive: bool,
        reverse: bool,
    },
    /// `Trilu(x, k?)`: the upper or lower triangle of the last two dimensions.
    Trilu {
        upper: bool,
    },
    /// `GatherElements(data, indices)` along `axis`.
    GatherElements {
        axis: i64,
    },
    /// `Clip(x, min?, max?)` with bounds read from inputs at run time (which are present is
    /// given by the flags, in that order); `min > max` gives `max`, as ONNX says.
    ClipBounds {
        min: bool,
        max: bool,
    },
    /// `Pad(x, pads, value?, axes?)` with pads (ONNX-ordered, negative pads crop) and the
    /// optional fill value and axes read from inputs at run time.
    PadDynamic {
        mode: PadMode,
        value: bool,
        axes: bool,
    },
    /// `Split(x, sizes?)` along `axis` into `outputs` parts: the sizes from the second input,
    /// or equal parts of `ceil(dim / outputs)` (the last one smaller), as ONNX says.
    Split {
        axis: i64,
        outputs: usize,
    },
    /// `TopK(x, k)`: the `k` largest (or smallest) values along `axis` and their INT64
    /// indices, two outputs; ties go to the lower index.
    TopK {
        axis: i64,
        largest: bool,
        sorted: bool,
    },
    /// `OneHot(indices, depth, values)`: a new axis of size `depth` at `axis` holding
    /// `values[1]` where the index is and `values[0]` elsewhere; negative indices count from
    /// the end, indices out of range give a row of `values[0]`.
    OneHot {
        axis: i64,
    },
    /// `GatherND(data, indices)`: slices of `data` at index tuples (the last dimension of
    /// `indices`), after `batch_dims` shared leading dimensions.
    GatherND {
        batch_dims: usize,
    },
    /// `ScatterND(data, indices, updates)`: a copy of `data` with the slices at the index
    /// tuples replaced by (or combined with) `updates`.
    ScatterND {
        reduction: ScatterReduction,
    },
    /// `ScatterElements(data, indices, updates)` along `axis`: the inverse of GatherElements.
    ScatterElements {
        axis: i64,
        reduction: ScatterReduction,
    },
    /// Max over every spatial dimension: `[N, C, ..]` → `[N, C, 1, ..]`.
    GlobalMaxPool,
    /// `[N, C, H, W]` → `[N, C / b², H·b, W·b]`, in DCR order (depth, column, row) or CRD.
    DepthToSpace {
        block: usize,
        crd: bool,
    },
    /// `[N, C, H, W]` → `[N, C·b², H / b, W / b]`, the inverse of DCR DepthToSpace.
    SpaceToDepth {
        block: usize,
    },
    /// `x / ‖x‖ₚ` along `axis`; `p` is 1 or 2.
    LpNormalization {
        axis: i64,
        p: u8,
    },
    /// `InstanceNormalization(x, scale, bias)`: each (n, c) over its spatial elements.
    InstanceNormalization {
        epsilon: f32,
    },
    /// `GroupNormalization(x, scale, bias)`: channels in `groups` groups, each (n, group)
    /// normalised; scale and bias per channel (opset 21) or per group (opset 18).
    GroupNormalization {
        groups: usize,
        epsilon: f32,
    },
    /// Local response normalisation across `size` neighbouring channels:
    /// `x / (bias + alpha / size · Σ x²)^beta`.
    Lrn {
        alpha: f32,
        beta: f32,
        bias: f32,
        size: usize,
    },
    /// `ConvTranspose(x, W, b?)` with `W` as `[C_in, C_out / groups, k..]`. The crop of the
    /// full output is `pads` (explicit), or derived from `output_shape` or a `Same*`
    /// `auto_pad` at run time; `output_padding` extends the end.
    ConvTranspose {
        kernel: Vec<usize>,
        strides: Vec<usize>,
        dilations: Vec<usize>,
        groups: usize,
        pads: Vec<usize>,
        output_padding: Vec<usize>,
        auto_pad: AutoPad,
        output_shape: Option<Vec<usize>>,
    },
    /// `Resize(x, target)` (ONNX Resize and Upsample): every axis resampled on its own. The
    /// target is the second input: one scale per axis (output = ⌊input · scale⌋), or with
    /// `sizes` the output dimensions (INT64), known at import or read at run time.
    Resize {
        mode: ResizeMode,
        coordinates: CoordinateMode,
        nearest: NearestMode,
        cubic_coeff_a: f32,
        sizes: bool,
    },
    /// The merge of an ONNX `If`: `If(cond, then_1..then_n, else_1..else_n)` gives `then_i`
    /// when the boolean scalar `cond` is true, else `else_i`. The branches are the nodes
    /// guarded by `cond` (see `NodeSpec::when`); only the taken branch's values exist.
    If {
        outputs: usize,
    },
    /// ONNX LSTM, GRU and RNN: `(X, W, R, then the optional inputs present)` → Y, Y_h (and
    /// Y_c for an LSTM). `activations` holds the cell's functions for each direction in turn.
    /// With `batch_first` (ONNX `layout = 1`) X and Y are batch-major.
    Recurrent {
        cell: RecurrentCell,
        hidden: usize,
        direction: Direction,
        batch_first: bool,
        clip: Option<f32>,
        activations: Vec<Activation>,
        optional: RecurrentInputs,
    },
    /// Scaled dot-product attention, ONNX Attention (opset 23) and onnx-ir's fusion of its
    /// decomposed form: `(Q, K, V, mask?)`, 4-D `[batch, heads, seq, head]` or 3-D
    /// `[batch, seq, heads·head]` (then `q_heads` and `kv_heads` say how to split). A boolean
    /// mask keeps where true; a float mask is added to the scores. Fewer key/value heads
    /// than query heads are shared (grouped-query attention).
    Attention {
        scale: Option<f32>,
        causal: bool,
        softcap: f32,
        q_heads: Option<usize>,
        kv_heads: Option<usize>,
        mask: bool,
    },
    /// `Einsum(operands..)` for an equation without ellipses or diagonals (see
    /// [`super::Equation`]): products, transposes, sums and contractions.
    Einsum {
        equation: String,
    },
    /// A tree ensemble (ONNX TreeEnsembleRegressor, TreeEnsembleClassifier, TreeEnsemble):
    /// `X [N, F]` → the scores `[N, targets]`, after the INT64 labels `[N]` for a classifier.
    TreeEnsemble {
        trees: Box<Trees>,
    },
    /// ONNX LinearClassifier: scores `X · Wᵀ + b` with `W` as `[classes, F]` (one row for a
    /// binary classifier, whose two columns are then derived), post-transformed; outputs the
    /// INT64 labels `[N]` and the scores `[N, classes]`.
    LinearClassifier {
        coefficients: Vec<f32>,
        intercepts: Vec<f32>,
        labels: Vec<i64>,
        post: PostTransform,
    },
    /// ONNX LinearRegressor: `X · Wᵀ + b` with `W` as `[targets, F]`.
    LinearRegressor {
        coefficients: Vec<f32>,
        intercepts: Vec<f32>,
        targets: usize,
        post: PostTransform,
    },
    /// ONNX Normalizer: each row of a 2-D input divided by its max, L1 or L2 norm (FP32 out).
    Normalizer {
        norm: Norm,
    },
    /// ONNX Scaler: `(x - offset) · scale` per column (one value: every column), FP32 out.
    Scaler {
        offset: Vec<f32>,
        scale: Vec<f32>,
    },
    /// ONNX Binarizer: 1 where `x > threshold`, else 0, in the input's type.
    Binarizer {
        threshold: f32,
    },
    /// ONNX ArrayFeatureExtractor `(X, indices)`: the columns of the last axis at `indices`
    /// (a 1-D input is read as one row).
    ArrayFeatureExtractor,
    /// ONNX LabelEncoder for numbers: each element found among `keys` becomes the value at
    /// the same position, any other becomes `default` (one element).
    LabelEncoder {
        keys: Labels,
        values: Labels,
        default: Labels,
    },
    /// ONNX Imputer: elements equal to `replaced` (NaN: every NaN) become the column's value
    /// from `imputed` (one value: every column). Infinite and NaN values are written as strings.
    Imputer {
        #[serde(with = "super::ml::float_list")]
        imputed: Vec<f64>,
        /// `None`: NaN.
        replaced: Option<f64>,
    },
    /// A window of the length given by the (scalar) input: `periodic` divides by N, not
    /// N - 1 (ONNX's default).
    Window {
        kind: WindowKind,
        periodic: bool,
        dtype: super::DataType,
    },
    /// ONNX MelWeightMatrix `(num_mel_bins, dft_length, sample_rate, lower_edge_hertz,
    /// upper_edge_hertz)` → `[dft_length / 2 + 1, num_mel_bins]`, by the ONNX reference's
    /// formula.
    MelWeightMatrix {
        dtype: super::DataType,
    },
    /// ONNX STFT of a real signal `[B, T]` or `[B, T, 1]` (and the window, when `window`):
    /// `[B, frames, bins, 2]`, frames `frame_length` long every `frame_step` samples.
    Stft {
        onesided: bool,
        frame_step: usize,
        frame_length: usize,
        window: bool,
    },
    /// ONNX DFT along `axis` of `[..., N, ..., 1 or 2]` (real or complex), zero-padded or cut
    /// to `length`; `[..., length (or length / 2 + 1 one-sided), ..., 2]`.
    Dft {
        inverse: bool,
        onesided: bool,
        axis: usize,
        length: Option<usize>,
    },
    /// ONNX QuantizeLinear `(x, scale, zero_point)`: `saturate(round_half_even(x / scale) +
    /// zero_point)` in `to`; a 1-D scale and zero point apply along `axis`.
    QuantizeLinear {
        axis: i64,
        to: super::DataType,
    },
    /// ONNX DequantizeLinear `(x, scale, zero_point)`: `(x - zero_point) · scale`.
    DequantizeLinear {
        axis: i64,
    },
    /// ONNX DynamicQuantizeLinear `x` → UINT8 `y`, its scale and zero point (from x's range).
    DynamicQuantizeLinear,
    /// ONNX MatMulInteger `(A, B, a_zero_point, b_zero_point)` → INT32 `(A - a_zp)(B - b_zp)`.
    MatMulInteger,
    /// ONNX ConvInteger `(x, w, x_zero_point, w_zero_point)` → the INT32 convolution.
    ConvInteger {
        conv: ConvAttrs,
    },
    /// ONNX QLinearMatMul `(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)`.
    QLinearMatMul {
        to: super::DataType,
    },
    /// ONNX QLinearConv `(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B?)`.
    QLinearConv {
        conv: ConvAttrs,
        to: super::DataType,
    },
}
