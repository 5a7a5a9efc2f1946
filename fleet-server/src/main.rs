//! `fleet`: parses arguments and hands over to the library's command layer.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FLEET_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match fleet::cli::Cli::try_parse() {
        Ok(cli) => fleet::cli::run(cli),
        Err(e) => {
            let code = if e.use_stderr() {
                fleet::cli::exit::USAGE
            } else {
                0
            };
            let _ = e.print();
            ExitCode::from(code)
        }
    }
}
