//! The `edged` command line: the clap tree and the dispatch to one module per command. What
//! every command shares — the exit codes, loading a config file with the exit-64 report, the
//! async runtime — is here too, written once.

mod config;
mod enroll;
mod predict;
mod run;
mod status;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use edge_model::DeviceChoice;

use crate::config::Config;

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
    /// Run the daemon: serve the configured models over HTTP and MQTT until SIGTERM.
    Run {
        /// The TOML configuration file (see examples/edged.toml).
        #[arg(long)]
        config: PathBuf,
    },
    /// Create this box's device key if it has none, and print its device id and public key:
    /// what an operator needs to issue its client certificate (CN = device id) and to
    /// approve it with `fleet devices approve ID`.
    Enroll {
        /// The daemon's TOML configuration file (the key lives in its state_dir).
        #[arg(long)]
        config: PathBuf,
    },
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a summary of a running daemon: models, latency, quality, buffer, memory.
    Status {
        /// The running daemon's config file (its HTTP address is read from it).
        #[arg(long, conflicts_with = "addr")]
        config: Option<PathBuf>,
        /// The daemon's HTTP address, host:port.
        #[arg(long)]
        addr: Option<std::net::SocketAddr>,
        /// Print the raw JSON instead of the summary.
        #[arg(long)]
        json: bool,
    },
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

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file (with the EDGED_ environment overrides) and report every
    /// problem at once.
    Check {
        /// The TOML configuration file.
        file: PathBuf,
    },
}

/// Runs the parsed command; its exit code is the process's.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Run { config } => run::run(&config),
        Command::Enroll { config } => enroll::enroll(&config),
        Command::Config(ConfigCommand::Check { file }) => config::check(&file),
        Command::Status { config, addr, json } => status::status(config.as_deref(), addr, json),
        Command::Predict {
            model,
            input,
            device,
            check,
        } => predict::predict(&model, &input, device, check),
    };
    result.unwrap_or_else(|code| code)
}

/// What a command ends with: success, or the exit code after its message was printed.
type Outcome = Result<ExitCode, ExitCode>;

/// Prints `error: {e}` on stderr and gives the exit code `code`.
fn fail(code: u8) -> impl FnOnce(&dyn std::fmt::Display) -> ExitCode {
    move |e| {
        eprintln!("error: {e}");
        ExitCode::from(code)
    }
}

/// Loads a config file; on failure prints every problem it has and exits 64.
fn load_config(path: &Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|e| fail(EXIT_USAGE)(&e))
}

/// The multi-threaded runtime the async commands run on.
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("edged")
        .build()
        .map_err(|e| fail(EXIT_FAILURE)(&format!("cannot start the async runtime: {e}")))
}
