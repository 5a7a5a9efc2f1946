//! The daemon as one value to run: [`run`] takes the config, a bound HTTP listener and a
//! shutdown token (as mini-redis's `server::run` takes a listener and a shutdown future), so a
//! caller chooses the address — port 0 included — and the moment to stop.
//!
//! Start: open the buffer, load and warm every model, rebuild the quality windows from the
//! buffer, serve HTTP, connect MQTT and the fleet link, then tell systemd READY=1 and print
//! one `edged ready` line on stdout (what tests and scripts wait for). Stop (SIGTERM/SIGINT,
//! or the caller's token): mark not ready, stop accepting, let requests in flight finish for
//! at most `shutdown.grace` (MQTT handlers still running then are stopped), then stop the
//! group commit (which flushes once more) and flush sled. Every task is owned by one
//! TaskTracker, so `run` returns only when all have ended.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::fleet::{channel, link, updates};
use crate::metrics::Metrics;
use crate::registry::{Registry, RegistryError};
use crate::service::Service;
use crate::store::{Store, StoreError, now_ms};

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot create the state directory {path}: {source}")]
    StateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Model(#[from] RegistryError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("startup task failed: {0}")]
    Join(String),
}

/// Binds `http.listen` for [`run`].
pub async fn bind(config: &Config) -> Result<tokio::net::TcpListener, DaemonError> {
    tokio::net::TcpListener::bind(config.http.listen)
        .await
        .map_err(|source| DaemonError::Listen {
            addr: config.http.listen,
            source,
        })
}

/// Runs the daemon, serving HTTP on `listener`, until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> Result<(), DaemonError> {
    // Before any model loads: Burn's CPU kernels start rayon's pool on first use.
    let threads = crate::compute::init(config.runtime.threads);
    tracing::info!(threads, configured = config.runtime.threads, "compute pool");
    std::fs::create_dir_all(&config.state_dir).map_err(|source| DaemonError::StateDir {
        path: config.state_dir.clone(),
        source,
    })?;
    let store_dir = config.store_dir();
    let store_config = config.store.clone();
    let outbox = config.fleet.is_some();
    let store = blocking(move || Store::open(&store_dir, &store_config, outbox)).await??;
    let metrics = Arc::new(Metrics::new(config.metrics.clone()));
    // A version that was trying when the box went down is settled before any model loads:
    // the previous one is served again (`fleet/updates/trial.rs`).
    let recovered = match &config.updates {
        Some(_) => {
            let state_dir = config.state_dir.clone();
            blocking(move || updates::recover(&state_dir))
                .await?
                .map_err(|source| DaemonError::StateDir {
                    path: config.state_dir.join("updates"),
                    source,
                })?
        }
        None => Vec::new(),
    };
    let load_config = config.clone();
    let load_metrics = metrics.clone();
    let registry = blocking(move || Registry::load_all(&load_config, load_metrics)).await??;
    let (link_status, link_watch) = tokio::sync::watch::channel(None);
    let service = Arc::new(Service::new(&config, registry, store, metrics, link_watch));
    let since = now_ms().saturating_sub(config.metrics.quality_window.as_millis() as u64);
    let restored = service.restore_quality(since)?;
    tracing::info!(labels = restored, "quality windows rebuilt from the buffer");

    let tracker = TaskTracker::new();
    let serving = CancellationToken::new();
    let commit_stop = CancellationToken::new();
    tracker.spawn(service.store.group_commit().run(commit_stop.clone()));

    let http_addr = listener
        .local_addr()
        .map_err(|source| DaemonError::Listen {
            addr: config.http.listen,
            source,
        })?;
    write_addr_file(&config, http_addr);
    let http = tracker.spawn(crate::http::serve(
        listener,
        service.clone(),
        serving.clone(),
    ));
    let mqtt = config.mqtt.clone().map(|mqtt| {
        tracker.spawn(crate::mqtt::run(
            mqtt,
            service.clone(),
            serving.clone(),
            config.shutdown_grace,
        ))
    });
    tracker.spawn(reload_on_sighup(service.clone(), serving.clone()));
    let device_id = match &config.fleet {
        Some(fleet) => {
            let path = config.device_key_file();
            let key = edge_protocol::identity::load_or_create(&path)
                .map_err(|source| DaemonError::StateDir { path, source })?;
            let id = edge_protocol::identity::device_id(&key.verifying_key());
            let updates = match &config.updates {
                Some(updates) => {
                    let (link_ends, updater_ends) = channel::pair();
                    let (updater, incoming) = updates::Updater::open(
                        updates.clone(),
                        &config.state_dir,
                        service.clone(),
                        updater_ends,
                        recovered,
                    )
                    .map_err(|source| DaemonError::StateDir {
                        path: config.state_dir.join("updates"),
                        source,
                    })?;
                    tracker.spawn(updater.run(incoming, serving.clone()));
                    Some(link_ends)
                }
                None => None,
            };
            tracker.spawn(link::run(
                fleet.clone(),
                key,
                service.clone(),
                link_status,
                updates,
                serving.clone(),
            ));
            Some(id)
        }
        None => None,
    };
    if let Some(interval) = crate::systemd::watchdog_interval() {
        tracker.spawn(crate::systemd::watchdog(
            interval,
            service.clone(),
            serving.clone(),
        ));
    }

    service.set_ready(true);
    let models: Vec<String> = service
        .registry
        .names()
        .filter_map(|n| service.registry.get(n))
        .map(|m| format!("{}@{}/{}", m.name, m.version, m.device()))
        .collect();
    let summary = format!("serving {} on http://{http_addr}", models.join(", "));
    crate::systemd::notify_ready(&summary);
    tracing::info!("{summary}");
    println!(
        "edged ready http={http_addr} mqtt={} models={} device={}",
        config
            .mqtt
            .as_ref()
            .map_or("off".to_string(), |m| format!("{}:{}", m.host, m.port)),
        models.join(","),
        device_id.as_deref().unwrap_or("-")
    );

    shutdown.cancelled().await;
    tracing::info!(grace = ?config.shutdown_grace, "shutting down: draining requests");
    crate::systemd::notify_stopping();
    service.set_ready(false);
    serving.cancel();
    let http_drained =
        tokio::time::timeout(config.shutdown_grace + Duration::from_millis(500), http);
    // Bounded by itself: after the grace period its handlers are stopped, and it returns only
    // when they and its poller have ended, so nothing of it writes after the flush below.
    let mqtt_stopped = async {
        if let Some(mqtt) = mqtt {
            let _ = mqtt.await;
        }
    };
    let (drained, ()) = tokio::join!(http_drained, mqtt_stopped);
    if drained.is_err() {
        tracing::warn!("requests still in flight after the grace period; closing anyway");
    }
    commit_stop.cancel();
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), tracker.wait()).await;
    service.store.flush()?;
    let _ = std::fs::remove_file(config.http_addr_file());
    tracing::info!("buffer flushed; stopped");
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DaemonError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DaemonError::Join(e.to_string()))
}

fn write_addr_file(config: &Config, addr: SocketAddr) {
    let path = config.http_addr_file();
    let tmp = path.with_extension("addr.tmp");
    let result = std::fs::write(&tmp, addr.to_string()).and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), error = %e, "cannot write the HTTP address file");
    }
}

/// SIGHUP reloads every model from the state directory (after `current` was changed).
async fn reload_on_sighup(service: Arc<Service>, stop: CancellationToken) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reload models over HTTP instead");
        return;
    };
    loop {
        tokio::select! {
            Some(()) = hup.recv() => {}
            () = stop.cancelled() => return,
        }
        let worker = service.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let names: Vec<String> = worker.registry.names().map(str::to_string).collect();
            for name in names {
                if let Err(e) = worker.registry.reload(&name) {
                    tracing::error!(error = %e, "reload failed; the serving version stays");
                }
            }
        })
        .await;
    }
}

/// Cancels `token` on SIGTERM or SIGINT.
pub fn cancel_on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM"),
            _ = int.recv() => tracing::info!("SIGINT"),
        }
        token.cancel();
    });
}
