//! Checking a file while it streams in: the hash is computed on the way, and the stream is
//! refused the moment it goes past the declared length (endless data), so a hostile sender
//! cannot fill the disk or keep the device busy: PROTOCOL.md §Manifest verification, steps 12
//! and 13.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::BundleError;
use crate::manifest::FileEntry;

/// The running check of one file.
#[derive(Debug)]
pub struct FileCheck<'a> {
    entry: &'a FileEntry,
    hasher: Sha256,
    seen: u64,
}

impl<'a> FileCheck<'a> {
    pub fn new(entry: &'a FileEntry) -> Self {
        Self {
            entry,
            hasher: Sha256::new(),
            seen: 0,
        }
    }

    /// Takes the next chunk; fails (before hashing it) when it would pass the declared length.
    pub fn update(&mut self, chunk: &[u8]) -> Result<(), BundleError> {
        // PROTOCOL.md §Manifest verification, step 12: never past the declared length.
        let after = self.seen.saturating_add(chunk.len() as u64);
        if after > self.entry.length {
            return Err(BundleError::FileTooLong {
                name: self.entry.name.clone(),
                declared: self.entry.length,
            });
        }
        self.hasher.update(chunk);
        self.seen = after;
        Ok(())
    }

    /// Bytes accepted so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Checks the length and the hash once the stream has ended.
    pub fn finish(self) -> Result<(), BundleError> {
        // PROTOCOL.md §Manifest verification, step 13: exact length, then the hash.
        if self.seen != self.entry.length {
            return Err(BundleError::FileLength {
                name: self.entry.name.clone(),
                declared: self.entry.length,
                found: self.seen,
            });
        }
        let found = hex::encode(self.hasher.finalize());
        if !found.eq_ignore_ascii_case(&self.entry.sha256) {
            return Err(BundleError::FileHash {
                name: self.entry.name.clone(),
                declared: self.entry.sha256.clone(),
                found,
            });
        }
        Ok(())
    }
}

/// Checks the file at `path` against `entry`, reading at most one byte past the declared
/// length.
pub fn check_file(path: &Path, entry: &FileEntry) -> Result<(), BundleError> {
    let io = |source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut limited = file.take(entry.length.saturating_add(1));
    let mut check = FileCheck::new(entry);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = limited.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        check.update(&buf[..n])?;
    }
    check.finish()
}

/// The entry for the file at `path`, named `name` (what `fleet model sign` lists).
pub fn describe_file(path: &Path, name: &str) -> Result<FileEntry, BundleError> {
    let io = |source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut length = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        length += n as u64;
    }
    Ok(FileEntry {
        name: name.to_string(),
        sha256: hex::encode(hasher.finalize()),
        length,
    })
}
