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
    /// Bytes asked for per fetch.
    pub chunk_bytes: u32,
    /// A fetch not answered within this is asked again.
    pub fetch_timeout: Duration,
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
        chunk_bytes,
        fetch_timeout,
    })
}
