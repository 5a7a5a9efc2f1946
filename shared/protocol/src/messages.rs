//! The bodies of the messages other than record batches and acks: the hello, the desired
//! state and the fetch are JSON (readable by outside tools, small); the chunk that answers a
//! fetch is postcard in a binary envelope, since it carries file bytes. Status and telemetry
//! bodies are the daemon's own JSON documents and have no type here.

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
    /// The box's tags (`[fleet.tags]`), for rollout targeting.
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
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

/// The fleet's desired state for one device (JSON body of a fleet-signed `desired`
/// envelope): which version of each model it should run, with the release-signed manifest of
/// that version and the chain of root documents the device verifies it against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Desired {
    pub models: std::collections::BTreeMap<String, DesiredModel>,
    /// Signed root documents (JSON text), oldest first.
    pub roots: Vec<String>,
}

/// One model of a desired state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesiredModel {
    pub version: u64,
    /// SHA-256 (hex) of the manifest's signed payload (empty for a rollback).
    #[serde(default)]
    pub manifest_sha256: String,
    /// The signed manifest (JSON text; empty for a rollback).
    #[serde(default)]
    pub manifest: String,
    /// Go back to `version`, the version the box ran before, still on its disk (a halted
    /// rollout). No bundle is accepted this way: a box takes it only for a version it already
    /// activated and kept.
    #[serde(default)]
    pub rollback: bool,
}

/// A device asks for `length` bytes of the published file `sha256` from `offset` (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fetch {
    pub sha256: String,
    pub offset: u64,
    pub length: u32,
}

/// Largest chunk a device may ask for.
pub const MAX_CHUNK: u32 = 256 * 1024;

/// The fleet's answer to a [`Fetch`] (postcard, binary envelope): the bytes, and the file's
/// whole length so the device knows when it is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    pub sha256: String,
    pub offset: u64,
    pub total: u64,
    pub data: Vec<u8>,
}

impl Chunk {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        postcard::from_bytes(bytes).map_err(|e| ProtocolError::Decode(format!("chunk: {e}")))
    }
}
