//! The embedded MQTT broker, made to enforce what the shipped Mosquitto config enforces
//! (design decision 10): every client authenticates, uses only the client id it
//! authenticated as, and publishes and subscribes only on its own topics.
//!
//! rumqttd 0.20 has an authentication hook but no topic ACLs, so it runs on loopback on a
//! port of its own (the inner broker), admitting only clients that present a secret made at
//! start and held in memory; the fleet's own ingest client connects there directly. Boxes
//! connect to the front (`front.rs`: plain TCP on `[broker] listen`, TLS on `tls_listen`),
//! which authenticates each CONNECT (`gate.rs`), then relays the connection to the inner
//! broker, checking every PUBLISH and SUBSCRIBE against the topic rules (`acl.rs`,
//! `session.rs`). The envelope signatures still decide what the fleet accepts; the front is
//! what stops a box from taking over another's session or reading another's traffic.

mod acl;
mod front;
mod gate;
mod session;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use subtle::ConstantTimeEq;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use gate::FrontStats;
use gate::Gate;

use super::config::TlsListener;
use super::registry::Registry;
use super::{ServeError, bind, local};

/// The client id of the fleet's own connection to the inner broker.
pub const INGEST_CLIENT: &str = "fleet-ingest";

/// The running inner broker: where it listens and the secret it admits.
#[derive(Debug, Clone)]
pub struct Inner {
    pub addr: SocketAddr,
    pub secret: String,
}

/// Starts rumqttd on its own threads, on a free loopback port, admitting only `secret`. It
/// has no stop call: it ends with the process.
fn start_inner(max_payload: usize) -> Result<Inner, String> {
    let mut secret = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut secret);
    let secret = hex::encode(secret);
    // rumqttd binds by itself and cannot be handed a listener: the free port it is given may
    // be taken by another process before it binds. So it must answer as ours (a CONNACK for
    // the secret) before it is used; otherwise another port is tried.
    let mut last = String::new();
    for _ in 0..5 {
        let addr = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free loopback port: {e}"))?;
        spawn_inner(addr, max_payload, &secret)?;
        match answers_as_ours(addr, &secret) {
            Ok(()) => return Ok(Inner { addr, secret }),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn spawn_inner(addr: SocketAddr, max_payload: usize, secret: &str) -> Result<(), String> {
    let mut connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 60_000,
        // Twice the fleet's own limit: an oversized message reaches the ingest, which refuses
        // and counts it, instead of silently costing the sender its connection.
        max_payload_size: max_payload * 2,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let expected = secret.to_string();
    connections.set_auth_handler(move |_client_id, _user, password: String| {
        let ok: bool = password.as_bytes().ct_eq(expected.as_bytes()).into();
        async move { ok }
    });
    let server = rumqttd::ServerSettings {
        name: "v4-fleet".into(),
        listen: addr,
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
    let mut broker = rumqttd::Broker::new(config);
    std::thread::Builder::new()
        .name("rumqttd".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded broker stopped");
            }
        })
        .map_err(|e| e.to_string())
        .map(drop)
}

/// Whether the inner broker at `addr` is the one we started: within 5 s it accepts a
/// CONNECT with the secret (another fleet's front, or anything else that took the port,
/// does not).
fn answers_as_ours(addr: SocketAddr, secret: &str) -> Result<(), String> {
    let started = std::time::Instant::now();
    loop {
        match connack_code(addr, secret) {
            Ok(0) => return Ok(()),
            Ok(code) => return Err(format!("{addr} refused the secret (CONNACK {code})")),
            Err(_) if started.elapsed() < std::time::Duration::from_secs(5) => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => return Err(format!("{addr} did not answer as the embedded broker: {e}")),
        }
    }
}

/// The return code of the CONNACK that `addr` answers a CONNECT with `password` with.
fn connack_code(addr: SocketAddr, password: &str) -> std::io::Result<u8> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    let mut connect = rumqttc::Connect::new("fleet-probe");
    connect.set_login("fleet-probe", password);
    let mut out = bytes::BytesMut::new();
    connect.write(&mut out).map_err(std::io::Error::other)?;
    stream.write_all(&out)?;
    // CONNACK: type 0x20, remaining length 2, session flag, return code.
    let mut connack = [0u8; 4];
    stream.read_exact(&mut connack)?;
    if connack[0] != 0x20 {
        return Err(std::io::Error::other("not a CONNACK"));
    }
    Ok(connack[3])
}

/// What the front needs besides its listeners.
#[derive(Debug)]
pub struct FrontSettings {
    pub registry: Registry,
    pub stats: Arc<FrontStats>,
    /// The fleet's message limit (`max_message_bytes`); packets up to twice it are relayed.
    pub max_message: usize,
}

/// The running embedded broker: the inner one, and the front's addresses.
#[derive(Debug)]
pub struct Started {
    pub inner: Inner,
    pub mqtt: SocketAddr,
    pub mqtts: Option<SocketAddr>,
}

/// Starts the inner broker, binds the front's listeners (`listen`, and `tls` when set) and
/// runs the front on `tracker` until `shutdown`.
pub async fn start(
    listen: SocketAddr,
    tls: Option<&TlsListener>,
    settings: FrontSettings,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<Started, ServeError> {
    let inner = start_inner(settings.max_message).map_err(|reason| ServeError::Broker {
        addr: listen,
        reason,
    })?;
    let plain = bind(listen, |source| ServeError::Broker {
        addr: listen,
        reason: source.to_string(),
    })
    .await?;
    let mqtt = local(&plain, listen)?;
    let mut listeners = vec![(plain, None)];
    let mut mqtts = None;
    if let Some(tls) = tls {
        let listener = bind(tls.listen, |source| ServeError::Listen {
            addr: tls.listen,
            source,
        })
        .await?;
        mqtts = Some(local(&listener, tls.listen)?);
        listeners.push((listener, Some(TlsAcceptor::from(tls.config.clone()))));
    }
    let gate = Arc::new(Gate {
        registry: settings.registry,
        stats: settings.stats,
        inner: inner.addr,
        secret: inner.secret.clone(),
        max_packet: settings.max_message * 2 + 1024,
    });
    for (listener, tls) in listeners {
        tracker.spawn(front::run(listener, tls, gate.clone(), shutdown.clone()));
    }
    Ok(Started { inner, mqtt, mqtts })
}
