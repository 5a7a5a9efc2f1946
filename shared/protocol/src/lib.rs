//! The wire protocol between `edged` on the boxes and the fleet server, shared by both so
//! neither side can drift: MQTT topics ([`topics`]), device identity ([`identity`]), the
//! broker credential a box connects with ([`credential`]), signed
//! envelopes with per-device sequence numbers ([`envelope`]), the compact record batches
//! that carry the buffer up ([`records`]), the bodies of the other messages — hello, desired
//! state, fetch and chunk ([`messages`]) — and the TLS client settings ([`tls`]). PROTOCOL.md at the repository root describes the
//! bytes; this crate is the one implementation of it.
//!
//! Security does not depend on the broker: every device-to-fleet message is signed by the
//! device's ed25519 key, names its device, and carries a sequence number that must grow, so a
//! forged, replayed or misattributed message is refused by the fleet whatever the broker let
//! through. Every fleet-to-device message names its recipient and carries that device's own
//! fleet sequence, so nothing the fleet signed for one box is accepted by another, or twice.

pub mod credential;
pub mod envelope;
mod error;
pub mod identity;
pub mod messages;
pub mod records;
pub mod tls;
pub mod topics;

pub use error::ProtocolError;

/// The protocol version this build speaks. A message of another version is refused with
/// [`ProtocolError::UnsupportedVersion`], never guessed at. Version 2 added the recipient to
/// every envelope and the stored record keys to acks (PROTOCOL.md, "Versions"); topics keep
/// their `fleet/v1` namespace, so a box of the other version is heard and refused by version,
/// not silently missed.
pub const PROTOCOL_VERSION: u8 = 2;
