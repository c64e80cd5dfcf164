//! Criterion benchmarks of every operation, every peer side by side in one
//! group per operation and layout shape:
//!
//! ```sh
//! cargo bench --bench ops                       # everything (long: cap it as below)
//! cargo bench --bench ops -- 'find_hit/random'  # one group
//! RAM_BENCH_MAX_N=65530 cargo bench --bench ops # sizes up to 65 530
//! ```
//!
//! Groups are named `<op>/<shape>`, benchmarks `<peer>/<n>`. Peers whose
//! operation costs *O*(n) (and every `build_clear`) get 10 flat samples at
//! n ≥ 262 144, so that the whole run stays within minutes; nothing is
//! skipped. `cargo bench --bench report` prints the same measurements as
//! one Markdown table.
//!
//! The group `mixed/small` runs the mixed workload (random operations of
//! the test kit's generator, the fuzz targets' own) from an empty map on
//! every peer that maps, in operations per second.

use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use range_action_map_testkit::bench::alloc::{Counting, Snapshot};
use range_action_map_testkit::bench::mixed::{Mixed, Outcome};
use range_action_map_testkit::bench::ours::{Boxed, Pooled};
use range_action_map_testkit::bench::peers::{AxMemSet, Baseline, MemSet, Ours, Vm};
use range_action_map_testkit::bench::workload::{
    sizes, subject, Shape, Subject, Verb, Workload, LARGE, PEERS,
};

/// The seed of the mixed workload.
const MIXED_SEED: u64 = 0x9e37_79b9_7f4a_7c15;
/// Operations of the mixed workload, at least.
const MIXED_OPS: usize = 2000;

/// Counts every allocation, for the allocations-per-operation figures.
#[global_allocator]
static GLOBAL: Counting = Counting;

/// Benchmarks every operation on every peer, per size and shape.
fn ops(c: &mut Criterion) {
    for n in sizes() {
        for shape in Shape::ALL {
            let w = Workload::new(shape, n);
            for peer in PEERS {
                let Some(mut s) = subject(peer, &w) else {
                    continue;
                };
                assert_pool_allocation_free(s.as_mut(), &w);
                for op in Verb::ALL {
                    if !s.supports(op) {
                        continue;
                    }
                    let mut group = c.benchmark_group(format!("{}/{}", op.name(), shape.name()));
                    if n >= LARGE && s.is_slow(op) {
                        group
                            .sampling_mode(SamplingMode::Flat)
                            .sample_size(10)
                            .warm_up_time(Duration::from_millis(300))
                            .measurement_time(Duration::from_secs(1));
                    }
                    let mut next = 0;
                    group.bench_function(BenchmarkId::new(peer, n), |b| {
                        b.iter_custom(|iters| {
                            // Iteration counts fit in memory-sized integers.
                            let iters = iters as usize;
                            let t = Instant::now();
                            std::hint::black_box(s.run_batch(&w, op, next..next + iters));
                            next += iters;
                            t.elapsed()
                        })
                    });
                    group.finish();
                }
            }
        }
    }
}

/// The pool configuration must not allocate in any operation (its nodes
/// come from the slab it preallocated); checked before it is timed.
fn assert_pool_allocation_free(s: &mut dyn Subject, w: &Workload) {
    if s.name() != PEERS[1] {
        return;
    }
    for op in Verb::ALL.into_iter().filter(|&op| op != Verb::BuildClear) {
        let before = Snapshot::now();
        s.run_batch(w, op, 0..256);
        let allocs = before.allocs_since();
        assert_eq!(
            allocs,
            0,
            "{} allocated {allocs} times in 256 {} calls",
            s.name(),
            op.name()
        );
    }
}

/// The mixed workload on every [`Vm`] peer, after checking that each
/// agrees with this crate's `Box` configuration on every result and on the
/// segments it ends with.
fn mixed(c: &mut Criterion) {
    let mixed = Mixed::new(MIXED_SEED, MIXED_OPS);
    let reference = mixed.outcome::<Ours<Boxed>>();
    let mut group = c.benchmark_group("mixed/small");
    group.throughput(Throughput::Elements(mixed.len() as u64));
    bench_mixed::<Ours<Boxed>>(&mut group, &mixed, &reference);
    bench_mixed::<Ours<Pooled>>(&mut group, &mixed, &reference);
    bench_mixed::<MemSet>(&mut group, &mixed, &reference);
    bench_mixed::<AxMemSet>(&mut group, &mixed, &reference);
    bench_mixed::<Baseline>(&mut group, &mixed, &reference);
    group.finish();
}

/// Checks peer `P` on the mixed workload against `reference` (segments and
/// result sum), then times whole runs of it.
fn bench_mixed<P: Vm>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    mixed: &Mixed,
    reference: &Outcome,
) {
    assert!(
        mixed.outcome::<P>() == *reference,
        "{} disagrees with {} on the mixed workload",
        P::NAME,
        PEERS[0]
    );
    group.bench_function(P::NAME, |b| b.iter(|| mixed.run::<P>().1));
}

/// Runs the groups with short defaults (command-line options win).
fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30)
        .configure_from_args();
    ops(&mut c);
    mixed(&mut c);
    c.final_summary();
}
