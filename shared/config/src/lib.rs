//! Configuration for both binaries: a TOML file plus `PREFIX_SECTION__KEY` environment
//! overrides, read with the `config` crate into a plain tree, then checked key by key by
//! [`Fields`] so every problem is reported at once (linkerd2-proxy's approach).

mod fields;

use std::path::{Path, PathBuf};

pub use fields::{ConfigIssue, Fields};

/// Reads `path` and the `{prefix}_*` variables of `env` (except `{prefix}_LOG`, the log
/// filter) into one JSON tree. The error is a one-line reason (unreadable file, bad TOML).
pub fn read_tree(
    path: &Path,
    prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<serde_json::Value, String> {
    let start = format!("{prefix}_");
    let log = format!("{prefix}_LOG");
    let overrides: config::Map<String, String> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(&start) && *k != log)
        .collect();
    if !path.is_file() {
        return Err("no such file".into());
    }
    config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix(prefix)
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .source(Some(overrides)),
        )
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| e.to_string())
}

/// [`read_tree`] over the text of a config file, without environment overrides (how the
/// fuzz target feeds the checkers).
pub fn read_tree_str(text: &str) -> Result<serde_json::Value, String> {
    config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| e.to_string())
}

/// Runs `check` over `tree`: the value when it found no issue, else every issue.
pub fn check_tree<T>(
    tree: &serde_json::Value,
    check: impl FnOnce(&serde_json::Map<String, serde_json::Value>, &mut Vec<ConfigIssue>) -> Option<T>,
) -> Result<T, Vec<ConfigIssue>> {
    let empty = serde_json::Map::new();
    let mut issues = Vec::new();
    match check(tree.as_object().unwrap_or(&empty), &mut issues) {
        Some(value) if issues.is_empty() => Ok(value),
        _ => Err(issues),
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{}", report(.path, .issues))]
    Invalid {
        path: PathBuf,
        issues: Vec<ConfigIssue>,
    },
}

/// Reads `path` with the `{prefix}_*` overrides of `env` and runs `check` over the tree; the
/// result is an error listing every issue `check` found.
pub fn load<T>(
    path: &Path,
    prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
    check: impl FnOnce(&serde_json::Map<String, serde_json::Value>, &mut Vec<ConfigIssue>) -> Option<T>,
) -> Result<T, ConfigError> {
    let tree = read_tree(path, prefix, env).map_err(|reason| ConfigError::Read {
        path: path.to_path_buf(),
        reason,
    })?;
    check_tree(&tree, check).map_err(|issues| ConfigError::Invalid {
        path: path.to_path_buf(),
        issues,
    })
}

/// Formats issues as the report both binaries print.
pub fn report(path: &Path, issues: &[ConfigIssue]) -> String {
    let mut out = format!(
        "config {} has {} problem{}:",
        path.display(),
        issues.len(),
        if issues.len() == 1 { "" } else { "s" }
    );
    for issue in issues {
        out.push_str(&format!("\n  {}: {}", issue.key, issue.message));
    }
    out
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}
