//! Criterion benchmarks of `find` from several threads at once: a map held in a
//! [`std::sync::RwLock`], as a kernel holds an address space behind its `mmap_lock`, looked
//! up by one thread and by two threads at the same time, each taking the read lock.
//!
//! ```sh
//! cargo bench --bench sync                  # everything (about 40 s on 2 cores)
//! cargo bench --bench sync -- 'find/65530'  # one size
//! ```
//!
//! Groups `find/<n>` (n = 65 530 and 10⁶ segments, the report's `random` layout: 3–16-page
//! segments, 1–16-page gaps), benchmarks `<locking>/<threads>`:
//!
//! - locking `per_lookup`: the read lock taken and released around every lookup, as a page
//!   fault handler does; `per_batch`: taken once per [`BATCH`] lookups;
//! - `1_thread`: one thread looking up [`LOOKUPS`] addresses per iteration;
//!   `2_threads`: two threads at once on the same map, [`LOOKUPS`] addresses each;
//!   `2_maps`: for comparison, two threads at once, each on a map (and a lock) of its own
//!   with the same layout, so that nothing written is shared between them.
//!
//! Throughput is in lookups per second, counted over all threads; two threads that did not
//! slow each other down would show twice the lookups per second of one.
//!
//! Every address is drawn uniformly over the whole map, from its first segment's start to
//! its last segment's end (about half of them fall in a gap), precomputed before any timing,
//! a different sequence per thread. A lookup returns the start of the segment found (as
//! `benches/ops.rs`'s `find_*` do), and the sum of the starts is kept, so that no lookup can
//! be dropped. Before the first benchmark of a size, the bench checks a prefix of every
//! sequence against a binary search of the layout and prints the share of lookups that hit
//! a segment; before and after the benchmarks of a size, the time a cache line takes to go
//! from one thread to the other and back ([`line_round_trip`]), which is what a word both
//! readers write (the lock's) costs them, and which on a virtual machine changes with where
//! the host runs the two virtual CPUs.
//!
//! The threads are spawned and meet at a barrier before the clock starts; each times its
//! own lookups from the barrier on, and an iteration counts as long as the slower thread
//! took. The locks are aligned to a cache line, as a kernel aligns its hot locks, so that
//! what shares a line with the lock word does not depend on where the lock was allocated.

use std::hint::{black_box, spin_loop};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, PoisonError, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use range_action_map::{range_adapter, RangeActionMap, RangeLink, Segment};
use range_action_map_testkit::bench::workload::{Shape, Workload};
use range_action_map_testkit::Rng;

/// The map sizes: Linux's default `vm.max_map_count`, and 10⁶.
const SIZES: [usize; 2] = [65_530, 1_000_000];
/// Lookups per thread per iteration (each thread's precomputed sequence).
const LOOKUPS: usize = 1 << 16;
/// Lookups per read lock in the `per_batch` benchmarks.
const BATCH: usize = 1024;
/// The seed of thread `t`'s addresses is `SEED + t`.
const SEED: u64 = 0x5eed_0000_0000_0001;
/// Addresses of each sequence checked against a binary search of the layout.
const CHECKED: usize = 4096;
/// Hand-overs of a cache line between two threads timed by [`line_round_trip`].
const ROUND_TRIPS: usize = 100_000;

// === impl Area ===

/// A segment whose data is plain, so that the map is `Sync` (the test kit's `Vma` keeps its
/// protection in a `Cell`).
struct Area {
    link: RangeLink,
}

range_adapter!(AreaAdapter = Box<Area>: Area { link });

impl Segment for Area {
    type Args = ();
    type Flags = ();
    type Pointer = Box<Area>;

    fn remove(&self, _: &mut ()) {}
    fn shrink(&self, _: usize, _: usize, _: &mut ()) {}
    fn split(&self, _: usize, _: &mut ()) -> Box<Area> {
        area()
    }
    fn modify(&self, _: (), _: &mut ()) {}
}

fn area() -> Box<Area> {
    Box::new(Area {
        link: RangeLink::new(),
    })
}

/// The maps of the benchmarks.
type Map = RangeActionMap<AreaAdapter>;

/// A value alone at the start of a cache line.
#[repr(align(64))]
struct CacheAligned<T>(T);

// === impl Locking ===

/// How often a thread takes the read lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Locking {
    /// Around every lookup.
    PerLookup,
    /// Once per [`BATCH`] lookups.
    PerBatch,
}

impl Locking {
    const ALL: [Locking; 2] = [Locking::PerLookup, Locking::PerBatch];

    fn name(self) -> &'static str {
        match self {
            Locking::PerLookup => "per_lookup",
            Locking::PerBatch => "per_batch",
        }
    }

    /// Looks up every address of `addrs` in `map`; returns the wrapping sum of the starts
    /// of the segments found.
    fn lookups(self, map: &RwLock<Map>, addrs: &[usize]) -> usize {
        match self {
            Locking::PerLookup => addrs
                .iter()
                .fold(0, |sum, &addr| sum.wrapping_add(find(&read(map), addr))),
            Locking::PerBatch => addrs.chunks(BATCH).fold(0, |sum, batch| {
                let map = read(map);
                batch
                    .iter()
                    .fold(sum, |sum, &addr| sum.wrapping_add(find(&map, addr)))
            }),
        }
    }
}

/// The read lock of `map`. No writer runs in these benchmarks, so none can have poisoned it.
#[inline]
fn read(map: &RwLock<Map>) -> std::sync::RwLockReadGuard<'_, Map> {
    map.read().unwrap_or_else(PoisonError::into_inner)
}

/// The start of the segment containing `addr`, or 0.
#[inline]
fn find(map: &Map, addr: usize) -> usize {
    map.find(black_box(addr))
        .map_or(0, |s| s.link.range().start)
}

// === impl Readers ===

/// Who looks up what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Readers {
    /// One thread, on the first map.
    One,
    /// Two threads, both on the first map.
    TwoShared,
    /// Two threads, each on a map of its own.
    TwoMaps,
}

impl Readers {
    const ALL: [Readers; 3] = [Readers::One, Readers::TwoShared, Readers::TwoMaps];

    fn name(self) -> &'static str {
        match self {
            Readers::One => "1_thread",
            Readers::TwoShared => "2_threads",
            Readers::TwoMaps => "2_maps",
        }
    }

    /// The map each thread reads, by thread.
    fn maps(self) -> &'static [usize] {
        match self {
            Readers::One => &[0],
            Readers::TwoShared => &[0, 0],
            Readers::TwoMaps => &[0, 1],
        }
    }
}

/// Two maps of the same layout, each behind its own lock, and each thread's addresses.
struct Maps {
    maps: [CacheAligned<RwLock<Map>>; 2],
    addrs: [Vec<usize>; 2],
}

impl Maps {
    /// The maps of `n` segments and the addresses, checked, with what they hit printed.
    fn new(n: usize) -> Self {
        let w = Workload::new(Shape::Random, n);
        let build = || {
            let mut map = Map::new(());
            for &(start, end) in &w.spans {
                map.mmap_fixed(start, end, area)
                    .expect("the layout's segments are disjoint and in the window");
            }
            CacheAligned(RwLock::new(map))
        };
        let maps = [build(), build()];
        let (low, high) = (w.spans[0].0, w.spans[n - 1].1);
        let addrs = [0, 1].map(|t| {
            let mut rng = Rng(SEED + t);
            (0..LOOKUPS)
                .map(|_| low + rng.below(high - low))
                .collect::<Vec<_>>()
        });
        for (map, addrs) in maps.iter().zip(&addrs) {
            let map = read(&map.0);
            for &addr in &addrs[..CHECKED] {
                let i = w.spans.partition_point(|&(start, _)| start <= addr);
                let want = i
                    .checked_sub(1)
                    .map(|i| w.spans[i])
                    .filter(|&(_, end)| addr < end)
                    .map_or(0, |(start, _)| start);
                assert_eq!(find(&map, addr), want, "find({addr:#x}) in {n} segments");
            }
        }
        let hits = addrs
            .iter()
            .flatten()
            .filter(|&&addr| read(&maps[0].0).find(addr).is_some())
            .count();
        println!(
            "layout n={n}: {:.1} % of the {} addresses hit a segment",
            100.0 * hits as f64 / (2 * LOOKUPS) as f64,
            2 * LOOKUPS
        );
        println!("round trip n={n}, before: {:?}", line_round_trip());
        Maps { maps, addrs }
    }

    /// The time `iters` iterations of `readers` take, each thread doing its [`LOOKUPS`]
    /// lookups per iteration under `locking`: the longest of the threads' times, each
    /// measured from the barrier all of them wait at once spawned.
    fn time(&self, readers: Readers, locking: Locking, iters: u64) -> Duration {
        let maps = readers.maps();
        let start = Barrier::new(maps.len());
        thread::scope(|s| {
            let threads: Vec<_> = maps
                .iter()
                .enumerate()
                .map(|(t, &m)| {
                    let (map, addrs, start) = (&self.maps[m].0, &self.addrs[t][..], &start);
                    s.spawn(move || {
                        start.wait();
                        let clock = Instant::now();
                        let mut sum = 0usize;
                        for _ in 0..iters {
                            sum = sum.wrapping_add(locking.lookups(map, addrs));
                        }
                        let elapsed = clock.elapsed();
                        black_box(sum);
                        elapsed
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().expect("a lookup thread panicked"))
                .max()
                .unwrap_or_default()
        })
    }
}

/// The time a cache line written by one thread takes to reach the other and come back:
/// two threads hand a counter to each other [`ROUND_TRIPS`] times. What a lock word or any
/// other line that both readers write costs them; on a virtual machine it depends on
/// where the host runs the two virtual CPUs, so the bench prints it beside its numbers.
fn line_round_trip() -> Duration {
    let turn = AtomicUsize::new(0);
    let start = Barrier::new(2);
    // Waits until `turn` is `value`; yields now and then, should both threads share a CPU.
    let wait_for = |value: usize| {
        let mut spins = 0u32;
        while turn.load(Ordering::Acquire) != value {
            spins += 1;
            if spins % 4096 == 0 {
                thread::yield_now();
            }
            spin_loop();
        }
    };
    thread::scope(|s| {
        s.spawn(|| {
            start.wait();
            for i in 0..ROUND_TRIPS {
                wait_for(2 * i + 1);
                turn.store(2 * i + 2, Ordering::Release);
            }
        });
        start.wait();
        let clock = Instant::now();
        // Loop invariant: `i` round trips are done, and `turn == 2 * i`.
        for i in 0..ROUND_TRIPS {
            turn.store(2 * i + 1, Ordering::Release);
            wait_for(2 * i + 2);
        }
        clock.elapsed() / ROUND_TRIPS as u32
    })
}

// === benchmarks ===

/// Every locking and every set of readers, per size.
fn lookups(c: &mut Criterion) {
    for n in SIZES {
        // Built by the first benchmark the filter lets run, and only then.
        let mut maps: Option<Maps> = None;
        let mut group = c.benchmark_group(format!("find/{n}"));
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for locking in Locking::ALL {
            for readers in Readers::ALL {
                let lookups = readers.maps().len() * LOOKUPS;
                group.throughput(Throughput::Elements(lookups as u64));
                let id = BenchmarkId::new(locking.name(), readers.name());
                group.bench_function(id, |b| {
                    let maps = maps.get_or_insert_with(|| Maps::new(n));
                    b.iter_custom(|iters| maps.time(readers, locking, iters));
                });
            }
        }
        group.finish();
        if maps.is_some() {
            println!("round trip n={n}, after: {:?}", line_round_trip());
        }
    }
}

/// Runs the groups (command-line options win over the groups' settings where criterion
/// lets them).
fn main() {
    let mut c = Criterion::default().configure_from_args();
    lookups(&mut c);
    c.final_summary();
}
