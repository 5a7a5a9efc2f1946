//! The conformance runner: finds the cases, runs one through import, load and run, and keeps
//! the per-op tallies that `docs/ops.md` is written from.

mod proto;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use edge_model::checks::compare_host;
use edge_model::weights::HostTensor;
use edge_model::{DeviceChoice, LoadOptions, Model};
use fleet::import::ImportError;
use fleet::import::onnx::{self, CLAIMS};
use onnx_ir::{Message, ModelProto};

/// numpy `allclose` tolerances: ONNX's backend runner uses rtol 1e-3 and atol 1e-7; the GPU's
/// f32 transcendental functions need atol 1e-5 near zero.
const RTOL: f32 = 1e-3;
const ATOL: f32 = 1e-5;

use edge_model::format::EMPTY_TENSORS as EMPTY;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Cpu,
    Gpu,
}

/// One case: its model, the op types of its graph, the default-domain opset.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub model: PathBuf,
    /// Node and model cases: `test_data_set_0/` beside the model. Light models (whole
    /// architectures with their weights replaced by ConstantOfShape): none; the inputs are
    /// the package's deterministic dummy data (`arange(n) / n`, size-1 for free dimensions)
    /// and the outputs are `NAME_output_K.pb` beside the model.
    pub data: Option<PathBuf>,
    pub ops: BTreeSet<String>,
    pub opset: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Pass,
    /// Refused at import with this message.
    Refused(String),
    Fail(String),
}

impl Outcome {
    pub fn is_pass(&self) -> bool {
        matches!(self, Outcome::Pass)
    }
    pub fn is_fail(&self) -> bool {
        matches!(self, Outcome::Fail(_))
    }
    pub fn is_refused(&self) -> bool {
        matches!(self, Outcome::Refused(_))
    }
}

/// Where the package's test data is: `ONNX_TEST_DATA`, or asked of `python3`.
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ONNX_TEST_DATA") {
        return PathBuf::from(dir);
    }
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), 'backend', 'test', 'data'))",
        ])
        .output()
        .expect("python3 is needed to find the onnx package's test data (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "the onnx Python package is missing (scripts/test.sh installs the pinned version): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        dir.join("node").is_dir(),
        "no node tests under {}",
        dir.display()
    );
    dir
}

/// Every case under `root` (`light`: the light models), sorted by name.
pub fn cases(root: &Path, light: bool) -> Vec<Case> {
    let mut models: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.expect("dir entry").path())
        .filter_map(|p| {
            if light {
                p.extension().is_some_and(|e| e == "onnx").then_some(p)
            } else {
                let model = p.join("model.onnx");
                model.is_file().then_some(model)
            }
        })
        .collect();
    models.sort();
    models
        .into_iter()
        .filter_map(|model_path| {
            let bytes = std::fs::read(&model_path).ok()?;
            let model = ModelProto::parse_from_bytes(&bytes).ok()?;
            let graph = model.graph.as_ref()?;
            let ops = graph
                .node
                .iter()
                .map(|n| {
                    if n.domain.is_empty() || n.domain == "ai.onnx" {
                        n.op_type.clone()
                    } else {
                        format!("{}::{}", n.domain, n.op_type)
                    }
                })
                .collect();
            let opset = model
                .opset_import
                .iter()
                .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
                .map_or(0, |o| o.version);
            let name = if light {
                model_path.file_stem()?.to_string_lossy().into_owned()
            } else {
                model_path
                    .parent()?
                    .file_name()?
                    .to_string_lossy()
                    .into_owned()
            };
            let data = (!light).then(|| model_path.with_file_name("test_data_set_0"));
            Some(Case {
                name,
                model: model_path,
                data,
                ops,
                opset,
            })
        })
        .collect()
}

fn claimed(op: &str) -> bool {
    CLAIMS.iter().any(|c| c.op == op)
}

/// Imports, loads and runs one case on `device`, and compares every output.
/// Node cases whose package reference contradicts the ONNX spec: checked against ONNX
/// Runtime 1.32's outputs instead, recorded in `fixtures/onnx/conformance/CASE/` by
/// `fixtures/make_quantized.py`. ONNX 1.19's reference QLinearMatMul wraps an int8 result
/// that overflows (-236 becomes 20) where the spec saturates it (-128), as ONNX Runtime does.
pub const REFERENCE_FIXES: &[&str] = &[
    "test_qlinearmatmul_2D_int8_float16",
    "test_qlinearmatmul_2D_int8_float32",
];

pub fn run_case(case: &Case, device: Device) -> Outcome {
    match try_case(case, device) {
        Ok(()) => Outcome::Pass,
        Err(outcome) => outcome,
    }
}

fn try_case(case: &Case, device: Device) -> Result<(), Outcome> {
    let model_path = &case.model;
    let fail = |what: &str, e: &dyn std::fmt::Display| Outcome::Fail(format!("{what}: {e}"));
    let converted = onnx::convert(model_path, "case", 1).map_err(|e| match e {
        ImportError::Model(inner) => fail("import", &inner),
        refused => Outcome::Refused(refused.to_string()),
    })?;
    let mut inputs = Vec::new();
    for (i, spec) in converted.spec.inputs.iter().enumerate() {
        let tensor = match &case.data {
            Some(data) => {
                let bytes = std::fs::read(data.join(format!("input_{i}.pb")))
                    .map_err(|e| fail("input", &e))?;
                proto::read_tensor(&bytes).map_err(Outcome::Refused)?
            }
            None => dummy_input(&spec.shape),
        };
        inputs.push((spec.name.clone(), tensor));
    }
    let mut expected: Vec<HostTensor> = Vec::new();
    for i in 0..converted.spec.outputs.len() {
        let path = match &case.data {
            Some(_) if REFERENCE_FIXES.contains(&case.name.as_str()) => {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../fixtures/onnx/conformance")
                    .join(&case.name)
                    .join(format!("output_{i}.pb"))
            }
            Some(data) => data.join(format!("output_{i}.pb")),
            None => model_path.with_file_name(format!("{}_output_{i}.pb", case.name)),
        };
        let bytes = std::fs::read(path).map_err(|e| fail("output", &e))?;
        expected.push(proto::read_tensor(&bytes).map_err(Outcome::Refused)?);
    }
    let options = LoadOptions {
        device: match device {
            Device::Cpu => DeviceChoice::Cpu,
            Device::Gpu => DeviceChoice::Gpu,
        },
        warmup_runs: 0,
        ..Default::default()
    };
    let model = Model::from_parts(converted.spec, converted.weights, &options).map_err(|e| {
        match &e {
            // FP64 models are refused on the GPU path by design.
            edge_model::ModelError::Device { reason, .. } if reason.contains("FP64") => {
                Outcome::Refused(e.to_string())
            }
            _ => fail("load", &e),
        }
    })?;
    let outputs = model.run(inputs).map_err(|e| {
        let message = e.to_string();
        // Empty tensors are refused by design: a clear error, named as such in docs/ops.md.
        if message.contains(EMPTY) {
            Outcome::Refused(format!("at run time: {message}"))
        } else {
            fail("run", &e)
        }
    })?;
    for ((name, actual), reference) in outputs.iter().zip(expected) {
        let diff = compare_host("0", name, &reference, actual, ATOL, RTOL)
            .map_err(|e| fail("compare", &e))?;
        if !diff.passed() {
            return Err(Outcome::Fail(format!(
                "output '{name}': max |diff| {:e}",
                diff.max_abs
            )));
        }
    }
    Ok(())
}

/// The onnx package's dummy input for light models: `arange(n) / n` in f32, free
/// dimensions 1 (`onnx.backend.test.runner.Runner.generate_dummy_data`, random=False).
fn dummy_input(shape: &[edge_model::format::Dim]) -> HostTensor {
    let dims: Vec<usize> = shape.iter().map(|d| d.fixed().unwrap_or(1)).collect();
    let n: usize = dims.iter().product();
    let values = (0..n).map(|i| (i as f64 / n as f64) as f32).collect();
    HostTensor::new(dims, values).expect("dummy input")
}

/// Tallies of one device's run.
#[derive(Debug, Default)]
pub struct Suite {
    /// Per case with every op claimed: its ops, opset and outcome.
    pub claimed: BTreeMap<String, (Case, Outcome)>,
    /// Cases with an op we do not claim.
    pub unclaimed: usize,
}

impl Suite {
    pub fn record(&mut self, kind: &str, case: &Case, outcome_of: impl FnOnce() -> Outcome) {
        if case.ops.iter().all(|op| claimed(op)) {
            self.claimed.insert(
                format!("{kind}/{}", case.name),
                (case.clone(), outcome_of()),
            );
        } else {
            self.unclaimed += 1;
        }
    }

    pub fn count(&self, pick: fn(&Outcome) -> bool) -> usize {
        self.claimed.values().filter(|(_, o)| pick(o)).count()
    }

    pub fn failures(&self, device: &str) -> Vec<String> {
        self.claimed
            .iter()
            .filter_map(|(name, (_, o))| match o {
                Outcome::Fail(why) => Some(format!("{device} {name}: {why}")),
                _ => None,
            })
            .collect()
    }

    /// (passed, refused, failed) cases that use `op`, and the opsets of the passing ones.
    fn per_op(&self, op: &str) -> (usize, usize, usize, BTreeSet<i64>) {
        let mut tally = (0, 0, 0, BTreeSet::new());
        for (case, outcome) in self.claimed.values() {
            if !case.ops.contains(op) {
                continue;
            }
            match outcome {
                Outcome::Pass => {
                    tally.0 += 1;
                    tally.3.insert(case.opset);
                }
                Outcome::Refused(_) => tally.1 += 1,
                Outcome::Fail(_) => tally.2 += 1,
            }
        }
        tally
    }
}

/// `docs/ops.md`, from the claims and both runs.
pub fn render_doc(cpu: &Suite, gpu: &Suite) -> String {
    let mut out = String::from(
        "# Supported ONNX ops\n\n\
         Generated by `fleet-server/tests/onnx_conformance.rs` from the claims in \
         `fleet-server/src/import/onnx/supported.rs` and a run of the ONNX backend node tests \
         (and the pytorch-converted and pytorch-operator cases, and the light real-architecture models: ResNet-50, DenseNet-121, Inception v1 and v2, ShuffleNet, SqueezeNet, VGG-19, AlexNet, ZFNet-512 on the CPU; ResNet-50, DenseNet-121, Inception v2, ShuffleNet and SqueezeNet on the GPU path too, where AlexNet, ZFNet-512 and VGG-19 fail on their 150-400 MB fully connected weights and Inception v1 is 1e-3 off) of the pinned `onnx` package \
         (see `scripts/test.sh`); CI fails when this file and the run disagree. Regenerate with \
         `UPDATE_OPS_DOC=1 cargo test --test onnx_conformance`.\n\n\
         A case counts when every op of its graph is claimed. It passes when every output \
         matches the package's reference (numpy allclose, rtol 1e-3, atol 1e-5; integers and \
         booleans exactly; ONNX Runtime's output for the two int8 QLinearMatMul cases whose \
         reference wraps where the spec saturates: `REFERENCE_FIXES` in \
         `fleet-server/tests/conformance/mod.rs`), or is refused at import with the op or attribute named. An op's \
         attributes outside its list are refused at import, never ignored. onnx-ir parses \
         opsets 1 to 24; \"opsets\" lists those of the passing cases.\n\n\
         Element types: FP32; FP16 (widened to f32 at load, rounded back on output); FP64 \
         (computed in f64 on the CPU; the GPU path refuses it and `auto` picks the CPU); INT64, \
         INT32, INT8, UINT8 (i64 on the host, i32 on the GPU with every value range-checked on \
         the way); BOOL. Other ONNX types are refused at import, naming the type.\n\n\
         | Op | Attributes | Opsets | CPU pass / refused / fail | GPU pass / refused / fail | Notes |\n\
         |---|---|---|---|---|---|\n",
    );
    for claim in CLAIMS {
        let (cp, cr, cf, opsets) = cpu.per_op(claim.op);
        let (gp, gr, gf, _) = gpu.per_op(claim.op);
        let attributes = if claim.attributes.is_empty() {
            "-".to_string()
        } else {
            claim.attributes.join(", ")
        };
        let opsets = if opsets.is_empty() {
            "-".to_string()
        } else {
            opsets
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "| {} | {attributes} | {opsets} | {cp} / {cr} / {cf} | {gp} / {gr} / {gf} | {} |\n",
            claim.op, claim.notes
        ));
    }
    out.push_str(
        "\n## Cases refused\n\nAt import unless marked \"at run time\" (empty tensors).\n\n",
    );
    for (name, (_, outcome)) in &cpu.claimed {
        if let Outcome::Refused(why) = outcome {
            out.push_str(&format!("- `{name}` (CPU): {}\n", short(why)));
        }
    }
    for (name, (_, outcome)) in &gpu.claimed {
        let cpu_refused = matches!(cpu.claimed.get(name), Some((_, Outcome::Refused(_))));
        if let (Outcome::Refused(why), false) = (outcome, cpu_refused) {
            out.push_str(&format!("- `{name}` (GPU only): {}\n", short(why)));
        }
    }
    out
}

/// A refusal's first line without the machine's paths, cut to 160 characters.
fn short(why: &str) -> String {
    let line = why.lines().next().unwrap_or("");
    let line = match line.find("model.onnx") {
        Some(i) => format!("the model{}", &line[i + "model.onnx".len()..]),
        None => line.to_string(),
    };
    let line = match line.find(". Supported ops (see") {
        Some(i) => line[..i].to_string(),
        None => line,
    };
    line.chars().take(160).collect()
}
