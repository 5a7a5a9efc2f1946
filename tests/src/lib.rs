//! Helpers for end-to-end tests that start the real `edged` and `fleet` binaries.

pub mod daemon;
pub mod fleet;
pub mod load;
pub mod mosquitto;
pub mod release;
pub mod sim;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
