//! The synthetic workloads: two address-space shapes, the operations run
//! on them, and [`Subject`], one peer's map ready to run any of them.
//!
//! Every operation leaves the map as it found it (a placement is unmapped
//! again, an unmapped range is mapped again), so a map can be measured for
//! as many iterations as the timer wants, and every peer runs the same
//! sequence of calls.

use std::hint::black_box;
use std::ops::Range;

use super::ours::{Boxed, Pooled};
use super::peers::{
    AxMemSet, Baseline, IntrusiveRb, Lookup, MemSet, Ours, Request, StdBTree, Step, Vm, RO, RW,
};
use crate::Rng;

/// Bytes per page.
pub const PAGE: usize = 0x1000;
/// Where every layout starts; below it the window is free.
pub const BASE: usize = 0x1000_0000;
/// Segments an `UnmapMany` or `IterRange` covers.
pub const MANY: usize = 64;
/// Consecutive lookups [`Verb::FindLocal`] makes, a page apart, before it
/// jumps to a new random address.
pub const FAULTS_PER_RUN: usize = 16;
/// The map sizes: 10^3, 10^4, Linux's default `vm.max_map_count`, 10^5,
/// what Elasticsearch asks for, and today's distribution defaults.
pub const SIZES: [usize; 6] = [1_000, 10_000, 65_530, 100_000, 262_144, 1_000_000];
/// The environment variable that caps the sizes of a run
/// (`RAM_BENCH_MAX_N=65530`): [`sizes`].
pub const MAX_N_VAR: &str = "RAM_BENCH_MAX_N";
/// [`SIZES`] up to the cap in [`MAX_N_VAR`] (all of them if it is unset or
/// not a number; `_` separators allowed).
pub fn sizes() -> Vec<usize> {
    let cap = std::env::var(MAX_N_VAR)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(usize::MAX);
    SIZES.into_iter().filter(|&n| n <= cap).collect()
}

/// From this size on, a peer's *O*(n) operation is given few calls: 10
/// flat samples in `ops`, 2 cross-checked calls in `report`.
pub const LARGE: usize = 262_144;

/// How the segments of a layout are spread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// 4-page segments one page apart: no hole fits a request until past
    /// the last segment (bottom-up) or below the first (top-down).
    Fragmented,
    /// 3–16-page segments, 1–16-page gaps; searches start at a random
    /// segment.
    Random,
    /// A map aged by random insertion and removal, as a long-running
    /// process's is: `n` of `2n` [`Shape::Random`] candidates mapped in
    /// random order, then `n` times a random segment unmapped and a random
    /// free candidate mapped. Nodes end up scattered over the heap and the
    /// tree shaped by history, not by a sorted build. Only the peers whose
    /// removal costs *O*(log n) are aged ([`Lookup::age`]).
    Aged,
}

impl Shape {
    /// Every shape.
    pub const ALL: [Shape; 3] = [Shape::Fragmented, Shape::Random, Shape::Aged];

    /// Name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Fragmented => "fragmented",
            Shape::Random => "random",
            Shape::Aged => "aged",
        }
    }
}

/// A benchmarked operation: a verb, or two that leave the map as they
/// found it (not a step of a random sequence, which is an
/// [`Op`](crate::op::Op)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// `find` of the middle of a random segment (the segment's bounds are
    /// read from the layout, which costs every peer the same).
    FindHit,
    /// `find` of the end of a random segment (a gap).
    FindMiss,
    /// `find` of an address drawn uniformly over the layout's extent,
    /// computed without touching memory: hits and misses in the layout's
    /// own proportion.
    FindUniform,
    /// As [`Verb::FindUniform`], but each address is drawn from the last
    /// result, so no lookup can start before the previous one ends (a
    /// page-fault handler's lookups are serial too).
    FindChained,
    /// `find` with the locality of page faults: runs of
    /// [`FAULTS_PER_RUN`] addresses a page apart (crossing segments and
    /// gaps), each run from a uniform random address.
    FindLocal,
    /// `mmap_anywhere` bottom-up, then `unmap` of the result.
    PlaceUp,
    /// As [`Verb::PlaceUp`], aligned.
    PlaceUpAligned,
    /// `mmap_anywhere` top-down, then `unmap` of the result.
    PlaceDown,
    /// As [`Verb::PlaceDown`], aligned.
    PlaceDownAligned,
    /// `unmap` of one segment, then mapping it again where it was.
    UnmapRemap,
    /// `mprotect` of the inside of one segment (two splits), then
    /// `mmap_fixed` over the whole segment to restore it.
    Mprotect,
    /// `unmap` of [`MANY`] consecutive segments, then mapping them again.
    UnmapMany,
    /// Counting the segments overlapping a range of [`MANY`] segments.
    IterRange,
    /// Building the whole map, then `clear`.
    BuildClear,
}

impl Verb {
    /// Every operation, in table order.
    pub const ALL: [Verb; 14] = [
        Verb::FindHit,
        Verb::FindMiss,
        Verb::FindUniform,
        Verb::FindChained,
        Verb::FindLocal,
        Verb::PlaceUp,
        Verb::PlaceUpAligned,
        Verb::PlaceDown,
        Verb::PlaceDownAligned,
        Verb::UnmapRemap,
        Verb::Mprotect,
        Verb::UnmapMany,
        Verb::IterRange,
        Verb::BuildClear,
    ];

    /// Name in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Verb::FindHit => "find_hit",
            Verb::FindMiss => "find_miss",
            Verb::FindUniform => "find_uniform",
            Verb::FindChained => "find_chained",
            Verb::FindLocal => "find_local",
            Verb::PlaceUp => "mmap_anywhere_up",
            Verb::PlaceUpAligned => "mmap_anywhere_up_aligned",
            Verb::PlaceDown => "mmap_anywhere_down",
            Verb::PlaceDownAligned => "mmap_anywhere_down_aligned",
            Verb::UnmapRemap => "unmap_remap",
            Verb::Mprotect => "mprotect_split_restore",
            Verb::UnmapMany => "unmap_64",
            Verb::IterRange => "iter_64",
            Verb::BuildClear => "build_clear",
        }
    }

    /// The operation named `name`.
    pub fn parse(name: &str) -> Option<Verb> {
        Verb::ALL.into_iter().find(|op| op.name() == name)
    }

    /// Whether it is a lookup (which the `find` yardsticks also run).
    pub fn is_find(self) -> bool {
        matches!(
            self,
            Verb::FindHit
                | Verb::FindMiss
                | Verb::FindUniform
                | Verb::FindChained
                | Verb::FindLocal
        )
    }

    /// Whether it searches top-down.
    pub fn is_top_down(self) -> bool {
        matches!(self, Verb::PlaceDown | Verb::PlaceDownAligned)
    }

    /// Whether it asks for an aligned placement.
    pub fn is_aligned(self) -> bool {
        matches!(self, Verb::PlaceUpAligned | Verb::PlaceDownAligned)
    }

    /// Whether every peer must return the same value for it: aligned
    /// searches may legitimately differ (this crate wants a hole of
    /// `len + align - 1` bytes, as Linux does; the others fit exactly).
    pub fn agrees(self) -> bool {
        !self.is_aligned()
    }
}

/// splitmix64's finalizer: the picks and addresses of iteration `i` are
/// `mix` of `i`, drawn uniformly over the whole map without a table (a
/// table of picks would be a small hot set, and reading it would add a
/// cache miss of its own).
#[inline]
fn mix(x: u64) -> u64 {
    let x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// One layout of `n` segments and the targets of the operations.
pub struct Workload {
    /// The shape.
    pub shape: Shape,
    /// The segments, sorted and disjoint.
    pub spans: Vec<(usize, usize)>,
    /// For [`Shape::Aged`], the history that ages a map into `spans`.
    pub history: Option<Vec<Step>>,
    /// Seed of the picks.
    seed: u64,
    /// Lowest mapped address.
    low: usize,
    /// Bytes from the lowest mapped address to the highest end.
    extent: u64,
    /// Length of an unaligned request.
    len: usize,
    /// Alignment, and length, of an aligned request.
    align: usize,
}

impl Workload {
    /// The layout of shape `shape` with `n` segments (`n > MANY`).
    pub fn new(shape: Shape, n: usize) -> Self {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ n as u64); // the same layouts on every run
        let layout = |rng: &mut Rng, n: usize| {
            let mut spans = Vec::with_capacity(n);
            let mut at = BASE;
            for _ in 0..n {
                let (len, gap) = match shape {
                    Shape::Fragmented => (4, 1),
                    Shape::Random | Shape::Aged => (rng.in_range(3..17), rng.in_range(1..17)),
                };
                spans.push((at, at + len * PAGE));
                at += (len + gap) * PAGE;
            }
            spans
        };
        let (spans, history) = match shape {
            Shape::Aged => {
                let candidates = layout(&mut rng, 2 * n);
                let (spans, history) = aged(&mut rng, &candidates, n);
                (spans, Some(history))
            }
            _ => (layout(&mut rng, n), None),
        };
        let (len, align) = match shape {
            Shape::Fragmented => (2 * PAGE, 2 * PAGE),
            Shape::Random | Shape::Aged => (8 * PAGE, 4 * PAGE),
        };
        let low = spans[0].0;
        Workload {
            shape,
            history,
            seed: rng.next(),
            low,
            extent: (spans[n - 1].1 - low) as u64,
            spans,
            len,
            align,
        }
    }

    /// Number of segments.
    pub fn n(&self) -> usize {
        self.spans.len()
    }

    /// The target segment of iteration `i`: uniform below `n - MANY`.
    #[inline]
    fn pick(&self, i: usize) -> usize {
        (mix(self.seed ^ i as u64) % (self.n() - MANY) as u64) as usize
    }

    /// An address drawn from `x`, uniform over the layout's extent.
    #[inline]
    fn uniform(&self, x: u64) -> usize {
        // `extent` came from a `usize`, so the remainder fits one.
        self.low + (mix(self.seed ^ x) % self.extent) as usize
    }

    /// The free-area request of iteration `i` of `op`.
    fn request(&self, op: Verb, i: usize) -> Request {
        let aligned = op.is_aligned();
        let (hint, high) = match self.shape {
            Shape::Fragmented => (self.spans[0].0, self.spans[self.n() - 1].1),
            Shape::Random | Shape::Aged => self.spans[self.pick(i)],
        };
        Request {
            len: if aligned { self.align } else { self.len },
            align: if aligned { self.align } else { 1 },
            hint,
            high,
            top_down: op.is_top_down(),
        }
    }

    /// Runs iteration `i` of a lookup.
    #[inline]
    fn lookup<P: Lookup>(&self, map: &P, op: Verb, i: usize) -> usize {
        let addr = match op {
            Verb::FindLocal => {
                self.uniform((i / FAULTS_PER_RUN) as u64) + i % FAULTS_PER_RUN * PAGE
            }
            Verb::FindUniform => self.uniform(i as u64),
            Verb::FindChained => unreachable!("chained lookups run in `lookups`"),
            Verb::FindMiss => self.spans[self.pick(i)].1,
            _ => {
                let (start, end) = self.spans[self.pick(i)];
                start + (end - start) / 2
            }
        };
        map.find(black_box(addr)).unwrap_or(0)
    }

    /// Runs iterations `iters` of a lookup; returns the wrapping sum of the
    /// results.
    #[inline]
    fn lookups<P: Lookup>(&self, map: &P, op: Verb, iters: Range<usize>) -> usize {
        if op == Verb::FindChained {
            // The next address is a function of the last result: the loads
            // of one lookup cannot overlap the next one's.
            let mut last = 0;
            return iters.fold(0, |acc, i| {
                last = map.find(self.uniform(i as u64 ^ last as u64)).unwrap_or(0);
                acc.wrapping_add(last)
            });
        }
        iters.fold(0, |acc, i| {
            acc.wrapping_add(black_box(self.lookup(map, op, i)))
        })
    }

    /// Runs iteration `i` of `op` (not a lookup) on `map`; returns a value
    /// that depends on the result (for cross-checking the peers).
    #[inline]
    fn run<P: Vm>(&self, map: &mut P, op: Verb, i: usize) -> usize {
        let j = self.pick(i);
        let (start, end) = self.spans[j];
        match op {
            Verb::FindHit
            | Verb::FindMiss
            | Verb::FindUniform
            | Verb::FindChained
            | Verb::FindLocal => self.lookups(map, op, i..i + 1),
            Verb::PlaceUp | Verb::PlaceUpAligned | Verb::PlaceDown | Verb::PlaceDownAligned => {
                let req = self.request(op, i);
                match map.place(&req, RW) {
                    Some(at) => {
                        map.unmap(at, at + req.len);
                        at
                    }
                    None => 0,
                }
            }
            Verb::UnmapRemap => {
                map.unmap(start, end);
                usize::from(map.insert(start, end, RW))
            }
            Verb::Mprotect => {
                map.mprotect(start + PAGE, end - PAGE, RO);
                // Two splits make two more segments. `len` is O(1) for
                // every peer, where counting the pieces would add
                // `memory_set`'s O(n) walk to its time.
                let len = map.len();
                map.map_fixed(start, end, RW);
                len
            }
            Verb::UnmapMany => {
                let many = &self.spans[j..j + MANY];
                map.unmap(start, many[MANY - 1].1);
                many.iter()
                    .map(|&(s, e)| usize::from(map.insert(s, e, RW)))
                    .sum()
            }
            Verb::IterRange => map.count_overlapping(start, self.spans[j + MANY - 1].1),
            Verb::BuildClear => {
                let mut fresh = P::build(&self.spans);
                let len = fresh.len();
                fresh.clear();
                len
            }
        }
    }

    /// Where `op`'s timings are reported per segment rather than per call.
    pub fn per_call_units(&self, op: Verb) -> usize {
        match op {
            Verb::BuildClear => self.n(),
            _ => 1,
        }
    }
}

/// One peer's map, built on a workload, ready to run operations.
pub trait Subject {
    /// Peer name.
    fn name(&self) -> &'static str;
    /// Whether the peer can run `op`.
    fn supports(&self, op: Verb) -> bool;
    /// Whether the peer's `op` costs *O*(n) per call (so the timers give
    /// it fewer samples at large n).
    fn is_slow(&self, op: Verb) -> bool;
    /// Runs iterations `iters` of `op`; returns the wrapping sum of their
    /// results.
    fn run_batch(&mut self, w: &Workload, op: Verb, iters: Range<usize>) -> usize;
    /// Number of segments in the map.
    fn len(&self) -> usize;
    /// Whether the map has no segment.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A [`Vm`] peer as a [`Subject`].
struct VmSubject<P>(P);

impl<P: Vm> Subject for VmSubject<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn supports(&self, op: Verb) -> bool {
        !op.is_top_down() || P::TOP_DOWN
    }

    fn is_slow(&self, op: Verb) -> bool {
        op == Verb::BuildClear || (P::LINEAR && !op.is_find())
    }

    fn run_batch(&mut self, w: &Workload, op: Verb, iters: Range<usize>) -> usize {
        if op.is_find() {
            return w.lookups(&self.0, op, iters);
        }
        iters.fold(0, |acc, i| {
            acc.wrapping_add(black_box(w.run(&mut self.0, op, i)))
        })
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// A [`Lookup`]-only peer as a [`Subject`].
struct LookupSubject<P>(P, usize);

impl<P: Lookup> Subject for LookupSubject<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn supports(&self, op: Verb) -> bool {
        op.is_find()
    }

    fn is_slow(&self, _op: Verb) -> bool {
        false
    }

    fn run_batch(&mut self, w: &Workload, op: Verb, iters: Range<usize>) -> usize {
        w.lookups(&self.0, op, iters)
    }

    fn len(&self) -> usize {
        self.1
    }
}

/// A peer left out of a workload (one that is not aged): it runs nothing.
struct Absent(&'static str);

impl Subject for Absent {
    fn name(&self) -> &'static str {
        self.0
    }

    fn supports(&self, _op: Verb) -> bool {
        false
    }

    fn is_slow(&self, _op: Verb) -> bool {
        false
    }

    fn run_batch(&mut self, _w: &Workload, _op: Verb, _iters: Range<usize>) -> usize {
        0
    }

    fn len(&self) -> usize {
        0
    }
}

/// Names of every peer, in table order (this crate's `Box` configuration
/// first: ratios are taken against it).
pub const PEERS: [&str; 7] = [
    <Ours<Boxed> as Lookup>::NAME,
    <Ours<Pooled> as Lookup>::NAME,
    <MemSet as Lookup>::NAME,
    <AxMemSet as Lookup>::NAME,
    <Baseline as Lookup>::NAME,
    <StdBTree as Lookup>::NAME,
    <IntrusiveRb as Lookup>::NAME,
];

/// Builds peer `name` on `w`'s layout (aged by `w.history` if it has
/// one; a peer that is not aged is [`Absent`] and supports nothing).
pub fn subject(name: &str, w: &Workload) -> Option<Box<dyn Subject>> {
    /// Builds `P` on `w`, or `None` if `w` is aged and `P` is not.
    fn built<P: Lookup>(w: &Workload) -> Option<P> {
        match &w.history {
            Some(steps) => P::age(steps),
            None => Some(P::build(&w.spans)),
        }
    }
    /// Builds a [`Vm`] subject.
    fn vm<P: Vm + 'static>(w: &Workload) -> Box<dyn Subject> {
        match built::<P>(w) {
            Some(map) => Box::new(VmSubject(map)),
            None => Box::new(Absent(P::NAME)),
        }
    }
    /// Builds a [`Lookup`] subject.
    fn lookup<P: Lookup + 'static>(w: &Workload) -> Box<dyn Subject> {
        match built::<P>(w) {
            Some(map) => Box::new(LookupSubject(map, w.n())),
            None => Box::new(Absent(P::NAME)),
        }
    }
    let build = [
        vm::<Ours<Boxed>>,
        vm::<Ours<Pooled>>,
        vm::<MemSet>,
        vm::<AxMemSet>,
        vm::<Baseline>,
        lookup::<StdBTree>,
        lookup::<IntrusiveRb>,
    ];
    let at = PEERS.iter().position(|&p| p == name)?;
    Some(build[at](w))
}

/// Ages a map: `n` of the `candidates` (sorted, disjoint) mapped in random
/// order, then `n` times a random live one unmapped and a random free one
/// mapped. Returns the live segments, sorted, and the history.
fn aged(
    rng: &mut Rng,
    candidates: &[(usize, usize)],
    n: usize,
) -> (Vec<(usize, usize)>, Vec<Step>) {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut free = order.split_off(n);
    let mut live = order;
    let mut history: Vec<Step> = live
        .iter()
        .map(|&k| Step::Map(candidates[k].0, candidates[k].1))
        .collect();
    for _ in 0..n {
        let gone = live.swap_remove(rng.below(live.len()));
        history.push(Step::Unmap(candidates[gone].0, candidates[gone].1));
        let new = free.swap_remove(rng.below(free.len()));
        history.push(Step::Map(candidates[new].0, candidates[new].1));
        live.push(new);
        free.push(gone);
    }
    let mut spans: Vec<(usize, usize)> = live.iter().map(|&k| candidates[k]).collect();
    spans.sort_unstable();
    (spans, history)
}
