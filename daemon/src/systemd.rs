//! systemd integration: `Type=notify` readiness and the watchdog.
//!
//! READY=1 is sent only once the buffer is open and every model is loaded and warm.
//! WATCHDOG=1 is sent every half `WatchdogSec` only while the serving path answers: each
//! keep-alive first pushes a ticket through the group commit (the step every acknowledged
//! request waits on), so a daemon whose store is wedged is restarted by systemd instead of
//! being kept alive by a timer. Outside systemd (no NOTIFY_SOCKET) all of this does nothing.

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

use crate::service::Service;

pub fn notify_ready(status: &str) {
    if let Err(e) = sd_notify::notify(false, &[NotifyState::Ready, NotifyState::Status(status)]) {
        tracing::warn!(error = %e, "cannot notify systemd of readiness");
    }
}

pub fn notify_stopping() {
    let _ = sd_notify::notify(false, &[NotifyState::Stopping]);
}

/// The keep-alive interval asked for by systemd (half of WatchdogSec), if any. Follows
/// libsystemd's `sd_watchdog_enabled`: WATCHDOG_USEC enables it, and WATCHDOG_PID, when set,
/// must be this process (the sd-notify crate insists on WATCHDOG_PID being set).
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// Sends keep-alives while the commit path answers, until `shutdown`.
pub async fn watchdog(interval: Duration, service: Arc<Service>, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let commit = service.store.group_commit();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shutdown.cancelled() => return,
        }
        if commit.probe(interval).await {
            let _ = sd_notify::notify(false, &[NotifyState::Watchdog]);
        } else {
            tracing::error!(
                "the buffer did not commit within the watchdog interval; withholding the keep-alive"
            );
        }
    }
}
