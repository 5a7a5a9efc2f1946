//! `fault-bench`: the long fault runs (see `e2e::faults`), each printing its figures as a
//! Markdown table row for BENCHMARKS.md, and exiting 1 when anything acknowledged was lost or
//! duplicated.
//!
//! ```sh
//! cargo run --bin fault-bench -- edged-kill --cycles 1000
//! cargo run --bin fault-bench -- fleet-kill --cycles 200 --boxes 20
//! cargo run --bin fault-bench -- partition --upload 60s --model-mib 20
//! ```

use std::time::Duration;

use clap::{Parser, Subcommand};
use e2e::faults::proxy::Impairment;
use e2e::faults::{edged_kill, fleet_kill, partition};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    run: Run,
}

fn duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n.parse().map_err(|e| format!("{s}: {e}"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("{s}: give a unit (ms, s, m)")),
    }
}

#[derive(Subcommand)]
enum Run {
    /// kill -9 of edged under mixed HTTP and MQTT load with a fleet attached.
    EdgedKill {
        #[arg(long, default_value_t = 1000)]
        cycles: u32,
        /// Longest time edged runs before each kill.
        #[arg(long, default_value = "600ms", value_parser = duration)]
        max_up: Duration,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// kill -9 of fleet serve under ingest from many boxes.
    FleetKill {
        #[arg(long, default_value_t = 200)]
        cycles: u32,
        #[arg(long, default_value_t = 20)]
        boxes: usize,
        #[arg(long, default_value = "3s", value_parser = duration)]
        max_up: Duration,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Network faults between a box and the fleet during an upload and a model transfer.
    Partition {
        #[arg(long, default_value = "60s", value_parser = duration)]
        upload: Duration,
        #[arg(long, default_value_t = 20)]
        model_mib: usize,
        #[arg(long, default_value = "500ms", value_parser = duration)]
        delay: Duration,
        /// Link speed in bits per second.
        #[arg(long, default_value_t = 1_000_000)]
        rate: u64,
        #[arg(long, default_value_t = 0.3)]
        loss: f64,
        #[arg(long, default_value = "5s", value_parser = duration)]
        flap: Duration,
    },
}

fn main() {
    let clean = match Args::parse().run {
        Run::EdgedKill {
            cycles,
            max_up,
            seed,
        } => {
            let r = edged_kill::run(cycles, max_up, seed);
            println!(
                "| cycles | acked predictions (HTTP) | acked labels | acked MQTT requests | lost | duplicates at the fleet | resends deduplicated | mean start | run |"
            );
            println!("|---|---|---|---|---|---|---|---|---|");
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {:.0} ms | {:.1} min |",
                r.cycles,
                r.acked.predictions.len(),
                r.acked.labels.len(),
                r.acked.mqtt.len(),
                r.outcome.lost_predictions + r.outcome.lost_labels + r.outcome.lost_mqtt,
                r.outcome.duplicates,
                r.resent,
                r.mean_start.as_secs_f64() * 1000.0,
                r.elapsed.as_secs_f64() / 60.0
            );
            println!(
                "{}; refused answers by status: {:?}",
                r.outcome, r.acked.refused
            );
            r.outcome.clean()
        }
        Run::FleetKill {
            cycles,
            boxes,
            max_up,
            seed,
        } => {
            let r = fleet_kill::run(cycles, boxes, max_up, seed);
            println!(
                "| cycles | boxes | acked predictions | acked labels | lost | duplicates | double-counted | uncounted | resends deduplicated | mean start | run |"
            );
            println!("|---|---|---|---|---|---|---|---|---|---|---|");
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} ms | {:.1} min |",
                r.cycles,
                r.boxes,
                r.predictions,
                r.labels,
                r.outcome.lost_predictions + r.outcome.lost_labels,
                r.outcome.duplicates,
                r.double_counted,
                r.uncounted,
                r.resent,
                r.mean_start.as_secs_f64() * 1000.0,
                r.elapsed.as_secs_f64() / 60.0
            );
            println!("{}", r.outcome);
            r.outcome.clean() && r.double_counted == 0
        }
        Run::Partition {
            upload,
            model_mib,
            delay,
            rate,
            loss,
            flap,
        } => {
            let impairment = Impairment {
                delay,
                rate,
                loss,
                rto: Duration::from_secs(1),
                flap,
            };
            let r = partition::run(impairment, upload, model_mib);
            println!(
                "| link | records | lost | duplicates | upload drained after | bundle | transfer | fetched / bundle | cuts | probes (failed) | probe p99 |"
            );
            println!("|---|---|---|---|---|---|---|---|---|---|---|");
            println!(
                "| {:?} delay, {} kbit/s, {:.0}% stalls, flap {:?} | {} | {} | {} | {:.1} s | {:.1} MiB | {:.1} s | {:.3} | {} | {} ({}) | {:.1} ms |",
                delay,
                rate / 1000,
                loss * 100.0,
                flap,
                r.records,
                r.outcome.lost_predictions + r.outcome.lost_labels,
                r.outcome.duplicates,
                r.upload_drain.as_secs_f64(),
                r.bundle_bytes as f64 / f64::from(1 << 20),
                r.transfer.as_secs_f64(),
                r.fetched_ratio,
                r.cuts,
                r.probes,
                r.probe_failures,
                r.probe_p99_ms
            );
            println!("{}", r.outcome);
            r.outcome.clean() && r.probe_failures == 0
        }
    };
    if !clean {
        std::process::exit(1);
    }
}
