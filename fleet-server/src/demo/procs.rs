//! The demo's child processes: `fleet serve` and the `edged` daemons, each with its log file,
//! started, waited on for their ready line, and stopped with SIGTERM (then SIGKILL).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::DemoError;

/// A started process and what its ready line said.
#[derive(Debug)]
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub ready: String,
}

impl Proc {
    /// `key=value` from the ready line.
    pub fn field(&self, key: &str) -> Option<String> {
        self.ready
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{key}=")))
            .map(str::to_string)
    }

    /// `key=ADDRESS` from the ready line.
    pub fn addr(&self, key: &str) -> Result<SocketAddr, DemoError> {
        let text = self.field(key).unwrap_or_default();
        text.parse().map_err(|e| {
            DemoError::Setup(format!(
                "{}: {key}={text} in its ready line: {e}",
                self.name
            ))
        })
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub async fn stop(&mut self, grace: Duration) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            eprintln!("{} did not stop within {grace:?}; killed", self.name);
            let _ = self.child.kill().await;
        }
    }
}

/// The binary `name` next to this one (cargo builds them into one directory).
pub fn sibling(name: &str) -> Result<PathBuf, DemoError> {
    let me = std::env::current_exe().map_err(|e| DemoError::Setup(e.to_string()))?;
    let path = me.with_file_name(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(DemoError::Setup(format!(
            "{} is missing: build every binary first (cargo build --workspace --bins)",
            path.display()
        )))
    }
}

/// Starts `program args`, stderr to `log`, and waits for a stdout line starting with `ready`.
pub async fn start(
    name: &str,
    program: &Path,
    args: &[&str],
    log: &Path,
    ready: &str,
) -> Result<Proc, DemoError> {
    let setup = |e: std::io::Error| DemoError::Setup(format!("{name}: {e}"));
    let log_file = std::fs::File::create(log).map_err(setup)?;
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true)
        .spawn()
        .map_err(setup)?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| DemoError::Setup(format!("{name}: no stdout")))?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(120), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with(ready) {
                return Some(line);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .ok_or_else(|| DemoError::Setup(format!("{name} did not start; see {}", log.display())))?;
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Proc {
        name: name.to_string(),
        child,
        ready: line,
    })
}
