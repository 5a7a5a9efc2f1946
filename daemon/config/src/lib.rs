//! `edged` configuration: one TOML file plus `EDGED_...` environment overrides, read with the
//! `config` crate, then checked key by key so that every problem is reported at once.
//!
//! Environment overrides use `__` between levels: `EDGED_HTTP__LISTEN=0.0.0.0:8080`,
//! `EDGED_MODELS__MLP__DEVICE=cpu`. `EDGED_LOG` is the log filter, not a setting.
//! `examples/edged.toml` is the annotated reference; a minimal file needs only `state_dir`
//! and one `[models.NAME]` table.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use edge_config::{ConfigError, ConfigIssue, Fields};
pub use edge_protocol::tls::Transport;
pub use models::{ModelConfig, Task};
pub use updates::UpdatesConfig;

mod models;
pub mod updates;

/// The whole daemon configuration, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where models, the prediction buffer and runtime files live.
    pub state_dir: PathBuf,
    pub http: HttpConfig,
    /// The box's local broker; `None` when `mqtt.broker` is not set.
    pub mqtt: Option<MqttConfig>,
    pub limits: Limits,
    pub store: StoreConfig,
    pub metrics: MetricsConfig,
    pub runtime: RuntimeConfig,
    /// How long SIGTERM waits for in-flight requests before flushing and exiting.
    pub shutdown_grace: Duration,
    pub models: Vec<ModelConfig>,
    /// The fleet server link; `None` without a `[fleet]` table.
    pub fleet: Option<FleetConfig>,
    /// Model updates from the fleet; `None` without an `[updates]` table.
    pub updates: Option<UpdatesConfig>,
}

/// How the daemon reaches the fleet server.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    pub host: String,
    pub port: u16,
    /// Plain TCP or TLS (with the CA and optional client certificate loaded).
    pub transport: Transport,
    /// The fleet's ed25519 public key (hex): acks and instructions must be signed by it.
    pub public_key: String,
    /// Records per uploaded batch.
    pub batch_size: usize,
    /// Resend a batch that was not acknowledged within this.
    pub ack_timeout: Duration,
    pub telemetry_interval: Duration,
    /// Longest wait between reconnection attempts (with jitter).
    pub reconnect_max: Duration,
    /// `[fleet.tags]`: labels sent with the hello, for rollout targeting (`--select k=v`).
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// When set, `POST /v2/models/{name}/labels` needs `Authorization: Bearer TOKEN`: on a
    /// box shared by several programs, only the one that knows the ground truth may label.
    pub label_token: Option<String>,
    /// Open connections at most; more wait in the accept queue.
    pub max_connections: usize,
    /// Headers and bodies must arrive within this (idle and slow connections are closed).
    pub read_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct MqttConfig {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    /// Topics are `{topic_prefix}/models/{name}/{in,out,label,error}`.
    pub topic_prefix: String,
    pub keep_alive: Duration,
    /// Longest wait between reconnection attempts.
    pub reconnect_max: Duration,
}

#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body or MQTT payload accepted.
    pub max_request_bytes: usize,
    /// Requests being served at once; more get "overloaded" instead of queueing without bound.
    pub max_in_flight: usize,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Acknowledge a prediction or label only after the group commit that makes it durable.
    pub durable_ack: bool,
    /// Logical size of buffered records above which the oldest records are evicted.
    pub quota_bytes: u64,
    /// Fraction of predictions whose inputs are stored too (0 = none, 1 = all).
    pub sample_inputs: f64,
    /// How often sled writes its buffers in the background when acknowledgements do not wait.
    pub background_flush: Duration,
    /// Shortest time between two group commits: under load, writes gather for this long so
    /// that one fsync covers many of them.
    pub commit_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// Window for request rate, latency quantiles and error rate.
    pub window: Duration,
    /// Window (by label arrival time) for accuracy, precision, recall, F1 and ROC AUC.
    pub quality_window: Duration,
    /// Most labelled rows kept per model version for the quality metrics.
    pub max_quality_samples: usize,
}

#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Threads of the compute pool every CPU model runs on (rayon's global pool, which
    /// Burn's CPU backend parallelises over). Default: the cores less one, at least one, so
    /// the HTTP, MQTT and store tasks keep a core under full inference load.
    pub threads: usize,
}

impl RuntimeConfig {
    /// The default size of the compute pool on this machine.
    pub fn default_threads() -> usize {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .saturating_sub(1)
            .max(1)
    }
}

const SECOND: Duration = Duration::from_secs(1);
const DAY: Duration = Duration::from_secs(86_400);

impl Config {
    /// Reads `path` and the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_with_env(path, env)
    }

    /// Reads `path` with the given environment (tests pass their own).
    pub fn load_with_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        edge_config::load(path, "EDGED", env, Self::check)
    }

    /// Checks the text of a config file (no environment): the config, or every issue found.
    /// What `fuzz/fuzz_targets/config.rs` drives.
    pub fn check_text(text: &str) -> Result<Self, Vec<ConfigIssue>> {
        let tree = edge_config::read_tree_str(text).map_err(|reason| {
            vec![ConfigIssue {
                key: String::new(),
                message: reason,
            }]
        })?;
        edge_config::check_tree(&tree, Self::check)
    }

    fn check(root: &Map<String, Value>, issues: &mut Vec<ConfigIssue>) -> Option<Self> {
        let empty = Map::new();
        let mut f = Fields::new("", root);
        let state_dir = f.string("state_dir", issues).map(PathBuf::from);
        if state_dir.is_none() && !root.contains_key("state_dir") {
            issues.push(ConfigIssue {
                key: "state_dir".into(),
                message: "required: the directory for models and the prediction buffer".into(),
            });
        }
        let http = f.table("http", issues).unwrap_or(&empty);
        let mqtt = f.table("mqtt", issues).unwrap_or(&empty);
        let limits = f.table("limits", issues).unwrap_or(&empty);
        let store = f.table("store", issues).unwrap_or(&empty);
        let metrics = f.table("metrics", issues).unwrap_or(&empty);
        let runtime = f.table("runtime", issues).unwrap_or(&empty);
        let shutdown = f.table("shutdown", issues).unwrap_or(&empty);
        let models = f.table("models", issues);
        let fleet = f.table("fleet", issues).unwrap_or(&empty);
        let updates = f.table("updates", issues).unwrap_or(&empty);
        f.finish(issues);

        let http = {
            let mut f = Fields::new("http", http);
            let listen = f.socket_addr("listen", SocketAddr::from(([127, 0, 0, 1], 8080)), issues);
            let label_token = f.string("label_token", issues);
            let max_connections = f.integer("max_connections", 1024, (1, 1 << 20), issues) as usize;
            let read_timeout = f.duration(
                "read_timeout",
                Duration::from_secs(10),
                (Duration::from_millis(100), Duration::from_secs(600)),
                issues,
            );
            if label_token.as_ref().is_some_and(|t| t.len() < 16) {
                issues.push(ConfigIssue {
                    key: f.key("label_token"),
                    message: "a secret of at least 16 characters".into(),
                });
            }
            f.finish(issues);
            HttpConfig {
                listen,
                label_token,
                max_connections,
                read_timeout,
            }
        };
        let mqtt = check_mqtt(mqtt, issues);
        let limits = {
            let mut f = Fields::new("limits", limits);
            let max_request_bytes =
                f.bytes("max_request_bytes", 1 << 20, (64, 256 << 20), issues) as usize;
            let max_in_flight = f.integer("max_in_flight", 4096, (1, 1 << 20), issues) as usize;
            f.finish(issues);
            Limits {
                max_request_bytes,
                max_in_flight,
            }
        };
        let store = {
            let mut f = Fields::new("store", store);
            let durable_ack = f.bool("durable_ack", true, issues);
            let quota_bytes = f.bytes("quota", 256 << 20, (64 << 10, 1 << 44), issues);
            let sample_inputs = f.number("sample_inputs", 0.0, (0.0, 1.0), issues);
            let background_flush = f.duration(
                "background_flush",
                Duration::from_millis(500),
                (Duration::from_millis(1), 60 * SECOND),
                issues,
            );
            let commit_interval = f.duration(
                "commit_interval",
                Duration::from_millis(1),
                (Duration::ZERO, SECOND),
                issues,
            );
            f.finish(issues);
            StoreConfig {
                durable_ack,
                quota_bytes,
                sample_inputs,
                background_flush,
                commit_interval,
            }
        };
        let metrics = {
            let mut f = Fields::new("metrics", metrics);
            let window = f.duration("window", 300 * SECOND, (10 * SECOND, DAY), issues);
            let quality_window = f.duration("quality_window", DAY, (60 * SECOND, 30 * DAY), issues);
            let max_quality_samples =
                f.integer("max_quality_samples", 100_000, (10, 10_000_000), issues) as usize;
            f.finish(issues);
            MetricsConfig {
                window,
                quality_window,
                max_quality_samples,
            }
        };
        let runtime = {
            let mut f = Fields::new("runtime", runtime);
            let default = RuntimeConfig::default_threads() as u64;
            let threads = f.integer("threads", default, (1, 1024), issues) as usize;
            f.finish(issues);
            RuntimeConfig { threads }
        };
        let shutdown_grace = {
            let mut f = Fields::new("shutdown", shutdown);
            let grace = f.duration("grace", 10 * SECOND, (Duration::ZERO, 600 * SECOND), issues);
            f.finish(issues);
            grace
        };
        let mut models = models::check_models(models, issues);
        let fleet_configured = !fleet.is_empty();
        let fleet = check_fleet(fleet, issues);
        let updates = updates::check_updates(updates, fleet_configured, issues);
        if let Some(updates) = &updates {
            for model in &mut models {
                model.max_memory = Some(updates.max_model_memory);
            }
        }
        Some(Self {
            state_dir: state_dir?,
            http,
            mqtt,
            limits,
            store,
            metrics,
            runtime,
            shutdown_grace,
            models,
            fleet,
            updates,
        })
    }

    /// The directory holding the versions of model `name`.
    pub fn model_dir(&self, name: &str) -> PathBuf {
        self.state_dir.join("models").join(name)
    }

    /// The sled database directory.
    /// The device's ed25519 identity key (created at first use, mode 0600).
    pub fn device_key_file(&self) -> PathBuf {
        self.state_dir.join("device.key")
    }

    pub fn store_dir(&self) -> PathBuf {
        self.state_dir.join("buffer")
    }

    /// Where a running daemon writes the address its HTTP API is bound to.
    pub fn http_addr_file(&self) -> PathBuf {
        self.state_dir.join("http.addr")
    }
}

fn check_mqtt(table: &Map<String, Value>, issues: &mut Vec<ConfigIssue>) -> Option<MqttConfig> {
    let mut f = Fields::new("mqtt", table);
    let broker = f.host_port("broker", issues);
    let client_id = f
        .string("client_id", issues)
        .unwrap_or_else(|| "edged".into());
    let topic_prefix = f
        .string("topic_prefix", issues)
        .unwrap_or_else(|| "edged".into());
    let keep_alive = f.duration(
        "keep_alive",
        30 * SECOND,
        (5 * SECOND, 3600 * SECOND),
        issues,
    );
    let reconnect_max = f.duration(
        "reconnect_max",
        5 * SECOND,
        (Duration::from_millis(10), 600 * SECOND),
        issues,
    );
    if topic_prefix.is_empty() || topic_prefix.contains(['+', '#']) || topic_prefix.ends_with('/') {
        issues.push(ConfigIssue {
            key: f.key("topic_prefix"),
            message: "must be a non-empty topic without wildcards or a trailing '/'".into(),
        });
    }
    if client_id.is_empty() || client_id.len() > 64 {
        issues.push(ConfigIssue {
            key: f.key("client_id"),
            message: "must be 1 to 64 characters".into(),
        });
    }
    f.finish(issues);
    let (host, port) = broker?;
    Some(MqttConfig {
        host,
        port,
        client_id,
        topic_prefix,
        keep_alive,
        reconnect_max,
    })
}

fn check_fleet(table: &Map<String, Value>, issues: &mut Vec<ConfigIssue>) -> Option<FleetConfig> {
    if table.is_empty() {
        return None;
    }
    let mut f = Fields::new("fleet", table);
    let broker = f.host_port("broker", issues);
    if !table.contains_key("broker") {
        issues.push(ConfigIssue {
            key: f.key("broker"),
            message: "required: host:port of the fleet's MQTT broker (leave out the [fleet] \
                      table to run without a fleet)"
                .into(),
        });
    }
    let transport = edge_protocol::tls::transport(&mut f, issues);
    let public_key = f.string("public_key", issues);
    let batch_size = f.integer("batch_size", 2000, (1, 100_000), issues) as usize;
    let ack_timeout = f.duration(
        "ack_timeout",
        10 * SECOND,
        (Duration::from_millis(100), 3600 * SECOND),
        issues,
    );
    let telemetry_interval = f.duration(
        "telemetry_interval",
        30 * SECOND,
        (Duration::from_millis(100), DAY),
        issues,
    );
    let reconnect_max = f.duration(
        "reconnect_max",
        30 * SECOND,
        (Duration::from_millis(10), 3600 * SECOND),
        issues,
    );
    let public_key_key = f.key("public_key");
    let tags_table = f.table("tags", issues).cloned().unwrap_or_default();
    let tags_prefix = f.key("tags");
    f.finish(issues);
    let mut tags = BTreeMap::new();
    for (name, value) in &tags_table {
        let simple = |t: &str| {
            !t.is_empty()
                && t.len() <= 64
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        };
        match value.as_str() {
            Some(v) if simple(name) && simple(v) => {
                tags.insert(name.clone(), v.to_string());
            }
            _ => issues.push(ConfigIssue {
                key: format!("{tags_prefix}.{name}"),
                message: "tags are name = \"value\", both of letters, digits, '.', '_', '-'".into(),
            }),
        }
    }
    let (host, port) = broker?;
    let public_key = match public_key {
        Some(k) if edge_protocol::identity::parse_public_key(&k).is_ok() => k,
        _ => {
            issues.push(ConfigIssue {
                key: public_key_key,
                message: "required: the fleet's ed25519 public key in hex (STATE_DIR/fleet.pub \
                          of `fleet serve`)"
                    .into(),
            });
            return None;
        }
    };
    Some(FleetConfig {
        host,
        port,
        transport: transport?,
        public_key,
        batch_size,
        ack_timeout,
        telemetry_interval,
        reconnect_max,
        tags,
    })
}

/// Model names appear in URLs, MQTT topics and paths: a small alphabet keeps all three safe.
pub fn valid_model_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests;
