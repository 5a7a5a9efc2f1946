//! The exit codes of `fleet`, in one leaf module every command uses (it imports nothing of
//! ours): 0 done, 1 the operation failed, 64 usage or configuration error (sysexits
//! EX_USAGE / EX_CONFIG style), 130 interrupted (Ctrl-C).

use std::fmt::Display;
use std::process::ExitCode;

/// Usage and configuration errors.
pub const USAGE: u8 = 64;
/// The operation failed.
pub const FAILURE: u8 = 1;
/// Stopped by Ctrl-C (128 + SIGINT).
pub const INTERRUPTED: u8 = 130;

/// Prints `error: {e}` and returns exit code 1.
pub fn failure(e: impl Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(FAILURE)
}

/// Prints `error: {e}` and returns exit code 64.
pub fn usage(e: impl Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(USAGE)
}
