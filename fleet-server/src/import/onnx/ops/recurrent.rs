//! LSTM, GRU and RNN, which reach us as custom nodes (see `custom.rs`): every attribute read
//! here from the node itself, following the ONNX spec (activation defaults per cell,
//! `activation_alpha`/`activation_beta` taken in order by the functions that have them, as
//! ONNX Runtime does, one set of activations shared by both directions when only one is
//! given).

use edge_model::format::{Activation, Direction, Op, RecurrentCell, RecurrentInputs};
use onnx_ir::CustomNode;

use super::{Lowered, Lowering};

pub(super) fn recurrent(n: &CustomNode) -> Lowering {
    let a = &n.attrs;
    let int = |key: &str, default: i64| a.get_i64(key).unwrap_or(default);
    let cell = match n.op_type.as_str() {
        "LSTM" => RecurrentCell::Lstm {
            input_forget: int("input_forget", 0) != 0,
        },
        "GRU" => RecurrentCell::Gru {
            linear_before_reset: int("linear_before_reset", 0) != 0,
        },
        "RNN" => RecurrentCell::Rnn,
        other => return Err(format!("{other} is not a recurrent op")),
    };
    let hidden = a.get_i64("hidden_size").ok_or("hidden_size is required")?;
    let hidden = usize::try_from(hidden)
        .ok()
        .filter(|&h| h > 0)
        .ok_or_else(|| format!("hidden_size {hidden} must be positive"))?;
    let direction = match a.get_string("direction").unwrap_or("forward") {
        "forward" => Direction::Forward,
        "reverse" => Direction::Reverse,
        "bidirectional" => Direction::Bidirectional,
        other => {
            return Err(format!(
                "direction '{other}' is not forward, reverse or bidirectional"
            ));
        }
    };
    let batch_first = match int("layout", 0) {
        0 => false,
        1 => true,
        other => return Err(format!("layout {other} is not 0 or 1")),
    };
    let clip = a.get_f32("clip");
    if clip.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
        return Err("clip must be a positive number".into());
    }
    let activations = activations(n, cell, direction)?;
    let present = |i: usize| n.inputs.get(i).is_some_and(|arg| !arg.is_optional());
    let lstm = matches!(cell, RecurrentCell::Lstm { .. });
    let optional = RecurrentInputs {
        bias: present(3),
        sequence_lens: present(4),
        initial_h: present(5),
        initial_c: lstm && present(6),
        peephole: lstm && present(7),
    };
    if !lstm && n.inputs.len() > 6 {
        return Err(format!("{} takes at most 6 inputs", n.op_type));
    }
    Lowered::reads(
        Op::Recurrent {
            cell,
            hidden,
            direction,
            batch_first,
            clip,
            activations,
            optional,
        },
        usize::MAX,
    )
}

fn activations(
    n: &CustomNode,
    cell: RecurrentCell,
    direction: Direction,
) -> Result<Vec<Activation>, String> {
    let per = cell.activations();
    let names: Vec<String> = match n.attrs.get_strings("activations") {
        Some(list) => list.to_vec(),
        None => {
            let defaults: &[&str] = match cell {
                RecurrentCell::Lstm { .. } => &["Sigmoid", "Tanh", "Tanh"],
                RecurrentCell::Gru { .. } => &["Sigmoid", "Tanh"],
                RecurrentCell::Rnn => &["Tanh"],
            };
            defaults.iter().map(|s| s.to_string()).collect()
        }
    };
    let want = per * direction.count();
    let names = if names.len() == want {
        names
    } else if names.len() == per {
        (0..direction.count())
            .flat_map(|_| names.iter().cloned())
            .collect()
    } else {
        return Err(format!(
            "{} activations; {} takes {per} per direction",
            names.len(),
            n.op_type
        ));
    };
    let mut alphas = n
        .attrs
        .get_f32s("activation_alpha")
        .unwrap_or_default()
        .iter()
        .copied();
    let mut betas = n
        .attrs
        .get_f32s("activation_beta")
        .unwrap_or_default()
        .iter()
        .copied();
    names
        .iter()
        .map(|name| {
            let mut alpha = |default: f32| alphas.next().unwrap_or(default);
            Ok(match name.to_ascii_lowercase().as_str() {
                "sigmoid" => Activation::Sigmoid,
                "tanh" => Activation::Tanh,
                "relu" => Activation::Relu,
                "softsign" => Activation::Softsign,
                "softplus" => Activation::Softplus,
                "leakyrelu" => Activation::LeakyRelu { alpha: alpha(0.01) },
                "thresholdedrelu" => Activation::ThresholdedRelu { alpha: alpha(1.0) },
                "elu" => Activation::Elu { alpha: alpha(1.0) },
                "hardsigmoid" => Activation::HardSigmoid {
                    alpha: alpha(0.2),
                    beta: betas.next().unwrap_or(0.5),
                },
                "scaledtanh" => Activation::ScaledTanh {
                    alpha: alpha(1.0),
                    beta: betas.next().unwrap_or(1.0),
                },
                "affine" => Activation::Affine {
                    alpha: alpha(1.0),
                    beta: betas.next().unwrap_or(0.0),
                },
                other => {
                    return Err(format!(
                        "activation '{other}' is not an ONNX recurrent activation"
                    ));
                }
            })
        })
        .collect()
}
