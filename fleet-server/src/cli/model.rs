//! `fleet model sign|publish|list|import|inspect`: the model registry, around
//! [`crate::release`] (signing, the published bundles) and [`crate::import`] (ONNX import and
//! inspection).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use edge_model::DeviceChoice;

use super::context::lifetime as duration;
use super::{context, exit};
use crate::import::onnx::shapes::InputShape;
use crate::import::{ImportError, ImportRequest, import};
use crate::release::sign::{SignOptions, sign_model};
use crate::release::store;

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Sign a model directory with release keys (writes DIR/manifest.json).
    Sign(SignArgs),
    /// Verify a signed model directory and add it to the fleet's published bundles.
    Publish(PublishArgs),
    /// The published model versions.
    List(ListArgs),
    /// Convert an ONNX model into the edge model format, verifying it against reference
    /// outputs when --check is given.
    Import(ImportArgs),
    /// Show a model's inputs and outputs, its ops, and what this build cannot run of it,
    /// without writing anything (an ONNX file or a model directory).
    Inspect(InspectArgs),
}

pub fn run(command: ModelCommand) -> ExitCode {
    context::code(match command {
        ModelCommand::Sign(args) => sign(args),
        ModelCommand::Publish(args) => publish(args),
        ModelCommand::List(args) => list(args),
        ModelCommand::Import(args) => import_onnx(args),
        ModelCommand::Inspect(args) => inspect(args),
    })
}

/// `fleet model sign DIR`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The model directory (model.json, weights.safetensors, checks.json).
    dir: PathBuf,
    /// A release key file; repeat to add signatures for a threshold above 1.
    #[arg(long = "key", required = true)]
    keys: Vec<PathBuf>,
    /// Hardware classes it may run on (`any`, or e.g. aarch64, x86_64, jetson-orin).
    #[arg(long, default_value = "any", value_delimiter = ',')]
    hardware: Vec<String>,
    /// Oldest edged that may run it.
    #[arg(long, default_value = env!("CARGO_PKG_VERSION"))]
    min_daemon: String,
    /// How long devices accept the manifest.
    #[arg(long, default_value = "90d", value_parser = duration)]
    expires: Duration,
}

/// `fleet model publish DIR`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// A signed model directory.
    dir: PathBuf,
    /// The fleet's config (its state_dir holds the published bundles).
    #[arg(long)]
    config: PathBuf,
    /// The root documents to verify against (KEYS/roots of `fleet keys init`).
    #[arg(long)]
    roots: PathBuf,
}

/// `fleet model list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[arg(long)]
    config: PathBuf,
}

/// `fleet model import ONNX`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The ONNX file.
    onnx: PathBuf,
    #[arg(long)]
    name: String,
    #[arg(long)]
    version: u64,
    /// Output model directory (must not exist or be empty).
    #[arg(long)]
    out: PathBuf,
    /// Reference cases (inputs and the training framework's outputs) the conversion must
    /// reproduce; stored in the model directory for on-device re-checks.
    #[arg(long)]
    check: Option<PathBuf>,
    /// Absolute tolerance, overriding the check file's.
    #[arg(long)]
    atol: Option<f32>,
    /// Relative tolerance, overriding the check file's.
    #[arg(long)]
    rtol: Option<f32>,
    /// Device to verify on: auto, gpu or cpu.
    #[arg(long, default_value = "cpu")]
    device: DeviceChoice,
    /// What you know about an input's shape, as NAME=DIMS with comma-separated dims, each a
    /// size or a name that stays free (x=batch,3,224,224 or x=1,3,224,224); repeatable.
    #[arg(long = "input-shape")]
    input_shapes: Vec<InputShape>,
}

/// `fleet model inspect MODEL.onnx|DIR`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// An ONNX file or a model directory.
    path: PathBuf,
}

fn inspect(args: InspectArgs) -> Result<ExitCode, ExitCode> {
    let found = crate::import::inspect::inspect(&args.path).map_err(exit::failure)?;
    print!("{found}");
    Ok(ExitCode::SUCCESS)
}

fn sign(args: SignArgs) -> Result<ExitCode, ExitCode> {
    let options = SignOptions {
        keys: args.keys,
        hardware: args.hardware,
        min_daemon: args.min_daemon,
        expires: args.expires,
    };
    let m = sign_model(&args.dir, &options).map_err(exit::failure)?;
    println!(
        "signed {} {}: {} files, {} bytes, hardware {}, by {} key(s)",
        m.model,
        m.version,
        m.files.len(),
        m.total_length(),
        m.hardware.join(","),
        options.keys.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn publish(args: PublishArgs) -> Result<ExitCode, ExitCode> {
    let state = context::load_config(&args.config)?.state_dir;
    let p = store::publish(&state, &args.dir, &args.roots).map_err(exit::failure)?;
    println!(
        "published {} {} (manifest sha256 {})",
        p.manifest.model, p.manifest.version, p.digest
    );
    Ok(ExitCode::SUCCESS)
}

fn list(args: ListArgs) -> Result<ExitCode, ExitCode> {
    let state = context::load_config(&args.config)?.state_dir;
    let all = store::list(&state).map_err(exit::failure)?;
    println!(
        "{:<16} {:>8} {:>6} {:>12} {:<16} {:<10} {:<19} SIGNERS",
        "MODEL", "VERSION", "FILES", "BYTES", "HARDWARE", "MIN EDGED", "EXPIRES (UTC)"
    );
    for p in all {
        let m = &p.manifest;
        let expires = std::time::UNIX_EPOCH + Duration::from_millis(m.expires_ms);
        let expires = humantime::format_rfc3339_seconds(expires).to_string();
        println!(
            "{:<16} {:>8} {:>6} {:>12} {:<16} {:<10} {:<19} {}",
            m.model,
            m.version,
            m.files.len(),
            m.total_length(),
            m.hardware.join(","),
            m.min_daemon,
            expires.trim_end_matches('Z').replace('T', " "),
            p.signers.join(",")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn import_onnx(args: ImportArgs) -> Result<ExitCode, ExitCode> {
    let request = ImportRequest {
        onnx: args.onnx,
        name: args.name,
        version: args.version,
        out: args.out,
        check: args.check,
        atol: args.atol,
        rtol: args.rtol,
        device: args.device,
        input_shapes: args.input_shapes,
    };
    let summary = import(&request).map_err(|e| {
        if let ImportError::Mismatch { diffs, .. } = &e {
            print_diffs(diffs);
        }
        exit::failure(e)
    })?;
    for note in &summary.notes {
        println!("{note}");
    }
    println!(
        "imported {} v{} into {}: {} nodes, {} weight tensors, {} parameters",
        request.name,
        request.version,
        request.out.display(),
        summary.nodes,
        summary.weights,
        summary.parameters
    );
    print_diffs(&summary.diffs);
    Ok(ExitCode::SUCCESS)
}

/// Prints the worst difference per output over all cases.
fn print_diffs(diffs: &[edge_model::checks::OutputDiff]) {
    let mut outputs: Vec<&str> = diffs.iter().map(|d| d.output.as_str()).collect();
    outputs.sort_unstable();
    outputs.dedup();
    for output in outputs {
        let worst = diffs
            .iter()
            .filter(|d| d.output == output)
            .max_by(|a, b| a.worst_ratio.total_cmp(&b.worst_ratio));
        if let Some(w) = worst {
            println!(
                "check {output}: worst max|diff| {:.3e} in case '{}' ({:.1}% of tolerance) {}",
                w.max_abs,
                w.case,
                w.worst_ratio * 100.0,
                if w.passed() { "ok" } else { "FAILED" }
            );
        }
    }
}
