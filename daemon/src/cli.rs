//! The `edged` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use edge_model::{DeviceChoice, LoadOptions};

/// Exit code for usage and configuration errors.
pub const EXIT_USAGE: u8 = 64;
/// Exit code for a bad request (input file).
pub const EXIT_DATAERR: u8 = 65;
/// Exit code when the model or device failed.
pub const EXIT_FAILURE: u8 = 1;

#[derive(Debug, Parser)]
#[command(
    name = "edged",
    version,
    about = "Edge ML daemon: runs signed models on this box"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one Open Inference Protocol v2 request against a model directory and print the
    /// response JSON.
    Predict {
        /// Model directory (model.json + weights.safetensors).
        #[arg(long)]
        model: PathBuf,
        /// Request JSON: {"inputs":[{"name","shape","datatype":"FP32","data"}]}.
        #[arg(long)]
        input: PathBuf,
        /// auto (measure GPU and CPU, use the faster), gpu or cpu.
        #[arg(long, default_value = "auto")]
        device: DeviceChoice,
        /// Also run the check cases stored with the model on this device first.
        #[arg(long)]
        check: bool,
    },
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Predict {
            model,
            input,
            device,
            check,
        } => {
            let options = LoadOptions {
                device,
                ..LoadOptions::default()
            };
            if check {
                match check_model(&model, &options) {
                    Ok(()) => {}
                    Err(code) => return code,
                }
            }
            match crate::predict::predict(&model, &input, &options) {
                Ok(response) => match serde_json::to_string(&response) {
                    Ok(text) => {
                        println!("{text}");
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("error: cannot encode the response: {e}");
                        ExitCode::from(EXIT_FAILURE)
                    }
                },
                Err(e) => {
                    eprintln!("error: {e}");
                    let code = match e {
                        edge_model::ModelError::Request(_) => EXIT_DATAERR,
                        _ => EXIT_FAILURE,
                    };
                    ExitCode::from(code)
                }
            }
        }
    }
}

fn check_model(dir: &std::path::Path, options: &LoadOptions) -> Result<(), ExitCode> {
    let fail = |e: edge_model::ModelError| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_FAILURE)
    };
    let model = edge_model::Model::load(dir, options).map_err(fail)?;
    match model.check_stored(dir).map_err(fail)? {
        None => eprintln!("no check cases stored with this model"),
        Some(diffs) => {
            let failed = diffs.iter().filter(|d| !d.passed()).count();
            eprintln!(
                "checked {} outputs on {}: {} failed",
                diffs.len(),
                model.backend(),
                failed
            );
            if failed > 0 {
                return Err(ExitCode::from(EXIT_FAILURE));
            }
        }
    }
    Ok(())
}
