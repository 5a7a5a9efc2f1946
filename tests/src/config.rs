//! Config files for the processes under test, built instead of concatenated: a small TOML
//! writer whose durations keep their units ("200ms", "1s") and whose strings are quoted,
//! and the `edged` / `fleet serve` configurations the tests start from.
//! `tests/tests/daemon_lifecycle.rs` checks that the typical edged configurations pass
//! `edged config check`.

use std::fmt;
use std::path::Path;
use std::time::Duration;

/// One TOML value as a test writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Written as a string with its unit: whole seconds as "Ns", anything else as "Nms".
    Duration(Duration),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) => {
                write!(f, "\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
            }
            Self::Int(n) => write!(f, "{n}"),
            // Debug keeps the decimal point (1.0, not 1), so TOML reads a float.
            Self::Float(x) => write!(f, "{x:?}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Duration(d) if d.subsec_nanos() == 0 => write!(f, "\"{}s\"", d.as_secs()),
            Self::Duration(d) => write!(f, "\"{}ms\"", d.as_millis()),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::Str(s)
    }
}
impl From<&Path> for Value {
    fn from(p: &Path) -> Self {
        Self::Str(p.display().to_string())
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Self::Int(n)
    }
}
impl From<i32> for Value {
    fn from(n: i32) -> Self {
        Self::Int(n.into())
    }
}
impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Self::Int(n.into())
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Self::Float(x)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}
impl From<Duration> for Value {
    fn from(d: Duration) -> Self {
        Self::Duration(d)
    }
}

/// A TOML document of top-level keys and tables, kept in the order they were first set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Toml {
    /// ("", keys) holds the top-level keys; every other entry is a `[table]`.
    tables: Vec<(String, Vec<(String, Value)>)>,
}

impl Toml {
    /// Sets `key` in `table` ("" for the top level), replacing an earlier value.
    pub fn set(&mut self, table: &str, key: &str, value: impl Into<Value>) -> &mut Self {
        let value = value.into();
        let index = match self.tables.iter().position(|(t, _)| t == table) {
            Some(i) => i,
            None => {
                self.tables.push((table.to_string(), Vec::new()));
                self.tables.len() - 1
            }
        };
        let keys = &mut self.tables[index].1;
        match keys.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => keys.push((key.to_string(), value)),
        }
        self
    }

    /// Declares `[table]` even when it gets no keys (`[broker]` taking every default).
    pub fn table(&mut self, table: &str) -> &mut Self {
        if !self.tables.iter().any(|(t, _)| t == table) {
            self.tables.push((table.to_string(), Vec::new()));
        }
        self
    }
}

impl fmt::Display for Toml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Top-level keys must come before the first table header.
        let (top, tables): (Vec<_>, Vec<_>) = self.tables.iter().partition(|(t, _)| t.is_empty());
        for (table, keys) in top.into_iter().chain(tables) {
            if !table.is_empty() {
                writeln!(f, "[{table}]")?;
            }
            for (key, value) in keys {
                writeln!(f, "{key} = {value}")?;
            }
        }
        Ok(())
    }
}

/// An `edged run` configuration: HTTP on port 0, the models named served on the CPU.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgedConfig(pub Toml);

impl EdgedConfig {
    /// State in `state`, the example MLP (`mlp`) on the CPU, HTTP on 127.0.0.1:0.
    pub fn new(state: &Path) -> Self {
        Self::serving(state, &["mlp"])
    }

    /// Like [`Self::new`], serving the models `names` instead.
    pub fn serving(state: &Path, names: &[&str]) -> Self {
        let mut toml = Toml::default();
        toml.set("", "state_dir", state)
            .set("http", "listen", "127.0.0.1:0");
        let mut config = Self(toml);
        for name in names {
            config = config.model(name);
        }
        config
    }

    /// Serves one more model, `[models.NAME]` with `device = "cpu"`.
    pub fn model(self, name: &str) -> Self {
        self.set(&format!("models.{name}"), "device", "cpu")
    }

    /// Sets `key` in `table` ("" for the top level).
    pub fn set(mut self, table: &str, key: &str, value: impl Into<Value>) -> Self {
        self.0.set(table, key, value);
        self
    }

    /// The local MQTT API on the broker at `addr`, as client `client_id`, reconnecting fast.
    pub fn mqtt(self, addr: &str, client_id: &str) -> Self {
        self.set("mqtt", "broker", addr)
            .set("mqtt", "client_id", client_id)
            .set("mqtt", "reconnect_max", Duration::from_millis(200))
    }

    /// Uploads to the fleet at `broker` (plain TCP) whose key is `public_key`, with short
    /// timeouts so tests see resends and reconnects quickly.
    pub fn fleet(self, broker: &str, public_key: &str) -> Self {
        self.set("fleet", "broker", broker)
            .set("fleet", "transport", "tcp")
            .set("fleet", "public_key", public_key)
            .set("fleet", "batch_size", 64)
            .set("fleet", "ack_timeout", Duration::from_secs(1))
            .set("fleet", "telemetry_interval", Duration::from_millis(200))
            .set("fleet", "reconnect_max", Duration::from_millis(200))
    }

    /// The fleet link over TLS, trusting `pki/ca.pem`, with the client certificate
    /// `pki/NAME.pem` and key `pki/NAME.key` when `client` names one.
    pub fn fleet_tls(self, pki: &Path, client: Option<&str>) -> Self {
        let config = self.set("fleet", "transport", "tls").set(
            "fleet",
            "ca_file",
            pki.join("ca.pem").as_path(),
        );
        match client {
            Some(name) => config
                .set(
                    "fleet",
                    "cert_file",
                    pki.join(format!("{name}.pem")).as_path(),
                )
                .set(
                    "fleet",
                    "key_file",
                    pki.join(format!("{name}.key")).as_path(),
                ),
            None => config,
        }
    }

    /// Model updates from the fleet, trusting the organisation's root key `root_key` (hex).
    pub fn updates(self, root_key: &str) -> Self {
        self.set("updates", "root_key", root_key)
    }
}

impl fmt::Display for EdgedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A `fleet serve` configuration: admin API on port 0 with [`crate::fleet::TOKEN`], messages
/// up to 64 KiB; the `[broker]` table is the caller's.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetConfig(pub Toml);

impl FleetConfig {
    pub fn new(state: &Path) -> Self {
        let mut toml = Toml::default();
        toml.set("", "state_dir", state)
            .table("broker")
            .set("admin", "listen", "127.0.0.1:0")
            .set("admin", "token", crate::fleet::TOKEN)
            .set("limits", "max_message_bytes", "64KiB");
        Self(toml)
    }

    /// The embedded broker, plain MQTT on `listen` (host:port).
    pub fn embedded(self, listen: &str) -> Self {
        self.broker("listen", listen)
    }

    /// An external broker at `addr` (host:port), plain TCP.
    pub fn external(self, addr: &str) -> Self {
        self.broker("embedded", false)
            .broker("external", addr)
            .broker("transport", "tcp")
    }

    /// Sets `key` in the `[broker]` table.
    pub fn broker(self, key: &str, value: impl Into<Value>) -> Self {
        self.set("broker", key, value)
    }

    /// Sets `key` in `table`.
    pub fn set(mut self, table: &str, key: &str, value: impl Into<Value>) -> Self {
        self.0.set(table, key, value);
        self
    }
}

impl fmt::Display for FleetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
