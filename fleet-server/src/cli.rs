//! The `fleet` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use edge_model::DeviceChoice;

use crate::model::{ImportCmdError, ImportRequest, import};

/// Exit code for usage and configuration errors (sysexits EX_USAGE / EX_CONFIG style).
pub const EXIT_USAGE: u8 = 64;
/// Exit code when an operation failed.
pub const EXIT_FAILURE: u8 = 1;

#[derive(Debug, Parser)]
#[command(
    name = "fleet",
    version,
    about = "Fleet server: import, sign and roll out models to edge boxes"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Model registry operations.
    #[command(subcommand)]
    Model(ModelCommand),
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Convert an ONNX model into the edge model format, verifying it against reference
    /// outputs when --check is given.
    Import {
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
    },
}

/// Runs a parsed command; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Model(ModelCommand::Import {
            onnx,
            name,
            version,
            out,
            check,
            atol,
            rtol,
            device,
        }) => {
            let request = ImportRequest {
                onnx,
                name,
                version,
                out,
                check,
                atol,
                rtol,
                device,
            };
            match import(&request) {
                Ok(summary) => {
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
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    if let ImportCmdError::Mismatch { diffs, .. } = &e {
                        print_diffs(diffs);
                    }
                    eprintln!("error: {e}");
                    ExitCode::from(EXIT_FAILURE)
                }
            }
        }
    }
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
