//! The `fleet` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use edge_model::DeviceChoice;

use crate::import::{ImportError, ImportRequest, import};

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
    /// The organisation's signing keys: root (offline) and release keys.
    #[command(subcommand)]
    Keys(crate::release_cli::KeysCommand),
    /// The whole product in one command: a fleet server and three edged boxes in a new
    /// directory, field traffic with late labels, and a canary rollout of an improved model
    /// with live accuracy and latency, ending with a summary. Ctrl-C stops everything.
    Demo {
        /// Samples replayed before the rollout starts.
        #[arg(long, default_value_t = 90)]
        samples: usize,
        /// Roll out a broken version instead: the accuracy gate halts it and rolls it back.
        #[arg(long)]
        bad_model: bool,
        /// Keep state and logs here (default: a new directory under the temporary one).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The example's directory.
        #[arg(long, default_value = "examples/wine")]
        examples: PathBuf,
        /// How long each wave soaks before its gates are checked.
        #[arg(long, default_value = "3s", value_parser = |s: &str| humantime::parse_duration(s).map_err(|e| e.to_string()))]
        soak: std::time::Duration,
    },
    /// Run the fleet server: embedded MQTT broker (or an external one), device ingest and
    /// the admin API, until SIGTERM.
    Serve {
        #[arg(long)]
        config: PathBuf,
    },
    /// Enrolled devices, through the admin API.
    Devices {
        /// Admin API address.
        #[arg(long, default_value = "127.0.0.1:8070")]
        addr: std::net::SocketAddr,
        /// Admin token; FLEET_ADMIN_TOKEN when absent (keeps it out of the process list).
        #[arg(long)]
        token: Option<String>,
        #[command(subcommand)]
        action: DevicesCommand,
    },
    /// Rollouts in canary waves, through the admin API.
    Rollout {
        #[arg(long, default_value = "127.0.0.1:8070")]
        addr: std::net::SocketAddr,
        /// Admin token; FLEET_ADMIN_TOKEN when absent.
        #[arg(long)]
        token: Option<String>,
        #[command(subcommand)]
        action: crate::rollout_cli::RolloutCommand,
    },
    /// Uploaded records, through the admin API.
    Records {
        #[arg(long, default_value = "127.0.0.1:8070")]
        addr: std::net::SocketAddr,
        /// Admin token; FLEET_ADMIN_TOKEN when absent.
        #[arg(long)]
        token: Option<String>,
        #[command(subcommand)]
        action: RecordsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    /// Labelled predictions of a model, to retrain on.
    Export {
        #[arg(long)]
        model: String,
        /// Only predictions made since: a duration ago ("24h") or a time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: crate::export_cli::Format,
        /// Include predictions without a label.
        #[arg(long)]
        all: bool,
        /// Write here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// Every device that said hello, with its state.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One device: state, software, last seen, backlog on the box, records, each model
    /// version's latest numbers (rate, p95, errors, accuracy) and their history.
    Show {
        id: String,
        /// History from this long ago (24h) or this time (RFC 3339).
        #[arg(long, default_value = "24h")]
        since: String,
        /// Print the device and its history as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Accept a pending device's records from now on.
    Approve { id: String },
    /// Refuse a device's messages from now on.
    Revoke { id: String },
    /// Set the version of a model the device should run (a published version); the device
    /// gets the signed desired state now, or at its next connection.
    Desire {
        id: String,
        #[arg(long)]
        model: String,
        #[arg(long)]
        version: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Sign a model directory with release keys (writes DIR/manifest.json).
    Sign(crate::release_cli::SignArgs),
    /// Verify a signed model directory and add it to the fleet's published bundles.
    Publish(crate::release_cli::PublishArgs),
    /// The published model versions.
    List(crate::release_cli::ListArgs),
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
        Command::Serve { config } => serve(&config),
        Command::Demo {
            samples,
            bad_model,
            dir,
            examples,
            soak,
        } => demo(crate::demo::DemoOptions {
            dir,
            examples,
            samples,
            bad_model,
            soak,
        }),
        Command::Records {
            addr,
            token,
            action:
                RecordsCommand::Export {
                    model,
                    since,
                    format,
                    all,
                    out,
                },
        } => match token.or_else(|| std::env::var("FLEET_ADMIN_TOKEN").ok()) {
            Some(token) => export(addr, &token, &model, since.as_deref(), format, all, out),
            None => {
                eprintln!("error: give --token or set FLEET_ADMIN_TOKEN");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::Devices {
            addr,
            token,
            action,
        } => match token.or_else(|| std::env::var("FLEET_ADMIN_TOKEN").ok()) {
            Some(token) => devices(addr, &token, action),
            None => {
                eprintln!("error: give --token or set FLEET_ADMIN_TOKEN");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::Rollout {
            addr,
            token,
            action,
        } => match token.or_else(|| std::env::var("FLEET_ADMIN_TOKEN").ok()) {
            Some(token) => crate::rollout_cli::run(addr, &token, action),
            None => {
                eprintln!("error: give --token or set FLEET_ADMIN_TOKEN");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::Keys(command) => crate::release_cli::keys(command),
        Command::Model(ModelCommand::Sign(args)) => crate::release_cli::sign(args),
        Command::Model(ModelCommand::Publish(args)) => crate::release_cli::publish(args),
        Command::Model(ModelCommand::List(args)) => crate::release_cli::list(args),
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
                    if let ImportError::Mismatch { diffs, .. } = &e {
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

fn demo(options: crate::demo::DemoOptions) -> ExitCode {
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let result = runtime.block_on(async {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nstopping the demo ...");
                on_signal.cancel();
            }
        });
        crate::demo::run(options, shutdown).await
    });
    match result {
        Ok(summary) => {
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(crate::demo::DemoError::Interrupted) => ExitCode::from(130),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(EXIT_FAILURE)
        })
}

fn serve(path: &std::path::Path) -> ExitCode {
    let config = match crate::serve::ServeConfig::load(path) {
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
        let token = shutdown.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            if let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                token.cancel();
            }
        });
        crate::serve::run(config, shutdown).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn devices(addr: std::net::SocketAddr, token: &str, action: DevicesCommand) -> ExitCode {
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    if let DevicesCommand::Show { id, since, json } = &action {
        let since = match since_ms(since) {
            Ok(ms) => ms,
            Err(e) => {
                eprintln!("error: --since: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        };
        let calls = async {
            let device =
                crate::devices_cli::call(addr, token, "GET", &format!("/api/devices/{id}")).await?;
            let history = crate::devices_cli::call(
                addr,
                token,
                "GET",
                &format!("/api/devices/{id}/metrics?since_ms={since}"),
            )
            .await?;
            Ok::<_, crate::devices_cli::AdminCallError>((device, history))
        };
        return match runtime.block_on(calls) {
            Ok((device, history)) if *json => {
                println!(
                    "{:#}",
                    serde_json::json!({"device": device["device"], "history": history["points"]})
                );
                ExitCode::SUCCESS
            }
            Ok((device, history)) => {
                print!(
                    "{}",
                    crate::devices_cli::render_device(&device["device"], &history["points"])
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(EXIT_FAILURE)
            }
        };
    }
    let (method, path) = match &action {
        DevicesCommand::List { .. } => ("GET", "/api/devices".to_string()),
        DevicesCommand::Show { id, .. } => ("GET", format!("/api/devices/{id}")),
        DevicesCommand::Approve { id } => ("POST", format!("/api/devices/{id}/approve")),
        DevicesCommand::Revoke { id } => ("POST", format!("/api/devices/{id}/revoke")),
        DevicesCommand::Desire { id, .. } => ("POST", format!("/api/devices/{id}/desired")),
    };
    let body = match &action {
        DevicesCommand::Desire { model, version, .. } => {
            Some(serde_json::json!({"model": model, "version": version}))
        }
        _ => None,
    };
    match runtime.block_on(crate::devices_cli::call_with(
        addr,
        token,
        method,
        &path,
        body.as_ref(),
    )) {
        Ok(value) => {
            match action {
                DevicesCommand::List { json: false } => {
                    print!("{}", crate::devices_cli::render_list(&value))
                }
                _ => println!("{value:#}"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Unix milliseconds of `--since`: a duration ago or an RFC 3339 time.
fn since_ms(since: &str) -> Result<u64, String> {
    let now = std::time::SystemTime::now();
    let at = match humantime::parse_duration(since) {
        Ok(ago) => now.checked_sub(ago).ok_or("too far back")?,
        Err(_) => humantime::parse_rfc3339_weak(since).map_err(|e| {
            format!("'{since}' is neither a duration (24h) nor a time (RFC 3339): {e}")
        })?,
    };
    Ok(at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0))
}

fn export(
    addr: std::net::SocketAddr,
    token: &str,
    model: &str,
    since: Option<&str>,
    format: crate::export_cli::Format,
    all: bool,
    out: Option<PathBuf>,
) -> ExitCode {
    let since = match since.map(since_ms).transpose() {
        Ok(s) => s.unwrap_or(0),
        Err(e) => {
            eprintln!("error: --since: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut sink: Box<dyn std::io::Write> = match &out {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("error: cannot create {}: {e}", path.display());
                return ExitCode::from(EXIT_FAILURE);
            }
        },
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let query = format!(
        "model={}&since_ms={since}&all={all}",
        model.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
            ""
        )
    );
    match runtime.block_on(crate::export_cli::export(
        addr,
        token,
        &query,
        format,
        sink.as_mut(),
    )) {
        Ok(n) => {
            eprintln!("exported {n} records");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
