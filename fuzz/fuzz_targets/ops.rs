//! The intrusive map against the sorted-`Vec` model: segments, results and
//! callback log compared and the invariant checker run after every
//! operation.
//!
//! The input format and the runner are shared with the stable corpus
//! replay test: `tests/common/fuzz_input.rs`.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../../tests/common/fuzz_input.rs"]
mod fuzz_input;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_input::run_differential(data));
