use super::*;
use edge_format::DeviceChoice;

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
    assert_eq!(config.runtime.threads, RuntimeConfig::default_threads());
}

#[test]
fn the_compute_pool_leaves_a_core_by_default_and_takes_a_set_size() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(RuntimeConfig::default_threads(), (cores - 1).max(1));
    let config = load(
        "state_dir = \"/tmp/x\"\n[runtime]\nthreads = 3\n[models.mlp]\n",
        &[],
    )
    .expect("valid");
    assert_eq!(config.runtime.threads, 3);
}

#[test]
fn a_model_task_is_read_and_a_bad_one_or_a_misplaced_score_output_is_reported() {
    let config = load(
        "state_dir = \"/tmp/x\"\n[models.price]\ntask = \"regression\"\n\
         [models.iris]\nclass_output = \"label\"\nscore_output = \"probabilities\"\n",
        &[],
    )
    .expect("valid");
    let task = |name: &str| {
        config
            .models
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.task)
    };
    assert_eq!(task("price"), Some(Task::Regression));
    assert_eq!(task("iris"), Some(Task::Auto));
    let err = load(
        "state_dir = \"/tmp/x\"\n[models.a]\ntask = \"ranking\"\n\
         [models.b]\ntask = \"embedding\"\nscore_output = \"p\"\n",
        &[],
    )
    .expect_err("invalid");
    assert_eq!(issues(err), ["models.a.task", "models.b.score_output"]);
}

#[test]
fn the_annotated_example_file_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/edged.toml");
    // Its TLS files live under /etc on a box; point them at a test PKI.
    let pki = test_pki();
    let file = |name: &str| pki.path().join(name).display().to_string();
    let env = [
        ("EDGED_FLEET__CA_FILE", file("ca.pem")),
        ("EDGED_FLEET__CERT_FILE", file("box.pem")),
        ("EDGED_FLEET__KEY_FILE", file("box.key")),
    ];
    let env = env.map(|(k, v)| (k.to_string(), v));
    let config = Config::load_with_env(&path, env).expect("example config is valid");
    assert!(config.mqtt.is_some());
    assert!(matches!(
        config.fleet.map(|f| f.transport),
        Some(Transport::Tls(_))
    ));
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
        [runtime]
        threads = 0
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
        "runtime.threads",
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

/// A fleet table with `link` as its transport keys.
fn fleet_link(link: &str) -> String {
    format!(
        "state_dir = \"/tmp/x\"\n[models.mlp]\n[fleet]\nbroker = \"fleet.example:8883\"\npublic_key = \"{}\"\n{link}",
        "11".repeat(32)
    )
}

/// A CA, a server certificate and a client certificate made by scripts/make-certs.sh.
fn test_pki() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make-certs.sh");
    for args in [&["ca"][..], &["server", "localhost"], &["client", "box"]] {
        let status = std::process::Command::new(&script)
            .arg(dir.path())
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run make-certs.sh (needs openssl)");
        assert!(status.success(), "make-certs.sh {args:?}");
    }
    dir
}

#[test]
fn fleet_link_must_say_tcp_or_tls() {
    assert_eq!(
        issues(load(&fleet_link(""), &[]).expect_err("no transport")),
        ["fleet.transport"]
    );
    assert_eq!(
        issues(load(&fleet_link("transport = \"udp\"\n"), &[]).expect_err("udp")),
        ["fleet.transport"]
    );
    let config = load(&fleet_link("transport = \"tcp\"\n"), &[]).expect("tcp");
    assert!(matches!(
        config.fleet.map(|f| f.transport),
        Some(Transport::Tcp)
    ));
    let keys = issues(
        load(
            &fleet_link("transport = \"tcp\"\nca_file = \"/x/ca.pem\"\n"),
            &[],
        )
        .expect_err("ca with tcp"),
    );
    assert_eq!(keys, ["fleet.ca_file"]);
}

#[test]
fn fleet_tls_files_are_loaded_and_bad_ones_reported_by_key() {
    let pki = test_pki();
    let file = |name: &str| pki.path().join(name).display().to_string();
    let tls = |extra: &str| {
        format!(
            "transport = \"tls\"\nca_file = \"{}\"\n{extra}",
            file("ca.pem")
        )
    };
    let config = load(&fleet_link(&tls("")), &[]).expect("server verified, no client cert");
    assert!(matches!(
        config.fleet.map(|f| f.transport),
        Some(Transport::Tls(_))
    ));
    let pair = format!(
        "cert_file = \"{}\"\nkey_file = \"{}\"\n",
        file("box.pem"),
        file("box.key")
    );
    load(&fleet_link(&tls(&pair)), &[]).expect("with a client certificate");

    let cases = [
        (
            "transport = \"tls\"\n".to_string(),
            "fleet.ca_file",
            "no CA",
        ),
        (
            "transport = \"tls\"\nca_file = \"/nonexistent/ca.pem\"\n".into(),
            "fleet.ca_file",
            "missing CA",
        ),
        (
            format!("transport = \"tls\"\nca_file = \"{}\"\n", file("box.key")),
            "fleet.ca_file",
            "a key is not a CA",
        ),
        (
            tls(&format!("cert_file = \"{}\"\n", file("box.pem"))),
            "fleet.key_file",
            "cert without key",
        ),
        (
            tls(&format!("key_file = \"{}\"\n", file("box.key"))),
            "fleet.cert_file",
            "key without cert",
        ),
        (
            tls(&format!(
                "cert_file = \"{}\"\nkey_file = \"{}\"\n",
                file("box.pem"),
                file("server.key")
            )),
            "fleet.key_file",
            "key of another certificate",
        ),
    ];
    for (link, key, case) in cases {
        let err = load(&fleet_link(&link), &[]).expect_err(case);
        assert_eq!(issues(err), [key], "{case}");
    }
}

#[test]
fn no_fleet_table_means_no_fleet_and_a_fleet_table_needs_its_broker() {
    let config = load("state_dir = \"/tmp/x\"\n[models.mlp]\n", &[]).expect("no fleet");
    assert!(config.fleet.is_none());
    let text = format!(
        "state_dir = \"/tmp/x\"\n[models.mlp]\n[fleet]\ntransport = \"tcp\"\npublic_key = \"{}\"\n",
        "11".repeat(32)
    );
    assert_eq!(
        issues(load(&text, &[]).expect_err("no broker")),
        ["fleet.broker"]
    );
}

#[test]
fn updates_need_a_fleet_and_a_root_key() {
    let base = "state_dir = \"/tmp/x\"\n[models.mlp]\n";
    let keys = issues(
        load(
            &format!("{base}[updates]\nroot_key = \"{}\"\n", "22".repeat(32)),
            &[],
        )
        .expect_err("no fleet"),
    );
    assert_eq!(keys, ["updates"]);
    let fleet = format!(
        "[fleet]\nbroker = \"f:1883\"\ntransport = \"tcp\"\npublic_key = \"{}\"\n",
        "11".repeat(32)
    );
    let keys = issues(
        load(&format!("{base}{fleet}[updates]\nroot_key = \"zz\"\n"), &[]).expect_err("bad key"),
    );
    assert_eq!(keys, ["updates.root_key"]);
    let config = load(
        &format!(
            "{base}{fleet}[updates]\nroot_key = \"{}\"\nchunk_bytes = \"4KiB\"\n",
            "22".repeat(32)
        ),
        &[],
    )
    .expect("valid");
    let updates = config.updates.expect("updates");
    assert_eq!(updates.chunk_bytes, 4096);
    assert_eq!(updates.hardware_class, std::env::consts::ARCH);
}
