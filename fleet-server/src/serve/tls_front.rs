//! The embedded broker's TLS listener.
//!
//! rumqttd's own TLS pulls a second rustls generation and ties client certificates to its
//! tenant-prefix scheme, so the fleet terminates TLS itself (rustls, the same stack as the
//! clients) and relays each authenticated connection to rumqttd's plain listener on loopback.
//! With `tls_client_ca_file` a device without a certificate from that CA never reaches the
//! broker. Per-device topic authorisation stays where it is with every broker: the ingest
//! refuses any message whose signature is not the topic's device's (`wrong_device`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::config::TlsListener;

/// A TLS handshake that takes longer than this is dropped (slowloris).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Open TLS connections at most; more wait in the kernel's accept queue.
const MAX_CONNECTIONS: usize = 20_000;

/// Accepts TLS connections on `listener` and relays them to `broker` until `shutdown`.
pub async fn run(
    listener: TcpListener,
    config: TlsListener,
    broker: SocketAddr,
    shutdown: CancellationToken,
) {
    let acceptor = TlsAcceptor::from(config.config);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let connections = TaskTracker::new();
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "TLS listener: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let (acceptor, shutdown) = (acceptor.clone(), shutdown.clone());
        connections.spawn(async move {
            tokio::select! {
                result = relay(stream, &acceptor, broker) => {
                    if let Err(reason) = result {
                        tracing::info!(%peer, %reason, "TLS connection refused or ended");
                    }
                }
                () = shutdown.cancelled() => {}
            }
            drop(slot);
        });
    }
    connections.close();
    connections.wait().await;
}

async fn relay(
    stream: TcpStream,
    acceptor: &TlsAcceptor,
    broker: SocketAddr,
) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    let mut tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
        .await
        .map_err(|_| "TLS handshake timed out".to_string())?
        .map_err(|e| format!("TLS handshake: {e}"))?;
    let mut upstream = TcpStream::connect(broker)
        .await
        .map_err(|e| format!("embedded broker at {broker}: {e}"))?;
    let _ = upstream.set_nodelay(true);
    tokio::io::copy_bidirectional(&mut tls, &mut upstream)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
