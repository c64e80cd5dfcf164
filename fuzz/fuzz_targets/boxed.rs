//! The seed-style boxed value map against a model of ranges.
//!
//! The input (a `SeedScenario`, decoded by the test kit's `op`) and the
//! runner (its `fuzz`) are shared with the stable corpus replay test and,
//! for the map's operations, with the model test (`tests/model.rs`).
#![no_main]

use range_action_map_testkit::fuzz;
use range_action_map_testkit::op::SeedScenario;

libfuzzer_sys::fuzz_target!(|input: SeedScenario| fuzz::run_boxed(input));
