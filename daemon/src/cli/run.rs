//! `edged run --config FILE`: loads the config, binds the HTTP listener, and hands both to
//! [`crate::app::run`] with a shutdown token that SIGTERM or SIGINT cancels.

use std::path::Path;
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use super::{EXIT_FAILURE, Outcome, fail, load_config, runtime};

pub fn run(path: &Path) -> Outcome {
    let config = load_config(path)?;
    let runtime = runtime()?;
    let result = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        crate::app::cancel_on_signals(shutdown.clone());
        let listener = crate::app::bind(&config).await?;
        crate::app::run(config, listener, shutdown).await
    });
    result.map(|()| ExitCode::SUCCESS).map_err(|e| {
        tracing::error!("{e}");
        fail(EXIT_FAILURE)(&e)
    })
}
