//! `fleet devices list|show|approve|revoke|desire`: the enrolled devices through the admin
//! API; `render.rs` draws the tables.

mod render;

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;

use super::context::{self, AdminArgs};
use super::exit;
use crate::admin_client::{AdminClient, AdminClientError, as_json};
use crate::serve::admin::types::DesiredRequest;

#[derive(Debug, clap::Args)]
pub struct DevicesArgs {
    #[command(flatten)]
    admin: AdminArgs,
    #[command(subcommand)]
    action: DevicesCommand,
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

pub fn run(args: DevicesArgs) -> ExitCode {
    context::code(devices(args))
}

fn devices(args: DevicesArgs) -> Result<ExitCode, ExitCode> {
    let client = args.admin.client()?;
    // `--since` is checked before anything is asked of the fleet.
    let since = match &args.action {
        DevicesCommand::Show { since, .. } => context::since_ms(since)?,
        _ => 0,
    };
    let answer = context::block_on(call(&client, &args.action, since))?;
    Ok(match answer {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => exit::failure(e),
    })
}

/// Asks the fleet; returns what to print.
async fn call(
    client: &AdminClient,
    action: &DevicesCommand,
    since_ms: u64,
) -> Result<String, AdminClientError> {
    let text = match action {
        DevicesCommand::List { json: false } => render::list(&client.devices().await?.devices),
        DevicesCommand::List { json: true } => pretty(&as_json(&client.devices().await?)),
        DevicesCommand::Show { id, json, .. } => {
            let device = client.device(id).await?.device;
            let history = client.metrics(id, since_ms).await?.points;
            if *json {
                pretty(&json!({"device": device, "history": history}))
            } else {
                render::device(&device, &history)
            }
        }
        DevicesCommand::Approve { id } => pretty(&as_json(&client.approve(id).await?)),
        DevicesCommand::Revoke { id } => pretty(&as_json(&client.revoke(id).await?)),
        DevicesCommand::Desire { id, model, version } => {
            let request = DesiredRequest {
                model: model.clone(),
                version: *version,
            };
            pretty(&as_json(&client.set_desired(id, &request).await?))
        }
    };
    Ok(text)
}

/// An answer as indented JSON, as the fleet sent it.
fn pretty(value: &serde_json::Value) -> String {
    format!("{value:#}\n")
}
