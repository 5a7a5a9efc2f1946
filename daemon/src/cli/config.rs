//! `edged config check FILE`: loads a config file as `edged run` would and says what it
//! serves, or reports every problem at once (exit 64).

use std::path::Path;
use std::process::ExitCode;

use super::{Outcome, load_config};

pub fn check(file: &Path) -> Outcome {
    let config = load_config(file)?;
    let names: Vec<&str> = config.models.iter().map(|m| m.name.as_str()).collect();
    println!(
        "{}: ok ({} model{}: {})",
        file.display(),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
