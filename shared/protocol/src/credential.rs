//! The MQTT credential a box presents to the fleet's embedded broker: who it is, proven
//! without a clock. A box may read 1970 at boot (no real-time clock), so the credential is not
//! a token with an expiry but a signature by the device key over the client id and a counter
//! that only grows (the box's persisted uplink sequence number):
//!
//! ```text
//! username = the device id (= the MQTT client id)
//! password = "edc1." hex(public key, 32 bytes) "." counter (decimal) "." hex(signature, 64 bytes)
//! signature over  DOMAIN | u8 len | client id | counter u64 big-endian
//! ```
//!
//! The broker checks that the key hashes to the client id (so nobody can present a key for
//! an id that is not theirs), that the signature verifies (`verify_strict`), and that the
//! counter is above the last one it accepted for that id (so a password captured off plain
//! TCP cannot be replayed to take over the box's session).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::{ProtocolError, identity};

/// Signature domain of broker credentials: no envelope or bundle signature starts with it.
pub const DOMAIN: &[u8] = b"edge-gateway/mqtt-connect/v1\0";
const PREFIX: &str = "edc1";

/// A verified credential: the device it proves and the counter it used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    pub device: String,
    pub counter: u64,
}

fn signed_bytes(client_id: &str, counter: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(DOMAIN.len() + 1 + client_id.len() + 8);
    out.extend_from_slice(DOMAIN);
    out.push(client_id.len().min(255) as u8);
    out.extend_from_slice(client_id.as_bytes());
    out.extend_from_slice(&counter.to_be_bytes());
    out
}

/// The (username, password) a box connects with, for the counter `counter`.
pub fn device_login(key: &SigningKey, counter: u64) -> (String, String) {
    let id = identity::device_id(&key.verifying_key());
    let signature = key.sign(&signed_bytes(&id, counter));
    let password = format!(
        "{PREFIX}.{}.{counter}.{}",
        hex::encode(key.verifying_key().as_bytes()),
        hex::encode(signature.to_bytes())
    );
    (id, password)
}

/// Checks a CONNECT's client id, username and password as a device credential; the caller
/// then checks the counter against the last one it accepted for the device.
pub fn verify_device_login(
    client_id: &str,
    username: &str,
    password: &str,
) -> Result<Proven, ProtocolError> {
    identity::check_device_id(client_id)?;
    if username != client_id {
        return Err(ProtocolError::BadCredential(
            "the username must be the client id (the device id)".into(),
        ));
    }
    let bad = |what: &str| ProtocolError::BadCredential(format!("malformed password: {what}"));
    let mut parts = password.split('.');
    if parts.next() != Some(PREFIX) {
        return Err(bad("not an edged credential"));
    }
    let key = identity::parse_public_key(parts.next().ok_or_else(|| bad("no key"))?)?;
    let counter: u64 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no counter"))?;
    let signature: [u8; 64] = parts
        .next()
        .and_then(|s| hex::decode(s).ok())
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| bad("no signature"))?;
    if parts.next().is_some() {
        return Err(bad("trailing fields"));
    }
    if identity::device_id(&key) != client_id {
        return Err(ProtocolError::BadCredential(format!(
            "the key is not the key of {client_id}"
        )));
    }
    verify(&key, client_id, counter, &signature)?;
    Ok(Proven {
        device: client_id.to_string(),
        counter,
    })
}

fn verify(
    key: &VerifyingKey,
    client_id: &str,
    counter: u64,
    signature: &[u8; 64],
) -> Result<(), ProtocolError> {
    key.verify_strict(
        &signed_bytes(client_id, counter),
        &Signature::from_bytes(signature),
    )
    .map_err(|_| ProtocolError::BadSignature(client_id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn a_login_verifies_as_its_device_and_counter() {
        let (user, password) = device_login(&key(1), 42);
        assert_eq!(
            verify_device_login(&user, &user, &password),
            Ok(Proven {
                device: user.clone(),
                counter: 42
            })
        );
    }

    #[test]
    fn another_id_another_username_a_changed_counter_or_a_foreign_key_is_refused() {
        let (user, password) = device_login(&key(1), 42);
        let (other, other_password) = device_login(&key(2), 42);
        assert!(verify_device_login(&other, &other, &password).is_err());
        assert!(verify_device_login(&user, &other, &password).is_err());
        let bumped = password.replace(".42.", ".43.");
        assert_eq!(
            verify_device_login(&user, &user, &bumped),
            Err(ProtocolError::BadSignature(user.clone()))
        );
        // Another box's key under this box's id.
        let mixed: Vec<&str> = other_password.split('.').collect();
        let forged = format!("edc1.{}.42.{}", mixed[1], mixed[3]);
        assert!(matches!(
            verify_device_login(&user, &user, &forged),
            Err(ProtocolError::BadCredential(_))
        ));
        for junk in ["", "edc1", "edc1.zz.1.00", &format!("{password}.x")] {
            assert!(verify_device_login(&user, &user, junk).is_err(), "{junk}");
        }
        assert!(verify_device_login("d-+", "d-+", &password).is_err());
    }
}
