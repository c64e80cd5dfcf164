//! Fork trees of `MemorySet`s over one frame allocator and two files,
//! against the test kit's model of every page and frame, checked after
//! every step: forks and exits in any order, private, shared and file
//! mappings, loads, stores, `msync`, and frames running out mid-step.
//!
//! The input (a `ForkScenario`) and the runner are shared with the stable
//! corpus replay test and `tests/fork_tree.rs`: the test kit's
//! `fork_model`.
#![no_main]

use range_action_map_testkit::fork_model::{self, ForkScenario};

libfuzzer_sys::fuzz_target!(|input: ForkScenario| {
    fork_model::run_fork_tree(input);
});
