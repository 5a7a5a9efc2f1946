//! The MQTT topic scheme. Every topic of a device sits under its own prefix, so a broker ACL
//! can grant each device its own subtree with one pattern. The shipped Mosquitto config
//! (`examples/mosquitto/fleet.conf` and `fleet.acl`) takes the user name from the client
//! certificate, whose common name is the device id, and matches on it with `%u`:
//!
//! ```text
//! pattern write fleet/v1/d/%u/up/#
//! pattern read  fleet/v1/d/%u/down/#
//! ```
//!
//! Not `%c` (the client id) without certificates: a client chooses its own id.
//!
//! Device → fleet: `fleet/v1/d/{device}/up/{hello|records|telemetry|status|fetch}`.
//! Fleet → device: `fleet/v1/d/{device}/down/{ack|desired|chunk}`.

use crate::ProtocolError;
use crate::envelope::Kind;

/// The root of every topic of this protocol version.
pub const ROOT: &str = "fleet/v1/d";

/// What the fleet subscribes to: every device's uplink.
pub const FLEET_SUBSCRIPTION: &str = "fleet/v1/d/+/up/+";

/// A device's uplink topic for messages of `kind`.
pub fn up(device: &str, kind: Kind) -> String {
    format!("{ROOT}/{device}/up/{}", kind.as_str())
}

/// A device's downlink topic (`ack`, `desired`, `chunk`).
pub fn down(device: &str, what: &str) -> String {
    format!("{ROOT}/{device}/down/{what}")
}

/// What a device subscribes to.
pub fn device_subscription(device: &str) -> String {
    format!("{ROOT}/{device}/down/+")
}

/// Splits an uplink topic into (device id, kind).
pub fn parse_up(topic: &str) -> Result<(&str, Kind), ProtocolError> {
    let bad = || ProtocolError::Decode(format!("'{topic}' is not an uplink topic"));
    let rest = topic
        .strip_prefix(ROOT)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(bad)?;
    let (device, rest) = rest.split_once('/').ok_or_else(bad)?;
    let kind = rest
        .strip_prefix("up/")
        .and_then(Kind::from_str)
        .ok_or_else(bad)?;
    crate::identity::check_device_id(device)?;
    Ok((device, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uplink_topics_round_trip_and_foreign_topics_are_refused() {
        let id = "d-0123456789abcdef0123";
        let topic = up(id, Kind::Records);
        assert_eq!(topic, "fleet/v1/d/d-0123456789abcdef0123/up/records");
        assert_eq!(parse_up(&topic), Ok((id, Kind::Records)));
        assert!(parse_up("fleet/v1/d/d-0123456789abcdef0123/down/ack").is_err());
        assert!(parse_up("fleet/v2/d/d-0123456789abcdef0123/up/records").is_err());
        assert!(parse_up("fleet/v1/d/../up/records").is_err());
        assert!(parse_up("fleet/v1/d/d-0123456789abcdef0123/up/shell").is_err());
    }
}
