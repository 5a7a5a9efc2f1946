use super::*;

fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("edged.toml");
    std::fs::write(&path, text).expect("write config");
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    Config::load_with_env(&path, env)
}

fn issues(err: ConfigError) -> Vec<String> {
    match err {
        ConfigError::Invalid { issues, .. } => issues.iter().map(|i| i.key.clone()).collect(),
        other => panic!("expected invalid config, got {other}"),
    }
}

#[test]
fn minimal_file_with_a_state_dir_and_one_model_works() {
    let config = load("state_dir = \"/tmp/x\"\n[models.mlp]\n", &[]).expect("valid");
    assert_eq!(config.models.len(), 1);
    assert_eq!(config.models[0].name, "mlp");
    assert!(config.store.durable_ack);
    assert!(config.mqtt.is_none());
    assert_eq!(config.http.listen.port(), 8080);
}

#[test]
fn the_annotated_example_file_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/edged.toml");
    let config = Config::load_with_env(&path, Vec::new()).expect("example config is valid");
    assert!(config.mqtt.is_some());
}

#[test]
fn every_bad_key_is_reported_at_once() {
    let text = r#"
        state_dir = "/tmp/x"
        colour = "blue"
        [http]
        listen = "not an address"
        [store]
        quota = "lots"
        sample_inputs = 2.0
        background_flush = 5
        [metrics]
        window = "1s"
        [mqtt]
        broker = "no-port"
        [models.mlp]
        device = "tpu"
        [models.Bad-Name]
    "#;
    let keys = issues(load(text, &[]).expect_err("invalid"));
    for key in [
        "colour",
        "http.listen",
        "store.quota",
        "store.sample_inputs",
        "store.background_flush",
        "metrics.window",
        "mqtt.broker",
        "models.mlp.device",
        "models.Bad-Name",
    ] {
        assert!(
            keys.iter().any(|k| k == key),
            "{key} not reported in {keys:?}"
        );
    }
}

#[test]
fn missing_state_dir_and_models_are_reported() {
    let keys = issues(load("", &[]).expect_err("invalid"));
    assert_eq!(keys, vec!["state_dir", "models"]);
}

#[test]
fn environment_overrides_the_file_and_is_checked_too() {
    let text = "state_dir = \"/tmp/x\"\n[models.mlp]\n";
    let config = load(
        text,
        &[
            ("EDGED_HTTP__LISTEN", "127.0.0.1:9999"),
            ("EDGED_LOG", "debug"),
        ],
    )
    .expect("valid");
    assert_eq!(config.http.listen.port(), 9999);
    let config = load(text, &[("EDGED_MODELS__MLP__DEVICE", "cpu")]).expect("valid");
    assert_eq!(config.models[0].device, DeviceChoice::Cpu);
    let keys = issues(load(text, &[("EDGED_STORE__QUOTA", "-3")]).expect_err("invalid"));
    assert_eq!(keys, vec!["store.quota"]);
}

#[test]
fn durations_without_units_are_refused() {
    let text = "state_dir = \"/x\"\n[shutdown]\ngrace = 30\n[models.mlp]\n";
    let err = load(text, &[]).expect_err("invalid");
    assert!(err.to_string().contains("has no unit"), "{err}");
}

#[test]
fn malformed_toml_is_a_read_error_naming_the_file() {
    let err = load("state_dir = [", &[]).expect_err("invalid");
    assert!(matches!(err, ConfigError::Read { .. }), "{err}");
}
