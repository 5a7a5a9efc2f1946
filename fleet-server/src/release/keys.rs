//! `fleet keys`: make the root and release keys and the first root document; later root
//! versions revoke a release key, add one, or rotate the root key (the new root document is
//! signed by the old and the new root key, as devices require).

use std::path::{Path, PathBuf};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use edge_bundle::root::{KeyEntry, Root};
use edge_bundle::signed::{Domain, Signed};

use super::{ReleaseError, invalid, io_error, now_ms};

/// Writes a new secret key (hex, mode 0600); never overwrites.
pub fn write_new_key(path: &Path) -> Result<SigningKey, ReleaseError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error(path))?;
    file.write_all(hex::encode(key.to_bytes()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error(path))?;
    Ok(key)
}

/// Reads a secret key written by [`write_new_key`].
pub fn read_key(path: &Path) -> Result<SigningKey, ReleaseError> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| invalid(path, "not a 32-byte hex ed25519 secret key"))?;
    Ok(SigningKey::from_bytes(&bytes))
}

fn roots_dir(keys: &Path) -> PathBuf {
    keys.join("roots")
}

fn root_file(keys: &Path, version: u64) -> PathBuf {
    roots_dir(keys).join(format!("root-{version}.json"))
}

/// Every root document in `dir` (`root-N.json`), oldest first.
pub fn read_chain(dir: &Path) -> Result<Vec<Signed>, ReleaseError> {
    let mut docs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let path = entry.map_err(io_error(dir))?.path();
        let is_root = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("root-") && n.ends_with(".json"));
        if is_root {
            let bytes = std::fs::read(&path).map_err(io_error(&path))?;
            let signed = Signed::parse(Domain::Root, &bytes)?;
            let root: Root = signed.payload(Domain::Root)?;
            docs.push((root.version, signed));
        }
    }
    docs.sort_by_key(|(v, _)| *v);
    Ok(docs.into_iter().map(|(_, s)| s).collect())
}

/// The newest root document of a chain, verified from its first document (self-signed by
/// its root keys) through every rotation.
pub fn verify_chain(chain: &[Signed], now_ms: u64) -> Result<Root, ReleaseError> {
    let first = chain
        .first()
        .ok_or_else(|| invalid(Path::new("roots"), "no root document"))?;
    let root: Root = first.payload(Domain::Root)?;
    let pinned = root
        .root
        .keys
        .first()
        .and_then(|id| root.keys.get(id))
        .and_then(|k| edge_bundle::signed::parse_public_key(&k.public))
        .ok_or_else(|| invalid(Path::new("roots"), "first root document has no root key"))?;
    let trusted = Root::verify_initial(&pinned, first)?;
    Ok(trusted.update(&chain[1..], now_ms)?)
}

/// What `fleet keys init` made.
#[derive(Debug)]
pub struct Initialised {
    pub root_public: String,
    pub release_ids: Vec<String>,
    pub root_file: PathBuf,
}

/// Makes `root.key`, `release-1..=n.key` and `roots/root-1.json` in `dir`.
pub fn init(
    dir: &Path,
    release_keys: u32,
    release_threshold: u32,
    root_expires: Duration,
    release_expires: Duration,
) -> Result<Initialised, ReleaseError> {
    if release_keys == 0 || release_threshold == 0 || release_threshold > release_keys {
        return Err(invalid(
            dir,
            format!("a threshold of {release_threshold} with {release_keys} release keys"),
        ));
    }
    std::fs::create_dir_all(roots_dir(dir)).map_err(io_error(dir))?;
    let root_key = write_new_key(&dir.join("root.key"))?;
    let now = now_ms();
    let release: Vec<_> = (1..=release_keys)
        .map(|n| {
            let key = write_new_key(&dir.join(format!("release-{n}.key")))?;
            Ok((
                key.verifying_key(),
                Some(now + release_expires.as_millis() as u64),
            ))
        })
        .collect::<Result<_, ReleaseError>>()?;
    let root = Root::new(
        now + root_expires.as_millis() as u64,
        &[root_key.verifying_key()],
        1,
        &release,
        release_threshold,
    );
    let path = root_file(dir, 1);
    write_new(&path, &root.sign(&[&root_key]).to_bytes())?;
    Ok(Initialised {
        root_public: hex::encode(root_key.verifying_key().as_bytes()),
        release_ids: release
            .iter()
            .map(|(k, _)| edge_bundle::key_id(k))
            .collect(),
        root_file: path,
    })
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), ReleaseError> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_error(path))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_error(path))
}

/// A change that makes the next root version.
#[derive(Debug)]
pub enum RootChange {
    /// Revoke a release key by id (its signatures never count again).
    Revoke(String),
    /// Add a new release key, valid for this long.
    AddRelease(Duration),
    /// Replace the root key: the old one is kept as `root-retired-N.key`.
    RotateRoot,
    /// Only extend the document's expiry.
    Renew,
}

/// Writes `roots/root-(N+1).json` with `change` applied and `expires` from now; returns its path.
pub fn next_root(
    dir: &Path,
    change: RootChange,
    expires: Duration,
) -> Result<PathBuf, ReleaseError> {
    let now = now_ms();
    let chain = read_chain(&roots_dir(dir))?;
    let current = verify_chain(&chain, now)?;
    let root_key = read_key(&dir.join("root.key"))?;
    let mut next = current.clone();
    next.version += 1;
    next.expires_ms = now + expires.as_millis() as u64;
    let mut signers = vec![root_key.clone()];
    match change {
        RootChange::Revoke(id) => {
            if !next.release.keys.contains(&id) {
                return Err(invalid(dir, format!("{id} is not a release key")));
            }
            next.release.keys.retain(|k| *k != id);
            next.revoked.insert(id);
            if next.release.keys.len() < next.release.threshold as usize {
                return Err(invalid(
                    dir,
                    "revoking it would leave fewer release keys than the threshold: add one first",
                ));
            }
        }
        RootChange::AddRelease(valid) => {
            let n = (1..)
                .find(|n| !dir.join(format!("release-{n}.key")).exists())
                .unwrap_or(1);
            let key = write_new_key(&dir.join(format!("release-{n}.key")))?;
            let id = edge_bundle::key_id(&key.verifying_key());
            next.keys.insert(
                id.clone(),
                KeyEntry {
                    public: hex::encode(key.verifying_key().as_bytes()),
                    expires_ms: Some(now + valid.as_millis() as u64),
                },
            );
            next.release.keys.push(id);
        }
        RootChange::RotateRoot => {
            let retired = dir.join(format!("root-retired-{}.key", current.version));
            std::fs::rename(dir.join("root.key"), &retired).map_err(io_error(&retired))?;
            let new_key = write_new_key(&dir.join("root.key"))?;
            let new_id = edge_bundle::key_id(&new_key.verifying_key());
            for id in &current.root.keys {
                next.keys.remove(id);
            }
            next.keys.insert(
                new_id.clone(),
                KeyEntry {
                    public: hex::encode(new_key.verifying_key().as_bytes()),
                    expires_ms: None,
                },
            );
            next.root.keys = vec![new_id];
            next.root.threshold = 1;
            signers.push(new_key);
        }
        RootChange::Renew => {}
    }
    let refs: Vec<&SigningKey> = signers.iter().collect();
    let signed = next.sign(&refs);
    // Check what devices will check before writing it.
    current.verify_next(&signed, now_ms())?;
    let path = root_file(dir, next.version);
    write_new(&path, &signed.to_bytes())?;
    Ok(path)
}
