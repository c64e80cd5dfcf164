//! The intrusive map with a crash-test segment that panics in a
//! fuzzer-chosen call of a fuzzer-chosen callback: afterwards the map passes
//! the invariant checker and every node is in it or dropped exactly once.
//!
//! The input (a `CrashScenario`, decoded by the test kit's `op`) and the
//! runner (its `fuzz`) are shared with the stable corpus replay test and,
//! for the map's operations, with the model test (`tests/model.rs`).
#![no_main]

use range_action_map_testkit::fuzz;
use range_action_map_testkit::op::CrashScenario;

libfuzzer_sys::fuzz_target!(|input: CrashScenario| fuzz::run_crash(input));
