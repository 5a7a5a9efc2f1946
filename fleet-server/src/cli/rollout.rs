//! `fleet rollout create|list|status|pause|resume|abort|rollback`: the rollout API from the
//! command line, with a per-wave table (and download progress) for `status`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use serde_json::Value;

use super::context::{self, AdminArgs};
use super::exit;
use crate::admin_client::{AdminClient, AdminClientError, as_json};
use crate::serve::admin::types::{Rollout, RolloutAction, RolloutSpec, RolloutStatus, wire_name};

fn percent(text: &str) -> Result<f64, String> {
    text.trim()
        .trim_end_matches('%')
        .parse::<f64>()
        .map_err(|e| format!("'{text}': {e} (say 10%)"))
}

fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("'{text}': {e} (say 10m)"))
}

fn tag(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("'{text}' is not tag=value"))
}

#[derive(Debug, clap::Args)]
pub struct RolloutArgs {
    #[command(flatten)]
    admin: AdminArgs,
    #[command(subcommand)]
    action: RolloutCommand,
}

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Roll a published version out in waves, gated on the devices' field metrics.
    Create {
        #[arg(long)]
        model: String,
        #[arg(long)]
        version: u64,
        /// Only devices with this tag (repeatable; all must match).
        #[arg(long, value_parser = tag)]
        select: Vec<(String, String)>,
        /// Cumulative share of the targeted devices per wave.
        #[arg(long, value_delimiter = ',', value_parser = percent, default_value = "1%,10%,50%,100%")]
        waves: Vec<f64>,
        /// How long each wave runs the new version before its gates are checked.
        #[arg(long, value_parser = duration, default_value = "10m")]
        soak: Duration,
        /// Halt when a device's error ratio over its window is above this (0.05 = 5%).
        #[arg(long)]
        max_error_rate: Option<f64>,
        /// Halt when a device's p95 latency is above this.
        #[arg(long, value_parser = duration)]
        max_p95_latency: Option<Duration>,
        /// Halt when a device's accuracy on labels drops more than this below the version it ran before.
        #[arg(long)]
        max_accuracy_drop: Option<f64>,
        /// Halt when a regression model's MAE on a device grows more than this ratio over the
        /// version it ran before (0.25 = 25% worse).
        #[arg(long)]
        max_mae_increase: Option<f64>,
        /// A device silent for this long does not hold its wave back; it catches up later.
        #[arg(long, value_parser = duration, default_value = "5m")]
        offline_after: Duration,
    },
    /// Every rollout.
    List,
    /// One rollout: per wave, devices by state, failures by reason.
    Status {
        id: String,
        #[arg(long)]
        json: bool,
    },
    Pause {
        id: String,
    },
    Resume {
        id: String,
    },
    /// Stop; devices keep what they run.
    Abort {
        id: String,
    },
    /// Stop and send every targeted device back to the version it ran before.
    Rollback {
        id: String,
    },
}

pub fn run(args: RolloutArgs) -> ExitCode {
    context::code(rollout(args))
}

fn rollout(args: RolloutArgs) -> Result<ExitCode, ExitCode> {
    let client = args.admin.client()?;
    Ok(match context::block_on(call(&client, &args.action))? {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        // A refused creation is a usage error (a bad spec, an unpublished version).
        Err(e) if matches!(args.action, RolloutCommand::Create { .. }) => exit::usage(e),
        Err(e) => exit::failure(e),
    })
}

/// Asks the fleet; returns what to print.
async fn call(client: &AdminClient, command: &RolloutCommand) -> Result<String, AdminClientError> {
    match command {
        RolloutCommand::Create {
            model,
            version,
            select,
            waves,
            soak,
            max_error_rate,
            max_p95_latency,
            max_accuracy_drop,
            max_mae_increase,
            offline_after,
        } => {
            let spec = RolloutSpec {
                model: model.clone(),
                version: *version,
                select: select.iter().cloned().collect(),
                waves: waves.clone(),
                soak_ms: soak.as_millis() as u64,
                max_error_rate: *max_error_rate,
                max_p95_ms: max_p95_latency.map(|d| d.as_secs_f64() * 1e3),
                max_accuracy_drop: *max_accuracy_drop,
                max_mae_increase: *max_mae_increase,
                offline_after_ms: offline_after.as_millis() as u64,
            };
            let answer = client.create_rollout(&spec).await?;
            Ok(format!("{}\n", summary(&answer.rollout)))
        }
        RolloutCommand::List => Ok(client
            .rollouts()
            .await?
            .rollouts
            .iter()
            .map(|r| format!("{}\n", summary(r)))
            .collect()),
        RolloutCommand::Status { id, json: false } => Ok(render_status(&client.rollout(id).await?)),
        RolloutCommand::Status { id, json: true } => {
            Ok(format!("{:#}\n", as_json(&client.rollout(id).await?)))
        }
        RolloutCommand::Pause { id } => act(client, id, RolloutAction::Pause).await,
        RolloutCommand::Resume { id } => act(client, id, RolloutAction::Resume).await,
        RolloutCommand::Abort { id } => act(client, id, RolloutAction::Abort).await,
        RolloutCommand::Rollback { id } => act(client, id, RolloutAction::Rollback).await,
    }
}

/// Pause, resume, abort or roll back; returns the rollout's line.
async fn act(
    client: &AdminClient,
    id: &str,
    action: RolloutAction,
) -> Result<String, AdminClientError> {
    let answer = client.act_on_rollout(id, action).await?;
    Ok(format!("{}\n", summary(&answer.rollout)))
}

/// One line per rollout.
fn summary(r: &Rollout) -> String {
    format!(
        "{} {} v{} {} wave {}/{} devices {}{}",
        r.id,
        r.spec.model,
        r.spec.version,
        wire_name(&r.state),
        r.wave + 1,
        r.spec.waves.len(),
        r.devices.len(),
        r.reason
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default(),
    )
}

/// The per-wave table of `fleet rollout status`.
fn render_status(status: &RolloutStatus) -> String {
    let mut out = format!("{}\n\n", summary(&status.rollout));
    let states = [
        "waiting",
        "pending",
        "downloading",
        "verifying",
        "active",
        "failed",
        "rolled_back",
    ];
    out.push_str(&format!("{:<6} {:>6} {:>8}", "WAVE", "PCT", "DEVICES"));
    for s in states {
        out.push_str(&format!(" {:>11}", s.to_uppercase()));
    }
    out.push_str("  FAILURES\n");
    for w in &status.waves {
        // Wave, percent (as JSON writes it: 33.0) and devices unpadded, as they always were.
        out.push_str(&format!(
            "{} {}% {}",
            w.wave,
            Value::from(w.percent),
            w.devices
        ));
        for s in states {
            out.push_str(&format!(" {:>11}", w.states.get(s).copied().unwrap_or(0)));
        }
        let failures: Vec<String> = w.failures.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push_str(&format!("  {}\n", failures.join(", ")));
    }
    let downloading: Vec<String> = status
        .devices
        .iter()
        .filter(|d| d.state == "downloading")
        .map(|d| {
            let (done, total) = (
                d.report["bytes"].as_u64().unwrap_or(0),
                d.report["total"].as_u64().unwrap_or(0).max(1),
            );
            format!(
                "  {} {:>3}% of {} bytes",
                d.device,
                done * 100 / total,
                total
            )
        })
        .collect();
    if !downloading.is_empty() {
        out.push_str(&format!("\ndownloading:\n{}\n", downloading.join("\n")));
    }
    out
}
