//! A signed document: the payload is kept as the exact JSON text that was signed (no
//! canonicalisation to get wrong), and each signature covers a domain string, the payload's
//! length and the payload, so a signature over a manifest can never pass as one over a root
//! document or a desired state.
//!
//! Threshold counting follows TUF (spec §5.3.4/§5.4.4): only signatures by keys the role lists
//! count, each key at most once however many times it signed, a revoked or expired key not at
//! all.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::BundleError;

/// Largest signed document accepted (a manifest of hundreds of files is ~50 KB).
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// What a signature is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    Root,
    Manifest,
    Desired,
}

impl Domain {
    fn tag(self) -> &'static [u8] {
        match self {
            Self::Root => b"edge-gateway/root/v1",
            Self::Manifest => b"edge-gateway/manifest/v1",
            Self::Desired => b"edge-gateway/desired/v1",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Root => "root document",
            Self::Manifest => "manifest",
            Self::Desired => "desired state",
        }
    }
}

/// One signature: the key's id and the ed25519 signature, both hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    pub key_id: String,
    pub sig: String,
}

/// The document as stored and sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed {
    /// The signed JSON text, verbatim.
    pub payload: String,
    pub signatures: Vec<Signature>,
}

/// A key's id: the first 16 bytes of SHA-256 of the public key, hex.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..16])
}

/// Parses a 64-character hex public key.
pub fn parse_public_key(text: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(text.trim()).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

fn signed_bytes(domain: Domain, payload: &str) -> Vec<u8> {
    let tag = domain.tag();
    let mut out = Vec::with_capacity(tag.len() + 9 + payload.len());
    out.extend_from_slice(tag);
    out.push(0);
    out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    out.extend_from_slice(payload.as_bytes());
    out
}

/// What may sign for a role: the keys and how many distinct ones must.
#[derive(Debug, Clone)]
pub struct Trusted<'a> {
    pub role: &'static str,
    pub keys: BTreeMap<String, VerifyingKey>,
    pub threshold: u32,
    /// Keys that must not count even if listed (revoked, expired).
    pub excluded: &'a BTreeSet<String>,
}

impl Signed {
    /// Signs `payload` with every key in `keys`.
    pub fn sign(domain: Domain, payload: String, keys: &[&SigningKey]) -> Self {
        let bytes = signed_bytes(domain, &payload);
        let signatures = keys
            .iter()
            .map(|k| Signature {
                key_id: key_id(&k.verifying_key()),
                sig: hex::encode(k.sign(&bytes).to_bytes()),
            })
            .collect();
        Self {
            payload,
            signatures,
        }
    }

    /// Parses a signed document, refusing oversized input before reading it.
    pub fn parse(domain: Domain, bytes: &[u8]) -> Result<Self, BundleError> {
        // PROTOCOL.md §Root verification, step 1, and §Manifest verification, step 1.
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(BundleError::TooLarge {
                what: domain.name(),
                size: bytes.len() as u64,
                limit: MAX_DOCUMENT_BYTES as u64,
            });
        }
        serde_json::from_slice(bytes).map_err(|e| BundleError::Malformed {
            what: domain.name(),
            reason: e.to_string(),
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// SHA-256 of the payload, hex: how a desired state names a manifest.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.payload.as_bytes()))
    }

    /// Checks that at least `trusted.threshold` distinct, non-excluded keys of the role signed.
    pub fn verify(&self, domain: Domain, trusted: &Trusted<'_>) -> Result<(), BundleError> {
        // PROTOCOL.md §Root verification, step 4 (and §Manifest verification, step 3): each
        // listed, non-excluded key once, over the domain tag, the length and the payload.
        let bytes = signed_bytes(domain, &self.payload);
        let mut counted = BTreeSet::new();
        for s in &self.signatures {
            if counted.contains(&s.key_id) || trusted.excluded.contains(&s.key_id) {
                continue;
            }
            let Some(key) = trusted.keys.get(&s.key_id) else {
                continue;
            };
            let Some(sig) = hex::decode(&s.sig)
                .ok()
                .and_then(|b| <[u8; 64]>::try_from(b).ok())
            else {
                continue;
            };
            // `verify_strict`: no small-order keys, no malleable (non-canonical) signatures.
            if key
                .verify_strict(&bytes, &ed25519_dalek::Signature::from_bytes(&sig))
                .is_ok()
            {
                counted.insert(s.key_id.clone());
            }
        }
        let valid = counted.len() as u32;
        // A threshold of 0 would accept anything: it is refused when documents are parsed,
        // and treated as 1 here too.
        if valid >= trusted.threshold.max(1) {
            Ok(())
        } else {
            Err(BundleError::Threshold {
                what: domain.name(),
                role: trusted.role,
                valid,
                threshold: trusted.threshold.max(1),
            })
        }
    }

    /// The payload parsed as `T`. A manifest is parsed only after [`Signed::verify`]; a root
    /// document is parsed first, since its own keys are among those that must have signed it.
    pub fn payload<T: serde::de::DeserializeOwned>(
        &self,
        domain: Domain,
    ) -> Result<T, BundleError> {
        serde_json::from_str(&self.payload).map_err(|e| BundleError::Malformed {
            what: domain.name(),
            reason: e.to_string(),
        })
    }
}
