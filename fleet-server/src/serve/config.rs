//! `fleet serve` configuration: TOML + `FLEET_*` overrides, checked key by key (all problems
//! reported at once, exit 64), the same way as `edged`'s.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use edge_config::{ConfigIssue, Fields};
pub use edge_protocol::tls::Transport;
use serde_json::{Map, Value};

/// The checked configuration of `fleet serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Devices, records and the fleet key live here.
    pub state_dir: PathBuf,
    pub broker: BrokerConfig,
    /// Admin API address.
    pub admin_listen: SocketAddr,
    /// Bearer token of the admin API.
    pub admin_token: String,
    /// The admin API's connection cap and header and body deadline (`[admin]
    /// max_connections`, `read_timeout`).
    pub admin_limits: edge_http::Limits,
    /// Largest admin request body (`[admin] max_request_bytes`).
    pub admin_max_request_bytes: usize,
    /// Largest MQTT message accepted.
    pub max_message_bytes: usize,
    /// Self-enrolment limits (`[limits]`): see `enrolment.rs`.
    pub enrolment: super::enrolment::EnrolmentLimits,
}

/// Which broker the fleet talks through.
#[derive(Debug, Clone)]
pub enum BrokerConfig {
    /// rumqttd inside this process, listening in plain TCP on `listen` (where the fleet's own
    /// client connects) and, with `tls`, behind a TLS listener for devices.
    Embedded {
        listen: SocketAddr,
        tls: Option<TlsListener>,
    },
    /// Any MQTT broker (Mosquitto, EMQX).
    External {
        host: String,
        port: u16,
        transport: Transport,
    },
}

/// The embedded broker's TLS listener.
#[derive(Debug, Clone)]
pub struct TlsListener {
    pub listen: SocketAddr,
    /// Server certificate and key, and the client CA when client certificates are required.
    pub config: Arc<tokio_rustls::rustls::ServerConfig>,
}

impl BrokerConfig {
    /// Where and how the fleet's own MQTT client connects.
    pub fn client_addr(&self) -> (String, u16, Transport) {
        match self {
            Self::Embedded { listen, .. } => {
                (listen.ip().to_string(), listen.port(), Transport::Tcp)
            }
            Self::External {
                host,
                port,
                transport,
            } => (host.clone(), *port, transport.clone()),
        }
    }
}

/// Why the configuration cannot be used.
pub type ServeConfigError = edge_config::ConfigError;

impl ServeConfig {
    pub fn load(path: &Path) -> Result<Self, ServeConfigError> {
        edge_config::load(path, "FLEET", std::env::vars(), check)
    }

    pub fn devices_db(&self) -> PathBuf {
        self.state_dir.join("registry")
    }

    pub fn key_file(&self) -> PathBuf {
        self.state_dir.join("fleet.key")
    }
}

fn check(root: &Map<String, Value>, issues: &mut Vec<ConfigIssue>) -> Option<ServeConfig> {
    let empty = Map::new();
    let mut f = Fields::new("", root);
    let state_dir = f.string("state_dir", issues).map(PathBuf::from);
    if !root.contains_key("state_dir") {
        issues.push(ConfigIssue {
            key: "state_dir".into(),
            message: "required: where devices, records and the fleet key are kept".into(),
        });
    }
    let broker = f.table("broker", issues).unwrap_or(&empty);
    let admin = f.table("admin", issues).unwrap_or(&empty);
    let limits = f.table("limits", issues).unwrap_or(&empty);
    f.finish(issues);

    let broker = {
        let mut f = Fields::new("broker", broker);
        let embedded = f.bool("embedded", true, issues);
        let listen = f.socket_addr("listen", SocketAddr::from(([127, 0, 0, 1], 1883)), issues);
        let external = f.host_port("external", issues);
        let external_set = f.string("external", &mut Vec::new()).is_some();
        let key = f.key("external");
        let (transport, tls) = if embedded {
            for name in ["transport", "ca_file", "cert_file", "key_file"] {
                if broker.contains_key(name) {
                    issues.push(ConfigIssue {
                        key: f.key(name),
                        message: "only used with an external broker (embedded = false); the \
                                  embedded broker's TLS listener is set with tls_listen"
                            .into(),
                    });
                }
            }
            (None, check_tls_listener(&mut f, issues))
        } else {
            (edge_protocol::tls::transport(&mut f, issues), None)
        };
        f.finish(issues);
        match (embedded, external, external_set) {
            (true, _, false) => Some(BrokerConfig::Embedded { listen, tls: tls? }),
            (true, _, true) => {
                issues.push(ConfigIssue {
                    key,
                    message: "set embedded = false to use an external broker".into(),
                });
                None
            }
            (false, Some((host, port)), _) => Some(BrokerConfig::External {
                host,
                port,
                transport: transport?,
            }),
            (false, None, true) => None,
            (false, None, false) => {
                issues.push(ConfigIssue {
                    key,
                    message: "required when embedded = false".into(),
                });
                None
            }
        }
    };
    let (admin_listen, admin_token, admin_limits, admin_max_request_bytes) = {
        let mut f = Fields::new("admin", admin);
        let listen = f.socket_addr("listen", SocketAddr::from(([127, 0, 0, 1], 8070)), issues);
        let token = f.string("token", issues).unwrap_or_default();
        if token.len() < 16 {
            issues.push(ConfigIssue {
                key: f.key("token"),
                message: "required: a secret of at least 16 characters for the admin API".into(),
            });
        }
        let limits = edge_http::Limits {
            max_connections: f.integer("max_connections", 256, (1, 100_000), issues) as usize,
            read_timeout: f.duration(
                "read_timeout",
                Duration::from_secs(10),
                (Duration::from_millis(100), Duration::from_secs(600)),
                issues,
            ),
        };
        // Up to axum's own body limit for the handlers' extractors (2 MiB).
        let max_request = f.bytes("max_request_bytes", 1 << 20, (1024, 2 << 20), issues);
        f.finish(issues);
        (listen, token, limits, max_request as usize)
    };
    let (max_message_bytes, enrolment) = {
        let mut f = Fields::new("limits", limits);
        let n = f.bytes("max_message_bytes", 4 << 20, (1024, 256 << 20), issues) as usize;
        let enrolment = super::enrolment::EnrolmentLimits {
            max_pending: f.integer("max_pending_devices", 1000, (1, 10_000_000), issues),
            per_second: f.number("enrolments_per_second", 20.0, (0.01, 1e6), issues),
            burst: f.number("enrolment_burst", 100.0, (1.0, 1e7), issues),
            max_hello_bytes: f.bytes("max_hello_bytes", 16 << 10, (1024, 1 << 20), issues) as usize,
        };
        f.finish(issues);
        (n, enrolment)
    };
    Some(ServeConfig {
        state_dir: state_dir?,
        broker: broker?,
        admin_listen,
        admin_token,
        admin_limits,
        admin_max_request_bytes,
        max_message_bytes,
        enrolment,
    })
}

/// `tls_listen` with `tls_cert_file` and `tls_key_file` (and `tls_client_ca_file` to require
/// client certificates). `Some(None)`: no TLS listener; `None`: a problem was reported.
fn check_tls_listener(
    f: &mut Fields<'_>,
    issues: &mut Vec<ConfigIssue>,
) -> Option<Option<TlsListener>> {
    let listen = f.string("tls_listen", &mut Vec::new()).is_some();
    let addr = f.socket_addr("tls_listen", SocketAddr::from(([0, 0, 0, 0], 8883)), issues);
    let cert = f.string("tls_cert_file", issues);
    let key = f.string("tls_key_file", issues);
    let client_ca = f.string("tls_client_ca_file", issues);
    let (Some(cert), Some(key)) = (&cert, &key) else {
        if listen || cert.is_some() || key.is_some() || client_ca.is_some() {
            issues.push(ConfigIssue {
                key: f.key(if cert.is_none() {
                    "tls_cert_file"
                } else {
                    "tls_key_file"
                }),
                message: "the TLS listener needs tls_cert_file and tls_key_file (PEM)".into(),
            });
            return None;
        }
        return Some(None);
    };
    match edge_protocol::tls::server_config(
        Path::new(cert),
        Path::new(key),
        client_ca.as_deref().map(Path::new),
    ) {
        Ok(config) => Some(Some(TlsListener {
            listen: addr,
            config,
        })),
        Err(e) => {
            issues.push(ConfigIssue {
                key: f.key("tls_listen"),
                message: e.to_string(),
            });
            None
        }
    }
}
