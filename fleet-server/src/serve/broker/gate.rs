//! Who may connect through the embedded broker's front, as whom: the CONNECT checks.
//!
//! 1. MQTT 3.1.1 only (the inner broker's protocol).
//! 2. The client id is a device id: no `+`, `#`, `/` or anything else outside `[a-z0-9-]`
//!    (the tricks of Mosquitto's CVE-2017-7650 and CVE-2021-34432 need them), and not one of
//!    the fleet's own (`fleet…`), which only connect to the inner broker with its secret.
//! 3. The username and password are the box's credential (`edge_protocol::credential`): the
//!    key hashes to the client id and signed it with a counter.
//! 4. Under TLS with a client certificate, its common name is that client id too.
//! 5. The device is not revoked.
//! 6. The counter is above the last one accepted for the device (no replayed credential).
//!
//! A connection that passes reaches the inner broker under the same client id, with the
//! inner secret as its password: the inner broker, on loopback, admits nobody else.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};

use edge_protocol::ProtocolError;
use edge_protocol::credential::verify_device_login;
use rumqttc::{ConnectReturnCode, Protocol};

use crate::serve::registry::{Approval, Registry};

/// Why the front refused a connection or closed it.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("only MQTT 3.1.1 is served")]
    Protocol,
    #[error("client id '{0}' is not a device id")]
    ClientId(String),
    #[error("client id '{0}' is reserved for the fleet's own clients")]
    Reserved(String),
    #[error("no username and password (every client authenticates)")]
    Anonymous,
    #[error("{0}")]
    Credential(ProtocolError),
    #[error("the client certificate names '{cn}', the client id is '{client_id}'")]
    Certificate { cn: String, client_id: String },
    #[error("device {0} is revoked")]
    Revoked(String),
    #[error("credential counter {counter} of {device} is not above {last} (replayed)")]
    Replayed {
        device: String,
        counter: u64,
        last: u64,
    },
    #[error("{device} may not publish on '{topic}'")]
    Publish { device: String, topic: String },
    #[error("{device} may not subscribe to '{filter}'")]
    Subscribe { device: String, filter: String },
    #[error("malformed MQTT: {0}")]
    Malformed(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the fleet store: {0}")]
    Store(#[from] crate::serve::registry::RegistryError),
}

impl Refused {
    /// A stable name for the counters in `/api/stats` (`broker_refused`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Protocol => "protocol",
            Self::ClientId(_) => "bad_client_id",
            Self::Reserved(_) => "reserved_client_id",
            Self::Anonymous => "anonymous",
            Self::Credential(_) => "bad_credential",
            Self::Certificate { .. } => "certificate_mismatch",
            Self::Revoked(_) => "revoked",
            Self::Replayed { .. } => "replayed_credential",
            Self::Publish { .. } => "publish_denied",
            Self::Subscribe { .. } => "subscribe_denied",
            Self::Malformed(_) => "malformed",
            Self::Io(_) => "io",
            Self::Store(_) => "store_failed",
        }
    }

    /// The CONNACK code a refused CONNECT gets.
    pub fn code(&self) -> ConnectReturnCode {
        match self {
            Self::Protocol => ConnectReturnCode::RefusedProtocolVersion,
            Self::ClientId(_) | Self::Reserved(_) => ConnectReturnCode::BadClientId,
            Self::Anonymous | Self::Credential(_) => ConnectReturnCode::BadUserNamePassword,
            Self::Io(_) | Self::Store(_) => ConnectReturnCode::ServiceUnavailable,
            _ => ConnectReturnCode::NotAuthorized,
        }
    }
}

/// Counters of the front, for `/api/stats`.
#[derive(Debug, Default)]
pub struct FrontStats {
    pub accepted: AtomicU64,
    refused: Mutex<BTreeMap<&'static str, u64>>,
}

impl FrontStats {
    pub fn refuse(&self, reason: &'static str) {
        *self
            .refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(reason)
            .or_default() += 1;
    }

    pub fn refused(&self) -> BTreeMap<String, u64> {
        self.refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect()
    }
}

/// What every connection of the front shares.
#[derive(Debug)]
pub struct Gate {
    pub registry: Registry,
    pub stats: Arc<FrontStats>,
    /// The inner broker on loopback, and the secret it admits.
    pub inner: SocketAddr,
    pub secret: String,
    /// Largest MQTT packet relayed.
    pub max_packet: usize,
}

impl Gate {
    /// Checks a CONNECT (steps 1-6 of the module doc); returns the device it proves.
    pub fn authenticate(
        &self,
        connect: &rumqttc::Connect,
        certificate_cn: Option<&str>,
    ) -> Result<String, Refused> {
        if connect.protocol != Protocol::V4 {
            return Err(Refused::Protocol);
        }
        let id = connect.client_id.as_str();
        if id.starts_with("fleet") {
            return Err(Refused::Reserved(id.chars().take(64).collect()));
        }
        edge_protocol::identity::check_device_id(id)
            .map_err(|_| Refused::ClientId(id.chars().take(64).collect()))?;
        let login = connect.login.as_ref().ok_or(Refused::Anonymous)?;
        let proven = verify_device_login(id, &login.username, &login.password)
            .map_err(Refused::Credential)?;
        if let Some(cn) = certificate_cn
            && cn != id
        {
            return Err(Refused::Certificate {
                cn: cn.chars().take(64).collect(),
                client_id: id.to_string(),
            });
        }
        let registry = &self.registry;
        if registry
            .device(id)?
            .is_some_and(|d| d.approval == Approval::Revoked)
        {
            return Err(Refused::Revoked(id.to_string()));
        }
        registry
            .accept_connect_counter(id, proven.counter)?
            .map_err(|last| Refused::Replayed {
                device: id.to_string(),
                counter: proven.counter,
                last,
            })?;
        Ok(proven.device)
    }
}
