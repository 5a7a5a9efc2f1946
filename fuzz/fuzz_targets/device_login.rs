//! A device's MQTT login (client id, username, password: `edc1.<key>.<counter>.<sig>`), as
//! the embedded broker's front reads it from a CONNECT of anyone who can reach the port. Any
//! three strings: a refusal or a proven identity, never a panic; and a proven identity is
//! the client id it was asked about.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let (id, user, password) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    if let Ok(proven) = edge_protocol::credential::verify_device_login(id, user, password) {
        assert_eq!(proven.device, id);
    }
});
