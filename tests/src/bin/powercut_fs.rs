//! `powercut-fs MOUNTPOINT`: mounts the power-cut filesystem (`e2e::powercut`) and takes
//! commands on stdin, one per line, answering each on stdout:
//! - `checkpoint`: everything becomes durable (`checkpoint bytes=N`);
//! - `cut`: the power cut, back to what was synced (`cut bytes=N nodes=M`: unsynced bytes and
//!   files dropped);
//! - `stats`: `stats fsyncs=N`.
//!
//! It prints `powercut-fs ready` once mounted, and unmounts when stdin closes. Needs root (or
//! fusermount3) and /dev/fuse.

use std::io::{BufRead, Write};

use e2e::powercut::fuse::PowerCutFs;

fn main() {
    let Some(mountpoint) = std::env::args_os().nth(1) else {
        eprintln!("usage: powercut-fs MOUNTPOINT");
        std::process::exit(64);
    };
    let fs = PowerCutFs::default();
    let mut config = fuser::Config::default();
    config.mount_options = vec![fuser::MountOption::FSName("powercut".into())];
    let session = match fuser::spawn_mount(fs.clone(), &mountpoint, &config) {
        Ok(session) => session,
        Err(e) => {
            eprintln!(
                "powercut-fs: cannot mount {}: {e} (needs /dev/fuse and root)",
                std::path::Path::new(&mountpoint).display()
            );
            std::process::exit(1);
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "powercut-fs ready");
    let _ = out.flush();
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        let answer = match line.trim() {
            "cut" => {
                let r = fs.lock().cut();
                format!("cut bytes={} nodes={}", r.bytes, r.nodes)
            }
            "checkpoint" => format!("checkpoint bytes={}", fs.lock().checkpoint().bytes),
            "stats" => format!("stats fsyncs={}", fs.lock().fsyncs),
            other => format!("error unknown command {other:?}"),
        };
        let _ = writeln!(out, "{answer}");
        let _ = out.flush();
    }
    drop(session);
}
