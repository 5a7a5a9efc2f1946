//! Choosing where a model runs: the CPU (burn-flex), the GPU (burn-wgpu), or `auto`, which
//! measures instead of assuming (Raspberry Pi GPUs are often slower than their CPUs).

use std::sync::OnceLock;

use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{ModelError, Result};

pub use edge_format::DeviceChoice;

/// Where a loaded model actually runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Cpu,
    Gpu,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Gpu => "gpu",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The CPU device.
pub fn cpu_device() -> Device {
    Device::flex()
}

/// Whether `device` is the host (the CPU backend), where integers are 64-bit and FP64 runs.
pub fn is_host(device: &Device) -> bool {
    *device == cpu_device()
}

/// The GPU device, opened and self-tested once per process; the error says why it is unusable.
pub fn gpu_device() -> Result<Device> {
    static GPU: OnceLock<std::result::Result<Device, String>> = OnceLock::new();
    GPU.get_or_init(open_and_self_test)
        .clone()
        .map_err(|reason| ModelError::Device {
            device: "gpu".into(),
            reason,
        })
}

fn open_and_self_test() -> std::result::Result<Device, String> {
    // wgpu reports most failures as errors, but adapter and driver bugs can panic; a missing
    // or broken GPU must never take the daemon down.
    let opened = std::panic::catch_unwind(|| Device::wgpu_options().init());
    let device = match opened {
        Ok(Ok(device)) => device,
        Ok(Err(e)) => return Err(format!("no usable wgpu adapter: {e:?}")),
        Err(_) => return Err("the wgpu runtime panicked while opening the adapter".into()),
    };
    match std::panic::catch_unwind(|| self_test(&device)) {
        Ok(Ok(())) => Ok(device),
        Ok(Err(reason)) => Err(format!("self-test failed: {reason}")),
        Err(_) => Err("self-test panicked".into()),
    }
}

/// Runs a small matmul + softmax on `device` and compares it with the same computed on the
/// host, so a driver that returns wrong numbers is never used.
fn self_test(device: &Device) -> std::result::Result<(), String> {
    const N: usize = 16;
    let a: Vec<f32> = (0..N * N)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0)
        .collect();
    let b: Vec<f32> = (0..N * N)
        .map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0)
        .collect();
    let ta = Tensor::<2>::from_data(TensorData::new(a.clone(), [N, N]), device);
    let tb = Tensor::<2>::from_data(TensorData::new(b.clone(), [N, N]), device);
    let got = burn::tensor::activation::softmax(ta.matmul(tb), 1)
        .try_into_data()
        .map_err(|e| format!("{e:?}"))?
        .try_to_vec::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    for row in 0..N {
        let logits: Vec<f64> = (0..N)
            .map(|col| {
                (0..N)
                    .map(|k| f64::from(a[row * N + k]) * f64::from(b[k * N + col]))
                    .sum()
            })
            .collect();
        let max = logits.iter().copied().fold(f64::MIN, f64::max);
        let sum: f64 = logits.iter().map(|l| (l - max).exp()).sum();
        for col in 0..N {
            let expected = (logits[col] - max).exp() / sum;
            let actual = f64::from(got[row * N + col]);
            if (expected - actual).abs() > 1e-4 {
                return Err(format!(
                    "softmax(A·B)[{row},{col}] = {actual}, expected {expected}"
                ));
            }
        }
    }
    Ok(())
}
