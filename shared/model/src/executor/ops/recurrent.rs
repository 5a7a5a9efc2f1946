//! The recurrent cells (ONNX LSTM, GRU and RNN), on the model's device.
//!
//! Each direction runs on its own: the input projection `X·Wᵀ + Wb` of every step is one
//! matrix product up front, then the steps run in order, each one product with `R` and the
//! gate arithmetic. `sequence_lens` is a per-batch-row mask: past its length a row's state
//! stays as it was and its Y is zero, as ONNX Runtime does; a reverse direction reads each row
//! from its own last valid step, by a gather that reverses each row within its length (and
//! the same gather puts Y back in time order).

use burn::tensor::{Int, Tensor, TensorData, activation};

use super::common::{Res, device_ints, host_ints};
use crate::executor::dyn_tensor::DynTensor;
use crate::executor::value::Value;
use crate::format::{Activation, Direction, RecurrentCell, RecurrentInputs};

pub(super) struct Params<'a> {
    pub cell: RecurrentCell,
    pub hidden: usize,
    pub direction: Direction,
    pub batch_first: bool,
    pub clip: Option<f32>,
    pub activations: &'a [Activation],
    pub optional: RecurrentInputs,
}

/// One direction's weights: `W [G·H, I]`, `R [G·H, H]`, the two biases `[G·H]`, peepholes.
struct Weights {
    w: Tensor<2>,
    r: Tensor<2>,
    wb: Tensor<1>,
    rb: Tensor<1>,
    p: Option<Tensor<1>>,
}

/// Runs the node: Y, Y_h and (for an LSTM) Y_c, in ONNX's shapes for the layout.
pub(super) fn recurrent(inputs: Vec<Value>, p: &Params) -> Res<Vec<Value>> {
    let mut inputs = inputs.into_iter();
    let mut next = |what: &str| inputs.next().ok_or_else(|| format!("missing {what}"));
    let x = rank::<3>(next("X")?, "X")?;
    let w = rank::<3>(next("W")?, "W")?;
    let r = rank::<3>(next("R")?, "R")?;
    let b = p.optional.bias.then(|| next("B")).transpose()?;
    let lens = p
        .optional
        .sequence_lens
        .then(|| next("sequence_lens"))
        .transpose()?;
    let h0 = p
        .optional
        .initial_h
        .then(|| next("initial_h"))
        .transpose()?;
    let c0 = p
        .optional
        .initial_c
        .then(|| next("initial_c"))
        .transpose()?;
    let peep = p.optional.peephole.then(|| next("P")).transpose()?;

    let x = if p.batch_first { x.swap_dims(0, 1) } else { x };
    let [steps, batch, input] = x.dims();
    let (dirs, gates, hidden) = (p.direction.count(), p.cell.gates(), p.hidden);
    let gh = gates * hidden;
    let expect = |what: &str, got: &[usize], want: &[usize]| -> Res<()> {
        if got == want {
            Ok(())
        } else {
            Err(format!("{what} has shape {got:?}; expected {want:?}"))
        }
    };
    expect("W", &w.dims(), &[dirs, gh, input])?;
    expect("R", &r.dims(), &[dirs, gh, hidden])?;
    let device = x.device();
    let dtype = x.dtype();
    let b = match b {
        Some(b) => {
            let b = rank::<2>(b, "B")?;
            expect("B", &b.dims(), &[dirs, 2 * gh])?;
            b
        }
        None => Tensor::zeros([dirs, 2 * gh], (&device, dtype)),
    };
    let state = |v: Option<Value>, what: &str| -> Res<Tensor<3>> {
        let want = if p.batch_first {
            [batch, dirs, hidden]
        } else {
            [dirs, batch, hidden]
        };
        match v {
            Some(v) => {
                let t = rank::<3>(v, what)?;
                expect(what, &t.dims(), &want)?;
                Ok(if p.batch_first { t.swap_dims(0, 1) } else { t })
            }
            None => Ok(Tensor::zeros([dirs, batch, hidden], (&device, dtype))),
        }
    };
    let h0 = state(h0, "initial_h")?;
    let c0 = state(c0, "initial_c")?;
    let peep = match peep {
        Some(v) => {
            let t = rank::<2>(v, "P")?;
            expect("P", &t.dims(), &[dirs, 3 * hidden])?;
            Some(t)
        }
        None => None,
    };
    let lens = match lens {
        Some(v) => {
            let l = host_ints(&v)?;
            if l.len() != batch || l.iter().any(|&n| n < 0 || n as usize > steps) {
                return Err(format!(
                    "sequence_lens {l:?} must hold {batch} lengths of at most {steps}"
                ));
            }
            Some(l.into_iter().map(|n| n as usize).collect::<Vec<_>>())
        }
        None => None,
    };

    let (mut ys, mut hs, mut cs) = (Vec::new(), Vec::new(), Vec::new());
    for d in 0..dirs {
        let reverse = p.direction == Direction::Reverse || d == 1;
        let acts = &p.activations[d * p.cell.activations()..][..p.cell.activations()];
        let bd = b.clone().narrow(0, d, 1).reshape([2 * gh]);
        let weights = Weights {
            w: w.clone().narrow(0, d, 1).reshape([gh, input]),
            r: r.clone().narrow(0, d, 1).reshape([gh, hidden]),
            wb: bd.clone().narrow(0, 0, gh),
            rb: bd.narrow(0, gh, gh),
            p: peep
                .clone()
                .map(|t| t.narrow(0, d, 1).reshape([3 * hidden])),
        };
        let order = reverse
            .then(|| time_reversal(steps, batch, lens.as_deref(), &device))
            .transpose()?;
        let xs = match &order {
            Some(idx) => reorder(x.clone(), idx),
            None => x.clone(),
        };
        let h = h0.clone().narrow(0, d, 1).reshape([batch, hidden]);
        let c = c0.clone().narrow(0, d, 1).reshape([batch, hidden]);
        let (y, h, c) = run_direction(xs, &weights, h, c, acts, p, lens.as_deref())?;
        let y = match &order {
            Some(idx) => reorder(y, idx),
            None => y,
        };
        ys.push(y);
        hs.push(h);
        cs.push(c);
    }
    // Y: [T, D, B, H] (or [B, T, D, H]); Y_h and Y_c: [D, B, H] (or [B, D, H]).
    let y: Tensor<4> = Tensor::stack(ys, 1);
    let (y, h, c) = {
        let h: Tensor<3> = Tensor::stack(hs, 0);
        let c: Tensor<3> = Tensor::stack(cs, 0);
        if p.batch_first {
            (
                y.permute([2, 0, 1, 3]),
                h.swap_dims(0, 1),
                c.swap_dims(0, 1),
            )
        } else {
            (y, h, c)
        }
    };
    let mut out = vec![
        Value::of_float(DynTensor::R4(y), false),
        Value::of_float(DynTensor::R3(h), false),
    ];
    if p.cell.outputs() == 3 {
        out.push(Value::of_float(DynTensor::R3(c), false));
    }
    Ok(out)
}

fn rank<const D: usize>(v: Value, what: &str) -> Res<Tensor<D>> {
    v.float()?
        .into_rank::<D>()
        .map_err(|e| format!("{what}: {e}"))
}

/// The gather indices `[T, B, 1]` that reverse each batch row within its length (rows
/// without lengths: the whole sequence). Applying them twice restores the order.
fn time_reversal(
    steps: usize,
    batch: usize,
    lens: Option<&[usize]>,
    device: &burn::tensor::Device,
) -> Res<Tensor<3, Int>> {
    let mut idx = Vec::with_capacity(steps * batch);
    for t in 0..steps {
        for b in 0..batch {
            let len = lens.map_or(steps, |l| l[b]);
            let src = if t < len { len - 1 - t } else { t };
            idx.push(src as i64);
        }
    }
    device_ints(idx, &[steps, batch, 1], device)?
        .into_rank::<3>()
        .map_err(|e| e.to_string())
}

fn reorder(x: Tensor<3>, idx: &Tensor<3, Int>) -> Tensor<3> {
    let dims = x.dims();
    x.gather(0, idx.clone().expand(dims))
}

/// The steps of one direction, in order: Y `[T, B, H]` and the last states.
fn run_direction(
    x: Tensor<3>,
    wt: &Weights,
    mut h: Tensor<2>,
    mut c: Tensor<2>,
    acts: &[Activation],
    p: &Params,
    lens: Option<&[usize]>,
) -> Res<(Tensor<3>, Tensor<2>, Tensor<2>)> {
    let [steps, batch, input] = x.dims();
    let (hidden, gh) = (p.hidden, p.cell.gates() * p.hidden);
    let device = x.device();
    let dtype = x.dtype();
    let projected = (x
        .reshape([steps * batch, input])
        .matmul(wt.w.clone().transpose())
        + wt.wb.clone().reshape([1, gh]))
    .reshape([steps, batch, gh]);
    let rt = wt.r.clone().transpose();
    // 1 where a row is still inside its sequence, 0 after it: one upload, `[T, B, 1]`.
    let live = lens.map(|lens| {
        let live: Vec<f32> = (0..steps)
            .flat_map(|t| lens.iter().map(move |&l| if t < l { 1.0 } else { 0.0 }))
            .collect();
        Tensor::<3>::from_data(TensorData::new(live, [steps, batch, 1]), (&device, dtype))
    });
    let mut ys = Vec::with_capacity(steps);
    for t in 0..steps {
        let xt = projected.clone().narrow(0, t, 1).reshape([batch, gh]);
        let (h_new, c_new) = match p.cell {
            RecurrentCell::Lstm { input_forget } => {
                lstm_step(xt, &h, &c, &rt, wt, acts, p.clip, input_forget, hidden)
            }
            RecurrentCell::Gru {
                linear_before_reset,
            } => (
                gru_step(xt, &h, &rt, wt, acts, p.clip, linear_before_reset, hidden),
                c.clone(),
            ),
            RecurrentCell::Rnn => {
                let pre = xt + h.clone().matmul(rt.clone()) + wt.rb.clone().reshape([1, gh]);
                (activate(acts[0], clip(pre, p.clip)), c.clone())
            }
        };
        match &live {
            Some(live) => {
                let m = live
                    .clone()
                    .narrow(0, t, 1)
                    .reshape([batch, 1])
                    .expand([batch, hidden]);
                let keep = m.clone().neg().add_scalar(1.0);
                ys.push(h_new.clone() * m.clone());
                h = h_new * m.clone() + h * keep.clone();
                c = c_new * m + c * keep;
            }
            None => {
                ys.push(h_new.clone());
                h = h_new;
                c = c_new;
            }
        }
    }
    Ok((Tensor::stack(ys, 0), h, c))
}

#[allow(clippy::too_many_arguments)]
fn lstm_step(
    xt: Tensor<2>,
    h: &Tensor<2>,
    c: &Tensor<2>,
    rt: &Tensor<2>,
    wt: &Weights,
    acts: &[Activation],
    clip_at: Option<f32>,
    input_forget: bool,
    hidden: usize,
) -> (Tensor<2>, Tensor<2>) {
    let batch = xt.dims()[0];
    let gates = xt + h.clone().matmul(rt.clone()) + wt.rb.clone().reshape([1, 4 * hidden]);
    let gate = |k: usize| gates.clone().narrow(1, k * hidden, hidden);
    let peep = |k: usize, state: &Tensor<2>| match &wt.p {
        Some(p) => {
            p.clone()
                .narrow(0, k * hidden, hidden)
                .reshape([1, hidden])
                .expand([batch, hidden])
                * state.clone()
        }
        None => state.zeros_like(),
    };
    let (f, g, hh) = (acts[0], acts[1], acts[2]);
    let i = activate(f, clip(gate(0) + peep(0, c), clip_at));
    let forget = if input_forget {
        i.clone().neg().add_scalar(1.0)
    } else {
        activate(f, clip(gate(2) + peep(2, c), clip_at))
    };
    let candidate = activate(g, clip(gate(3), clip_at));
    let c_new = forget * c.clone() + i * candidate;
    let o = activate(f, clip(gate(1) + peep(1, &c_new), clip_at));
    (o * activate(hh, c_new.clone()), c_new)
}

#[allow(clippy::too_many_arguments)]
fn gru_step(
    xt: Tensor<2>,
    h: &Tensor<2>,
    rt: &Tensor<2>,
    wt: &Weights,
    acts: &[Activation],
    clip_at: Option<f32>,
    linear_before_reset: bool,
    hidden: usize,
) -> Tensor<2> {
    let rb = wt.rb.clone().reshape([1, 3 * hidden]);
    let x_gate = |k: usize| xt.clone().narrow(1, k * hidden, hidden);
    let r_cols = |k: usize| rt.clone().narrow(1, k * hidden, hidden);
    let rb_gate = |k: usize| rb.clone().narrow(1, k * hidden, hidden);
    let (f, g) = (acts[0], acts[1]);
    let z = activate(
        f,
        clip(
            x_gate(0) + h.clone().matmul(r_cols(0)) + rb_gate(0),
            clip_at,
        ),
    );
    let r = activate(
        f,
        clip(
            x_gate(1) + h.clone().matmul(r_cols(1)) + rb_gate(1),
            clip_at,
        ),
    );
    let recurrent = if linear_before_reset {
        r * (h.clone().matmul(r_cols(2)) + rb_gate(2))
    } else {
        (r * h.clone()).matmul(r_cols(2)) + rb_gate(2)
    };
    let candidate = activate(g, clip(x_gate(2) + recurrent, clip_at));
    // H = (1 - z) ⊙ h̃ + z ⊙ H₋₁
    z.clone().neg().add_scalar(1.0) * candidate + z * h.clone()
}

fn clip(t: Tensor<2>, at: Option<f32>) -> Tensor<2> {
    match at {
        Some(c) => t.clamp(-c, c),
        None => t,
    }
}

fn activate(a: Activation, t: Tensor<2>) -> Tensor<2> {
    match a {
        Activation::Sigmoid => activation::sigmoid(t),
        Activation::Tanh => t.tanh(),
        Activation::Relu => activation::relu(t),
        Activation::HardSigmoid { alpha, beta } => {
            t.mul_scalar(alpha).add_scalar(beta).clamp(0.0, 1.0)
        }
        Activation::LeakyRelu { alpha } => activation::leaky_relu(t, f64::from(alpha)),
        Activation::ThresholdedRelu { alpha } => {
            let keep = t.clone().greater_elem(alpha);
            t.clone().zeros_like().mask_where(keep, t)
        }
        Activation::ScaledTanh { alpha, beta } => t.mul_scalar(beta).tanh().mul_scalar(alpha),
        Activation::Elu { alpha } => {
            let neg = t.clone().lower_elem(0.0);
            let e = t.clone().exp().sub_scalar(1.0).mul_scalar(alpha);
            t.mask_where(neg, e)
        }
        Activation::Softsign => t.clone().div(t.abs().add_scalar(1.0)),
        Activation::Softplus => activation::softplus(t, 1.0),
        Activation::Affine { alpha, beta } => t.mul_scalar(alpha).add_scalar(beta),
    }
}
