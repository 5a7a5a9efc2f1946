//! What the fleet serves to devices for model updates: the signed desired state of each
//! device (the operator's intent, stored in the registry, composed here with the published
//! manifests and the root chain), and chunks of published files by hash.
//!
//! Chunks come from a shared in-memory cache keyed by (file hash, offset), so a rollout to a
//! thousand devices reads each chunk from disk once while it stays hot, not once per device.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use edge_protocol::messages::{Chunk, Desired, DesiredModel, Fetch, MAX_CHUNK};

use super::registry::DesiredEntry;

/// Chunks kept in memory (at most 256 KiB each).
const CACHE_CHUNKS: usize = 256;

/// Why an update request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("{model} version {version} is not published")]
    NotPublished { model: String, version: u64 },
    #[error("no published file {0}")]
    NoFile(String),
    #[error("bad fetch: {0}")]
    BadFetch(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Published bundles, as devices see them.
#[derive(Debug)]
pub struct Updates {
    bundles: PathBuf,
    cache: Mutex<ChunkCache>,
}

/// (file hash, offset, length).
type ChunkKey = (String, u64, u32);

#[derive(Debug, Default)]
struct ChunkCache {
    /// The bytes and the file's whole length.
    chunks: HashMap<ChunkKey, (Arc<Vec<u8>>, u64)>,
    order: VecDeque<ChunkKey>,
    hits: u64,
    misses: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> UpdateError + '_ {
    move |source| UpdateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Updates {
    pub fn new(state_dir: &Path) -> Self {
        Self {
            bundles: state_dir.join("bundles"),
            cache: Mutex::new(ChunkCache::default()),
        }
    }

    /// The signed manifest of a published version (JSON text).
    pub fn manifest(&self, model: &str, version: u64) -> Result<String, UpdateError> {
        let safe = !model.is_empty()
            && model
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        let path = self
            .bundles
            .join("models")
            .join(model)
            .join(format!("{version}.json"));
        let not_published = || UpdateError::NotPublished {
            model: model.to_string(),
            version,
        };
        if !safe {
            return Err(not_published());
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(not_published()),
            Err(e) => Err(UpdateError::Io { path, source: e }),
        }
    }

    /// The root documents published with the bundles, oldest first.
    pub fn roots(&self) -> Result<Vec<String>, UpdateError> {
        let dir = self.bundles.join("roots");
        let mut docs: Vec<(u64, String)> = Vec::new();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        for entry in entries {
            let path = entry.map_err(io(&dir))?.path();
            let version = path.file_name().and_then(|n| n.to_str()).and_then(|n| {
                n.strip_prefix("root-")?
                    .strip_suffix(".json")?
                    .parse::<u64>()
                    .ok()
            });
            if let Some(v) = version {
                docs.push((v, std::fs::read_to_string(&path).map_err(io(&path))?));
            }
        }
        docs.sort_by_key(|(v, _)| *v);
        Ok(docs.into_iter().map(|(_, d)| d).collect())
    }

    /// The desired state body for `models`.
    pub fn desired(&self, models: &BTreeMap<String, DesiredEntry>) -> Result<Desired, UpdateError> {
        let mut out = BTreeMap::new();
        for (model, entry) in models {
            let version = &entry.version;
            if entry.rollback {
                out.insert(
                    model.clone(),
                    DesiredModel {
                        version: *version,
                        manifest_sha256: String::new(),
                        manifest: String::new(),
                        rollback: true,
                    },
                );
                continue;
            }
            let manifest = self.manifest(model, *version)?;
            let signed: serde_json::Value = serde_json::from_str(&manifest).unwrap_or_default();
            let payload = signed["payload"].as_str().unwrap_or_default();
            out.insert(
                model.clone(),
                DesiredModel {
                    version: *version,
                    manifest_sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                        payload.as_bytes(),
                    )),
                    manifest,
                    rollback: false,
                },
            );
        }
        Ok(Desired {
            models: out,
            roots: self.roots()?,
        })
    }

    /// Part of a published file.
    pub fn chunk(&self, fetch: &Fetch) -> Result<Chunk, UpdateError> {
        let hash_ok =
            fetch.sha256.len() == 64 && fetch.sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !hash_ok || fetch.length == 0 || fetch.length > MAX_CHUNK {
            return Err(UpdateError::BadFetch(format!(
                "sha256 must be 64 hex digits and length 1..={MAX_CHUNK}"
            )));
        }
        let key = (
            fetch.sha256.to_ascii_lowercase(),
            fetch.offset,
            fetch.length,
        );
        if let Some((data, total)) = self.cached(&key) {
            return Ok(Chunk {
                sha256: key.0,
                offset: fetch.offset,
                total,
                data: data.to_vec(),
            });
        }
        let path = self.bundles.join("blobs").join(&key.0);
        let mut file =
            std::fs::File::open(&path).map_err(|_| UpdateError::NoFile(key.0.clone()))?;
        let total = file.metadata().map_err(io(&path))?.len();
        if fetch.offset > total {
            return Err(UpdateError::BadFetch(format!(
                "offset {} is past the end ({total})",
                fetch.offset
            )));
        }
        file.seek(SeekFrom::Start(fetch.offset))
            .map_err(io(&path))?;
        let mut data = Vec::with_capacity(fetch.length as usize);
        file.take(u64::from(fetch.length))
            .read_to_end(&mut data)
            .map_err(io(&path))?;
        let data = Arc::new(data);
        self.remember(key.clone(), data.clone(), total);
        Ok(Chunk {
            sha256: key.0,
            offset: fetch.offset,
            total,
            data: data.to_vec(),
        })
    }

    fn cached(&self, key: &ChunkKey) -> Option<(Arc<Vec<u8>>, u64)> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let hit = cache.chunks.get(key).cloned();
        if hit.is_some() {
            cache.hits += 1;
        } else {
            cache.misses += 1;
        }
        hit
    }

    fn remember(&self, key: ChunkKey, data: Arc<Vec<u8>>, total: u64) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.chunks.insert(key.clone(), (data, total)).is_none() {
            cache.order.push_back(key);
        }
        while cache.order.len() > CACHE_CHUNKS {
            if let Some(old) = cache.order.pop_front() {
                cache.chunks.remove(&old);
            }
        }
    }

    /// (hits, misses) of the chunk cache since start.
    pub fn cache_stats(&self) -> (u64, u64) {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        (cache.hits, cache.misses)
    }
}
