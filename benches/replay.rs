//! Criterion benchmarks replaying the real `mmap`/`munmap`/`mprotect`/
//! `brk`/`mremap` traces of `benches/data` through every peer:
//!
//! ```sh
//! cargo bench --bench replay
//! ```
//!
//! Before timing, every peer replays every address space step by step and
//! must agree with what Linux returned, with `trace::summarize`'s count of
//! live mappings, and with the other peers' final state (see
//! `range_action_map_testkit::bench::replay`); the pool configuration must not allocate. Throughput
//! is in steps (map-level operations) per second.

use std::time::Duration;

use criterion::{Criterion, Throughput};
use range_action_map_testkit::bench::alloc::{Counting, Snapshot};
use range_action_map_testkit::bench::ours::Slab;
use range_action_map_testkit::bench::replay::{self, TraceFile};

/// Counts every allocation, for the allocations-per-operation figures.
#[global_allocator]
static GLOBAL: Counting = Counting;

/// Loads the traces and checks every peer on them.
///
/// # Panics
///
/// If a peer disagrees with Linux or with the others, or the pool
/// configuration allocates.
fn checked_traces() -> Vec<TraceFile> {
    let files = replay::load_data();
    let problems = replay::check_all(&files);
    assert!(
        problems.is_empty(),
        "replay disagreements:\n{}",
        problems.join("\n")
    );
    // `check_all` has run every replay path once, so nothing lazy is left
    // to allocate.
    let pool = &replay::PEERS[1];
    for file in &files {
        let before = Snapshot::now();
        (pool.replay)(file);
        // A fresh slab per address space.
        assert_eq!(
            before.allocs_since(),
            Slab::ALLOCS * file.streams.len(),
            "{} allocated replaying {}",
            pool.name,
            file.name
        );
    }
    files
}

/// One group per trace, every peer in it.
fn replays(c: &mut Criterion) {
    for file in checked_traces() {
        let mut group = c.benchmark_group(format!("replay/{}", file.name));
        group.throughput(Throughput::Elements(file.steps() as u64));
        for peer in &replay::PEERS {
            group.bench_function(peer.name, |b| b.iter(|| (peer.replay)(&file)));
        }
        group.finish();
    }
}

/// Runs the groups with short defaults (command-line options win).
fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    replays(&mut c);
    c.final_summary();
}
