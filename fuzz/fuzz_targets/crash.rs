//! The intrusive map with a crash-test segment that panics in a
//! fuzzer-chosen call of a fuzzer-chosen callback: afterwards the map passes
//! the invariant checker and every node is in it or dropped exactly once.
//!
//! The input format and the runner are shared with the stable corpus
//! replay test: `tests/common/fuzz_input.rs`.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../../tests/common/fuzz_input.rs"]
mod fuzz_input;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_input::run_crash(data));
