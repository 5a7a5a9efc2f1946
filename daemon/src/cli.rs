//! The `edged` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use edge_model::{DeviceChoice, LoadOptions};

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

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run { config } => run_daemon(&config),
        Command::Config(ConfigCommand::Check { file }) => match Config::load(&file) {
            Ok(config) => {
                println!(
                    "{}: ok ({} model{}: {})",
                    file.display(),
                    config.models.len(),
                    if config.models.len() == 1 { "" } else { "s" },
                    config
                        .models
                        .iter()
                        .map(|m| m.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::Enroll { config } => enroll(&config),
        Command::Status { config, addr, json } => status(config, addr, json),
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

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("edged")
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(EXIT_FAILURE)
        })
}

fn enroll(path: &std::path::Path) -> ExitCode {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let key_file = config.device_key_file();
    let created = !key_file.exists();
    if let Err(e) = std::fs::create_dir_all(&config.state_dir) {
        eprintln!("error: {}: {e}", config.state_dir.display());
        return ExitCode::from(EXIT_FAILURE);
    }
    match edge_protocol::identity::load_or_create(&key_file) {
        Ok(key) => {
            let public = key.verifying_key();
            println!("device_id {}", edge_protocol::identity::device_id(&public));
            println!("public_key {}", hex::encode(public.as_bytes()));
            println!(
                "key_file {} ({})",
                key_file.display(),
                if created { "created" } else { "existing" }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}: {e}", key_file.display());
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn run_daemon(path: &std::path::Path) -> ExitCode {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let result = runtime.block_on(async {
        let shutdown = tokio_util::sync::CancellationToken::new();
        crate::daemon::cancel_on_signals(shutdown.clone());
        crate::daemon::run(config, shutdown).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn status(config: Option<PathBuf>, addr: Option<std::net::SocketAddr>, json: bool) -> ExitCode {
    let addr = match (config, addr) {
        (_, Some(addr)) => addr,
        (Some(path), None) => match Config::load(&path) {
            Ok(c) if c.http.listen.port() != 0 => c.http.listen,
            Ok(c) => {
                let file = c.http_addr_file();
                match std::fs::read_to_string(&file).map(|s| s.trim().parse()) {
                    Ok(Ok(addr)) => addr,
                    _ => {
                        eprintln!(
                            "error: http.listen uses port 0 and {} does not hold the bound address; is edged running?",
                            file.display()
                        );
                        return ExitCode::from(EXIT_FAILURE);
                    }
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        },
        (None, None) => std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
    };
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    match runtime.block_on(crate::status::fetch(
        addr,
        std::time::Duration::from_secs(5),
    )) {
        Ok(value) => {
            if json {
                println!("{value:#}");
            } else {
                print!("{}", crate::status::render(&value));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
