//! The `[models.NAME]` tables: which models to serve, where, and what their outputs mean for
//! the quality metrics (the task, the class output, the score output). Why a file of its own:
//! the task decides which labels a model takes and which metrics it gets, and that reading of
//! a model's outputs belongs together.

use std::collections::BTreeMap;

use edge_config::{ConfigIssue, Fields};
use edge_format::DeviceChoice;
use serde_json::{Map, Value};

use super::valid_model_name;

#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub name: String,
    pub device: DeviceChoice,
    /// What the model's outputs are, for labels and quality metrics.
    pub task: Task,
    /// The output holding the predicted class: class scores (argmax, or a threshold for one
    /// score per row) or integer class labels; the first output when unset.
    pub class_output: Option<String>,
    /// With integer class labels in `class_output`: the output of per-class scores
    /// (probabilities) for ROC AUC. For regression: unused.
    pub score_output: Option<String>,
    /// For a model with one score per row: the score at or above which the row is class 1.
    pub binary_threshold: f64,
    /// Most elements one tensor made while running the model may have (shape subgraphs that
    /// compute a huge shape fail the request instead of exhausting the box). Default 2^28.
    pub max_tensor_elements: usize,
    /// The memory budget of each load of this model (`[updates] max_model_memory`, on a box
    /// that takes updates: a model from the fleet is hostile input until it has run).
    pub max_memory: Option<u64>,
}

/// What a model's predictions are, which decides its labels and its quality metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Classification when the class output's shape says so (one score per row, one per
    /// class, or integer labels); otherwise latency and errors only.
    Auto,
    /// Integer class labels; accuracy, precision, recall, F1, ROC AUC.
    Classification,
    /// Float labels, one per output value; MAE and RMSE.
    Regression,
    /// Embeddings and other outputs without ground truth: latency and errors only, labels
    /// refused.
    Embedding,
}

pub(super) fn check_models(
    models: Option<&Map<String, Value>>,
    issues: &mut Vec<ConfigIssue>,
) -> Vec<ModelConfig> {
    let Some(models) = models.filter(|m| !m.is_empty()) else {
        issues.push(ConfigIssue {
            key: "models".into(),
            message: "at least one model is required, for example [models.mlp]".into(),
        });
        return Vec::new();
    };
    let mut out = BTreeMap::new();
    for (name, table) in models {
        let key = format!("models.{name}");
        if !valid_model_name(name) {
            issues.push(ConfigIssue {
                key: key.clone(),
                message: "a model name is 1 to 64 of a-z, 0-9, '_' and '-', starting with a \
                          letter or digit (it is used in URLs and MQTT topics)"
                    .into(),
            });
        }
        let Some(table) = table.as_object() else {
            issues.push(ConfigIssue {
                key,
                message: "expected a table, for example [models.mlp]".into(),
            });
            continue;
        };
        let mut f = Fields::new(&key, table);
        let device = match f.string("device", issues) {
            None => DeviceChoice::Auto,
            Some(s) => s.parse().unwrap_or_else(|_| {
                issues.push(ConfigIssue {
                    key: f.key("device"),
                    message: format!("'{s}' is not one of auto, gpu, cpu"),
                });
                DeviceChoice::Auto
            }),
        };
        let task = match f.string("task", issues).as_deref() {
            None | Some("auto") => Task::Auto,
            Some("classification") => Task::Classification,
            Some("regression") => Task::Regression,
            Some("embedding") => Task::Embedding,
            Some(other) => {
                issues.push(ConfigIssue {
                    key: f.key("task"),
                    message: format!(
                        "'{other}' is not one of auto, classification, regression, embedding"
                    ),
                });
                Task::Auto
            }
        };
        let class_output = f.string("class_output", issues);
        let score_output = f.string("score_output", issues);
        if score_output.is_some() && matches!(task, Task::Regression | Task::Embedding) {
            issues.push(ConfigIssue {
                key: f.key("score_output"),
                message: "scores are for classifiers; this model's task is not classification"
                    .into(),
            });
        }
        let binary_threshold = f.number("binary_threshold", 0.5, (f64::MIN, f64::MAX), issues);
        let max_tensor_elements = f.integer(
            "max_tensor_elements",
            edge_format::format::MAX_ELEMENTS as u64,
            (1, 1 << 32),
            issues,
        ) as usize;
        f.finish(issues);
        out.insert(
            name.clone(),
            ModelConfig {
                name: name.clone(),
                device,
                task,
                class_output,
                score_output,
                binary_threshold,
                max_tensor_elements,
                max_memory: None,
            },
        );
    }
    out.into_values().collect()
}
