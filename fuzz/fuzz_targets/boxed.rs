//! The seed-style boxed value map against a model of ranges.
//!
//! The input format and the runner are shared with the stable corpus
//! replay test: `tests/common/fuzz_input.rs`.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../../tests/common/fuzz_input.rs"]
mod fuzz_input;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_input::run_boxed(data));
