//! A flush of a sled database that survives a power cut, not only a crash of the process.
//!
//! sled 0.34's `Db::flush` writes its buffers and then calls `sync_file_range` on the range it
//! wrote (sled issue #1452). That pushes the pages to the device, but it neither flushes the
//! drive's volatile write cache nor writes the file's metadata (its size when the log grew), and
//! filesystems without the call (FUSE, some network filesystems) do nothing at all. So a flush
//! survives `kill -9` (the page cache outlives the process) but not necessarily a power cut.
//! sled fsyncs the log only from its background flusher, every `flush_every_ms`.
//!
//! [`Durable::flush`] is what an acknowledgement that promises durability waits for:
//! 1. `Db::flush` (sled writes the log and its blob files);
//! 2. `fsync` of the log file (`DIR/db`): data, size and the drive's cache (POSIX fsync;
//!    Linux issues a cache flush / FUA to the device);
//! 3. `fsync` of every blob file written since the last durable flush (sled writes values
//!    larger than its inline limit, about 128 KiB, to `DIR/blobs/LSN` without syncing them),
//!    then of the `blobs` directory, so their names survive too;
//! 4. `fsync` of `DIR` itself, so a snapshot sled renamed into place, or a file it created,
//!    is not lost with its directory entry.
//!
//! At open, [`Durable::new`] also syncs `DIR`'s parent, so a freshly created database directory
//! is itself durable. The cost is one to three more fsyncs per group commit (measured in
//! BENCHMARKS.md, "Durable acknowledgement").

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Why a durable flush failed: nothing it covered may be acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum DurableError {
    #[error("sled flush failed: {0}")]
    Flush(#[from] sled::Error),
    #[error("fsync of {path} failed: {source}")]
    Sync {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The files a sled database at one directory depends on, and which of them are synced.
#[derive(Debug)]
pub struct Durable {
    db: sled::Db,
    dir: PathBuf,
    log: File,
    /// Blob files already synced (sled never rewrites a blob in place: a new value is a new
    /// file), so each is synced once.
    synced_blobs: Mutex<HashSet<OsString>>,
}

fn sync_path(path: &Path) -> Result<(), DurableError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|source| DurableError::Sync {
            path: path.to_path_buf(),
            source,
        })
}

impl Durable {
    /// Syncs the database at `dir` as it is now (log, blobs, `dir` and its parent) and returns
    /// the handle later flushes go through. `db` must have been opened at `dir`.
    pub fn new(db: sled::Db, dir: &Path) -> Result<Self, DurableError> {
        let log_path = dir.join("db");
        let log = File::open(&log_path).map_err(|source| DurableError::Sync {
            path: log_path,
            source,
        })?;
        let durable = Self {
            db,
            dir: dir.to_path_buf(),
            log,
            synced_blobs: Mutex::new(HashSet::new()),
        };
        durable.flush()?;
        sync_path(&dir.join("conf")).or_else(|e| match &e {
            DurableError::Sync { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(())
            }
            _ => Err(e),
        })?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_path(parent)?;
        }
        Ok(durable)
    }

    /// The database.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// Makes everything written to the database before the call durable against a power cut
    /// (the steps in the module docs). Blocking: call it off the async workers.
    pub fn flush(&self) -> Result<(), DurableError> {
        self.db.flush()?;
        self.log.sync_all().map_err(|source| DurableError::Sync {
            path: self.dir.join("db"),
            source,
        })?;
        self.sync_blobs()?;
        sync_path(&self.dir)
    }

    fn sync_blobs(&self) -> Result<(), DurableError> {
        let blobs = self.dir.join("blobs");
        let entries = match std::fs::read_dir(&blobs) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(DurableError::Sync {
                    path: blobs,
                    source,
                });
            }
        };
        let mut synced = self
            .synced_blobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut present = HashSet::new();
        let mut new = false;
        for entry in entries {
            let entry = entry.map_err(|source| DurableError::Sync {
                path: blobs.clone(),
                source,
            })?;
            let name = entry.file_name();
            if !synced.contains(&name) {
                match File::open(entry.path()).and_then(|f| f.sync_all()) {
                    Ok(()) => {}
                    // Collected by sled between the listing and the open: nothing to keep.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(source) => {
                        return Err(DurableError::Sync {
                            path: entry.path(),
                            source,
                        });
                    }
                }
                new = true;
            }
            present.insert(name);
        }
        // A removal also changes the directory; sync it when anything came or went.
        let changed = new || present.len() != synced.len();
        *synced = present;
        drop(synced);
        if changed {
            sync_path(&blobs)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_syncs_a_fresh_database_and_its_large_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        let db = sled::Config::new().path(&path).open().expect("open");
        let durable = Durable::new(db, &path).expect("durable");
        // A value over sled's inline limit goes to a blob file, which must be synced too.
        durable
            .db()
            .insert(b"big", vec![7u8; 300 << 10])
            .expect("insert");
        durable
            .db()
            .insert(b"small", b"1".to_vec())
            .expect("insert");
        durable.flush().expect("flush");
        let blobs = durable.synced_blobs.lock().expect("lock").len();
        assert_eq!(blobs, 1, "the blob file was synced once");
        durable.flush().expect("second flush");
    }

    #[test]
    fn new_refuses_a_directory_that_is_not_the_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::Config::new()
            .path(dir.path().join("db"))
            .open()
            .expect("open");
        let err = Durable::new(db, &dir.path().join("elsewhere")).expect_err("no log there");
        assert!(err.to_string().contains("elsewhere/db"), "{err}");
    }
}
