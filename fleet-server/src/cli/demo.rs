//! `fleet demo`: arguments, Ctrl-C, and the summary or the error of [`crate::demo`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{context, exit};
use crate::demo::{DemoError, DemoOptions};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Samples replayed before the rollout starts.
    #[arg(long, default_value_t = 90)]
    samples: usize,
    /// Roll out a broken version instead: the accuracy gate halts it and rolls it back.
    #[arg(long)]
    bad_model: bool,
    /// Keep state and logs here (default: a new directory under the temporary one).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The example's directory.
    #[arg(long, default_value = "examples/wine")]
    examples: PathBuf,
    /// How long each wave soaks before its gates are checked.
    #[arg(long, default_value = "3s", value_parser = |s: &str| humantime::parse_duration(s).map_err(|e| e.to_string()))]
    soak: Duration,
}

pub fn run(args: DemoArgs) -> ExitCode {
    let options = DemoOptions {
        dir: args.dir,
        examples: args.examples,
        samples: args.samples,
        bad_model: args.bad_model,
        soak: args.soak,
    };
    let result = context::block_on(async {
        let shutdown = CancellationToken::new();
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nstopping the demo ...");
                on_signal.cancel();
            }
        });
        crate::demo::run(options, shutdown).await
    });
    match result {
        Err(code) => code,
        Ok(Ok(summary)) => {
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Ok(Err(DemoError::Interrupted)) => ExitCode::from(exit::INTERRUPTED),
        Ok(Err(e)) => exit::failure(e),
    }
}
