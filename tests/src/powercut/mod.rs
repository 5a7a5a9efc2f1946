//! A filesystem that loses, on command, everything a power cut may lose: the model behind the
//! `powercut-fs` FUSE binary (`fuse.rs` adapts it to the kernel).
//!
//! It keeps two states. The *current* one is what programs read and write. The *durable* one
//! is what a disk that honours only POSIX's minimum would still hold after the power went:
//! - a file's data and size as of its last `fsync`/`fdatasync`;
//! - a directory's entries (creations, renames, removals) as of its last `fsync`.
//!
//! `cut` replaces the current state with the durable one (files unreachable from the durable
//! root vanish); `checkpoint` makes everything durable, as a clean shutdown followed by
//! `sync` would. Real filesystems are often kinder (ext4 commits its journal every 5 s and
//! orders data before metadata), so surviving this model is the stronger claim. The calls
//! FUSE never forwards (`sync_file_range`, which sled 0.34's flush relies on) make nothing
//! durable here, as on a drive with a volatile cache.

pub mod fuse;
pub mod mount;

use std::collections::{BTreeMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::time::SystemTime;

pub const ROOT: u64 = 1;

/// Why an operation failed, as an errno.
pub type Errno = i32;

#[derive(Debug, Clone)]
pub enum Body {
    File {
        data: Vec<u8>,
        durable: Vec<u8>,
        /// Writes and truncations since the last fsync, in order: replayed onto `durable`
        /// by the next one (so an fsync costs what was written, not the file's size).
        pending: Vec<Change>,
    },
    Dir {
        entries: BTreeMap<OsString, u64>,
        durable: BTreeMap<OsString, u64>,
    },
}

#[derive(Debug, Clone)]
pub enum Change {
    Write { offset: usize, bytes: Vec<u8> },
    Truncate(usize),
}

fn apply(data: &mut Vec<u8>, change: &Change) {
    match change {
        Change::Write { offset, bytes } => {
            let end = offset + bytes.len();
            if data.len() < end {
                data.resize(end, 0);
            }
            data[*offset..end].copy_from_slice(bytes);
        }
        Change::Truncate(len) => data.resize(*len, 0),
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    pub mode: u16,
    pub mtime: SystemTime,
    pub body: Body,
}

/// What a cut or a checkpoint changed, reported on the control channel.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Unsynced bytes written to files that survive.
    pub bytes: u64,
    /// Files and directories that existed only in the current state.
    pub nodes: u64,
}

/// The whole filesystem.
#[derive(Debug)]
pub struct Fs {
    pub nodes: BTreeMap<u64, Node>,
    next: u64,
    pub fsyncs: u64,
}

impl Default for Fs {
    fn default() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            ROOT,
            Node {
                mode: 0o755,
                mtime: SystemTime::now(),
                body: Body::Dir {
                    entries: BTreeMap::new(),
                    durable: BTreeMap::new(),
                },
            },
        );
        Self {
            nodes,
            next: ROOT + 1,
            fsyncs: 0,
        }
    }
}

const ENOENT: Errno = libc_errno::ENOENT;

/// The errno values used (Linux numbers).
pub mod libc_errno {
    pub const EPERM: i32 = 1;
    pub const ENOENT: i32 = 2;
    pub const EEXIST: i32 = 17;
    pub const ENOTDIR: i32 = 20;
    pub const EISDIR: i32 = 21;
    pub const EINVAL: i32 = 22;
    pub const ENOTEMPTY: i32 = 39;
}

impl Fs {
    pub fn node(&self, ino: u64) -> Result<&Node, Errno> {
        self.nodes.get(&ino).ok_or(ENOENT)
    }

    fn entries_mut(&mut self, dir: u64) -> Result<&mut BTreeMap<OsString, u64>, Errno> {
        match &mut self.nodes.get_mut(&dir).ok_or(ENOENT)?.body {
            Body::Dir { entries, .. } => Ok(entries),
            Body::File { .. } => Err(libc_errno::ENOTDIR),
        }
    }

    pub fn lookup(&self, dir: u64, name: &OsStr) -> Result<u64, Errno> {
        match &self.node(dir)?.body {
            Body::Dir { entries, .. } => entries.get(name).copied().ok_or(ENOENT),
            Body::File { .. } => Err(libc_errno::ENOTDIR),
        }
    }

    /// Creates a file or directory `name` in `dir`.
    pub fn create(
        &mut self,
        dir: u64,
        name: &OsStr,
        mode: u16,
        is_dir: bool,
    ) -> Result<u64, Errno> {
        if self.entries_mut(dir)?.contains_key(name) {
            return Err(libc_errno::EEXIST);
        }
        let ino = self.next;
        self.next += 1;
        let body = if is_dir {
            Body::Dir {
                entries: BTreeMap::new(),
                durable: BTreeMap::new(),
            }
        } else {
            Body::File {
                data: Vec::new(),
                durable: Vec::new(),
                pending: Vec::new(),
            }
        };
        self.nodes.insert(
            ino,
            Node {
                mode,
                mtime: SystemTime::now(),
                body,
            },
        );
        self.entries_mut(dir)?.insert(name.to_os_string(), ino);
        Ok(ino)
    }

    pub fn remove(&mut self, dir: u64, name: &OsStr, want_dir: bool) -> Result<(), Errno> {
        let ino = self.lookup(dir, name)?;
        match (&self.node(ino)?.body, want_dir) {
            (Body::Dir { entries, .. }, true) if !entries.is_empty() => {
                return Err(libc_errno::ENOTEMPTY);
            }
            (Body::Dir { .. }, false) => return Err(libc_errno::EISDIR),
            (Body::File { .. }, true) => return Err(libc_errno::ENOTDIR),
            _ => {}
        }
        self.entries_mut(dir)?.remove(name);
        Ok(())
    }

    pub fn rename(
        &mut self,
        dir: u64,
        name: &OsStr,
        to_dir: u64,
        to_name: &OsStr,
        no_replace: bool,
    ) -> Result<(), Errno> {
        let ino = self.lookup(dir, name)?;
        if let Ok(existing) = self.lookup(to_dir, to_name) {
            if no_replace {
                return Err(libc_errno::EEXIST);
            }
            if existing == ino {
                return Ok(());
            }
            if let Body::Dir { entries, .. } = &self.node(existing)?.body
                && !entries.is_empty()
            {
                return Err(libc_errno::ENOTEMPTY);
            }
        }
        self.entries_mut(to_dir)?; // the target must be a directory
        self.entries_mut(dir)?.remove(name);
        self.entries_mut(to_dir)?
            .insert(to_name.to_os_string(), ino);
        Ok(())
    }

    fn file_mut(&mut self, ino: u64) -> Result<(&mut Vec<u8>, &mut Vec<Change>), Errno> {
        let node = self.nodes.get_mut(&ino).ok_or(ENOENT)?;
        node.mtime = SystemTime::now();
        match &mut node.body {
            Body::File { data, pending, .. } => Ok((data, pending)),
            Body::Dir { .. } => Err(libc_errno::EISDIR),
        }
    }

    pub fn write(&mut self, ino: u64, offset: usize, bytes: &[u8]) -> Result<usize, Errno> {
        let (data, pending) = self.file_mut(ino)?;
        let change = Change::Write {
            offset,
            bytes: bytes.to_vec(),
        };
        apply(data, &change);
        pending.push(change);
        Ok(bytes.len())
    }

    pub fn truncate(&mut self, ino: u64, len: usize) -> Result<(), Errno> {
        let (data, pending) = self.file_mut(ino)?;
        let change = Change::Truncate(len);
        apply(data, &change);
        pending.push(change);
        Ok(())
    }

    pub fn read(&self, ino: u64, offset: usize, len: usize) -> Result<&[u8], Errno> {
        match &self.node(ino)?.body {
            Body::File { data, .. } => {
                let start = offset.min(data.len());
                Ok(&data[start..(start + len).min(data.len())])
            }
            Body::Dir { .. } => Err(libc_errno::EISDIR),
        }
    }

    /// fsync of a file (its data and size) or of a directory (its entries).
    pub fn fsync(&mut self, ino: u64) -> Result<(), Errno> {
        self.fsyncs += 1;
        match &mut self.nodes.get_mut(&ino).ok_or(ENOENT)?.body {
            Body::File {
                durable, pending, ..
            } => {
                for change in pending.drain(..) {
                    apply(durable, &change);
                }
            }
            Body::Dir { entries, durable } => durable.clone_from(entries),
        }
        Ok(())
    }

    /// Makes everything durable.
    pub fn checkpoint(&mut self) -> Report {
        let inos: Vec<u64> = self.nodes.keys().copied().collect();
        let mut report = Report::default();
        for ino in inos {
            if let Some(Node {
                body: Body::File { pending, .. },
                ..
            }) = self.nodes.get(&ino)
            {
                report.bytes += pending_bytes(pending);
            }
            let _ = self.fsync(ino);
        }
        report
    }

    /// The power cut: back to the durable state.
    pub fn cut(&mut self) -> Report {
        let mut report = Report::default();
        for node in self.nodes.values_mut() {
            match &mut node.body {
                Body::File {
                    data,
                    durable,
                    pending,
                } => {
                    report.bytes += pending_bytes(pending);
                    pending.clear();
                    data.clone_from(durable);
                }
                Body::Dir { entries, durable } => entries.clone_from(durable),
            }
        }
        let mut reachable = HashSet::from([ROOT]);
        let mut stack = vec![ROOT];
        while let Some(ino) = stack.pop() {
            if let Some(Node {
                body: Body::Dir { entries, .. },
                ..
            }) = self.nodes.get(&ino)
            {
                for child in entries.values() {
                    if reachable.insert(*child) {
                        stack.push(*child);
                    }
                }
            }
        }
        let before = self.nodes.len();
        self.nodes.retain(|ino, _| reachable.contains(ino));
        report.nodes = (before - self.nodes.len()) as u64;
        report
    }
}

fn pending_bytes(pending: &[Change]) -> u64 {
    pending
        .iter()
        .map(|c| match c {
            Change::Write { bytes, .. } => bytes.len() as u64,
            Change::Truncate(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    #[test]
    fn a_cut_keeps_what_was_synced_and_drops_the_rest() {
        let mut fs = Fs::default();
        let dir = fs.create(ROOT, name("d"), 0o755, true).expect("mkdir");
        let kept = fs.create(dir, name("kept"), 0o644, false).expect("create");
        fs.write(kept, 0, b"synced").expect("write");
        fs.fsync(kept).expect("fsync");
        fs.fsync(dir).expect("fsync dir");
        fs.fsync(ROOT).expect("fsync root");
        fs.write(kept, 6, b" and not").expect("write");
        let lost = fs
            .create(dir, name("unsynced-entry"), 0o644, false)
            .expect("create");
        fs.write(lost, 0, b"data").expect("write");
        fs.fsync(lost)
            .expect("the file is synced, its directory entry is not");
        let report = fs.cut();
        assert_eq!(report, Report { bytes: 8, nodes: 1 });
        let kept = fs.lookup(dir, name("kept")).expect("kept survives");
        assert_eq!(fs.read(kept, 0, 100).expect("read"), b"synced");
        assert_eq!(fs.lookup(dir, name("unsynced-entry")), Err(ENOENT));
    }

    #[test]
    fn an_unsynced_rename_is_undone_and_a_checkpoint_keeps_everything() {
        let mut fs = Fs::default();
        let a = fs.create(ROOT, name("a"), 0o644, false).expect("create");
        fs.write(a, 0, b"1").expect("write");
        fs.checkpoint();
        fs.rename(ROOT, name("a"), ROOT, name("b"), false)
            .expect("rename");
        fs.truncate(a, 0).expect("truncate");
        fs.cut();
        assert_eq!(fs.lookup(ROOT, name("a")), Ok(a));
        assert_eq!(fs.lookup(ROOT, name("b")), Err(ENOENT));
        assert_eq!(fs.read(a, 0, 10).expect("read"), b"1");
    }
}
