//! `fleet keys ...` and `fleet model sign|publish|list`: argument parsing and printing around
//! [`crate::release`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;

use crate::cli::{EXIT_FAILURE, EXIT_USAGE};
use crate::release::keys::{self, RootChange};
use crate::release::sign::{SignOptions, sign_model};
use crate::release::store;

fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("'{text}': {e} (say 90d, 12h ...)"))
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create the offline root key, release keys and the first root document in DIR.
    Init {
        #[arg(long)]
        out: PathBuf,
        /// How many release keys to make.
        #[arg(long, default_value_t = 2)]
        release_keys: u32,
        /// Signatures from distinct release keys a manifest needs.
        #[arg(long, default_value_t = 1)]
        threshold: u32,
        /// Lifetime of the root document (renew before with `fleet keys renew`).
        #[arg(long, default_value = "365d", value_parser = duration)]
        root_expires: Duration,
        /// Lifetime of each release key.
        #[arg(long, default_value = "180d", value_parser = duration)]
        release_expires: Duration,
    },
    /// Revoke a release key: writes the next root document without it.
    Revoke {
        key_id: String,
        #[arg(long)]
        keys: PathBuf,
        #[arg(long, default_value = "365d", value_parser = duration)]
        expires: Duration,
    },
    /// Add a release key: writes the next root document with it.
    AddRelease {
        #[arg(long)]
        keys: PathBuf,
        #[arg(long, default_value = "180d", value_parser = duration)]
        valid: Duration,
        #[arg(long, default_value = "365d", value_parser = duration)]
        expires: Duration,
    },
    /// Replace the root key: the next root document is signed by the old and the new one.
    RotateRoot {
        #[arg(long)]
        keys: PathBuf,
        #[arg(long, default_value = "365d", value_parser = duration)]
        expires: Duration,
    },
    /// Extend the root document's expiry (the next version, same keys).
    Renew {
        #[arg(long)]
        keys: PathBuf,
        #[arg(long, default_value = "365d", value_parser = duration)]
        expires: Duration,
    },
}

/// `fleet model sign DIR`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The model directory (model.json, weights.safetensors, checks.json).
    dir: PathBuf,
    /// A release key file; repeat to add signatures for a threshold above 1.
    #[arg(long = "key", required = true)]
    keys: Vec<PathBuf>,
    /// Hardware classes it may run on (`any`, or e.g. aarch64, x86_64, jetson-orin).
    #[arg(long, default_value = "any", value_delimiter = ',')]
    hardware: Vec<String>,
    /// Oldest edged that may run it.
    #[arg(long, default_value = env!("CARGO_PKG_VERSION"))]
    min_daemon: String,
    /// How long devices accept the manifest.
    #[arg(long, default_value = "90d", value_parser = duration)]
    expires: Duration,
}

/// `fleet model publish DIR`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// A signed model directory.
    dir: PathBuf,
    /// The fleet's config (its state_dir holds the published bundles).
    #[arg(long)]
    config: PathBuf,
    /// The root documents to verify against (KEYS/roots of `fleet keys init`).
    #[arg(long)]
    roots: PathBuf,
}

/// `fleet model list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[arg(long)]
    config: PathBuf,
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(EXIT_FAILURE)
}

pub fn keys(command: KeysCommand) -> ExitCode {
    let (dir, change, expires) = match command {
        KeysCommand::Init {
            out,
            release_keys,
            threshold,
            root_expires,
            release_expires,
        } => {
            return match keys::init(&out, release_keys, threshold, root_expires, release_expires) {
                Ok(made) => {
                    println!("root_public_key {}", made.root_public);
                    for id in made.release_ids {
                        println!("release_key {id}");
                    }
                    println!("root_document {}", made.root_file.display());
                    println!(
                        "Keep {} offline. Pin root_public_key on every box; sign with the release keys.",
                        out.join("root.key").display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            };
        }
        KeysCommand::Revoke {
            key_id,
            keys,
            expires,
        } => (keys, RootChange::Revoke(key_id), expires),
        KeysCommand::AddRelease {
            keys,
            valid,
            expires,
        } => (keys, RootChange::AddRelease(valid), expires),
        KeysCommand::RotateRoot { keys, expires } => (keys, RootChange::RotateRoot, expires),
        KeysCommand::Renew { keys, expires } => (keys, RootChange::Renew, expires),
    };
    match keys::next_root(&dir, change, expires) {
        Ok(path) => {
            println!("root_document {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

pub fn sign(args: SignArgs) -> ExitCode {
    let options = SignOptions {
        keys: args.keys,
        hardware: args.hardware,
        min_daemon: args.min_daemon,
        expires: args.expires,
    };
    match sign_model(&args.dir, &options) {
        Ok(m) => {
            println!(
                "signed {} {}: {} files, {} bytes, hardware {}, by {} key(s)",
                m.model,
                m.version,
                m.files.len(),
                m.total_length(),
                m.hardware.join(","),
                options.keys.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn state_dir(config: &Path) -> Result<PathBuf, ExitCode> {
    match crate::serve::ServeConfig::load(config) {
        Ok(c) => Ok(c.state_dir),
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(EXIT_USAGE))
        }
    }
}

pub fn publish(args: PublishArgs) -> ExitCode {
    let state = match state_dir(&args.config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match store::publish(&state, &args.dir, &args.roots) {
        Ok(p) => {
            println!(
                "published {} {} (manifest sha256 {})",
                p.manifest.model, p.manifest.version, p.digest
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

pub fn list(args: ListArgs) -> ExitCode {
    let state = match state_dir(&args.config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match store::list(&state) {
        Ok(all) => {
            println!(
                "{:<16} {:>8} {:>6} {:>12} {:<16} {:<10} {:<19} SIGNERS",
                "MODEL", "VERSION", "FILES", "BYTES", "HARDWARE", "MIN EDGED", "EXPIRES (UTC)"
            );
            for p in all {
                let m = &p.manifest;
                let expires = std::time::UNIX_EPOCH + Duration::from_millis(m.expires_ms);
                let expires = humantime::format_rfc3339_seconds(expires).to_string();
                println!(
                    "{:<16} {:>8} {:>6} {:>12} {:<16} {:<10} {:<19} {}",
                    m.model,
                    m.version,
                    m.files.len(),
                    m.total_length(),
                    m.hardware.join(","),
                    m.min_daemon,
                    expires.trim_end_matches('Z').replace('T', " "),
                    p.signers.join(",")
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
