//! The intrusive map against the sorted-`Vec` model: segments, results and
//! callback log compared and the invariant checker run after every
//! operation.
//!
//! The input format and the runner are shared with the stable corpus
//! replay test: the test kit's `fuzz` module.
#![no_main]

use range_action_map_testkit::fuzz;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz::run_differential(data));
