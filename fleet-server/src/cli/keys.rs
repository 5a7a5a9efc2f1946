//! `fleet keys init|revoke|add-release|rotate-root|renew`: the organisation's root and
//! release keys, around [`crate::release::keys`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;

use super::context::lifetime as duration;
use super::{context, exit};
use crate::release::keys::{self, RootChange};

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

pub fn run(command: KeysCommand) -> ExitCode {
    context::code(execute(command))
}

fn execute(command: KeysCommand) -> Result<ExitCode, ExitCode> {
    let (dir, change, expires) = match command {
        KeysCommand::Init {
            out,
            release_keys,
            threshold,
            root_expires,
            release_expires,
        } => {
            let made = keys::init(&out, release_keys, threshold, root_expires, release_expires)
                .map_err(exit::failure)?;
            println!("root_public_key {}", made.root_public);
            for id in made.release_ids {
                println!("release_key {id}");
            }
            println!("root_document {}", made.root_file.display());
            println!(
                "Keep {} offline. Pin root_public_key on every box; sign with the release keys.",
                out.join("root.key").display()
            );
            return Ok(ExitCode::SUCCESS);
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
    let path = keys::next_root(&dir, change, expires).map_err(exit::failure)?;
    println!("root_document {}", path.display());
    Ok(ExitCode::SUCCESS)
}
