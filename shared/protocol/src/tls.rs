//! TLS for the MQTT links (edged → broker, fleet → broker, devices → the fleet's embedded
//! broker), with rustls and its ring provider.
//!
//! Both binaries read the same keys from their config (`transport`, `ca_file`, `cert_file`,
//! `key_file`) through [`transport`], which loads the PEM files while the config is checked: a
//! missing file, a CA bundle without certificates or a key that does not fit its certificate is
//! reported with every other config problem, not at the first connection. The provider is
//! passed explicitly, so nothing depends on a process-wide default being installed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use edge_config::{ConfigIssue, Fields};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
    #[error("client CA: {0}")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
}

/// How a client reaches its broker.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Plain TCP: only when the config says `transport = "tcp"`.
    Tcp,
    /// TLS, the server verified against the configured CA.
    Tls(Arc<ClientConfig>),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn file_error(path: &Path, message: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Every certificate in a PEM file; an empty file is an error.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, e))?;
    if certs.is_empty() {
        return Err(file_error(path, "no PEM certificate in the file"));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_error(path, e))
}

fn roots(ca_file: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(ca_file)? {
        roots.add(cert).map_err(|e| file_error(ca_file, e))?;
    }
    Ok(roots)
}

/// A client configuration that trusts only `ca_file` and, with `identity` (certificate chain,
/// key), presents a client certificate.
pub fn client_config(
    ca_file: &Path,
    identity: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(ca_file)?);
    let config = match identity {
        Some((cert, key)) => builder.with_client_auth_cert(read_certs(cert)?, read_key(key)?)?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A server configuration presenting `cert`/`key`; with `client_ca`, every client must present
/// a certificate issued by it.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let builder =
        ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        Some(ca) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider())
                .build()?,
        ),
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(
        builder.with_single_cert(read_certs(cert)?, read_key(key)?)?,
    ))
}

/// Reads `transport` ("tcp" or "tls", required), `ca_file` (required for TLS) and the optional
/// client certificate pair `cert_file` + `key_file` from a config table, loading the files.
pub fn transport(f: &mut Fields<'_>, issues: &mut Vec<ConfigIssue>) -> Option<Transport> {
    let transport = f.string("transport", issues);
    let ca = f.string("ca_file", issues);
    let cert = f.string("cert_file", issues);
    let key = f.string("key_file", issues);
    let issue = |name: &str, message: String| ConfigIssue {
        key: f.key(name),
        message,
    };
    match transport.as_deref() {
        Some("tcp") => {
            for (name, value) in [("ca_file", &ca), ("cert_file", &cert), ("key_file", &key)] {
                if value.is_some() {
                    issues.push(issue(name, "only used with transport = \"tls\"".into()));
                }
            }
            Some(Transport::Tcp)
        }
        Some("tls") => {
            let Some(ca) = ca else {
                issues.push(issue(
                    "ca_file",
                    "required with transport = \"tls\": the PEM file of the CA that issued the \
                     broker's certificate"
                        .into(),
                ));
                return None;
            };
            let identity = match (&cert, &key) {
                (Some(c), Some(k)) => Some((Path::new(c), Path::new(k))),
                (None, None) => None,
                (Some(_), None) | (None, Some(_)) => {
                    let missing = if cert.is_none() {
                        "cert_file"
                    } else {
                        "key_file"
                    };
                    issues.push(issue(
                        missing,
                        "cert_file and key_file go together (the client certificate and its key)"
                            .into(),
                    ));
                    return None;
                }
            };
            match client_config(Path::new(&ca), identity) {
                Ok(config) => Some(Transport::Tls(config)),
                Err(e) => {
                    let name = match &e {
                        TlsError::File { path, .. } if path == Path::new(&ca) => "ca_file",
                        TlsError::File { path, .. } if cert.as_deref() == path.to_str() => {
                            "cert_file"
                        }
                        _ if identity.is_some() => "key_file",
                        _ => "ca_file",
                    };
                    issues.push(issue(name, e.to_string()));
                    None
                }
            }
        }
        _ => {
            issues.push(issue(
                "transport",
                "required: \"tls\" (with ca_file), or \"tcp\" to send in plain text on a \
                 trusted network"
                    .into(),
            ));
            None
        }
    }
}
