//! `edged enroll --config FILE`: creates the device key if the box has none and prints what
//! the operator needs to approve it (device id, public key, where the key lives).

use std::path::Path;
use std::process::ExitCode;

use super::{EXIT_FAILURE, Outcome, fail, load_config};

pub fn enroll(path: &Path) -> Outcome {
    let config = load_config(path)?;
    let key_file = config.device_key_file();
    let created = !key_file.exists();
    std::fs::create_dir_all(&config.state_dir)
        .map_err(|e| fail(EXIT_FAILURE)(&format!("{}: {e}", config.state_dir.display())))?;
    let key = edge_protocol::identity::load_or_create(&key_file)
        .map_err(|e| fail(EXIT_FAILURE)(&format!("{}: {e}", key_file.display())))?;
    let public = key.verifying_key();
    println!("device_id {}", edge_protocol::identity::device_id(&public));
    println!("public_key {}", hex::encode(public.as_bytes()));
    println!(
        "key_file {} ({})",
        key_file.display(),
        if created { "created" } else { "existing" }
    );
    Ok(ExitCode::SUCCESS)
}
