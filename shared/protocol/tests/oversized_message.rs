//! Attack: messages that would make the fleet allocate or work without bound.

mod common;

use common::{envelope, key, open};
use edge_protocol::ProtocolError;
use edge_protocol::envelope::{Envelope, Kind, Limits};
use edge_protocol::identity::device_id;

#[test]
fn a_message_over_the_wire_limit_is_refused_unread() {
    let k = key(1);
    let big = vec![b'x'; (4 << 20) + 1];
    assert!(matches!(
        open(&big, &k),
        Err(ProtocolError::TooLarge { .. })
    ));
}

#[test]
fn a_compression_bomb_is_refused_without_allocating_its_claimed_size() {
    let k = key(1);
    // A validly signed message whose compressed body claims 4 GiB.
    let e = envelope(&k, 1, Kind::Records, &[0u8; 4096]);
    let mut bytes = e.seal_binary(&k, true);
    assert_eq!(bytes[5], 1, "compressed");
    let body_at = 7 + e.signer.len() + 1 + e.to.len() + 20;
    bytes[body_at..body_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    // Re-sign so only the size check can stop it.
    let forged = resign(&bytes, &k);
    assert!(matches!(
        open(&forged, &k),
        Err(ProtocolError::TooLarge { .. })
    ));
}

#[test]
fn a_body_that_decompresses_past_the_body_limit_is_refused() {
    let k = key(1);
    let e = envelope(&k, 1, Kind::Records, &vec![0u8; 1 << 20]);
    let bytes = e.seal_binary(&k, true);
    assert!(bytes.len() < 10_000);
    let id = device_id(&k.verifying_key());
    let limits = Limits {
        max_message: 1 << 20,
        max_body: 1 << 19,
    };
    let result = Envelope::open(&bytes, limits, |s| (s == id).then(|| k.verifying_key()));
    assert!(matches!(result, Err(ProtocolError::TooLarge { .. })));
}

/// Signs the binary framing `bytes` (with its old signature stripped) again with `k`.
fn resign(bytes: &[u8], k: &ed25519_dalek::SigningKey) -> Vec<u8> {
    use ed25519_dalek::Signer;
    let unsigned = &bytes[..bytes.len() - 64];
    let mut signed = edge_protocol::envelope::DOMAIN.to_vec();
    signed.extend_from_slice(unsigned);
    let mut out = unsigned.to_vec();
    out.extend_from_slice(&k.sign(&signed).to_bytes());
    out
}
