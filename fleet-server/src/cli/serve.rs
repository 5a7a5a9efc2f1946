//! `fleet serve --config FILE`: the fleet server until SIGTERM or SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use super::{context, exit};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[arg(long)]
    config: PathBuf,
}

pub fn run(args: &ServeArgs) -> ExitCode {
    context::code(serve(args))
}

fn serve(args: &ServeArgs) -> Result<ExitCode, ExitCode> {
    let config = context::load_config(&args.config)?;
    let result = context::block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        crate::serve::run(config, shutdown).await
    })?;
    Ok(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit::failure(e),
    })
}

/// Cancels `shutdown` on the first SIGTERM or SIGINT.
async fn cancel_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    if let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        shutdown.cancel();
    }
}
