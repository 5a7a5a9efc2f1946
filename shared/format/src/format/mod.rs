//! The on-disk model format that devices load: a directory holding
//!
//! * `model.json` — a versioned, serde-described DAG: named, typed, shaped graph inputs and
//!   outputs and a list of nodes (op with normalised attributes, named inputs and outputs) in
//!   topological order;
//! * `weights.safetensors` — every constant tensor of the graph, by name, in the standard
//!   safetensors format (a JSON header plus raw little-endian data: no code execution, no
//!   pickle, offsets checked against the file length before anything is read);
//! * `checks.json` (optional) — the reference cases the conversion was verified with, so any
//!   device can repeat the check on its own hardware before activating the model.
//!
//! Devices never parse ONNX: the fleet converts once, and this small format is all the daemon
//! has to trust. Its validation ([`ModelSpec::validate`]) is the first line of defence against a
//! malformed or hostile model: sizes are bounded, names are unique, and every node only reads
//! values produced before it, which rules out cycles.
//!
//! Here: the format's version, file names and limits. The graph types are in `graph`, the
//! operations in `op` (their attribute enums in `op_params`, the classical-ML ops' in `ml`,
//! the quantized ops' in `quant`, what each declares about itself
//! in `op_meta`), the structural checks in `validate`, reading and writing `model.json`
//! (with the version check) in `file`.

mod file;
mod graph;
mod ml;
mod op;
mod op_meta;
mod op_params;
mod quant;
mod sequence;
mod validate;

pub use graph::{DataType, Dim, Guard, ModelSpec, NodeSpec, TensorSpec};
pub use ml::{
    Aggregate, LEAF, Labels, MISSING_TRUE, MemberSet, NodeMode, Norm, PostTransform, TreeClasses,
    Trees,
};
pub use op::Op;
pub use op_params::{
    AutoPad, BinaryFn, CoordinateMode, FusedActivation, NearestMode, PadMode, ReduceFn, ResizeMode,
    ScatterReduction, UnaryFn, VariadicFn, WindowKind,
};
pub use quant::{ConvAttrs, quantized_range, quantized_type};
pub use sequence::{Activation, Direction, Equation, RecurrentCell, RecurrentInputs, Subscripts};

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format version this build still reads (version 1 is a subset of 2: float-only
/// graphs with the first op set).
pub const MIN_FORMAT_VERSION: u32 = 1;
/// File names inside a model directory.
pub const SPEC_FILE: &str = "model.json";
pub const WEIGHTS_FILE: &str = "weights.safetensors";
pub const CHECKS_FILE: &str = "checks.json";

/// Hard limits that keep a hostile model from exhausting the box.
pub const MAX_SPEC_BYTES: u64 = 16 * 1024 * 1024;
pub const MAX_NODES: usize = 100_000;
pub const MAX_RANK: usize = 6;
/// How the executor refuses a zero-size tensor (an input, or an op's result): a documented
/// limitation, one wording, so callers and the conformance suite can recognise it.
pub const EMPTY_TENSORS: &str = "empty tensors (a zero-size dimension) are not supported";
/// Largest number of elements any declared or requested tensor may have (1 Gi floats = 4 GiB).
pub const MAX_ELEMENTS: usize = 1 << 28;

#[cfg(test)]
mod ml_tests;
#[cfg(test)]
mod tests;
