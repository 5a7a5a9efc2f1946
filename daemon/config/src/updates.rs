//! `[updates]`: model updates from the fleet. Present only when the box should accept them;
//! needs `[fleet]` (the desired state and the files arrive over that link).

use std::time::Duration;

use edge_config::{ConfigIssue, Fields};
use serde_json::{Map, Value};

/// How this box takes model updates.
#[derive(Debug, Clone)]
pub struct UpdatesConfig {
    /// The organisation's root public key (hex), pinned at enrollment: only models signed by
    /// release keys this root delegates are ever activated.
    pub root_key: ed25519_dalek::VerifyingKey,
    /// This box's hardware class, matched against a manifest's `hardware` list.
    pub hardware_class: String,
    /// Largest bundle accepted (sum of its files).
    pub max_bundle_bytes: u64,
    /// The memory budget of every load of a model on this box (`edge_model::LoadOptions::
    /// max_memory`): weights and the tensors of one run (each request in flight has its
    /// own). A version over it fails its activation (`model_memory`) instead of exhausting
    /// the box. Default: half the box's memory.
    pub max_model_memory: u64,
    /// Bytes asked for per fetch.
    pub chunk_bytes: u32,
    /// A fetch not answered within this is asked again.
    pub fetch_timeout: Duration,
    /// After this many unanswered fetches in a row the job fails (`fetch_timeout`), so a
    /// fleet that never answers does not hold the updater; the next desired state starts
    /// it again, resuming from the part on disk.
    pub fetch_attempts: u32,
    /// Versions of a model kept on disk after a commit: the served one and `keep_versions - 1`
    /// below it (the rollback targets).
    pub keep_versions: u32,
    /// After a switch, how long the new version is watched before it is committed; zero
    /// turns the watch off.
    pub health_window: Duration,
    pub health: HealthLimits,
    /// How long a candidate answers copies of live requests before the switch; zero skips
    /// the shadow phase.
    pub shadow_window: Duration,
    pub shadow: ShadowLimits,
}

/// When a candidate fails its shadow phase.
#[derive(Debug, Clone, Copy)]
pub struct ShadowLimits {
    /// Share of requests whose predicted classes match the active version's.
    pub min_agreement: f64,
    /// The candidate's mean latency over the active version's.
    pub max_latency_ratio: f64,
    /// Requests compared before a judgement is made.
    pub min_samples: u64,
}

/// When the box rolls a new version back by itself during its health window.
#[derive(Debug, Clone, Copy)]
pub struct HealthLimits {
    /// Error ratio of the new version's requests.
    pub max_error_rate: f64,
    /// The new version's p95 latency over the previous version's.
    pub max_latency_ratio: f64,
    /// The previous version's accuracy on labels minus the new one's.
    pub max_accuracy_drop: f64,
    /// For regression models: how much larger the new version's MAE may be than the previous
    /// one's, as a ratio of it (0.25: up to 25% worse).
    pub max_mae_increase: f64,
    /// Requests (and labelled predictions) before a judgement is made.
    pub min_samples: u64,
}

/// Half the box's memory (`MemTotal`), the default model memory budget; 1 GiB where
/// `/proc/meminfo` cannot be read.
fn half_the_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(1 << 30, |kib| kib * 1024 / 2)
        .max(1 << 20)
}

pub(super) fn check_updates(
    table: &Map<String, Value>,
    fleet_configured: bool,
    issues: &mut Vec<ConfigIssue>,
) -> Option<UpdatesConfig> {
    if table.is_empty() {
        return None;
    }
    let mut f = Fields::new("updates", table);
    let root_key = f.string("root_key", issues);
    let hardware_class = f
        .string("hardware_class", issues)
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let max_bundle_bytes = f.bytes("max_bundle_bytes", 1 << 30, (1024, 64 << 30), issues);
    let max_model_memory = f.bytes(
        "max_model_memory",
        half_the_memory(),
        (1 << 20, 1 << 40),
        issues,
    );
    let chunk_bytes = f.bytes(
        "chunk_bytes",
        64 << 10,
        (1024, u64::from(edge_protocol::messages::MAX_CHUNK)),
        issues,
    ) as u32;
    let fetch_timeout = f.duration(
        "fetch_timeout",
        Duration::from_secs(10),
        (Duration::from_millis(100), Duration::from_secs(600)),
        issues,
    );
    let fetch_attempts = f.integer("fetch_attempts", 6, (1, 10_000), issues) as u32;
    let keep_versions = f.integer("keep_versions", 2, (1, 100), issues) as u32;
    let health_window = f.duration(
        "health_window",
        Duration::from_secs(300),
        (Duration::ZERO, Duration::from_secs(7 * 24 * 3600)),
        issues,
    );
    let health = HealthLimits {
        max_error_rate: f.number("health_max_error_rate", 0.1, (0.0, 1.0), issues),
        max_latency_ratio: f.number("health_max_latency_ratio", 3.0, (1.0, 1000.0), issues),
        max_accuracy_drop: f.number("health_max_accuracy_drop", 0.05, (0.0, 1.0), issues),
        max_mae_increase: f.number("health_max_mae_increase", 0.25, (0.0, 1000.0), issues),
        min_samples: f.integer("health_min_samples", 20, (1, 1_000_000), issues),
    };
    let shadow_window = f.duration(
        "shadow_window",
        Duration::ZERO,
        (Duration::ZERO, Duration::from_secs(7 * 24 * 3600)),
        issues,
    );
    let shadow = ShadowLimits {
        min_agreement: f.number("shadow_min_agreement", 0.9, (0.0, 1.0), issues),
        max_latency_ratio: f.number("shadow_max_latency_ratio", 3.0, (1.0, 1000.0), issues),
        min_samples: f.integer("shadow_min_samples", 20, (1, 1_000_000), issues),
    };
    let key_name = f.key("root_key");
    let table_key = f.key("root_key").replace(".root_key", "");
    f.finish(issues);
    if !fleet_configured {
        issues.push(ConfigIssue {
            key: table_key,
            message: "model updates arrive over the fleet link: configure [fleet] too".into(),
        });
    }
    let root_key = match root_key
        .as_deref()
        .map(edge_protocol::identity::parse_public_key)
    {
        Some(Ok(k)) => k,
        _ => {
            issues.push(ConfigIssue {
                key: key_name,
                message: "required: the organisation's root public key in hex (root_public_key \
                          of `fleet keys init`)"
                    .into(),
            });
            return None;
        }
    };
    fleet_configured.then_some(UpdatesConfig {
        root_key,
        hardware_class,
        max_bundle_bytes,
        max_model_memory,
        chunk_bytes,
        fetch_timeout,
        fetch_attempts,
        keep_versions,
        health_window,
        health,
        shadow_window,
        shadow,
    })
}
