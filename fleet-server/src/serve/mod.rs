//! `fleet serve`: the embedded MQTT broker (rumqttd behind the front that authenticates
//! boxes and enforces their topics, unless an external broker is configured), the ingest
//! client, and the admin API, until SIGTERM.

pub mod admin;
mod broker;
pub mod config;
pub mod enrolment;
pub mod history;
pub mod ingest;
pub mod registry;
pub mod rollouts;
mod sequences;
pub mod updates;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use config::{BrokerConfig, ServeConfig, ServeConfigError, Transport};
use ingest::Ingest;
use registry::Registry;

/// Why the fleet server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot use the state directory {path}: {source}")]
    StateDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Registry(#[from] registry::RegistryError),
    #[error("cannot start the embedded broker on {addr}: {reason}")]
    Broker { addr: SocketAddr, reason: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Runs the fleet server until `shutdown`.
pub async fn run(config: ServeConfig, shutdown: CancellationToken) -> Result<(), ServeError> {
    let state_err = |source| ServeError::StateDir {
        path: config.state_dir.clone(),
        source,
    };
    std::fs::create_dir_all(&config.state_dir).map_err(state_err)?;
    let key = edge_protocol::identity::load_or_create(&config.key_file()).map_err(state_err)?;
    let public_key = hex_key(&key);
    std::fs::write(config.state_dir.join("fleet.pub"), &public_key).map_err(state_err)?;
    let registry = Registry::open(&config.devices_db())?;
    let tracker = tokio_util::task::TaskTracker::new();
    let broker_stats = Arc::new(broker::FrontStats::default());
    // The ingest's broker: the inner one with its secret, or the external one.
    let (mut host, mut port, mut transport) = config.broker.client_addr();
    let mut login = None;
    let mut mqtt = format!("{host}:{port}");
    let mut mqtts = String::new();
    if let BrokerConfig::Embedded { listen, tls } = &config.broker {
        let started = broker::start(
            *listen,
            tls.as_ref(),
            broker::FrontSettings {
                registry: registry.clone(),
                stats: broker_stats.clone(),
                max_message: config.max_message_bytes,
            },
            &tracker,
            &shutdown,
        )
        .await?;
        mqtt = started.mqtt.to_string();
        if let Some(addr) = started.mqtts {
            mqtts = format!(" mqtts={addr}");
        }
        let inner = started.inner;
        (host, port, transport) = (
            inner.addr.ip().to_string(),
            inner.addr.port(),
            Transport::Tcp,
        );
        login = Some((broker::INGEST_CLIENT.to_string(), inner.secret));
    }
    let updates = updates::Updates::new(&config.state_dir);
    let ingest = Arc::new(Ingest::new(
        registry,
        updates,
        key,
        config.max_message_bytes,
        config.enrolment,
    ));
    let listener = bind(config.admin_listen, |source| ServeError::Listen {
        addr: config.admin_listen,
        source,
    })
    .await?;
    let admin_addr = local(&listener, config.admin_listen)?;
    let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
    tracker.spawn(ingest::run(
        ingest.clone(),
        ingest::BrokerLogin {
            host,
            port,
            transport,
            login,
        },
        shutdown.clone(),
        subscribed_tx,
    ));
    tracker.spawn(rollouts::run(ingest.clone(), shutdown.clone()));
    // The admin API under the same bounds as a box's: capped connections, headers and
    // bodies within `[admin] read_timeout`, bodies of at most `max_request_bytes`.
    let bodies = (
        config.admin_max_request_bytes,
        config.admin_limits.read_timeout,
    );
    let router = admin::router(ingest.clone(), broker_stats, &config.admin_token, bodies);
    tracker.spawn(edge_http::run(
        listener,
        router,
        config.admin_limits,
        shutdown.clone(),
    ));
    tracker.close();
    // Ready means uplinks are being received: wait for the ingest's subscription.
    tokio::select! {
        _ = subscribed => {}
        () = shutdown.cancelled() => {
            tracker.wait().await;
            return Ok(());
        }
    }
    println!("fleet ready mqtt={mqtt}{mqtts} admin={admin_addr} public_key={public_key}");
    tracing::info!(%mqtt, admin = %admin_addr, "fleet serving");
    shutdown.cancelled().await;
    tracker.wait().await;
    ingest.registry.flush()?;
    Ok(())
}

fn hex_key(key: &ed25519_dalek::SigningKey) -> String {
    hex::encode(key.verifying_key().as_bytes())
}

pub(crate) async fn bind(
    addr: SocketAddr,
    err: impl FnOnce(std::io::Error) -> ServeError,
) -> Result<tokio::net::TcpListener, ServeError> {
    tokio::net::TcpListener::bind(addr).await.map_err(err)
}

/// The address a listener got (its port, when `asked` was port 0).
pub(crate) fn local(
    listener: &tokio::net::TcpListener,
    asked: SocketAddr,
) -> Result<SocketAddr, ServeError> {
    listener.local_addr().map_err(|source| ServeError::Listen {
        addr: asked,
        source,
    })
}
