//! How a model's predictions meet their labels, read once at load from the model's outputs
//! and its `[models.NAME]` settings (`task`, `class_output`, `score_output`): which output
//! holds the predicted classes or values, which one the scores for ROC AUC, and so which
//! labels the model takes. A model with no truth (an embedder) is served with latency and
//! error metrics only and refuses labels.

use edge_model::format::{Dim, ModelSpec, TensorSpec};

use crate::config::{ModelConfig, Task};
use crate::metrics::quality::Scoring;

/// What labels of this model are and where its predictions for them are.
#[derive(Debug, Clone, PartialEq)]
pub enum Truth {
    /// Integer classes: predicted from `output` by `scoring`; scores for AUC from `scores`
    /// (a model whose class output holds labels).
    Classes {
        output: String,
        scores: Option<String>,
        scoring: Scoring,
    },
    /// Float values, one label per value of `output` (rows × targets).
    Values { output: String },
}

impl Truth {
    /// The output the labels are checked against.
    pub fn output(&self) -> &str {
        match self {
            Self::Classes { output, .. } | Self::Values { output } => output,
        }
    }
}

/// Values per row of an output with fixed trailing dims.
fn width(t: &TensorSpec) -> Option<usize> {
    t.shape
        .iter()
        .skip(1)
        .map(Dim::fixed)
        .try_fold(1usize, |acc, d| d.map(|d| acc * d))
}

/// The model's truth by its task: see [`Task`] for what each reads.
pub fn read(spec: &ModelSpec, config: &ModelConfig) -> Result<Option<Truth>, String> {
    let outputs = &spec.outputs;
    let find = |key: &str, name: &str| {
        outputs
            .iter()
            .find(|o| o.name == name)
            .ok_or_else(|| format!("{key} '{name}' is not an output of the model"))
    };
    let output = match &config.class_output {
        Some(name) => find("class_output", name)?,
        None => match outputs.first() {
            Some(o) => o,
            None => return Ok(None),
        },
    };
    match config.task {
        Task::Embedding => {
            if config.class_output.is_some() {
                return Err("class_output names no classes for an embedding model".into());
            }
            Ok(None)
        }
        Task::Regression => {
            if !output.datatype.is_float() {
                return Err(format!(
                    "output '{}' is {}: a regression model's predictions are floats",
                    output.name,
                    output.datatype.oip_name()
                ));
            }
            Ok(Some(Truth::Values {
                output: output.name.clone(),
            }))
        }
        Task::Classification | Task::Auto => {
            let classes = classes(outputs, output, config, find)?;
            match (classes, config.task) {
                (None, Task::Classification) => Err(format!(
                    "output '{}' of shape {:?} holds no classes: one score per row, one per \
                     class, or an integer label per row",
                    output.name, output.shape
                )),
                (truth, _) => Ok(truth),
            }
        }
    }
}

/// Classes from integer labels (`[N]`, with scores from `score_output`, or else from the one
/// other float output of shape `[N, C]`), or from scores (one per row, or one per class).
fn classes<'a>(
    outputs: &'a [TensorSpec],
    output: &'a TensorSpec,
    config: &ModelConfig,
    find: impl Fn(&str, &str) -> Result<&'a TensorSpec, String>,
) -> Result<Option<Truth>, String> {
    if output.datatype.is_int() && output.shape.len() == 1 {
        let scores = match &config.score_output {
            Some(name) => Some(find("score_output", name)?),
            None => {
                let mut floats = outputs.iter().filter(|o| {
                    o.name != output.name && o.datatype.is_float() && o.shape.len() == 2
                });
                match (floats.next(), floats.next()) {
                    (Some(only), None) => Some(only),
                    _ => None,
                }
            }
        };
        let score_width = match scores {
            Some(s) => Some(
                width(s).ok_or_else(|| format!("score_output '{}' has no fixed width", s.name))?,
            ),
            None => None,
        };
        return Ok(Some(Truth::Classes {
            output: output.name.clone(),
            scores: scores.map(|s| s.name.clone()),
            scoring: Scoring::Labels { score_width },
        }));
    }
    if config.score_output.is_some() {
        return Err(format!(
            "score_output is for a class output of integer labels; '{}' holds scores already",
            output.name
        ));
    }
    let scoring = match width(output) {
        Some(1) => Scoring::Threshold(config.binary_threshold as f32),
        Some(classes) if classes >= 2 => Scoring::Argmax { classes },
        _ => return Ok(None),
    };
    Ok(Some(Truth::Classes {
        output: output.name.clone(),
        scores: None,
        scoring,
    }))
}
