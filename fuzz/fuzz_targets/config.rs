//! `edged`'s config checker over arbitrary text: whatever the TOML parser makes of it, the
//! checker reports issues and never panics; a config it accepts is checked again from its
//! own parts (the model names it accepted are valid ones). Config files are written by
//! people and by provisioning tools, and `edged check` reads them before anything else.

#![no_main]

use edged_config::{Config, valid_model_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::check_text(text) {
        Ok(config) => {
            for model in &config.models {
                assert!(
                    valid_model_name(&model.name),
                    "accepted model name {:?}",
                    model.name
                );
            }
        }
        Err(issues) => assert!(!issues.is_empty(), "refused without an issue"),
    }
});
