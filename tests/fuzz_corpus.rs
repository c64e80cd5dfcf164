//! Replays the committed fuzz corpus on stable Rust: every file under
//! `fuzz/seeds/<target>/` and `fuzz/regressions/<target>/` goes through the
//! same decoder and runner as the `cargo fuzz` target `<target>` (see the
//! test kit's `op`, `fuzz` and `set_model`), so CI checks them without
//! nightly.

use std::fs;
use std::path::{Path, PathBuf};

use range_action_map_testkit::arbitrary::Arbitrary;
use range_action_map_testkit::op::decode;
use range_action_map_testkit::{fuzz, set_model};

/// Every file of `fuzz/<dir>/<target>/`, sorted (a missing directory is
/// empty).
fn inputs(dir: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(dir)
        .join(target);
    let mut files: Vec<_> = match fs::read_dir(&dir) {
        Ok(entries) => entries
            .map(|e| e.expect("readable corpus directory").path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// Runs `run` on every seed and regression file of `target`, decoded as
/// `cargo fuzz` decodes it; returns how many there were.
fn replay<T: for<'a> Arbitrary<'a>>(target: &str, run: fn(T)) -> usize {
    let files: Vec<_> = ["seeds", "regressions"]
        .iter()
        .flat_map(|dir| inputs(dir, target))
        .collect();
    for path in &files {
        let data = fs::read(path).expect("readable corpus file");
        // The file name is in the panic message of a failing replay.
        eprintln!("replaying {}", path.display());
        run(decode(&data));
    }
    files.len()
}

#[test]
fn ops_corpus_replays() {
    assert!(replay("ops", fuzz::run_differential) > 0, "no ops seeds");
}

#[test]
fn crash_corpus_replays() {
    assert!(replay("crash", fuzz::run_crash) > 0, "no crash seeds");
}

#[test]
fn boxed_corpus_replays() {
    assert!(replay("boxed", fuzz::run_boxed) > 0, "no boxed seeds");
}

#[test]
fn memory_set_corpus_replays() {
    assert!(
        replay("memory_set", set_model::run_memory_set) > 0,
        "no memory_set seeds"
    );
}

/// Inputs the decoder must take without trouble: empty, one byte, all
/// ones, and a long run of ops.
#[test]
fn degenerate_inputs_decode() {
    let long: Vec<u8> = (0..4096u32).map(|i| (i * 37 % 251) as u8).collect();
    for data in [&[][..], &[0], &[0xFF; 64], &long] {
        fuzz::run_differential(decode(data));
        fuzz::run_crash(decode(data));
        fuzz::run_boxed(decode(data));
        set_model::run_memory_set(decode(data));
    }
}

#[test]
fn fork_tree_corpus_replays() {
    use range_action_map_testkit::fork_model::{run_fork_tree, ForkScenario};
    let run: fn(ForkScenario) = |scenario| {
        run_fork_tree(scenario);
    };
    assert!(replay("fork_tree", run) > 0, "no fork_tree seeds");
}
