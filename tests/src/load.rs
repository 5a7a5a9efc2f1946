//! Load generators shared by the benchmark binaries.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use http_body_util::BodyExt;

use crate::daemon::mlp_request;

/// A latency histogram in microseconds, 1 µs to 60 s.
pub fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|e| panic!("{e}"))
}

/// A keep-alive HTTP client for the load generators.
pub type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<hyper::body::Bytes>,
>;

/// One request (a JSON POST with `body`, else a GET) that must succeed; its latency in
/// microseconds.
pub async fn timed(client: &Client, uri: &hyper::Uri, body: Option<&hyper::body::Bytes>) -> u64 {
    let request = match body {
        Some(body) => hyper::Request::post(uri.clone())
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(body.clone())),
        None => hyper::Request::get(uri.clone()).body(http_body_util::Full::default()),
    }
    .unwrap_or_else(|e| panic!("{e}"));
    let t = Instant::now();
    let response = client
        .request(request)
        .await
        .unwrap_or_else(|e| panic!("{uri}: {e}"));
    let status = response.status();
    let _ = response.into_body().collect().await;
    assert!(status.is_success(), "{uri}: HTTP {status}");
    t.elapsed().as_micros().max(1) as u64
}

/// When a load run ends.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    After(Duration),
    /// After this many requests in all.
    Count(u64),
}

/// `clients` concurrent keep-alive HTTP clients posting one-row MLP predictions to edged at
/// `addr` until `stop`; returns requests per second and the latency histogram.
pub async fn http_predictions(
    addr: std::net::SocketAddr,
    clients: usize,
    stop: Stop,
) -> (f64, Histogram<u64>) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_max_idle_per_host(clients)
        .build_http::<http_body_util::Full<hyper::body::Bytes>>();
    let uri: hyper::Uri = format!("http://{addr}/v2/models/mlp/infer")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let body = hyper::body::Bytes::from(mlp_request(None, 1, 1));
    let start = Instant::now();
    let sent = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, uri, body, sent) =
                (client.clone(), uri.clone(), body.clone(), sent.clone());
            tokio::spawn(async move {
                let mut h = hist();
                loop {
                    let more = match stop {
                        Stop::After(d) => start.elapsed() < d,
                        Stop::Count(n) => sent.fetch_add(1, Ordering::Relaxed) < n,
                    };
                    if !more {
                        break;
                    }
                    let _ = h.record(timed(&client, &uri, Some(&body)).await);
                }
                h
            })
        })
        .collect();
    let mut total = hist();
    for t in tasks {
        let h = t.await.unwrap_or_else(|e| panic!("{e}"));
        let _ = total.add(&h);
    }
    (total.len() as f64 / start.elapsed().as_secs_f64(), total)
}
