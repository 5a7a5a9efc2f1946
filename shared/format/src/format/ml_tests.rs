//! Unit tests of the tree-ensemble format: the load-time checks a hostile model meets, and
//! the `model.json` round trip of values JSON has no literal for.

use super::*;

/// One tree: node 0 splits feature 1 at 0.5, node 1 splits feature 0 at `split`; three leaves.
fn stump(split: f64) -> Trees {
    Trees {
        roots: vec![0],
        feature: vec![1, 0],
        features: 2,
        split: vec![0.5, split],
        mode: vec![NodeMode::Leq as u8, NodeMode::Gt as u8 | MISSING_TRUE],
        true_next: vec![1, LEAF | 1],
        false_next: vec![LEAF, LEAF | 2],
        leaf_start: vec![0, 1, 2, 3],
        target: vec![0, 0, 0],
        weight: vec![1.0, 2.0, 3.0],
        sets: Vec::new(),
        targets: 1,
        aggregate: Aggregate::Sum,
        post: PostTransform::None,
        base_values: Vec::new(),
        classes: None,
        f64_output: false,
    }
}

#[test]
fn a_well_formed_tree_passes_the_load_check() {
    assert_eq!(stump(0.0).check(), Ok(()));
}

#[test]
fn a_child_pointing_back_to_its_parent_is_refused_so_no_walk_can_loop() {
    let mut t = stump(0.0);
    t.true_next[1] = 0;
    let err = t.check().expect_err("a cycle");
    assert!(err.contains("not after its parent"), "{err}");
}

/// A named way to break a tree.
type Breakage = (&'static str, fn(&mut Trees));

#[test]
fn out_of_range_leaves_features_targets_and_modes_are_refused() {
    let cases: [Breakage; 5] = [
        ("leaf", |t| t.false_next[1] = LEAF | 9),
        ("feature", |t| t.feature[0] = 7),
        ("target", |t| t.target[2] = 3),
        ("mode", |t| t.mode[0] = 9),
        ("root", |t| t.roots[0] = 5),
    ];
    for (what, break_it) in cases {
        let mut t = stump(0.0);
        break_it(&mut t);
        assert!(t.check().is_err(), "a bad {what} passed the check");
    }
}

#[test]
fn infinite_and_nan_values_survive_model_json() {
    let t = stump(f64::INFINITY);
    let mut with_nan = t.clone();
    with_nan.base_values = vec![f64::NAN];
    let text = serde_json::to_string(&with_nan).expect("write");
    assert!(
        text.contains("\"inf\"") && text.contains("\"nan\""),
        "{text}"
    );
    let back: Trees = serde_json::from_str(&text).expect("read");
    assert_eq!(back.split, t.split);
    assert!(back.base_values[0].is_nan());
    let bad = text.replace("\"inf\"", "\"lots\"");
    assert!(serde_json::from_str::<Trees>(&bad).is_err());
}
