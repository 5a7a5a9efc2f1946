//! Attack: a connection flood on an HTTP API — the box's local API or the fleet's admin API —
//! thousands of clients that connect and never send a request (slowloris), or send a body
//! slowly or too large, to use up connections, file descriptors or memory. Both servers
//! (`edge_http`) cap open connections (`max_connections`) and close those whose headers do
//! not arrive within `read_timeout`; the admin API also reads each authenticated body within
//! that deadline and a size cap. A real client still gets its answer, the idle connections
//! are closed, and the attacker gains no hold on the server.

#![allow(clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use e2e::config::{EdgedConfig, FleetConfig};
use e2e::daemon::{Daemon, install_model, mlp_request};
use e2e::fleet::{Fleet, TOKEN};

const IDLE: usize = 2000;

#[test]
fn two_thousand_idle_connections_do_not_stop_a_real_client_and_are_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    install_model(&state, "mlp", 1);
    let d = Daemon::start(
        &state,
        &EdgedConfig::new(&state)
            .set("http", "read_timeout", Duration::from_secs(1))
            .set("http", "max_connections", 1024),
    );
    let idle = open_idle(&d.addr);
    let started = Instant::now();
    let (status, reply) = d.post_json("/v2/models/mlp/infer", &mlp_request(None, 1, 1));
    assert_eq!(status, 200, "{reply}");
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(10),
        "the real client waited {waited:?}"
    );
    assert_idle_closed(idle);
}

/// The first idle connections were accepted first: each is closed by the server once its
/// headers are overdue (read returns end-of-file or a reset, not a timeout).
fn assert_idle_closed(idle: Vec<TcpStream>) {
    for mut stream in idle.into_iter().take(50) {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut byte = [0u8; 1];
        match stream.read(&mut byte) {
            Ok(0) => {}
            Ok(n) => panic!("{n} bytes on an idle connection"),
            Err(e) => assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "an idle connection stayed open: {e}"
            ),
        }
    }
}

fn open_idle(addr: &SocketAddr) -> Vec<TcpStream> {
    let idle: Vec<TcpStream> = (0..IDLE)
        .filter_map(|_| TcpStream::connect_timeout(addr, Duration::from_millis(500)).ok())
        .collect();
    assert!(
        idle.len() >= 1500,
        "only {} idle connections opened",
        idle.len()
    );
    idle
}

fn bounded_fleet(dir: &std::path::Path) -> Fleet {
    let state = dir.join("fleet");
    Fleet::start_config(
        &state,
        &FleetConfig::new(&state)
            .embedded("127.0.0.1:0")
            .set("admin", "read_timeout", Duration::from_secs(1))
            .set("admin", "max_connections", 1024)
            .set("admin", "max_request_bytes", "4KiB"),
    )
}

#[test]
fn two_thousand_idle_connections_to_the_admin_api_do_not_stop_the_operator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = bounded_fleet(dir.path());
    let idle = open_idle(&fleet.admin);
    let started = Instant::now();
    let (status, stats) = fleet.admin("GET", "/api/stats");
    assert_eq!(status, 200, "{stats}");
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(10),
        "the operator waited {waited:?}"
    );
    assert_idle_closed(idle);
}

/// Sends `head` and `body` (a request whose body is shorter than its Content-Length says,
/// when the caller wants it to trickle) and returns the status line, if any came.
fn raw_request(addr: &SocketAddr, head: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream.write_all(head.as_bytes()).expect("head");
    stream.write_all(body).expect("body");
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_trickled_admin_body_is_cut_off_after_the_read_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = bounded_fleet(dir.path());
    let head = format!(
        "POST /api/rollouts HTTP/1.1\r\nHost: fleet\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    );
    let started = Instant::now();
    let status = raw_request(&fleet.admin, &head, b"{\"model\": ");
    assert!(status.contains(" 408 "), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "cut off after {:?}",
        started.elapsed()
    );
    let (status, _) = fleet.admin("GET", "/api/rollouts");
    assert_eq!(status, 200, "the admin API still answers");
}

#[test]
fn an_oversized_admin_body_is_refused_and_an_unauthenticated_one_is_never_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = bounded_fleet(dir.path());
    let body = vec![b' '; 8192];
    let head = |auth: &str| {
        format!(
            "POST /api/rollouts HTTP/1.1\r\nHost: fleet\r\n{auth}Content-Type: \
             application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
    };
    let status = raw_request(
        &fleet.admin,
        &head(&format!("Authorization: Bearer {TOKEN}\r\n")),
        &body,
    );
    assert!(status.contains(" 413 "), "{status:?}");
    // Without the token the body is not read: the answer is 401, whatever its size.
    let status = raw_request(&fleet.admin, &head(""), &body);
    assert!(status.contains(" 401 "), "{status:?}");
}
