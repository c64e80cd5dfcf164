//! The seed-style boxed value map against a model of ranges.
//!
//! The input format and the runner are shared with the stable corpus
//! replay test: the test kit's `fuzz` module.
#![no_main]

use range_action_map_testkit::fuzz;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz::run_boxed(data));
