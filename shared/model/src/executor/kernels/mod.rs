//! Host kernels that replace a Burn op on the CPU where Burn's is the bottleneck, behind the
//! same graph op: the op's family decides whether a kernel applies (element type, shape,
//! device) and otherwise runs Burn's, which stays the fallback everywhere and the oracle in
//! the tests (`kernels/tests.rs` compares each kernel with Burn's op on the same inputs).
//!
//! * [`conv`] — direct 2-D convolution for few input channels per group and depthwise
//!   layers, with bias and a fused piecewise-linear activation ([`epilogue`]);
//! * [`pool`] — 2-D max and average pooling on the same padded layout.

mod conv;
mod epilogue;
mod pool;
#[cfg(test)]
mod tests;

use burn::tensor::{DType, Tensor, TensorData};

use super::device::is_host;
use super::dyn_tensor::DynTensor;
pub use conv::Conv2d;
pub use epilogue::{FusedActivation, in_register};
pub use pool::Pool;

/// Runs `op` with the widest instruction set this CPU has. On x86-64 that is AVX2 + FMA
/// (pulp's `V3`) or SSE4.2 (`V2`), chosen here rather than through pulp's `Arch` because
/// `Arch` offers `V3` only with pulp's `x86-v3` feature, and enabling a feature of a crate
/// Burn's backend depends on would rebuild that whole stack; on aarch64 NEON; else scalar.
fn dispatch<Op: pulp::WithSimd>(op: Op) -> Op::Output {
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(simd) = pulp::x86::V3::try_new() {
            return pulp::Simd::vectorize(simd, op);
        }
        if let Some(simd) = pulp::x86::V2::try_new() {
            return pulp::Simd::vectorize(simd, op);
        }
    }
    pulp::Arch::new().dispatch(op)
}

/// Largest `in_channels / groups × kernel area` a dense direct convolution takes: past it
/// the im2col + gemm path of Burn's backend amortises its setup and wins.
const DIRECT_MAX_TAPS: usize = 288;

/// Whether the host convolution serves `conv` with inputs of element type `dtype` on the
/// tensor's device.
pub fn direct_conv_applies(conv: &Conv2d, x: &DynTensor, w: &DynTensor) -> bool {
    let taps = conv.in_channels / conv.groups * conv.kernel.0 * conv.kernel.1;
    x.dtype() == DType::F32
        && w.dtype() == DType::F32
        && is_host(&x.device())
        && is_host(&w.device())
        && (conv.out_channels == conv.groups || direct_dense(conv, taps))
}

/// A dense or grouped convolution goes direct when it has a real window and few taps per
/// output over rows at least a vector wide; a pointwise (1×1) one is a plain matrix product,
/// which gemm does better.
fn direct_dense(conv: &Conv2d, taps: usize) -> bool {
    conv.kernel.0 * conv.kernel.1 > 1 && taps <= DIRECT_MAX_TAPS && conv.out_size.1 >= 8
}

/// Runs `conv` on the host: `x` `[n, c, h, w]`, `weight` `[oc, c / groups, kh, kw]`, `bias`
/// `[oc]`, all F32 on the host ([`direct_conv_applies`]). `activation` is applied in
/// registers when [`in_register`] says it can be; the caller applies any other.
pub fn direct_conv(
    conv: &Conv2d,
    x: DynTensor,
    weight: DynTensor,
    bias: Option<DynTensor>,
    activation: Option<FusedActivation>,
) -> Result<DynTensor, String> {
    let device = x.device();
    // On the host a uniquely held tensor hands its buffer over without a copy.
    let read = |t: DynTensor| t.into_data().map_err(|e| e.to_string());
    let floats = |d: &TensorData| -> Result<Vec<f32>, String> {
        Ok(d.as_slice::<f32>().map_err(|e| format!("{e:?}"))?.to_vec())
    };
    let x = read(x)?;
    let bias = match bias {
        Some(b) => floats(&read(b)?)?,
        None => vec![0.0; conv.out_channels],
    };
    let weight = read(weight)?;
    let packed = conv::pack(
        conv,
        weight.as_slice::<f32>().map_err(|e| format!("{e:?}"))?,
    );
    let out = conv::conv2d(
        conv,
        x.as_slice::<f32>().map_err(|e| format!("{e:?}"))?,
        &packed,
        &bias,
        activation.filter(|a| in_register(*a)),
    );
    let shape = [
        conv.batch,
        conv.out_channels,
        conv.out_size.0,
        conv.out_size.1,
    ];
    Ok(tensor4(out, shape, &device))
}

/// Whether the host pool serves a 2-D pool of `x`.
pub fn pool_applies(x: &DynTensor) -> bool {
    x.rank() == 4 && x.dtype() == DType::F32 && is_host(&x.device())
}

/// Runs a 2-D pool on the host ([`pool_applies`]); `geometry`'s channel counts are `x`'s.
pub fn pool(geometry: &Conv2d, x: DynTensor, kind: Pool) -> Result<DynTensor, String> {
    let device = x.device();
    let x = x.into_data().map_err(|e| e.to_string())?;
    let out = pool::pool2d(
        geometry,
        x.as_slice::<f32>().map_err(|e| format!("{e:?}"))?,
        kind,
    );
    let shape = [
        geometry.batch,
        geometry.in_channels,
        geometry.out_size.0,
        geometry.out_size.1,
    ];
    Ok(tensor4(out, shape, &device))
}

/// A kernel's output as an F32 tensor on `device` (the Vec becomes the tensor's buffer).
fn tensor4(out: Vec<f32>, shape: [usize; 4], device: &burn::tensor::Device) -> DynTensor {
    DynTensor::R4(Tensor::from_data(
        TensorData::new(out, shape),
        (device, DType::F32),
    ))
}
