//! The intrusive map against the sorted-`Vec` model: segments, results and
//! callback log compared and the invariant checker run after every
//! operation.
//!
//! The input (a `Scenario`, decoded by the test kit's `op`) and the
//! runner (its `fuzz`) are shared with the stable corpus replay test and,
//! for the map's operations, with the model test (`tests/model.rs`).
#![no_main]

use range_action_map_testkit::fuzz;
use range_action_map_testkit::op::Scenario;

libfuzzer_sys::fuzz_target!(|input: Scenario| fuzz::run_differential(input));
