//! What several commands need, written once: the async runtime, the admin API's address and
//! token (flag or `FLEET_ADMIN_TOKEN`), the fleet's config (every problem reported, exit 64),
//! and `--since` times.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use super::exit;
use crate::admin_client::AdminClient;
use crate::serve::ServeConfig;

/// Runs `work` to completion on a new multi-threaded runtime.
pub fn block_on<F: Future>(work: F) -> Result<F::Output, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map(|runtime| runtime.block_on(work))
        .map_err(|e| exit::failure(format!("cannot start the async runtime: {e}")))
}

// `--addr` and `--token` of the commands that go through the admin API (flattened into each;
// a `///` doc here would become their `about`).
#[derive(Debug, Clone, clap::Args)]
pub struct AdminArgs {
    /// Admin API address.
    #[arg(long, default_value = "127.0.0.1:8070")]
    pub addr: SocketAddr,
    /// Admin token; FLEET_ADMIN_TOKEN when absent (keeps it out of the process list).
    #[arg(long)]
    pub token: Option<String>,
}

impl AdminArgs {
    /// The client, or exit 64 when neither `--token` nor `FLEET_ADMIN_TOKEN` gives a token.
    pub fn client(&self) -> Result<AdminClient, ExitCode> {
        match self
            .token
            .clone()
            .or_else(|| std::env::var("FLEET_ADMIN_TOKEN").ok())
        {
            Some(token) => Ok(AdminClient::new(self.addr, &token)),
            None => Err(exit::usage("give --token or set FLEET_ADMIN_TOKEN")),
        }
    }
}

/// The fleet's config; on any problem prints them all and returns exit code 64.
pub fn load_config(path: &Path) -> Result<ServeConfig, ExitCode> {
    ServeConfig::load(path).map_err(exit::usage)
}

/// Unix milliseconds of `--since`: a duration ago or an RFC 3339 time; exit 64 otherwise.
pub fn since_ms(since: &str) -> Result<u64, ExitCode> {
    parse_since(since).map_err(|e| exit::usage(format!("--since: {e}")))
}

fn parse_since(since: &str) -> Result<u64, String> {
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

/// A lifetime argument: `90d`, `12h` ...
pub fn lifetime(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("'{text}': {e} (say 90d, 12h ...)"))
}

/// Turns a command's `Result<ExitCode, ExitCode>` (early exits are errors) into its code.
pub fn code(result: Result<ExitCode, ExitCode>) -> ExitCode {
    result.unwrap_or_else(|code| code)
}
