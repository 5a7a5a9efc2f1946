//! Step 3 of an update: the download. Files are fetched one chunk at a time over the fleet
//! link into `blobs/SHA.part`, appended and synced before the next chunk is asked for, so a
//! restart resumes from what is on disk; a complete part is hashed and renamed to `blobs/SHA`.
//! The writes, syncs and hashing (up to `max_bundle_bytes`) run on the blocking pool, never on
//! an async worker.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use edge_bundle::FileEntry;
use edge_protocol::envelope::Kind;
use edge_protocol::messages::{Chunk, Fetch};
use serde_json::json;

use super::{Outgoing, Updater};

impl Updater {
    pub(super) fn part(&self, sha: &str) -> PathBuf {
        self.blobs.join(format!("{sha}.part"))
    }

    /// Asks for the next chunk, finishes a complete file, or activates a complete job.
    pub(super) async fn advance(&mut self) {
        let Some(job) = &self.job else { return };
        let (model, version, digest) = (
            job.manifest.model.clone(),
            job.manifest.version,
            job.digest.clone(),
        );
        let total = job.manifest.total_length();
        let mut done = 0u64;
        let mut next = None;
        for f in &job.manifest.files {
            if self.blobs.join(&f.sha256).is_file() {
                done += f.length;
                continue;
            }
            let have = std::fs::metadata(self.part(&f.sha256))
                .map(|m| m.len())
                .unwrap_or(0);
            next = Some((f.clone(), have));
            done += have.min(f.length);
            break;
        }
        match next {
            Some((file, have)) if have >= file.length => {
                // Complete: check the hash (and a part longer than declared is refused).
                let part = self.part(&file.sha256);
                match verify_part(&part, &file, &self.blobs.join(&file.sha256)).await {
                    None => {}
                    Some(Ok(())) => Box::pin(self.advance()).await,
                    Some(Err(e)) => {
                        let _ = std::fs::remove_file(&part);
                        self.job = None;
                        self.fail(&model, version, Some(&digest), e.reason(), e.to_string())
                            .await;
                    }
                }
            }
            Some((file, have)) => {
                let length = (file.length - have).min(u64::from(self.config.chunk_bytes)) as u32;
                let fetch = Fetch {
                    sha256: file.sha256.clone(),
                    offset: have,
                    length,
                };
                if self.last_progress.elapsed() > Duration::from_secs(1) || have == 0 {
                    self.last_progress = Instant::now();
                    self.report(&model, json!({"version": version, "state": "downloading", "bytes": done, "total": total})).await;
                }
                let _ = self
                    .out
                    .send(Outgoing {
                        kind: Kind::Fetch,
                        body: serde_json::to_value(&fetch).unwrap_or_default(),
                    })
                    .await;
                if let Some(job) = &mut self.job {
                    job.waiting = Some((file, have, Instant::now()));
                }
            }
            None => self.activate().await,
        }
    }

    pub(super) async fn on_chunk(&mut self, body: &[u8]) {
        let Ok(chunk) = Chunk::decode(body) else {
            return;
        };
        let Some((file, offset, _)) = self.job.as_ref().and_then(|j| j.waiting.clone()) else {
            return;
        };
        if chunk.sha256 != file.sha256 || chunk.offset != offset {
            return; // a late answer to an earlier fetch
        }
        let fits = chunk.total == file.length
            && offset.saturating_add(chunk.data.len() as u64) <= file.length
            && !chunk.data.is_empty();
        if !fits {
            let (model, version, digest) = self
                .job
                .as_ref()
                .map(|j| {
                    (
                        j.manifest.model.clone(),
                        j.manifest.version,
                        j.digest.clone(),
                    )
                })
                .unwrap_or_default();
            self.job = None;
            let _ = std::fs::remove_file(self.part(&file.sha256));
            let e = edge_bundle::BundleError::FileTooLong {
                name: file.name.clone(),
                declared: file.length,
            };
            self.fail(
                &model,
                version,
                Some(&digest),
                e.reason(),
                format!("{e} (the fleet says {} bytes)", chunk.total),
            )
            .await;
            return;
        }
        // Appended and synced before the next chunk is asked for, on the blocking pool.
        let part = self.part(&file.sha256);
        match write_chunk(&part, chunk.data).await {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                tracing::error!(error = %e, path = %part.display(), "cannot write a downloaded chunk");
                return;
            }
            None => return,
        }
        if let Some(job) = &mut self.job {
            job.waiting = None;
            job.unanswered = 0;
        }
        self.advance().await;
    }
}

/// Hashes the complete part `part` against `file` and, when it matches, renames it to
/// `stored`, on the blocking pool. `Some(Err)` when the part is not the declared file;
/// `None` (logged) when the rename or the task failed.
async fn verify_part(
    part: &Path,
    file: &FileEntry,
    stored: &Path,
) -> Option<Result<(), edge_bundle::BundleError>> {
    let (part, file, stored) = (part.to_path_buf(), file.clone(), stored.to_path_buf());
    let verdict = blocking(move || {
        edge_bundle::check_file(&part, &file)?;
        Ok(std::fs::rename(&part, &stored))
    })
    .await?;
    match verdict {
        Ok(Ok(())) => Some(Ok(())),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot store a verified file");
            None
        }
        Err(e) => Some(Err(e)),
    }
}

/// Appends a chunk to `part` and syncs it, on the blocking pool; `None` when the task failed.
async fn write_chunk(part: &Path, data: Vec<u8>) -> Option<std::io::Result<()>> {
    let part = part.to_path_buf();
    blocking(move || append_synced(&part, &data)).await
}

/// Appends `data` to the file at `path` and syncs it to disk.
fn append_synced(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(data)?;
    f.sync_data()
}

/// Runs file work on the blocking pool; `None` (logged) when the task itself failed.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => Some(value),
        Err(e) => {
            tracing::error!(error = %e, "a download file task failed");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use edge_bundle::FileEntry;

    use super::{verify_part, write_chunk};

    /// Runs `work` beside a task that only records that it ran: when `work` leaves the async
    /// worker free, that task runs first, even on a single-threaded runtime.
    async fn ran_first<T>(work: impl Future<Output = T>) -> (T, bool) {
        let order = Mutex::new(Vec::new());
        let (value, ()) = tokio::join!(
            async {
                let value = work.await;
                order.lock().map(|mut o| o.push("work")).ok();
                value
            },
            async {
                order.lock().map(|mut o| o.push("other")).ok();
            },
        );
        let order = order.into_inner().unwrap_or_default();
        (value, order.first() == Some(&"other"))
    }

    /// Work done on the async worker never lets the other task go first. Work handed to the
    /// blocking pool almost always does, but a loaded machine can deschedule this thread long
    /// enough for the pool to finish first, so one of a few tries must show it.
    const TRIES: usize = 5;

    #[tokio::test]
    async fn chunks_are_written_and_parts_hashed_off_the_async_worker() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let part = dir.path().join("part");
        let data = vec![7u8; 1 << 20];
        let mut free = false;
        for _ in 0..TRIES {
            std::fs::remove_file(&part).ok();
            let (written, ran) = ran_first(write_chunk(&part, data.clone())).await;
            assert!(matches!(written, Some(Ok(()))));
            free |= ran;
        }
        assert!(free, "the chunk was written on the async worker");
        let (written, _) = ran_first(write_chunk(&part, data.clone())).await;
        assert!(matches!(written, Some(Ok(()))));

        let file = edge_bundle::describe_file(&part, "weights.safetensors")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.length, 2 << 20, "both chunks are in the part");
        let stored = dir.path().join(&file.sha256);
        let mut free = false;
        for _ in 0..TRIES {
            if !part.exists() {
                std::fs::copy(&stored, &part).unwrap_or_else(|e| panic!("{e}"));
            }
            let (verdict, ran) = ran_first(verify_part(&part, &file, &stored)).await;
            assert!(matches!(verdict, Some(Ok(()))), "{verdict:?}");
            assert!(stored.is_file() && !part.exists());
            free |= ran;
        }
        assert!(free, "the part was hashed on the async worker");

        let wrong = FileEntry {
            sha256: "0".repeat(64),
            ..file
        };
        std::fs::copy(&stored, &part).unwrap_or_else(|e| panic!("{e}"));
        let (verdict, _) = ran_first(verify_part(&part, &wrong, &stored)).await;
        assert!(
            matches!(verdict, Some(Err(_))),
            "a part with another hash is refused"
        );
    }
}
