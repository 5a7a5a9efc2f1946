//! Inference benchmark: our executor (Burn, CPU and GPU path) against tract and ONNX Runtime
//! on the same ONNX files and inputs, in one run.
//!
//! `cargo run --release -p edge-bench -- [--iterations N]`
//!
//! For each model (MLP, CNN) and batch size (1 for latency, 64 for throughput) it prints the
//! median and p99 latency per engine and the ratio against ONNX Runtime and tract. ONNX
//! Runtime runs through `bench/ort_bench.py` when `python3 -c "import onnxruntime"` works;
//! otherwise its column is marked as missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use edge_model::{DeviceChoice, HostTensor, LoadOptions, Model};
use tract_onnx::prelude::*;

/// Latency statistics of one engine on one workload, in microseconds.
#[derive(Debug, Clone, Copy)]
struct Stats {
    p50: f64,
    p99: f64,
    mean: f64,
}

fn stats(mut times: Vec<f64>) -> Stats {
    times.sort_by(f64::total_cmp);
    let n = times.len();
    Stats {
        p50: times[n / 2],
        p99: times[(n * 99 / 100).min(n - 1)],
        mean: times.iter().sum::<f64>() / n as f64,
    }
}

fn time(iterations: usize, mut f: impl FnMut()) -> Stats {
    for _ in 0..(iterations / 10).max(10) {
        f();
    }
    let times = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    stats(times)
}

/// The deterministic input every engine gets.
fn input(shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    (0..n).map(|i| ((i % 17) as f32 - 8.0) / 8.0).collect()
}

fn ours(
    onnx: &Path,
    shape: &[usize],
    device: DeviceChoice,
    iterations: usize,
) -> Result<Stats, String> {
    let converted = fleet::import::onnx::convert(onnx, "bench", 1).map_err(|e| e.to_string())?;
    let model = Model::from_parts(
        converted.spec,
        converted.weights,
        &LoadOptions {
            device,
            warmup_runs: 3,
            ..Default::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let name = model.spec().inputs[0].name.clone();
    let data = input(shape);
    let mut failed = None;
    let stats = time(iterations, || {
        let tensor = HostTensor::f32(shape.to_vec(), data.clone());
        if let Err(e) = model.run(vec![(name.clone(), tensor)]) {
            failed = Some(e.to_string());
        }
    });
    failed.map_or(Ok(stats), Err)
}

fn tract(onnx: &Path, shape: &[usize], iterations: usize) -> TractResult<Stats> {
    // The files declare a symbolic `batch` on every value: tract plans the symbolic model and
    // resolves the batch from each input, which is how it serves dynamic batches.
    let plan = tract_onnx::onnx()
        .model_for_path(onnx)?
        .into_optimized()?
        .into_runnable()?;
    let tensor = Tensor::from_shape(shape, &input(shape))?;
    let mut failed = None;
    let stats = time(iterations, || {
        if let Err(e) = plan.run(tvec!(tensor.clone().into())) {
            failed = Some(e);
        }
    });
    failed.map_or(Ok(stats), Err)
}

fn onnx_runtime(
    onnx: &Path,
    input_name: &str,
    shape: &[usize],
    iterations: usize,
    threads: usize,
) -> Result<Stats, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ort_bench.py");
    let shape_arg: Vec<String> = shape.iter().map(ToString::to_string).collect();
    let output = Command::new("python3")
        .arg(script)
        .arg(onnx)
        .arg(input_name)
        .arg(shape_arg.join(","))
        .arg(iterations.to_string())
        .arg(threads.to_string())
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr)
            .lines()
            .last()
            .unwrap_or("failed")
            .to_string());
    }
    let v: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    let get = |k: &str| v[k].as_f64().ok_or_else(|| format!("ort_bench.py: no {k}"));
    Ok(Stats {
        p50: get("p50_us")?,
        p99: get("p99_us")?,
        mean: get("mean_us")?,
    })
}

fn cell(s: &Result<Stats, String>) -> String {
    match s {
        Ok(s) => format!("{:>9.1} {:>9.1}", s.p50, s.p99),
        Err(_) => format!("{:>9} {:>9}", "n/a", "n/a"),
    }
}

fn ratio(a: &Result<Stats, String>, b: &Result<Stats, String>) -> String {
    match (a, b) {
        (Ok(a), Ok(b)) => format!("{:.2}x", a.p50 / b.p50),
        _ => "n/a".into(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let iterations = args
        .iter()
        .position(|a| a == "--iterations")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000usize);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/onnx/models");
    println!(
        "inference benchmark: {iterations} iterations per cell, {threads} CPU threads, latency in µs (p50 p99)"
    );
    println!("ratios are p50(ours, CPU) / p50(peer): below 1.00x means we are faster\n");
    println!(
        "{:<6} {:>5} | {:>19} | {:>19} | {:>19} | {:>8} {:>8} | {:>19}",
        "model",
        "batch",
        "ours cpu",
        "onnxruntime",
        "tract",
        "vs ort",
        "vs tract",
        "ours gpu (info)"
    );
    for (model, input_name, features) in [("mlp", "x", vec![16]), ("cnn", "x", vec![1, 28, 28])] {
        let onnx = fixtures.join(format!("{model}.onnx"));
        for batch in [1usize, 64] {
            let mut shape = vec![batch];
            shape.extend(&features);
            let n = if batch == 1 {
                iterations
            } else {
                (iterations / 8).max(50)
            };
            let cpu = ours(&onnx, &shape, DeviceChoice::Cpu, n);
            let ort = onnx_runtime(&onnx, input_name, &shape, n, threads);
            let tr = tract(&onnx, &shape, n).map_err(|e| format!("{e:?}"));
            let gpu = ours(&onnx, &shape, DeviceChoice::Gpu, n.min(500));
            println!(
                "{model:<6} {batch:>5} | {} | {} | {} | {:>8} {:>8} | {}",
                cell(&cpu),
                cell(&ort),
                cell(&tr),
                ratio(&cpu, &ort),
                ratio(&cpu, &tr),
                cell(&gpu)
            );
            if batch == 64 {
                let throughput = |s: &Result<Stats, String>| match s {
                    Ok(s) => format!("{:.0}/s", 64.0 * 1e6 / s.mean),
                    Err(_) => "n/a".into(),
                };
                println!(
                    "{:<6} {:>5}   throughput (samples/s): ours cpu {}, onnxruntime {}, tract {}, ours gpu {}",
                    "",
                    "",
                    throughput(&cpu),
                    throughput(&ort),
                    throughput(&tr),
                    throughput(&gpu)
                );
            }
            for (engine, result) in [
                ("ours cpu", &cpu),
                ("onnxruntime", &ort),
                ("tract", &tr),
                ("ours gpu", &gpu),
            ] {
                if let Err(e) = result {
                    println!("       note: {engine} unavailable for {model} batch {batch}: {e}");
                }
            }
        }
    }
}
