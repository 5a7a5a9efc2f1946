//! The topic rules of the embedded broker's front: the same as the shipped Mosquitto ACL
//! (`examples/mosquitto/fleet.acl`), a little narrower. A box authenticated as device `d` may
//! publish only `fleet/v1/d/{d}/up/{kind}` for the kinds a device sends, and subscribe only to
//! its own downlink: `fleet/v1/d/{d}/down/+`, `.../down/#` or one downlink kind. Nothing with
//! a wildcard in the device position, nothing else. The fleet's own clients never pass through
//! the front (they connect to the inner broker with its secret).

use edge_protocol::envelope::Kind;
use edge_protocol::topics::ROOT;

/// Kinds a device publishes.
const UP: [Kind; 5] = [
    Kind::Hello,
    Kind::Records,
    Kind::Telemetry,
    Kind::Status,
    Kind::Fetch,
];
/// Kinds the fleet sends a device.
const DOWN: [&str; 3] = ["ack", "desired", "chunk"];

/// The part of `topic` after `fleet/v1/d/{device}/`, if it is under that device.
fn own<'a>(device: &str, topic: &'a str) -> Option<&'a str> {
    topic
        .strip_prefix(ROOT)?
        .strip_prefix('/')?
        .strip_prefix(device)?
        .strip_prefix('/')
}

/// Whether `device` may publish on `topic` (a PUBLISH, or its CONNECT's will).
pub fn may_publish(device: &str, topic: &str) -> bool {
    own(device, topic)
        .and_then(|rest| rest.strip_prefix("up/"))
        .is_some_and(|kind| UP.iter().any(|k| k.as_str() == kind))
}

/// Whether `device` may subscribe to `filter`.
pub fn may_subscribe(device: &str, filter: &str) -> bool {
    own(device, filter)
        .and_then(|rest| rest.strip_prefix("down/"))
        .is_some_and(|what| what == "+" || what == "#" || DOWN.contains(&what))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "d-0123456789abcdef0123";
    const B: &str = "d-aaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn a_box_publishes_only_its_own_uplink_kinds() {
        for kind in ["hello", "records", "telemetry", "status", "fetch"] {
            assert!(
                may_publish(A, &format!("fleet/v1/d/{A}/up/{kind}")),
                "{kind}"
            );
        }
        for topic in [
            format!("fleet/v1/d/{B}/up/records"),
            format!("fleet/v1/d/{A}/up/ack"),
            format!("fleet/v1/d/{A}/up/records/more"),
            format!("fleet/v1/d/{A}/down/desired"),
            format!("fleet/v1/d/{A}x/up/records"),
            format!("fleet/v1/d/{A}"),
            "fleet/v1/d/+/up/records".to_string(),
            "#".to_string(),
            format!("fleet/v2/d/{A}/up/records"),
        ] {
            assert!(!may_publish(A, &topic), "{topic}");
        }
    }

    #[test]
    fn a_box_subscribes_only_to_its_own_downlink() {
        for filter in ["+", "#", "ack", "desired", "chunk"] {
            assert!(
                may_subscribe(A, &format!("fleet/v1/d/{A}/down/{filter}")),
                "{filter}"
            );
        }
        for filter in [
            "#".to_string(),
            "fleet/#".to_string(),
            "fleet/v1/d/+/up/+".to_string(),
            "fleet/v1/d/+/down/+".to_string(),
            format!("fleet/v1/d/{B}/down/+"),
            format!("fleet/v1/d/{A}/up/+"),
            format!("fleet/v1/d/{A}/+"),
            format!("fleet/v1/d/{A}/#"),
            format!("fleet/v1/d/{A}/down/+/x"),
            "$SYS/#".to_string(),
        ] {
            assert!(!may_subscribe(A, &filter), "{filter}");
        }
    }
}
