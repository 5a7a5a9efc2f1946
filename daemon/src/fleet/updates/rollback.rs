//! The way back on the fleet's instruction: to a version this box ran before and kept on
//! disk. Whatever is in progress for the model (download, shadow phase, health window) ends.

use serde_json::json;

use super::Updater;

impl Updater {
    /// Goes back to `version`, which this box activated before and kept on disk.
    pub(super) async fn roll_back(&mut self, model: &str, version: u64, serving: u64) {
        let dir = self.models_root.join(model).join(version.to_string());
        let ran_it = version < serving
            && self.state.highest.get(model).is_some_and(|h| version <= *h)
            && dir.join("model.json").is_file();
        if !ran_it {
            self.fail(
                model,
                version,
                None,
                "rollback_unavailable",
                format!("{model} {version} is not a previous version kept on this box"),
            )
            .await;
            return;
        }
        if self.job.as_ref().is_some_and(|j| j.manifest.model == model) {
            self.job = None;
        }
        self.watches.remove(model);
        if let Some(shadowing) = self.end_shadow_of(model) {
            shadowing.run.stop().await;
            let _ = std::fs::remove_dir_all(&shadowing.dir);
        }
        // Whatever was trying for the model is over: the fleet has decided.
        self.end_trial(model);
        let result = self.switch(model, version).await;
        match result {
            Ok(from) => {
                tracing::warn!(
                    model,
                    from,
                    to = version,
                    "rolled back on the fleet's instruction"
                );
                self.report(
                    model,
                    json!({"version": version, "state": "rolled_back", "from": from}),
                )
                .await;
            }
            Err(e) => {
                self.fail(model, version, None, e.reason(), e.to_string())
                    .await
            }
        }
    }
}
