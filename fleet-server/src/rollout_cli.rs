//! `fleet rollout create|list|status|pause|resume|abort|rollback`: the rollout API from the
//! command line, with a per-wave table (and download progress) for `status`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use serde_json::{Value, json};

use crate::cli::{EXIT_FAILURE, EXIT_USAGE};
use crate::devices_cli::call_with;

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

/// Runs one rollout command against the admin API.
pub fn run(addr: SocketAddr, token: &str, command: RolloutCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let (method, path, body) = match &command {
        RolloutCommand::Create {
            model,
            version,
            select,
            waves,
            soak,
            max_error_rate,
            max_p95_latency,
            max_accuracy_drop,
            offline_after,
        } => {
            let select: serde_json::Map<String, Value> =
                select.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            let spec = json!({
                "model": model, "version": version, "select": select, "waves": waves,
                "soak_ms": soak.as_millis() as u64, "max_error_rate": max_error_rate,
                "max_p95_ms": max_p95_latency.map(|d| d.as_secs_f64() * 1e3),
                "max_accuracy_drop": max_accuracy_drop,
                "offline_after_ms": offline_after.as_millis() as u64,
            });
            ("POST", "/api/rollouts".to_string(), Some(spec))
        }
        RolloutCommand::List => ("GET", "/api/rollouts".to_string(), None),
        RolloutCommand::Status { id, .. } => ("GET", format!("/api/rollouts/{id}"), None),
        RolloutCommand::Pause { id } => ("POST", format!("/api/rollouts/{id}/pause"), None),
        RolloutCommand::Resume { id } => ("POST", format!("/api/rollouts/{id}/resume"), None),
        RolloutCommand::Abort { id } => ("POST", format!("/api/rollouts/{id}/abort"), None),
        RolloutCommand::Rollback { id } => ("POST", format!("/api/rollouts/{id}/rollback"), None),
    };
    let answer = runtime.block_on(call_with(addr, token, method, &path, body.as_ref()));
    let value = match answer {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(if matches!(command, RolloutCommand::Create { .. }) {
                EXIT_USAGE
            } else {
                EXIT_FAILURE
            });
        }
    };
    match command {
        RolloutCommand::Status { json: false, .. } => print!("{}", render_status(&value)),
        RolloutCommand::List => {
            for r in value["rollouts"].as_array().into_iter().flatten() {
                println!("{}", summary(r));
            }
        }
        RolloutCommand::Status { json: true, .. } => println!("{value:#}"),
        _ => println!("{}", summary(&value["rollout"])),
    }
    ExitCode::SUCCESS
}

fn summary(r: &Value) -> String {
    format!(
        "{} {} v{} {} wave {}/{} devices {}{}",
        r["id"].as_str().unwrap_or("?"),
        r["spec"]["model"].as_str().unwrap_or("?"),
        r["spec"]["version"],
        r["state"].as_str().unwrap_or("?"),
        r["wave"].as_u64().unwrap_or(0) + 1,
        r["spec"]["waves"].as_array().map_or(0, Vec::len),
        r["devices"].as_array().map_or(0, Vec::len),
        r["reason"]
            .as_str()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default(),
    )
}

/// The per-wave table of `fleet rollout status`.
pub fn render_status(value: &Value) -> String {
    let mut out = format!("{}\n\n", summary(&value["rollout"]));
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
    for w in value["waves"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<6} {:>5}% {:>8}",
            w["wave"], w["percent"], w["devices"]
        ));
        for s in states {
            out.push_str(&format!(" {:>11}", w["states"][s].as_u64().unwrap_or(0)));
        }
        let failures: Vec<String> = w["failures"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        out.push_str(&format!("  {}\n", failures.join(", ")));
    }
    let downloading: Vec<String> = value["devices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["state"] == "downloading")
        .map(|d| {
            let (done, total) = (
                d["report"]["bytes"].as_u64().unwrap_or(0),
                d["report"]["total"].as_u64().unwrap_or(0).max(1),
            );
            format!(
                "  {} {:>3}% of {} bytes",
                d["device"].as_str().unwrap_or("?"),
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
