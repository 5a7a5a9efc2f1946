//! The layout rules of the workspace, checked rather than hoped about: ARCHITECTURE.md's
//! layout tree names every source folder there is and no folder that is not, and no source
//! file of ours grows past 500 lines.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The folders whose sub-folders the layout tree must list.
const ROOTS: &[&str] = &[
    "daemon/src",
    "daemon/config/src",
    "fleet-server/src",
    "fleet-server/tests",
    "shared/bundle/src",
    "shared/bundle/tests",
    "shared/config/src",
    "shared/durable/src",
    "shared/format/src",
    "shared/http/src",
    "shared/model/src",
    "shared/protocol/src",
    "shared/protocol/tests",
    "tests/src",
    "tests/tests",
    "bench/src",
    "fuzz/fuzz_targets",
];

/// Where the 500-line rule applies (the crates' sources, not their tests).
const SOURCE_ROOTS: &[&str] = &[
    "daemon/src",
    "fleet-server/src",
    "shared/bundle/src",
    "shared/config/src",
    "shared/durable/src",
    "shared/format/src",
    "shared/http/src",
    "shared/model/src",
    "shared/protocol/src",
    "daemon/config/src",
];

const MAX_LINES: usize = 500;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("the e2e crate has no parent folder"))
}

fn folders(root: &Path, rel: &str, out: &mut BTreeSet<String>) {
    out.insert(format!("{rel}/"));
    let entries = std::fs::read_dir(root.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("read {rel}: {e}"));
        if entry.path().is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            folders(root, &format!("{rel}/{name}"), out);
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The first word of each line of the fenced block under `## Layout`.
fn layout_tree(text: &str) -> BTreeSet<String> {
    let section = text
        .split("\n## Layout")
        .nth(1)
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has no `## Layout` section"));
    let block = section
        .split("```")
        .nth(1)
        .unwrap_or_else(|| panic!("the Layout section has no fenced tree"));
    block
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn architecture_tree_lists_every_source_folder_and_nothing_else() {
    let root = workspace();
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md"))
        .unwrap_or_else(|e| panic!("ARCHITECTURE.md: {e}"));
    let listed = layout_tree(&text);
    let mut present = BTreeSet::new();
    for r in ROOTS {
        folders(&root, r, &mut present);
    }
    let missing: Vec<_> = present.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&present).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "ARCHITECTURE.md's layout tree is out of date: folders not listed {missing:?}, listed but absent {stale:?}"
    );
}

#[test]
fn no_source_file_is_over_500_lines() {
    let root = workspace();
    let mut files = Vec::new();
    for r in SOURCE_ROOTS {
        rust_files(&root.join(r), &mut files);
    }
    assert!(files.len() > 50, "found only {} source files", files.len());
    let long: Vec<_> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).ok()?.lines().count();
            (n > MAX_LINES).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these by job: {long:?}");
}
