//! Attack: a connection flood on the box's local HTTP API — thousands of clients that
//! connect and never send a request (slowloris), to use up its connections or file
//! descriptors. The server caps open connections (`[http] max_connections`) and closes those
//! whose headers do not arrive within `[http] read_timeout`: a real client still gets its
//! answer, and the idle connections are closed.

#![allow(clippy::expect_used)]

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use e2e::config::EdgedConfig;
use e2e::daemon::{Daemon, install_model, mlp_request};

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
    let idle: Vec<TcpStream> = (0..IDLE)
        .filter_map(|_| TcpStream::connect_timeout(&d.addr, Duration::from_millis(500)).ok())
        .collect();
    assert!(
        idle.len() >= 1500,
        "only {} idle connections opened",
        idle.len()
    );
    let started = Instant::now();
    let (status, reply) = d.post_json("/v2/models/mlp/infer", &mlp_request(None, 1, 1));
    assert_eq!(status, 200, "{reply}");
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(10),
        "the real client waited {waited:?}"
    );
    // The first idle connections were accepted first: each is closed by the server once its
    // headers are overdue (read returns end-of-file or a reset, not a timeout).
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
