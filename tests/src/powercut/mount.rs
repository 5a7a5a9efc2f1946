//! Running `powercut-fs` from a test: mount, send `checkpoint`/`cut`, unmount on drop.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A mounted power-cut filesystem.
#[derive(Debug)]
pub struct PowerCut {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    pub path: PathBuf,
}

impl PowerCut {
    /// Mounts it at `path` (created). Panics, naming what is missing, when FUSE is not there.
    pub fn mount(path: &Path) -> Self {
        std::fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        assert!(
            Path::new("/dev/fuse").exists(),
            "/dev/fuse is missing: the power-cut test needs FUSE (a kernel with fuse, root)"
        );
        let mut child = crate::binary("powercut-fs")
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start powercut-fs: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let stdin = child.stdin.take();
        let mut fs = Self {
            child,
            stdin,
            lines,
            path: path.to_path_buf(),
        };
        let ready = fs.next_line();
        assert_eq!(ready, "powercut-fs ready", "powercut-fs did not mount");
        fs
    }

    fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                let status = self.child.try_wait().ok().flatten();
                panic!("powercut-fs answered nothing (exit {status:?})")
            }
        }
    }

    /// Sends one command and returns the answer's fields after the command's name.
    pub fn command(&mut self, command: &str) -> String {
        let stdin = self.stdin.as_mut().unwrap_or_else(|| panic!("closed"));
        writeln!(stdin, "{command}").unwrap_or_else(|e| panic!("powercut-fs: {e}"));
        stdin.flush().unwrap_or_else(|e| panic!("powercut-fs: {e}"));
        let answer = self.next_line();
        answer
            .strip_prefix(&format!("{command} "))
            .unwrap_or_else(|| panic!("powercut-fs answered {answer:?} to {command}"))
            .to_string()
    }

    /// The power cut: everything not synced is gone. Returns the answer
    /// (`bytes=N nodes=M`: unsynced bytes and files dropped).
    pub fn cut(&mut self) -> String {
        self.command("cut")
    }

    /// Everything written so far becomes durable (a clean shutdown and `sync`).
    pub fn checkpoint(&mut self) {
        self.command("checkpoint");
    }
}

impl Drop for PowerCut {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if !matches!(self.child.wait(), Ok(s) if s.success()) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.path)
                .status();
        }
    }
}
