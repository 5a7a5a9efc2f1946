//! `fleet records export`: labelled predictions for retraining, as JSON lines or CSV
//! (`csv.rs`), streamed from the admin API with a progress bar on stderr.

mod csv;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::context::{self, AdminArgs};
use super::exit;
use crate::admin_client::{AdminClient, AdminClientError};
use crate::serve::admin::types::ExportQuery;

#[derive(Debug, clap::Args)]
pub struct RecordsArgs {
    #[command(flatten)]
    admin: AdminArgs,
    #[command(subcommand)]
    action: RecordsCommand,
}

#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    /// Labelled predictions of a model, to retrain on.
    Export {
        #[arg(long)]
        model: String,
        /// Only predictions made since: a duration ago ("24h") or a time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        /// Include predictions without a label.
        #[arg(long)]
        all: bool,
        /// Write here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Admin(#[from] AdminClientError),
    #[error("cannot write the export: {0}")]
    Write(#[from] std::io::Error),
    #[error(transparent)]
    Csv(#[from] csv::CsvError),
}

pub fn run(args: RecordsArgs) -> ExitCode {
    context::code(records(args))
}

fn records(args: RecordsArgs) -> Result<ExitCode, ExitCode> {
    let client = args.admin.client()?;
    let RecordsCommand::Export {
        model,
        since,
        format,
        all,
        out,
    } = args.action;
    let since_ms = since.as_deref().map(context::since_ms).transpose()?;
    let mut sink: Box<dyn Write> = match &out {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) => {
                return Err(exit::failure(format!(
                    "cannot create {}: {e}",
                    path.display()
                )));
            }
        },
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let query = ExportQuery {
        model,
        since_ms: since_ms.unwrap_or(0),
        all,
    };
    Ok(
        match context::block_on(export(&client, &query, format, sink.as_mut()))? {
            Ok(n) => {
                eprintln!("exported {n} records");
                ExitCode::SUCCESS
            }
            Err(e) => exit::failure(e),
        },
    )
}

/// Streams the export to `out`; returns the number of records written.
async fn export(
    client: &AdminClient,
    query: &ExportQuery,
    format: Format,
    out: &mut dyn Write,
) -> Result<u64, ExportError> {
    let mut export = client.export(query).await?;
    let mut progress = Progress::new(export.total);
    let mut header = None;
    let mut n = 0u64;
    while let Some(line) = export.next_line().await? {
        n += 1;
        match format {
            Format::Jsonl => out.write_all(&line)?,
            Format::Csv => {
                let record = serde_json::from_slice(&line).unwrap_or(serde_json::Value::Null);
                csv::write_csv(&record, &mut header, n, out)?;
            }
        }
        progress.tick(n);
    }
    progress.finish();
    out.flush()?;
    Ok(n)
}

/// A progress bar on stderr, drawn only when stderr is a terminal, at most 10 times a second.
/// (indicatif would do this, but adding it changes the feature set of crates shared with the
/// Burn stack and costs a 30-minute rebuild; this is 30 lines.)
struct Progress {
    total: u64,
    shown: bool,
    started: std::time::Instant,
    last: std::time::Instant,
}

impl Progress {
    fn new(total: u64) -> Self {
        let now = std::time::Instant::now();
        Self {
            total,
            shown: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            started: now,
            last: now,
        }
    }

    fn tick(&mut self, n: u64) {
        if !self.shown || self.last.elapsed() < std::time::Duration::from_millis(100) {
            return;
        }
        self.last = std::time::Instant::now();
        let width = 40usize;
        let filled = if self.total == 0 {
            0
        } else {
            (n.min(self.total) as usize * width) / self.total as usize
        };
        let rate = n as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        eprint!(
            "\r[{}{}] {n}/{} records, {rate:.0}/s",
            "#".repeat(filled),
            " ".repeat(width - filled),
            self.total
        );
    }

    fn finish(&mut self) {
        if self.shown {
            eprint!("\r{}\r", " ".repeat(80));
        }
    }
}
