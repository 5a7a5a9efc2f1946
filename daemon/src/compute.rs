//! The compute pool: the one set of threads every CPU model runs on.
//!
//! Burn's CPU backend (burn-flex) parallelises its kernels over rayon's global pool, and the
//! tree ensembles do too, so that pool is the compute pool: [`init`] sizes it from
//! `[runtime] threads` (default: the cores less one) before any model loads, and [`run`]
//! puts a whole inference on it. A request's model run and the kernels it fans out to then
//! share those threads instead of each request adding a blocking thread that fans out again,
//! and the async workers (HTTP, MQTT, the store's group commit) keep the remaining core
//! under full inference load. GPU models do not come here: their thread mostly waits on the
//! device, so they stay on tokio's blocking pool.
//!
//! The queue in front of the pool is rayon's and has no bound of its own; what bounds it is
//! the admission in front of every model run (`limits.max_in_flight` for HTTP, the MQTT
//! window), which counts what it turns away.

use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;

/// Why a compute task gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum ComputeError {
    #[error("the compute task panicked: {0}")]
    Panicked(String),
    #[error("the compute task was dropped before it answered")]
    Dropped,
}

static SIZE: OnceLock<usize> = OnceLock::new();

/// Sizes rayon's global pool to `threads` (once per process; a later call, or a pool some
/// dependency started first, keeps the size it has) and returns the size in force.
pub fn init(threads: usize) -> usize {
    *SIZE.get_or_init(|| {
        let built = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("edged-compute-{i}"))
            .build_global();
        if let Err(e) = built {
            tracing::warn!(error = %e, "the compute pool was started before its config was read");
        }
        rayon::current_num_threads()
    })
}

/// The compute pool's size (its default size when [`init`] has not run).
pub fn threads() -> usize {
    SIZE.get()
        .copied()
        .unwrap_or_else(rayon::current_num_threads)
}

/// Runs `f` on the compute pool and waits for it without holding an async worker. A panic in
/// `f` comes back as an error (rayon would abort the process on it).
pub async fn run<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ComputeError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let result = std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into())
        });
        // The caller may have gone (a client that hung up); the answer is then not needed.
        let _ = tx.send(result);
    });
    match rx.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(message)) => Err(ComputeError::Panicked(message)),
        Err(_) => Err(ComputeError::Dropped),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_runs_on_a_compute_thread_and_a_panic_is_an_error() {
        let index = run(rayon::current_thread_index).await.expect("answer");
        assert!(index.is_some(), "the task ran on a thread of rayon's pool");
        assert!(
            rayon::current_thread_index().is_none(),
            "the caller is not a pool thread"
        );
        let failed = run(|| -> u32 { panic!("boom") }).await;
        assert!(matches!(failed, Err(ComputeError::Panicked(m)) if m == "boom"));
    }
}
