//! `MemorySet` over the software Sv39 page table and the counting frame
//! allocator, against its model page by page after every operation,
//! forks included; every frame must come back when the set is dropped.
//!
//! The input format and the runner are shared with the stable corpus
//! replay test and `tests/memory_set.rs`: `tests/common/memory_set_model.rs`.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../../tests/common/fuzz_input.rs"]
mod fuzz_input;
#[path = "../../tests/common/memory_set_model.rs"]
mod memory_set_model;

libfuzzer_sys::fuzz_target!(|data: &[u8]| memory_set_model::run_memory_set(data));
