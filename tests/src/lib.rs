//! Helpers for end-to-end tests that start the real `edged` and `fleet` binaries.

pub mod acked;
pub mod config;
pub mod daemon;
pub mod faults;
pub mod fleet;
pub mod load;
pub mod mosquitto;
pub mod powercut;
pub mod release;
pub mod saturation;
pub mod sim;
pub mod wait;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The directory holding the workspace's built binaries: beside this executable, or one level
/// up when this is a test binary in target/<profile>/deps.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let dir = exe
        .parent()
        .unwrap_or_else(|| panic!("unexpected executable location {}", exe.display()));
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().unwrap_or(dir).to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// A command for one of the workspace binaries. Panics with a clear message when it has not
/// been built (`cargo test --workspace` builds it).
pub fn binary(name: &str) -> Command {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (cargo build --workspace)",
        path.display()
    );
    let mut cmd = Command::new(path);
    cmd.env("EDGED_LOG", "warn").env("FLEET_LOG", "warn");
    cmd
}

/// Runs a command and returns its output, with stdout and stderr as text for assertions.
pub fn run(cmd: &mut Command) -> (Output, String, String) {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

/// A free loopback port (bound, read and released), for the two servers that cannot bind
/// port 0 and report the port they got: the embedded rumqttd broker of `fleet serve` (it
/// binds inside its own thread) and Mosquitto. Every other server under test binds port 0
/// itself and the test reads the address from its ready line.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("free port: {e}"))
}

/// Reads the piped stdout of `child` until a line starts with `prefix` (a server's ready
/// line, which names the addresses it bound) and returns that line; `None` when the output
/// ends or `timeout` passes first. The rest of stdout keeps being drained.
pub fn ready_line(child: &mut Child, prefix: &str, timeout: Duration) -> Option<String> {
    let stdout = child.stdout.take()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + timeout;
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .ok()?;
        if line.starts_with(prefix) {
            return Some(line);
        }
    }
}

/// The environment that runs a process under libfaketime with its wall clock at `offset`
/// ("-1h", "+400d", or "@1970-01-01 00:00:00"); monotonic clocks are left alone, so timers
/// behave. Debian's `faketime` package; scripts/test.sh installs it.
pub fn faketime(offset: &str) -> Vec<(&'static str, String)> {
    let lib = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu"]
        .iter()
        .map(|d| Path::new(d).join("faketime/libfaketime.so.1"))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("libfaketime is not installed: run scripts/test.sh (it installs faketime)")
        });
    vec![
        ("LD_PRELOAD", lib.display().to_string()),
        ("FAKETIME", offset.to_string()),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1".to_string()),
    ]
}

/// [`faketime`]'s pairs as the `&str` pairs `Command::envs` and the start helpers take.
pub fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}
