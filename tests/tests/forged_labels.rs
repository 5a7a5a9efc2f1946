//! Attack: on a box shared by several programs, one that does not know the ground truth
//! posts labels, to make a bad model look accurate (or a good one bad) and steer the
//! rollouts gated on field accuracy. With `[http] label_token` set, a label needs the bearer
//! token: without it or with a wrong one the box answers 401 and counts nothing.

#![allow(clippy::expect_used)]

use e2e::config::EdgedConfig;
use e2e::daemon::{Daemon, http_with_headers, install_model, mlp_request};

const TOKEN: &str = "label-token-0123456789";

fn labels_total(d: &Daemon) -> f64 {
    d.metric("edged_labels_total{model=\"mlp\",version=\"1\"}")
        .unwrap_or(0.0)
}

#[test]
fn a_label_without_the_token_or_with_a_wrong_one_is_refused_and_not_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    install_model(&state, "mlp", 1);
    let d = Daemon::start(
        &state,
        &EdgedConfig::new(&state).set("http", "label_token", TOKEN),
    );
    let (status, reply) = d.post_json("/v2/models/mlp/infer", &mlp_request(Some("r1"), 1, 1));
    assert_eq!(status, 200, "{reply}");
    let label = serde_json::json!({"request_id": "r1", "label": 2}).to_string();
    let post = |headers: &[(&str, &str)]| {
        http_with_headers(
            d.addr,
            "POST",
            "/v2/models/mlp/labels",
            Some(label.as_bytes()),
            headers,
        )
    };
    let wrong = format!("Bearer {}x", TOKEN);
    for headers in [
        vec![],
        vec![("Authorization", wrong.as_str())],
        vec![("Authorization", TOKEN)],
        vec![("Authorization", "Bearer ")],
    ] {
        let (status, body) = post(&headers);
        assert_eq!(status, 401, "{headers:?}: {body}");
        assert!(body.contains("unauthorized"), "{body}");
    }
    assert_eq!(labels_total(&d), 0.0, "a refused label was counted");
    let right = format!("Bearer {TOKEN}");
    let (status, body) = post(&[("Authorization", right.as_str())]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(labels_total(&d), 1.0);
}

#[test]
fn a_short_label_token_is_a_config_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let config = state.with_extension("toml");
    std::fs::create_dir_all(&state).expect("mkdir");
    std::fs::write(
        &config,
        EdgedConfig::new(&state)
            .set("http", "label_token", "short")
            .to_string(),
    )
    .expect("write");
    let (out, _, stderr) = e2e::run(e2e::binary("edged").args(["config", "check"]).arg(&config));
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("http.label_token"), "{stderr}");
}
