//! `fleet serve` configuration: TOML + `FLEET_*` overrides, checked key by key (all problems
//! reported at once, exit 64), the same way as `edged`'s.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use edge_config::{ConfigIssue, Fields};
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
    /// Largest MQTT message accepted.
    pub max_message_bytes: usize,
}

/// Which broker the fleet talks through.
#[derive(Debug, Clone)]
pub enum BrokerConfig {
    /// rumqttd inside this process, listening on this address.
    Embedded { listen: SocketAddr },
    /// Any MQTT broker (Mosquitto, EMQX).
    External { host: String, port: u16 },
}

impl BrokerConfig {
    /// Where the fleet's own MQTT client connects.
    pub fn client_addr(&self) -> (String, u16) {
        match self {
            Self::Embedded { listen } => (listen.ip().to_string(), listen.port()),
            Self::External { host, port } => (host.clone(), *port),
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
        f.finish(issues);
        match (embedded, external, external_set) {
            (true, _, false) => Some(BrokerConfig::Embedded { listen }),
            (true, _, true) => {
                issues.push(ConfigIssue {
                    key,
                    message: "set embedded = false to use an external broker".into(),
                });
                None
            }
            (false, Some((host, port)), _) => Some(BrokerConfig::External { host, port }),
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
    let (admin_listen, admin_token) = {
        let mut f = Fields::new("admin", admin);
        let listen = f.socket_addr("listen", SocketAddr::from(([127, 0, 0, 1], 8070)), issues);
        let token = f.string("token", issues).unwrap_or_default();
        if token.len() < 16 {
            issues.push(ConfigIssue {
                key: f.key("token"),
                message: "required: a secret of at least 16 characters for the admin API".into(),
            });
        }
        f.finish(issues);
        (listen, token)
    };
    let max_message_bytes = {
        let mut f = Fields::new("limits", limits);
        let n = f.bytes("max_message_bytes", 4 << 20, (1024, 256 << 20), issues) as usize;
        f.finish(issues);
        n
    };
    Some(ServeConfig {
        state_dir: state_dir?,
        broker: broker?,
        admin_listen,
        admin_token,
        max_message_bytes,
    })
}
