//! `MemorySet` over the software Sv39 page table and the counting frame
//! allocator, against its model page by page after every operation,
//! forks included; every frame must come back when the set is dropped.
//!
//! The input (a `SetScenario`) and the runner are shared with the stable
//! corpus replay test and `tests/memory_set.rs`: the test kit's
//! `set_model`.
#![no_main]

use range_action_map_testkit::set_model::{self, SetScenario};

libfuzzer_sys::fuzz_target!(|input: SetScenario| set_model::run_memory_set(input));
