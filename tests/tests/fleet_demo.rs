//! `fleet demo` run non-interactively: the summary of a good rollout (every box on version 2,
//! accuracies in the data set's range, nothing lost between the boxes' acknowledgements and
//! the fleet's records), of `--bad-model` (halted by the accuracy gate and rolled back), and
//! Ctrl-C stopping every process it started.

#![allow(clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use e2e::wait::eventually;
use e2e::{binary, repo_root, run};

fn demo(dir: &std::path::Path, extra: &[&str]) -> String {
    let (out, stdout, stderr) = run(binary("fleet")
        .args(["demo", "--samples", "60", "--soak", "1s", "--dir"])
        .arg(dir)
        .arg("--examples")
        .arg(repo_root().join("examples/wine"))
        .args(extra));
    assert!(
        out.status.success(),
        "fleet demo failed: {stderr}\n{stdout}"
    );
    stdout
}

/// The number after `prefix` in the summary line starting with `line`.
fn number(summary: &str, line: &str, prefix: &str) -> f64 {
    let l = summary
        .lines()
        .find(|l| l.starts_with(line))
        .unwrap_or_else(|| panic!("no line {line:?} in\n{summary}"));
    let rest = &l[l
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix:?} in {l}"))
        + prefix.len()..];
    rest.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {prefix:?} in {l}"))
}

fn lost(summary: &str) -> (f64, f64, f64) {
    let line = "records acknowledged by the boxes:";
    (
        number(summary, line, "boxes: "),
        number(summary, line, "fleet: "),
        number(summary, line, "lost: "),
    )
}

#[test]
fn the_demo_rolls_out_version_2_to_every_box_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = demo(dir.path(), &[]);
    let summary = &out[out.find("SUMMARY").expect("a summary")..];
    assert!(summary.contains("rollout r-1: completed"), "{summary}");
    assert!(summary.contains("boxes on version 2: 3/3"), "{summary}");
    let v1 = number(summary, "version 1:", "accuracy ");
    let v2 = number(summary, "version 2:", "accuracy ");
    assert!((0.55..=0.85).contains(&v1), "version 1 accuracy {v1}");
    assert!(v2 >= 0.95, "version 2 accuracy {v2}");
    let (acknowledged, stored, lost) = lost(summary);
    assert!(
        acknowledged > 120.0 && acknowledged == stored && lost == 0.0,
        "{summary}"
    );
    assert!(out.contains("[r-1 running] wave 1:"), "live lines: {out}");
    // Logs and state are left for inspection.
    for name in [
        "fleet.log",
        "box1.log",
        "box2.log",
        "box3.log",
        "keys/root.key",
    ] {
        assert!(dir.path().join(name).exists(), "{name}");
    }
}

#[test]
fn the_bad_model_is_halted_by_the_accuracy_gate_and_rolled_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = demo(dir.path(), &["--bad-model"]);
    let summary = &out[out.find("SUMMARY").expect("a summary")..];
    assert!(
        summary.contains("rollout r-1: rolled_back (accuracy"),
        "{summary}"
    );
    assert!(
        summary.contains("boxes on version 3: 0/3 (serving: 1, 1, 1)"),
        "{summary}"
    );
    let (acknowledged, stored, lost) = lost(summary);
    assert!(acknowledged == stored && lost == 0.0, "{summary}");
}

#[test]
fn ctrl_c_stops_the_demo_and_every_process_it_started() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = binary("fleet")
        .args(["demo", "--samples", "100000", "--dir"])
        .arg(dir.path())
        .arg("--examples")
        .arg(repo_root().join("examples/wine"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the demo");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    // Wait until the boxes are up and replaying.
    for line in lines.by_ref() {
        if line.expect("line").starts_with("replaying") {
            break;
        }
    }
    let started = std::fs::read_dir(dir.path()).expect("dir").count();
    assert!(started > 5, "the demo made its state");
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let code = eventually("the demo stopped", Duration::from_secs(30), || match child
        .try_wait()
        .expect("wait")
    {
        Some(status) => Ok(status.code()),
        None => Err("still running"),
    });
    assert_eq!(code, Some(130));
    // No edged or fleet serve of this demo is left running.
    let (_, ps, _) = run(std::process::Command::new("ps").args(["-eo", "args"]));
    let dir_text = dir.path().display().to_string();
    let left: Vec<&str> = ps
        .lines()
        .filter(|l| l.contains(&dir_text) && !l.contains("fleet demo"))
        .collect();
    assert!(left.is_empty(), "still running: {left:?}");
}
