//! Where the operator asks a model to run; the runtime (`edge-model`) decides what that means
//! on the box. Here, without Burn, so the daemon's config checker parses it Burn-free.

use std::str::FromStr;

/// What the operator asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    Cpu,
    Gpu,
    /// Open the GPU, self-test it, time the model on GPU and CPU at warm-up, use the faster.
    #[default]
    Auto,
}

impl FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "gpu" => Ok(Self::Gpu),
            "auto" => Ok(Self::Auto),
            other => Err(format!(
                "unknown device '{other}' (expected auto, gpu or cpu)"
            )),
        }
    }
}
