//! A userspace link between a box and the fleet (this kernel has no `netem` qdisc, so `tc`
//! cannot impair a namespace's link): a TCP proxy that delays, throttles, stalls and cuts.
//!
//! - delay: each chunk read is delivered `delay` later (one way; both directions);
//! - rate: a chunk takes `len * 8 / rate` seconds to go out, per direction (the link's speed);
//! - loss: TCP never shows loss to the application, it shows retransmission stalls, so a lost
//!   fraction `loss` of the chunks is held back one retransmission timeout (`rto`) more;
//! - flap: every `flap` the link goes down for `flap`: every connection through it is cut
//!   (both sockets shut) and new ones are refused until it comes back up.
//!
//! Chunks keep their order: a stalled chunk delays the ones behind it, as in TCP.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The link's impairments; all off is a plain proxy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Impairment {
    pub delay: Duration,
    /// Bits per second; 0 is unlimited.
    pub rate: u64,
    pub loss: f64,
    pub rto: Duration,
    /// Up for this long, then down for this long; zero never flaps.
    pub flap: Duration,
}

#[derive(Debug, Default)]
struct Shared {
    impairment: Mutex<Impairment>,
    /// Bumped at every cut; a connection from an older generation closes.
    generation: AtomicU64,
    down: AtomicBool,
    stop: AtomicBool,
    pub cuts: AtomicU64,
    pub connections: AtomicU64,
}

/// A running proxy.
#[derive(Debug)]
pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("proxy: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("proxy: {e}"));
        let shared = Arc::new(Shared::default());
        {
            let shared = shared.clone();
            std::thread::spawn(move || {
                for client in listener.incoming() {
                    if shared.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    if shared.down.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let Ok(server) = TcpStream::connect(upstream) else {
                        continue;
                    };
                    shared.connections.fetch_add(1, Ordering::Relaxed);
                    connect(&shared, client, server);
                }
            });
        }
        {
            let shared = shared.clone();
            std::thread::spawn(move || flapper(&shared));
        }
        Self { addr, shared }
    }

    pub fn set(&self, impairment: Impairment) {
        *self
            .shared
            .impairment
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = impairment;
        if impairment.flap.is_zero() {
            self.shared.down.store(false, Ordering::SeqCst);
        }
    }

    /// Connections cut by flaps so far, and connections made.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.shared.cuts.load(Ordering::Relaxed),
            self.shared.connections.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn flapper(shared: &Shared) {
    while !shared.stop.load(Ordering::SeqCst) {
        let flap = shared
            .impairment
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .flap;
        if flap.is_zero() {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        std::thread::sleep(flap);
        let down = !shared.down.load(Ordering::SeqCst);
        if down {
            shared.generation.fetch_add(1, Ordering::SeqCst);
        }
        shared.down.store(down, Ordering::SeqCst);
    }
}

/// Two directions, each a reader thread (queues chunks with their delivery time) and a
/// writer thread (delivers them in order, at the link's rate).
fn connect(shared: &Arc<Shared>, client: TcpStream, server: TcpStream) {
    let generation = shared.generation.load(Ordering::SeqCst);
    for (from, to) in [(&client, &server), (&server, &client)] {
        let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
            return;
        };
        let queue = Arc::new((
            Mutex::new(VecDeque::<(Instant, Vec<u8>)>::new()),
            Condvar::new(),
        ));
        let (a, b) = (from.try_clone(), to.try_clone());
        {
            let (shared, queue) = (shared.clone(), queue.clone());
            std::thread::spawn(move || reader(&shared, generation, from, &queue));
        }
        {
            let (shared, queue) = (shared.clone(), queue.clone());
            std::thread::spawn(move || {
                writer(&shared, generation, to, &queue);
                // Either side ending ends the connection.
                if let (Ok(a), Ok(b)) = (a, b) {
                    let _ = a.shutdown(Shutdown::Both);
                    let _ = b.shutdown(Shutdown::Both);
                }
            });
        }
    }
}

type Queue = (Mutex<VecDeque<(Instant, Vec<u8>)>>, Condvar);

fn cut(shared: &Shared, generation: u64) -> bool {
    shared.generation.load(Ordering::SeqCst) != generation
}

fn reader(shared: &Shared, generation: u64, mut from: TcpStream, queue: &Queue) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = vec![0u8; 16 << 10];
    let mut last = Instant::now();
    let mut seed = generation.wrapping_mul(6_364_136_223_846_793_005) | 1;
    loop {
        if cut(shared, generation) {
            break;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let imp = *shared.impairment.lock().unwrap_or_else(|e| e.into_inner());
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let lost = (seed % 10_000) as f64 / 10_000.0 < imp.loss;
                let mut at =
                    Instant::now() + imp.delay + if lost { imp.rto } else { Duration::ZERO };
                at = at.max(last);
                last = at;
                let (lock, ready) = queue;
                lock.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_back((at, buf[..n].to_vec()));
                ready.notify_one();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let (lock, ready) = queue;
    lock.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push_back((Instant::now(), Vec::new()));
    ready.notify_one();
}

fn writer(shared: &Shared, generation: u64, mut to: TcpStream, queue: &Queue) {
    let (lock, ready) = queue;
    loop {
        let (at, chunk) = {
            let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if cut(shared, generation) {
                    shared.cuts.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                if let Some(item) = q.pop_front() {
                    break item;
                }
                q = ready
                    .wait_timeout(q, Duration::from_millis(50))
                    .map(|(q, _)| q)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
        };
        if chunk.is_empty() {
            return;
        }
        // Deliver at `at` (in 50 ms slices, so a cut is noticed), then pace at the rate.
        while let Some(wait) = at.checked_duration_since(Instant::now()) {
            if cut(shared, generation) {
                shared.cuts.fetch_add(1, Ordering::Relaxed);
                return;
            }
            std::thread::sleep(wait.min(Duration::from_millis(50)));
        }
        let rate = shared
            .impairment
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .rate;
        if rate > 0 {
            std::thread::sleep(Duration::from_secs_f64(
                chunk.len() as f64 * 8.0 / rate as f64,
            ));
        }
        if cut(shared, generation) || to.write_all(&chunk).is_err() {
            shared.cuts.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
}
