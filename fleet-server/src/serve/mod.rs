//! `fleet serve`: the embedded MQTT broker (rumqttd, unless an external broker is
//! configured), the ingest client, and the admin API, until SIGTERM.

pub mod admin;
pub mod config;
pub mod history;
pub mod ingest;
pub mod registry;
pub mod rollouts;
mod tls_front;
pub mod updates;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use config::{BrokerConfig, ServeConfig, ServeConfigError};
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
    let mut tls_listener = None;
    if let BrokerConfig::Embedded { listen, tls } = &config.broker {
        start_embedded_broker(*listen, config.max_message_bytes)?;
        if let Some(tls) = tls {
            let listener = tokio::net::TcpListener::bind(tls.listen)
                .await
                .map_err(|source| ServeError::Listen {
                    addr: tls.listen,
                    source,
                })?;
            tls_listener = Some((listener, tls.clone(), *listen));
        }
    }
    let updates = updates::Updates::new(&config.state_dir);
    let ingest = Arc::new(Ingest::new(
        registry,
        updates,
        key,
        config.max_message_bytes,
    ));
    let listener = tokio::net::TcpListener::bind(config.admin_listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: config.admin_listen,
            source,
        })?;
    let admin_addr = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: config.admin_listen,
        source,
    })?;
    let (host, port, transport) = config.broker.client_addr();
    let tracker = tokio_util::task::TaskTracker::new();
    let mut mqtts = String::new();
    if let Some((listener, tls, broker)) = tls_listener {
        if let Ok(addr) = listener.local_addr() {
            mqtts = format!(" mqtts={addr}");
        }
        tracker.spawn(tls_front::run(listener, tls, broker, shutdown.clone()));
    }
    let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
    tracker.spawn(ingest::run(
        ingest.clone(),
        host.clone(),
        port,
        transport,
        shutdown.clone(),
        subscribed_tx,
    ));
    tracker.spawn(rollouts::run(ingest.clone(), shutdown.clone()));
    let router = admin::router(ingest.clone(), &config.admin_token);
    let admin_shutdown = shutdown.clone();
    tracker.spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(admin_shutdown.cancelled_owned())
            .await;
    });
    tracker.close();
    // Ready means uplinks are being received: wait for the ingest's subscription.
    tokio::select! {
        _ = subscribed => {}
        () = shutdown.cancelled() => {
            tracker.wait().await;
            return Ok(());
        }
    }
    println!("fleet ready mqtt={host}:{port}{mqtts} admin={admin_addr} public_key={public_key}");
    tracing::info!(mqtt = %format!("{host}:{port}"), admin = %admin_addr, "fleet serving");
    shutdown.cancelled().await;
    tracker.wait().await;
    ingest.registry.flush()?;
    Ok(())
}

fn hex_key(key: &ed25519_dalek::SigningKey) -> String {
    hex::encode(key.verifying_key().as_bytes())
}

/// Starts rumqttd on its own threads. It has no stop call: it ends with the process.
fn start_embedded_broker(listen: SocketAddr, max_payload: usize) -> Result<(), ServeError> {
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 60_000,
        // Twice the fleet's own limit: an oversized message reaches the ingest, which refuses
        // and counts it, instead of silently costing the sender its connection.
        max_payload_size: max_payload * 2,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "v4-fleet".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    let config = rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: 20_000,
            max_outgoing_packet_count: 1000,
            max_segment_size: 100 << 20,
            max_segment_count: 10,
            ..Default::default()
        },
        v4: Some(HashMap::from([("1".to_string(), server)])),
        ..Default::default()
    };
    // Bind once first so a taken port is a clear startup error, not a log line in a thread.
    std::net::TcpListener::bind(listen).map_err(|e| ServeError::Broker {
        addr: listen,
        reason: e.to_string(),
    })?;
    let mut broker = rumqttd::Broker::new(config);
    std::thread::Builder::new()
        .name("rumqttd".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded broker stopped");
            }
        })
        .map_err(|e| ServeError::Broker {
            addr: listen,
            reason: e.to_string(),
        })?;
    wait_listening(listen)
}

fn wait_listening(addr: SocketAddr) -> Result<(), ServeError> {
    for _ in 0..500 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(ServeError::Broker {
        addr,
        reason: "it did not start listening within 5 s".into(),
    })
}
