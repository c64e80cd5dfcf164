//! The intrusive map with a crash-test segment that panics in a
//! fuzzer-chosen call of a fuzzer-chosen callback: afterwards the map passes
//! the invariant checker and every node is in it or dropped exactly once.
//!
//! The input format and the runner are shared with the stable corpus
//! replay test: the test kit's `fuzz` module.
#![no_main]

use range_action_map_testkit::fuzz;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz::run_crash(data));
