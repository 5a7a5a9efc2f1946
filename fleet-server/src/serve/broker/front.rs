//! The embedded broker's listeners: plain TCP and, when configured, TLS. Both hand each
//! connection to the MQTT-aware relay (`session.rs`); nothing reaches the inner broker but
//! through it.
//!
//! TLS is terminated here with rustls (the clients' stack) rather than by rumqttd, whose TLS
//! pulls a second rustls generation and ties client certificates to its tenant-prefix scheme.
//! With `tls_client_ca_file`, a device without a certificate from that CA never reaches the
//! relay, and the certificate's common name must be the client id it connects as.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::gate::{Gate, Refused};
use super::session;

/// A TLS handshake that takes longer than this is dropped (slowloris).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Open connections at most per listener; more wait in the kernel's accept queue.
const MAX_CONNECTIONS: usize = 20_000;

/// Accepts connections on `listener` (TLS when `tls` is set) and relays them until
/// `shutdown`.
pub async fn run(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    gate: Arc<Gate>,
    shutdown: CancellationToken,
) {
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
                    tracing::warn!(error = %e, "broker listener: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let (tls, gate, shutdown) = (tls.clone(), gate.clone(), shutdown.clone());
        connections.spawn(async move {
            tokio::select! {
                result = serve(stream, tls, gate.clone()) => {
                    // A connection that ends (the client went away, or the broker) is not
                    // a refusal; everything else is counted by reason.
                    match result {
                        Err(Refused::Io(e)) => tracing::debug!(%peer, error = %e, "broker connection ended"),
                        Err(refused) => {
                            tracing::info!(%peer, reason = refused.reason(), error = %refused, "broker connection refused or closed");
                            gate.stats.refuse(refused.reason());
                        }
                        Ok(()) => {}
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

async fn serve(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    gate: Arc<Gate>,
) -> Result<(), Refused> {
    let _ = stream.set_nodelay(true);
    let Some(acceptor) = tls else {
        return session::relay(stream, None, gate).await;
    };
    let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
        .await
        .map_err(|_| Refused::Malformed("TLS handshake timed out".into()))?
        .map_err(|e| Refused::Malformed(format!("TLS handshake: {e}")))?;
    let cn = match tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
        Some(cert) => Some(common_name(cert.as_ref())?),
        None => None,
    };
    session::relay(tls, cn, gate).await
}

/// The subject common name of a DER certificate (rustls has verified it against the CA).
fn common_name(der: &[u8]) -> Result<String, Refused> {
    use x509_cert::der::asn1::{PrintableStringRef, Utf8StringRef};
    use x509_cert::der::{Decode, Tag, Tagged};
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| Refused::Malformed(format!("client certificate: {e}")))?;
    let cn = x509_cert::der::oid::db::rfc4519::CN;
    cert.tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == cn)
        .find_map(|atv| match atv.value.tag() {
            Tag::Utf8String => Utf8StringRef::try_from(&atv.value)
                .ok()
                .map(|s| s.as_str().to_string()),
            Tag::PrintableString => PrintableStringRef::try_from(&atv.value)
                .ok()
                .map(|s| s.as_str().to_string()),
            _ => None,
        })
        .ok_or_else(|| Refused::Malformed("the client certificate has no common name".into()))
}
