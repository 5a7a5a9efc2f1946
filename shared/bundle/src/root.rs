//! The root key document: which keys may sign new root documents and which may sign releases
//! (with per-key expiry, thresholds and revocations), after TUF's root role.
//!
//! A device pins the root public key at enrollment. The fleet then sends the chain of root
//! documents; the first must be signed by the pinned key (and a threshold of its own root keys),
//! and each later one must be exactly the next version, signed by a threshold of the previous
//! root keys *and* of its own (TUF spec §5.3: rotation). The newest verified document is what
//! the device trusts from then on; it never goes back to an older one. The checks are the
//! numbered steps of PROTOCOL.md §Root verification, cited where each is made.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::BundleError;
use crate::signed::{Domain, Signed, Trusted, key_id, parse_public_key};

/// One key the document knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// ed25519 public key, hex.
    pub public: String,
    /// After this (ms since the epoch) the key's signatures no longer count.
    #[serde(default)]
    pub expires_ms: Option<u64>,
}

/// Which keys sign for a role, and how many must.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub keys: Vec<String>,
    pub threshold: u32,
}

/// The root document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Root {
    /// Always "root".
    pub kind: String,
    pub version: u64,
    /// The document itself is void after this (no indefinite freeze).
    pub expires_ms: u64,
    pub keys: BTreeMap<String, KeyEntry>,
    pub root: Role,
    pub release: Role,
    /// Key ids whose signatures never count again.
    #[serde(default)]
    pub revoked: BTreeSet<String>,
}

fn malformed(reason: impl Into<String>) -> BundleError {
    BundleError::Malformed {
        what: "root document",
        reason: reason.into(),
    }
}

impl Root {
    /// A first root document: `root_keys` sign roots (threshold `root_threshold`), `release_keys`
    /// (each with its expiry) sign manifests.
    pub fn new(
        expires_ms: u64,
        root_keys: &[VerifyingKey],
        root_threshold: u32,
        release_keys: &[(VerifyingKey, Option<u64>)],
        release_threshold: u32,
    ) -> Self {
        let mut keys = BTreeMap::new();
        let mut add = |k: &VerifyingKey, expires_ms| {
            let id = key_id(k);
            keys.insert(
                id.clone(),
                KeyEntry {
                    public: hex::encode(k.as_bytes()),
                    expires_ms,
                },
            );
            id
        };
        let root = root_keys.iter().map(|k| add(k, None)).collect();
        let release = release_keys.iter().map(|(k, e)| add(k, *e)).collect();
        Self {
            kind: "root".into(),
            version: 1,
            expires_ms,
            keys,
            root: Role {
                keys: root,
                threshold: root_threshold,
            },
            release: Role {
                keys: release,
                threshold: release_threshold,
            },
            revoked: BTreeSet::new(),
        }
    }

    /// Signs this document with `keys` (for a rotation: old and new root keys).
    pub fn sign(&self, keys: &[&SigningKey]) -> Signed {
        let payload = serde_json::to_string_pretty(self).unwrap_or_default();
        Signed::sign(Domain::Root, payload, keys)
    }

    /// Structural checks: kind, thresholds between 1 and the role's key count, every role key
    /// known, every key id the hash of its key.
    fn check_shape(&self) -> Result<(), BundleError> {
        // PROTOCOL.md §Root verification, step 3: kind, key ids, thresholds, role keys listed.
        if self.kind != "root" {
            return Err(malformed(format!("kind is {:?}, not \"root\"", self.kind)));
        }
        for (id, entry) in &self.keys {
            let key = parse_public_key(&entry.public)
                .ok_or_else(|| malformed(format!("key {id} is not an ed25519 public key")))?;
            if key_id(&key) != *id {
                return Err(malformed(format!("key id {id} is not the hash of its key")));
            }
        }
        for (name, role) in [("root", &self.root), ("release", &self.release)] {
            let distinct: BTreeSet<_> = role.keys.iter().collect();
            if role.threshold == 0 || role.threshold as usize > distinct.len() {
                return Err(malformed(format!(
                    "role {name}: threshold {} with {} distinct keys",
                    role.threshold,
                    distinct.len()
                )));
            }
            if let Some(unknown) = role.keys.iter().find(|k| !self.keys.contains_key(*k)) {
                return Err(malformed(format!(
                    "role {name} names unknown key {unknown}"
                )));
            }
        }
        Ok(())
    }

    fn keys_of(&self, role: &Role) -> BTreeMap<String, VerifyingKey> {
        role.keys
            .iter()
            .filter_map(|id| {
                let key = parse_public_key(&self.keys.get(id)?.public)?;
                Some((id.clone(), key))
            })
            .collect()
    }

    /// Key ids that do not count at `now_ms`: revoked, or past their expiry (for root keys
    /// as for release keys).
    pub fn excluded(&self, now_ms: u64) -> BTreeSet<String> {
        let expired = self
            .keys
            .iter()
            .filter(|(_, e)| e.expires_ms.is_some_and(|t| t <= now_ms))
            .map(|(id, _)| id.clone());
        self.revoked.iter().cloned().chain(expired).collect()
    }

    /// Fails when the document itself has expired.
    pub fn check_fresh(&self, now_ms: u64) -> Result<(), BundleError> {
        if self.expires_ms <= now_ms {
            return Err(BundleError::Expired {
                what: format!("root document version {}", self.version),
                expires_ms: self.expires_ms,
                now_ms,
            });
        }
        Ok(())
    }

    fn verify_by(&self, signed: &Signed, excluded: &BTreeSet<String>) -> Result<(), BundleError> {
        // PROTOCOL.md §Root verification, step 4: counted by `Signed::verify`.
        signed.verify(
            Domain::Root,
            &Trusted {
                role: "root",
                keys: self.keys_of(&self.root),
                threshold: self.root.threshold,
                excluded,
            },
        )
    }

    /// Verifies the first root document against the key pinned at enrollment: the pinned key
    /// must be one of its root keys and among its valid signers, and a threshold of its root
    /// keys must have signed.
    pub fn verify_initial(pinned: &VerifyingKey, signed: &Signed) -> Result<Self, BundleError> {
        // PROTOCOL.md §Root verification, step 2: a root document, no unknown fields.
        let root: Root = signed.payload(Domain::Root)?;
        // Step 3: its shape.
        root.check_shape()?;
        // Step 5: the pinned key is one of its root keys.
        let pinned_id = key_id(pinned);
        if !root.root.keys.contains(&pinned_id) {
            return Err(BundleError::PinnedKeyMissing { key_id: pinned_id });
        }
        let none = BTreeSet::new();
        // Step 6: the pinned key alone must vouch for the document...
        signed.verify(
            Domain::Root,
            &Trusted {
                role: "pinned root",
                keys: BTreeMap::from([(pinned_id, *pinned)]),
                threshold: 1,
                excluded: &none,
            },
        )?;
        // ...and step 7: the document's own threshold must hold.
        root.verify_by(signed, &none)?;
        Ok(root)
    }

    /// Verifies the root document that follows this one (a rotation) at `now_ms`.
    pub fn verify_next(&self, signed: &Signed, now_ms: u64) -> Result<Self, BundleError> {
        // PROTOCOL.md §Root verification, steps 2 and 3: a root document of the right shape.
        let next: Root = signed.payload(Domain::Root)?;
        next.check_shape()?;
        // Step 8: exactly one version above the root trusted before it.
        if next.version != self.version + 1 {
            return Err(BundleError::RootVersion {
                trusted: self.version,
                found: next.version,
            });
        }
        // Step 9: a threshold of the previous root keys signed it, keys the previous root
        // revoked or let expire not counting (a stolen, revoked root key cannot sign the
        // rotation that un-revokes it).
        self.verify_by(signed, &self.excluded(now_ms))?;
        // Step 10: a threshold of its own root keys signed it, its own revocations and
        // expiries applied too.
        next.verify_by(signed, &next.excluded(now_ms))?;
        Ok(next)
    }

    /// Moves trust forward along `chain` (root documents in any order; those not newer than
    /// this one are skipped), then checks that the result has not expired.
    pub fn update(&self, chain: &[Signed], now_ms: u64) -> Result<Self, BundleError> {
        // PROTOCOL.md §Root verification, step 8: skip what is not newer, go in version order.
        let mut docs: Vec<(u64, &Signed)> = chain
            .iter()
            .filter_map(|s| Some((s.payload::<Root>(Domain::Root).ok()?.version, s)))
            .filter(|(v, _)| *v > self.version)
            .collect();
        docs.sort_by_key(|(v, _)| *v);
        let mut current = self.clone();
        for (_, signed) in docs {
            current = current.verify_next(signed, now_ms)?;
        }
        // Step 11: the newest document reached has not expired.
        current.check_fresh(now_ms)?;
        Ok(current)
    }

    /// Who may sign manifests now: the release role minus revoked and expired keys.
    pub fn release_signers<'a>(&self, excluded: &'a BTreeSet<String>) -> Trusted<'a> {
        Trusted {
            role: "release",
            keys: self.keys_of(&self.release),
            threshold: self.release.threshold,
            excluded,
        }
    }
}
