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
use super::peers::{Baseline, IntrusiveRb, Lookup, MemSet, Ours, Request, StdBTree, Vm, RO, RW};
use crate::Rng;

/// Bytes per page.
pub const PAGE: usize = 0x1000;
/// Where every layout starts; below it the window is free.
pub const BASE: usize = 0x1000_0000;
/// Segments an `UnmapMany` or `IterRange` covers.
pub const MANY: usize = 64;
/// Number of precomputed targets an operation cycles through (a power of two).
const PICKS: usize = 1024;
/// Consecutive lookups [`Verb::FindLocal`] makes in one segment, page after
/// page, before it moves to the next target.
pub const FAULTS_PER_SEGMENT: usize = 16;
/// The map sizes: 10^3, Linux's default `vm.max_map_count`, what
/// Elasticsearch asks for, and today's distribution defaults.
pub const SIZES: [usize; 4] = [1_000, 65_530, 262_144, 1_000_000];
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
}

impl Shape {
    /// Both shapes.
    pub const ALL: [Shape; 2] = [Shape::Fragmented, Shape::Random];

    /// Name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Fragmented => "fragmented",
            Shape::Random => "random",
        }
    }
}

/// A benchmarked operation: a verb, or two that leave the map as they
/// found it (not a step of a random sequence, which is an
/// [`Op`](crate::op::Op)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// `find` of an address inside a segment.
    FindHit,
    /// `find` of an address in a gap.
    FindMiss,
    /// `find` with the locality of page faults: [`FAULTS_PER_SEGMENT`]
    /// lookups in one segment, page after page (wrapping), then the next
    /// random segment.
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
    pub const ALL: [Verb; 12] = [
        Verb::FindHit,
        Verb::FindMiss,
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
        matches!(self, Verb::FindHit | Verb::FindMiss | Verb::FindLocal)
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

/// One layout of `n` segments and the targets the operations cycle through.
pub struct Workload {
    /// The shape.
    pub shape: Shape,
    /// The segments, sorted and disjoint.
    pub spans: Vec<(usize, usize)>,
    /// Segment indices below `n - MANY`, one per target.
    picks: Vec<usize>,
    /// Length of an unaligned request.
    len: usize,
    /// Alignment, and length, of an aligned request.
    align: usize,
}

impl Workload {
    /// The layout of shape `shape` with `n` segments (`n > MANY`).
    pub fn new(shape: Shape, n: usize) -> Self {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ n as u64); // the same layouts on every run
        let mut spans = Vec::with_capacity(n);
        let mut at = BASE;
        for _ in 0..n {
            let (len, gap) = match shape {
                Shape::Fragmented => (4, 1),
                Shape::Random => (rng.in_range(3..17), rng.in_range(1..17)),
            };
            spans.push((at, at + len * PAGE));
            at += (len + gap) * PAGE;
        }
        let picks = (0..PICKS).map(|_| rng.in_range(0..n - MANY)).collect();
        let (len, align) = match shape {
            Shape::Fragmented => (2 * PAGE, 2 * PAGE),
            Shape::Random => (8 * PAGE, 4 * PAGE),
        };
        Workload {
            shape,
            spans,
            picks,
            len,
            align,
        }
    }

    /// Number of segments.
    pub fn n(&self) -> usize {
        self.spans.len()
    }

    /// The target segment of iteration `i`.
    fn pick(&self, i: usize) -> usize {
        self.picks[i % PICKS]
    }

    /// The free-area request of iteration `i` of `op`.
    fn request(&self, op: Verb, i: usize) -> Request {
        let aligned = op.is_aligned();
        let (hint, high) = match self.shape {
            Shape::Fragmented => (self.spans[0].0, self.spans[self.n() - 1].1),
            Shape::Random => self.spans[self.pick(i)],
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
                let (start, end) = self.spans[self.pick(i / FAULTS_PER_SEGMENT)];
                start + (i % FAULTS_PER_SEGMENT * PAGE) % (end - start)
            }
            Verb::FindMiss => self.spans[self.pick(i)].1,
            _ => {
                let (start, end) = self.spans[self.pick(i)];
                start + (end - start) / 2
            }
        };
        map.find(black_box(addr)).unwrap_or(0)
    }

    /// Runs iteration `i` of `op` on `map`; returns a value that depends on
    /// the result (for cross-checking the peers).
    #[inline]
    fn run<P: Vm>(&self, map: &mut P, op: Verb, i: usize) -> usize {
        let j = self.pick(i);
        let (start, end) = self.spans[j];
        match op {
            Verb::FindHit | Verb::FindMiss | Verb::FindLocal => self.lookup(map, op, i),
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
        iters.fold(0, |acc, i| {
            acc.wrapping_add(black_box(w.lookup(&self.0, op, i)))
        })
    }

    fn len(&self) -> usize {
        self.1
    }
}

/// Names of every peer, in table order (this crate's `Box` configuration
/// first: ratios are taken against it).
pub const PEERS: [&str; 6] = [
    <Ours<Boxed> as Lookup>::NAME,
    <Ours<Pooled> as Lookup>::NAME,
    <MemSet as Lookup>::NAME,
    <Baseline as Lookup>::NAME,
    <StdBTree as Lookup>::NAME,
    <IntrusiveRb as Lookup>::NAME,
];

/// Builds peer `name` on `w`'s layout.
pub fn subject(name: &str, w: &Workload) -> Option<Box<dyn Subject>> {
    /// Builds a [`Vm`] subject.
    fn vm<P: Vm + 'static>(w: &Workload) -> Box<dyn Subject> {
        Box::new(VmSubject(P::build(&w.spans)))
    }
    /// Builds a [`Lookup`] subject.
    fn lookup<P: Lookup + 'static>(w: &Workload) -> Box<dyn Subject> {
        Box::new(LookupSubject(P::build(&w.spans), w.n()))
    }
    let build = [
        vm::<Ours<Boxed>>,
        vm::<Ours<Pooled>>,
        vm::<MemSet>,
        vm::<Baseline>,
        lookup::<StdBTree>,
        lookup::<IntrusiveRb>,
    ];
    let at = PEERS.iter().position(|&p| p == name)?;
    Some(build[at](w))
}
