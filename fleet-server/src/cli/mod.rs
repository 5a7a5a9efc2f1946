//! The `fleet` command line: the clap tree and the dispatch, nothing else. Each command lives
//! in its own file, which owns its arguments (clap derive) and a `run` returning the exit
//! code; `exit.rs` has the codes, `context.rs` what several commands share.

mod context;
mod demo;
mod devices;
pub mod exit;
mod keys;
mod model;
mod records;
mod rollout;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    Model(model::ModelCommand),
    /// The organisation's signing keys: root (offline) and release keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// The whole product in one command: a fleet server and three edged boxes in a new
    /// directory, field traffic with late labels, and a canary rollout of an improved model
    /// with live accuracy and latency, ending with a summary. Ctrl-C stops everything.
    Demo(demo::DemoArgs),
    /// Run the fleet server: embedded MQTT broker (or an external one), device ingest and
    /// the admin API, until SIGTERM.
    Serve(serve::ServeArgs),
    /// Enrolled devices, through the admin API.
    Devices(devices::DevicesArgs),
    /// Rollouts in canary waves, through the admin API.
    Rollout(rollout::RolloutArgs),
    /// Uploaded records, through the admin API.
    Records(records::RecordsArgs),
}

/// Runs a parsed command; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Model(command) => model::run(command),
        Command::Keys(command) => keys::run(command),
        Command::Demo(args) => demo::run(args),
        Command::Serve(args) => serve::run(&args),
        Command::Devices(args) => devices::run(args),
        Command::Rollout(args) => rollout::run(args),
        Command::Records(args) => records::run(args),
    }
}
