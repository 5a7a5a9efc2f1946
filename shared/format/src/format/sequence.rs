//! The attributes of the sequence-model ops: the recurrent cells (ONNX LSTM, GRU and RNN), with
//! their directions, activation functions and which optional inputs a node has, and the
//! Einsum equation, parsed once so a malformed one is refused at load, not mid-inference.
//! Kept apart from [`super::op::Op`] so the op list reads as one table.

use serde::{Deserialize, Serialize};

/// Which recurrent cell a `Recurrent` node runs, with the attributes only that cell has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecurrentCell {
    /// Gates i, o, f, c (ONNX order); `input_forget` couples the forget gate to `1 - i`.
    Lstm { input_forget: bool },
    /// Gates z, r, h; `linear_before_reset` applies the reset gate after the recurrent
    /// product (the form cuDNN and PyTorch use).
    Gru { linear_before_reset: bool },
    /// One gate: `H = f(X·Wᵀ + H·Rᵀ + b)`.
    Rnn,
}

impl RecurrentCell {
    /// Gates per step (the `4`, `3` or `1` in ONNX's `[num_directions, G·hidden, input]`).
    pub fn gates(self) -> usize {
        match self {
            RecurrentCell::Lstm { .. } => 4,
            RecurrentCell::Gru { .. } => 3,
            RecurrentCell::Rnn => 1,
        }
    }

    /// Activation functions per direction (f, g, h for LSTM; f, g for GRU; f for RNN).
    pub fn activations(self) -> usize {
        match self {
            RecurrentCell::Lstm { .. } => 3,
            RecurrentCell::Gru { .. } => 2,
            RecurrentCell::Rnn => 1,
        }
    }

    /// Outputs: Y and Y_h, and Y_c for an LSTM.
    pub fn outputs(self) -> usize {
        match self {
            RecurrentCell::Lstm { .. } => 3,
            _ => 2,
        }
    }

    pub fn onnx_name(self) -> &'static str {
        match self {
            RecurrentCell::Lstm { .. } => "LSTM",
            RecurrentCell::Gru { .. } => "GRU",
            RecurrentCell::Rnn => "RNN",
        }
    }
}

/// The direction a recurrent node reads its sequence in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    Forward,
    /// Each sequence from its last valid step (`sequence_lens`) back to the first.
    Reverse,
    /// Forward then reverse, stacked on Y's direction axis.
    Bidirectional,
}

impl Direction {
    pub fn count(self) -> usize {
        match self {
            Direction::Bidirectional => 2,
            _ => 1,
        }
    }
}

/// The activation functions ONNX's recurrent ops name, with their `activation_alpha` and
/// `activation_beta` resolved (ONNX Runtime's rule: taken in order by the functions that
/// have them, each function's operator default otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Activation {
    Sigmoid,
    Tanh,
    Relu,
    /// `max(0, min(1, alpha·x + beta))`.
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    LeakyRelu {
        alpha: f32,
    },
    /// `x` where `x > alpha`, else 0.
    ThresholdedRelu {
        alpha: f32,
    },
    /// `alpha · tanh(beta · x)`.
    ScaledTanh {
        alpha: f32,
        beta: f32,
    },
    Elu {
        alpha: f32,
    },
    Softsign,
    Softplus,
    /// `alpha · x + beta`.
    Affine {
        alpha: f32,
        beta: f32,
    },
}

/// Which of a recurrent node's optional inputs it has. They follow X, W and R in ONNX order
/// (B, sequence_lens, initial_h, initial_c, P); an absent one is left out of the node's
/// input list, not passed empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RecurrentInputs {
    pub bias: bool,
    pub sequence_lens: bool,
    pub initial_h: bool,
    /// LSTM only.
    pub initial_c: bool,
    /// LSTM peepholes, `[num_directions, 3·hidden]` in i, o, f order.
    pub peephole: bool,
}

impl RecurrentInputs {
    pub fn count(self) -> usize {
        [
            self.bias,
            self.sequence_lens,
            self.initial_h,
            self.initial_c,
            self.peephole,
        ]
        .iter()
        .filter(|&&b| b)
        .count()
    }
}

/// One operand's or the result's subscripts in an Einsum equation.
pub type Subscripts = Vec<char>;

/// A parsed Einsum equation: the operands' subscripts and the result's (implicit form
/// resolved: the letters used once, in alphabetical order). Ellipses and repeated letters
/// within one operand (diagonals) are refused when parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equation {
    pub operands: Vec<Subscripts>,
    pub result: Subscripts,
}

impl Equation {
    /// Parses `equation` as ONNX (numpy) writes it: `ab,bc->ac`, or `ab,bc` for the
    /// implicit result.
    pub fn parse(equation: &str) -> std::result::Result<Self, String> {
        let text: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
        if text.contains("...") || text.contains('.') {
            return Err(format!(
                "equation '{equation}': ellipses (...) are not supported; name every axis"
            ));
        }
        let (lhs, rhs) = match text.split_once("->") {
            Some((l, r)) => (l, Some(r)),
            None => (text.as_str(), None),
        };
        let letters = |s: &str| -> std::result::Result<Subscripts, String> {
            let mut out = Vec::new();
            for c in s.chars() {
                if !c.is_ascii_alphabetic() {
                    return Err(format!(
                        "equation '{equation}': '{c}' is not an axis letter"
                    ));
                }
                if out.contains(&c) {
                    return Err(format!(
                        "equation '{equation}': '{c}' repeats within one term (a diagonal); \
                         not supported"
                    ));
                }
                out.push(c);
            }
            Ok(out)
        };
        let operands = lhs
            .split(',')
            .map(letters)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let result = match rhs {
            Some(r) => letters(r)?,
            None => {
                let mut once: Vec<char> = operands
                    .iter()
                    .flatten()
                    .copied()
                    .filter(|c| operands.iter().flatten().filter(|d| *d == c).count() == 1)
                    .collect();
                once.sort_unstable();
                once
            }
        };
        if let Some(c) = result
            .iter()
            .find(|c| !operands.iter().any(|o| o.contains(c)))
        {
            return Err(format!(
                "equation '{equation}': result axis '{c}' is in no operand"
            ));
        }
        Ok(Self { operands, result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn einsum_equations_parse_explicit_and_implicit_forms() {
        let e = Equation::parse("bij, bjk -> bik").unwrap();
        assert_eq!(e.operands, vec![vec!['b', 'i', 'j'], vec!['b', 'j', 'k']]);
        assert_eq!(e.result, vec!['b', 'i', 'k']);
        let implicit = Equation::parse("ij,jk").unwrap();
        assert_eq!(implicit.result, vec!['i', 'k']);
        assert_eq!(Equation::parse("i,i").unwrap().result, Vec::<char>::new());
    }

    #[test]
    fn einsum_diagonals_ellipses_and_stray_axes_are_refused() {
        assert!(Equation::parse("ii->i").unwrap_err().contains("diagonal"));
        assert!(
            Equation::parse("...ij->...ji")
                .unwrap_err()
                .contains("ellipses")
        );
        assert!(
            Equation::parse("ij->k")
                .unwrap_err()
                .contains("in no operand")
        );
        assert!(
            Equation::parse("i1->i")
                .unwrap_err()
                .contains("axis letter")
        );
    }
}
