//! JSON bodies of the small messages (hello, status, telemetry are JSON so outside tools can
//! read them).

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::{ProtocolError, identity};

/// A device introduces itself: its public key (whose hash is its id) and what it runs.
/// Sent on every connection, self-signed: the fleet checks that the key hashes to the
/// signer's id and verifies the envelope with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub public_key: String,
    pub software: String,
    #[serde(default)]
    pub models: Vec<String>,
}

impl Hello {
    /// The key named in the hello of the JSON envelope `bytes`, checked against the signer
    /// id, before the envelope's signature is verified with it.
    pub fn claimed_key(bytes: &[u8]) -> Result<VerifyingKey, ProtocolError> {
        let frame: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| ProtocolError::Decode(e.to_string()))?;
        let body = frame["body"]
            .as_str()
            .ok_or_else(|| ProtocolError::Decode("hello without a body".into()))?;
        let hello: Hello =
            serde_json::from_str(body).map_err(|e| ProtocolError::Decode(format!("hello: {e}")))?;
        let key = identity::parse_public_key(&hello.public_key)?;
        let signer = frame["signer"].as_str().unwrap_or_default();
        if identity::device_id(&key) != signer {
            return Err(ProtocolError::WrongDevice {
                claimed: signer.to_string(),
                topic: identity::device_id(&key),
            });
        }
        Ok(key)
    }
}
