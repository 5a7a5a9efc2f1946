//! TLS on the MQTT links, with the PKI made by `scripts/make-certs.sh` (openssl):
//! - Debian's Mosquitto with the shipped `examples/mosquitto/fleet.conf` and `fleet.acl`
//!   (TLS only, client certificates, per-device pattern ACL): `fleet serve` and two `edged`
//!   sync through it; clients without a certificate, with one from another CA, or in plain
//!   text are refused; a box publishing on another box's topic is dropped by the broker's ACL.
//! - The embedded broker's TLS listener requiring client certificates, and the box's own
//!   credential besides, and refusing a certificate that names another box.
//! - An `edged` that does not trust the broker's CA never uploads, and keeps serving.

#![allow(clippy::expect_used)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};
use std::time::Duration;

use e2e::config::{EdgedConfig, FleetConfig};
use e2e::daemon::{Daemon, install_model};
use e2e::fleet::{Fleet, traffic};
use e2e::mosquitto::Mosquitto;
use e2e::wait::eventually;
use e2e::{free_port, run};

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// Runs scripts/make-certs.sh DIR ARGS...
fn make_certs(dir: &Path, args: &[&str]) {
    let (out, _, stderr) = run(
        std::process::Command::new(repo_file("scripts/make-certs.sh"))
            .arg(dir)
            .args(args),
    );
    assert!(out.status.success(), "make-certs.sh {args:?}: {stderr}");
}

/// A CA, the broker's certificate for 127.0.0.1/localhost, and the fleet's client certificate.
fn pki(dir: &Path) -> PathBuf {
    let pki = dir.join("pki");
    make_certs(&pki, &["ca"]);
    make_certs(&pki, &["server", "localhost", "127.0.0.1"]);
    make_certs(&pki, &["client", "fleet"]);
    pki
}

/// `edged enroll`: creates the box's key before its first start and returns its device id.
fn enroll(state: &Path, fleet_key: &str, broker: &str) -> String {
    install_model(state, "mlp", 1);
    let config = state.with_extension("toml");
    let text = EdgedConfig::new(state).fleet(broker, fleet_key);
    std::fs::write(&config, text.to_string()).expect("write config");
    let (out, stdout, stderr) = run(e2e::binary("edged")
        .arg("enroll")
        .arg("--config")
        .arg(&config));
    assert!(out.status.success(), "edged enroll: {stderr}");
    assert!(stdout.contains("(created)"), "{stdout}");
    let again = run(e2e::binary("edged")
        .arg("enroll")
        .arg("--config")
        .arg(&config))
    .1;
    assert!(again.contains("(existing)"), "the key is kept: {again}");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("device_id "))
        .expect("device_id line")
        .to_string()
}

/// An edged in `state` uploading to `broker` over TLS, trusting `pki`'s CA, with the client
/// certificate `client` from `pki` when named.
fn tls_edged(
    state: &Path,
    broker: &str,
    fleet: &Fleet,
    pki: &Path,
    client: Option<&str>,
) -> EdgedConfig {
    EdgedConfig::new(state)
        .fleet(broker, &fleet.public_key)
        .fleet_tls(pki, client)
}

/// The shipped Mosquitto config, listening on `port` on loopback with the PEM files in `pki`.
fn shipped_mosquitto(dir: &Path, pki: &Path, port: u16) -> Mosquitto {
    let conf = std::fs::read_to_string(repo_file("examples/mosquitto/fleet.conf"))
        .expect("examples/mosquitto/fleet.conf");
    let acl = dir.join("fleet.acl");
    std::fs::copy(repo_file("examples/mosquitto/fleet.acl"), &acl).expect("copy acl");
    let conf = conf
        .replace("listener 8883", &format!("listener {port} 127.0.0.1"))
        .replace(
            "/etc/mosquitto/conf.d/fleet.acl",
            &acl.display().to_string(),
        )
        .replace("/etc/mosquitto/fleet", &pki.display().to_string());
    // The broker may drop root for the mosquitto user: let it read the test's files.
    readable(dir);
    readable(pki);
    Mosquitto::start_with_config(dir, port, &conf)
}

/// mosquitto_pub as `identity` (a client certificate name in `pki`, or none) over TLS.
fn publish_as(port: u16, pki: &Path, identity: Option<&str>, topic: &str) -> (bool, String) {
    let args = tls_client_args(pki, identity);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    e2e::mosquitto::publish_with(port, &args, topic, "-s", b"not an envelope")
}

/// mosquitto_pub's TLS arguments: the CA, and the client certificate `identity` in `pki`.
fn tls_client_args(pki: &Path, identity: Option<&str>) -> Vec<String> {
    let file = |name: String| pki.join(name).display().to_string();
    let mut args = vec!["--cafile".to_string(), file("ca.pem".into())];
    if let Some(n) = identity {
        args.extend([
            "--cert".into(),
            file(format!("{n}.pem")),
            "--key".into(),
            file(format!("{n}.key")),
        ]);
    }
    args
}

#[test]
fn devices_sync_through_mosquitto_over_tls_with_client_certificates_and_the_shipped_acl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = pki(dir.path());
    let port = free_port();
    let broker = shipped_mosquitto(dir.path(), &pki, port);
    let addr = format!("127.0.0.1:{port}");

    // Two boxes enrolled before their first start; the operator issues certificates named
    // by their device ids.
    let (state_a, state_b) = (dir.path().join("a"), dir.path().join("b"));
    let fleet_state = dir.path().join("fleet");
    let fleet = Fleet::start_config(
        &fleet_state,
        &FleetConfig::new(&fleet_state)
            .broker("embedded", false)
            .broker("external", addr.as_str())
            .broker("transport", "tls")
            .broker("ca_file", pki.join("ca.pem").as_path())
            .broker("cert_file", pki.join("fleet.pem").as_path())
            .broker("key_file", pki.join("fleet.key").as_path()),
    );
    let id_a = enroll(&state_a, &fleet.public_key, &addr);
    let id_b = enroll(&state_b, &fleet.public_key, &addr);
    make_certs(&pki, &["client", &id_a]);
    make_certs(&pki, &["client", &id_b]);
    let (a, approved_a) = fleet.approved_edged(
        &state_a,
        &tls_edged(&state_a, &addr, &fleet, &pki, Some(&id_a)),
    );
    let (b, _) = fleet.approved_edged(
        &state_b,
        &tls_edged(&state_b, &addr, &fleet, &pki, Some(&id_b)),
    );
    assert_eq!(a.device.as_deref(), Some(id_a.as_str()));
    assert_eq!(approved_a, id_a);
    let sent_a = traffic(&a, "a", 60) as u64;
    let sent_b = traffic(&b, "b", 40) as u64;
    fleet.wait_device(&id_a, 60, "a's records over TLS", |d| {
        d["records"] == sent_a
    });
    fleet.wait_device(&id_b, 60, "b's records over TLS", |d| {
        d["records"] == sent_b
    });

    // The broker refuses clients without a certificate, with one from another CA, and plain
    // text on its TLS port.
    let (ok, stderr) = publish_as(port, &pki, None, &format!("fleet/v1/d/{id_a}/up/status"));
    assert!(!ok, "a client without a certificate was let in: {stderr}");
    let other = dir.path().join("other-pki");
    make_certs(&other, &["ca"]);
    make_certs(&other, &["client", &id_a]);
    let forged_cert = other.join(format!("{id_a}.pem")).display().to_string();
    let forged_key = other.join(format!("{id_a}.key")).display().to_string();
    let ca = pki.join("ca.pem").display().to_string();
    let (ok, stderr) = e2e::mosquitto::publish_with(
        port,
        &[
            "--cafile",
            &ca,
            "--cert",
            &forged_cert,
            "--key",
            &forged_key,
        ],
        &format!("fleet/v1/d/{id_a}/up/status"),
        "-s",
        b"x",
    );
    assert!(!ok, "a certificate from another CA was let in: {stderr}");
    let (ok, _) = e2e::mosquitto::publish_with(port, &[], "fleet/v1/d/x/up/status", "-s", b"x");
    assert!(!ok, "plain text was accepted on the TLS port");

    // Box b publishes a message it signed on a's topic: the ACL drops it at the broker (the
    // fleet would count it as wrong_device). Then b publishes garbage on its own topic, which
    // reaches the fleet (counted as malformed); the broker forwards b's messages in order, so
    // had the first passed it would have been counted before the second.
    let key_b =
        edge_protocol::identity::load_or_create(&state_b.join("device.key")).expect("b's key");
    let posing = edge_protocol::envelope::Envelope {
        kind: edge_protocol::envelope::Kind::Status,
        signer: id_b.clone(),
        to: edge_protocol::envelope::FLEET.into(),
        seq: u64::MAX / 2,
        time_ms: 1,
        body: b"{}".to_vec(),
    }
    .seal_json(&key_b)
    .expect("seal");
    let (_, before) = fleet.admin("GET", "/api/stats");
    let wrong_before = before["rejected"]["wrong_device"].as_u64().unwrap_or(0);
    let malformed_before = before["rejected"]["malformed"].as_u64().unwrap_or(0);
    let as_b = tls_client_args(&pki, Some(&id_b));
    let as_b: Vec<&str> = as_b.iter().map(String::as_str).collect();
    let topic_a = format!("fleet/v1/d/{id_a}/up/status");
    let (ok, stderr) = e2e::mosquitto::publish_with(port, &as_b, &topic_a, "-s", posing.as_bytes());
    assert!(ok, "{stderr}");
    let (ok, stderr) = publish_as(
        port,
        &pki,
        Some(&id_b),
        &format!("fleet/v1/d/{id_b}/up/records"),
    );
    assert!(ok, "{stderr}");
    let stats = fleet.wait_rejected("malformed", malformed_before + 1);
    assert_eq!(
        stats["rejected"]["wrong_device"].as_u64().unwrap_or(0),
        wrong_before,
        "the broker let b publish on a's topic: {stats}"
    );
    let (_, device_a) = fleet.admin("GET", &format!("/api/devices/{id_a}"));
    assert_eq!(
        device_a["device"]["records"], sent_a,
        "a's records untouched"
    );
    drop(broker);
}

/// A directory and its files readable by everyone (test keys only).
fn readable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
    }
}

#[test]
fn embedded_broker_tls_listener_requires_client_certificates() {
    // The shipped examples/fleet.toml, its paths and ports overridden from the environment.
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = pki(dir.path());
    let file = |name: &str| pki.join(name).display().to_string();
    let state = dir.path().join("fleet").display().to_string();
    let listen = format!("127.0.0.1:{}", free_port());
    let fleet = Fleet::start_file(
        &repo_file("examples/fleet.toml"),
        &[
            ("FLEET_STATE_DIR", &state),
            ("FLEET_BROKER__LISTEN", &listen),
            ("FLEET_BROKER__TLS_LISTEN", "127.0.0.1:0"),
            ("FLEET_BROKER__TLS_CERT_FILE", &file("server.pem")),
            ("FLEET_BROKER__TLS_KEY_FILE", &file("server.key")),
            ("FLEET_BROKER__TLS_CLIENT_CA_FILE", &file("ca.pem")),
            ("FLEET_ADMIN__LISTEN", "127.0.0.1:0"),
            ("FLEET_ADMIN__TOKEN", e2e::fleet::TOKEN),
        ],
    );
    let mqtts = fleet.mqtts.clone().expect("fleet ready line names mqtts=");
    let state = dir.path().join("box");
    let id = enroll(&state, &fleet.public_key, &mqtts);
    make_certs(&pki, &["client", &id]);
    let (d, _) = fleet.approved_edged(&state, &tls_edged(&state, &mqtts, &fleet, &pki, Some(&id)));
    let sent = traffic(&d, "t", 30) as u64;
    fleet.wait_device(&id, 60, "records over the embedded TLS listener", |x| {
        x["records"] == sent
    });

    // Without a client certificate, the TLS listener refuses the handshake.
    let port = mqtts
        .rsplit_once(':')
        .expect("host:port")
        .1
        .parse()
        .expect("port");
    let (ok, _) = publish_as(port, &pki, None, &format!("fleet/v1/d/{id}/up/status"));
    assert!(
        !ok,
        "the embedded TLS listener let a client in without a certificate"
    );
    // The certificate alone is not the box: a client with it but without the box's signed
    // credential (mosquitto_pub, under a client id of its own) is refused at CONNECT.
    let (ok, stderr) = publish_as(port, &pki, Some(&id), &format!("fleet/v1/d/{id}/up/status"));
    assert!(
        !ok && stderr.contains("refused"),
        "a client with the box's certificate but not its credential got in: {stderr}"
    );
    // Another box presenting the first box's certificate: its own credential verifies, but
    // the certificate names someone else.
    let other = dir.path().join("other");
    let other_id = enroll(&other, &fleet.public_key, &mqtts);
    let _other =
        e2e::daemon::Daemon::start(&other, &tls_edged(&other, &mqtts, &fleet, &pki, Some(&id)));
    e2e::wait::eventually(
        "the certificate mismatch refused",
        std::time::Duration::from_secs(30),
        || {
            let (_, stats) = fleet.admin("GET", "/api/stats");
            e2e::wait::when(
                stats["broker_refused"]["certificate_mismatch"]
                    .as_u64()
                    .unwrap_or(0)
                    >= 1,
                stats,
            )
        },
    );
    let (status, _) = fleet.admin("GET", &format!("/api/devices/{other_id}"));
    assert_eq!(
        status, 404,
        "the box under another's certificate reached the fleet"
    );
}

#[test]
fn a_box_that_does_not_trust_the_brokers_certificate_never_uploads_and_keeps_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = pki(dir.path());
    // rumqttd's plain listener needs a free port; the TLS listener binds port 0 and the
    // ready line names it (mqtts=).
    let fleet_state = dir.path().join("fleet");
    let fleet = Fleet::start_config(
        &fleet_state,
        &FleetConfig::new(&fleet_state)
            .embedded(&format!("127.0.0.1:{}", free_port()))
            .broker("tls_listen", "127.0.0.1:0")
            .broker("tls_cert_file", pki.join("server.pem").as_path())
            .broker("tls_key_file", pki.join("server.key").as_path()),
    );
    let mqtts = fleet.mqtts.clone().expect("mqtts");
    // The box trusts another CA: a broker it cannot verify is never sent a record.
    let other = dir.path().join("other-pki");
    make_certs(&other, &["ca"]);
    let state = dir.path().join("box");
    install_model(&state, "mlp", 1);
    let d = Daemon::start(&state, &tls_edged(&state, &mqtts, &fleet, &other, None));
    assert_eq!(traffic(&d, "u", 10), 15);
    // The link reports why it is down, in the status and (once) in the log.
    let fleet_link = eventually(
        "a certificate error in the status",
        Duration::from_secs(30),
        || {
            let (_, status) = d.get_json("/v2/status");
            let link = status["fleet"].clone();
            if link["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("certificate"))
            {
                Ok(link)
            } else {
                Err(status)
            }
        },
    );
    assert_eq!(fleet_link["connected"], false, "{fleet_link}");
    assert_eq!(fleet_link["transport"], "tls", "{fleet_link}");
    assert_eq!(
        fleet_link["backlog"], 15,
        "every record kept for later: {fleet_link}"
    );
    assert!(d.stderr().contains("certificate"), "{}", d.stderr());
    let (_, devices) = fleet.admin("GET", "/api/devices");
    assert_eq!(
        devices["devices"].as_array().map(Vec::len),
        Some(0),
        "{devices}"
    );
}
