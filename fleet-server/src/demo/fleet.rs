//! Step 2 of the demo: `fleet serve` with its embedded broker, and the release published to
//! it.

use std::path::Path;

use super::procs::{Proc, start};
use super::release::Release;
use super::{DemoError, setup_err, write};
use crate::admin_client::AdminClient;

/// The running fleet server.
#[derive(Debug)]
pub(super) struct Fleet {
    /// The broker the boxes connect to (host:port).
    pub mqtt: String,
    /// The fleet's public key (hex) the boxes pin.
    pub public_key: String,
    pub admin: AdminClient,
}

/// Starts `fleet serve` in `DIR/fleet` (its process joins `procs`, to be stopped at the end)
/// and publishes `release` to it.
pub(super) async fn start_fleet(
    program: &Path,
    dir: &Path,
    release: &Release,
    procs: &mut Vec<Proc>,
) -> Result<Fleet, DemoError> {
    let token = hex::encode(rand_bytes());
    let fleet_state = dir.join("fleet");
    let config = dir.join("fleet.toml");
    write(
        &config,
        &format!(
            "state_dir = \"{}\"\n[broker]\nlisten = \"127.0.0.1:{}\"\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{token}\"\n",
            fleet_state.display(),
            free_port()?
        ),
    )?;
    let config_arg = config.display().to_string();
    let proc = start(
        "fleet",
        program,
        &["serve", "--config", &config_arg],
        &dir.join("fleet.log"),
        "fleet ready",
    )
    .await?;
    let admin = proc.addr("admin")?;
    let fleet = Fleet {
        mqtt: proc.field("mqtt").unwrap_or_default(),
        public_key: proc.field("public_key").unwrap_or_default(),
        admin: AdminClient::new(admin, &token),
    };
    procs.push(proc);
    println!("fleet serve: MQTT {}, admin API {admin}", fleet.mqtt);
    let published = crate::release::store::publish(&fleet_state, &release.dir, &release.roots)?;
    println!(
        "published wine {} (manifest {}…)",
        published.manifest.version,
        &published.digest[..12]
    );
    Ok(fleet)
}

/// A port for the embedded broker (its listener cannot be handed over or report its port).
fn free_port() -> Result<u16, DemoError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(setup_err)
}

fn rand_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    bytes
}
