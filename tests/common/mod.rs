//! Shared test machinery: a logging segment type, a sorted-`Vec` model of
//! the map, and a harness that runs one operation on both and compares
//! everything (segments, results, and the callbacks with their arguments).
#![allow(dead_code)] // each test binary uses a different part

use std::cell::Cell;
use std::fmt;

use range_action_map::intrusive_collections::intrusive_adapter;
use range_action_map::{
    AllocError, Coverage, Direction, Hint, MapError, MapResult, Placement, RangeActionMap,
    RangeLink, Segment, Window,
};

/// Asserts that an expression fails with the given `MapError` variant.
#[macro_export]
macro_rules! assert_err {
    ($expr:expr, $variant:pat) => {
        match $expr {
            Err($variant) => {}
            other => panic!("expected {}, got {:?}", stringify!($variant), other),
        }
    };
}

thread_local! {
    /// Identity of the next node built, shared by the map's callbacks and
    /// the closures the tests pass to `mmap_*`.
    static NEXT_ID: Cell<u32> = const { Cell::new(0) };
}

/// A fresh node identity.
pub fn fresh_id() -> u32 {
    NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    })
}

/// Restarts identities at 0.
pub fn reset_ids() {
    NEXT_ID.with(|n| n.set(0));
}

/// One callback the map made, with its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Event {
    /// `remove` of node `id` covering `start..end`.
    Remove { id: u32, start: usize, end: usize },
    /// `shrink` of node `id` from `from` to `to`.
    Shrink {
        id: u32,
        from: (usize, usize),
        to: (usize, usize),
    },
    /// `split` of node `id` (covering `start..end`) at `pos`, giving `new_id`.
    Split {
        id: u32,
        start: usize,
        end: usize,
        pos: usize,
        new_id: u32,
    },
    /// `modify` of node `id` covering `start..end` to `prot`.
    Modify {
        id: u32,
        start: usize,
        end: usize,
        prot: u8,
    },
    /// Node `id` absorbed node `next`.
    Merge { id: u32, next: u32 },
}

/// How the panics of crash-test segments start, to tell them from bugs.
pub const CRASH_MESSAGE: &str = "crash-test segment";

/// Which callback a crash-test segment panics in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    Remove,
    Shrink,
    Split,
    Modify,
    Merge,
    Release,
}

/// The map's `Args`: the callback log and the test's knobs.
#[derive(Default)]
pub struct Log {
    pub events: Vec<Event>,
    /// Merge adjacent segments with equal protection.
    pub merge: bool,
    /// Make the next `try_split` fail.
    pub fail_next_split: bool,
    /// Panic in the given callback after this many more calls of it.
    pub crash: Option<(Crash, usize)>,
}

impl Log {
    fn maybe_crash(&mut self, kind: Crash) {
        if let Some((k, n)) = self.crash {
            if k == kind {
                if n == 0 {
                    self.crash = None;
                    panic!("{CRASH_MESSAGE}: {kind:?}");
                }
                self.crash = Some((k, n - 1));
            }
        }
    }
}

thread_local! {
    /// Nodes alive (built and not yet dropped), to prove none is lost or
    /// dropped twice.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

/// Number of `Seg` nodes alive on this thread.
pub fn live_nodes() -> isize {
    LIVE.with(Cell::get)
}

/// A segment that logs its callbacks.
pub struct Seg {
    pub link: RangeLink,
    pub id: u32,
    pub prot: Cell<u8>,
}

intrusive_adapter!(pub SegAdapter = Box<Seg>: Seg { link: RangeLink });

/// The map under test.
pub type Map = RangeActionMap<SegAdapter>;

impl Seg {
    /// A new boxed node with a fresh identity.
    pub fn boxed(prot: u8) -> Box<Seg> {
        LIVE.with(|l| l.set(l.get() + 1));
        Box::new(Seg {
            link: RangeLink::new(),
            id: fresh_id(),
            prot: Cell::new(prot),
        })
    }
}

impl Drop for Seg {
    fn drop(&mut self) {
        LIVE.with(|l| l.set(l.get() - 1));
    }
}

impl fmt::Debug for Seg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} prot {}", self.id, self.prot.get())
    }
}

impl Segment for Seg {
    type Args = Log;
    type Flags = u8;
    type Node = Box<Seg>;

    fn remove(&self, log: &mut Log) {
        let r = self.link.range();
        log.events.push(Event::Remove {
            id: self.id,
            start: r.start,
            end: r.end,
        });
        log.maybe_crash(Crash::Remove);
    }

    fn shrink(&self, start: usize, end: usize, log: &mut Log) {
        let r = self.link.range();
        log.events.push(Event::Shrink {
            id: self.id,
            from: (r.start, r.end),
            to: (start, end),
        });
        log.maybe_crash(Crash::Shrink);
    }

    fn split(&self, _pos: usize, _log: &mut Log) -> Box<Seg> {
        unreachable!("the map calls try_split")
    }

    fn try_split(&self, pos: usize, log: &mut Log) -> Result<Box<Seg>, AllocError> {
        if std::mem::take(&mut log.fail_next_split) {
            return Err(AllocError);
        }
        log.maybe_crash(Crash::Split);
        let right = Seg::boxed(self.prot.get());
        let r = self.link.range();
        log.events.push(Event::Split {
            id: self.id,
            start: r.start,
            end: r.end,
            pos,
            new_id: right.id,
        });
        Ok(right)
    }

    fn modify(&self, prot: u8, log: &mut Log) {
        let r = self.link.range();
        log.events.push(Event::Modify {
            id: self.id,
            start: r.start,
            end: r.end,
            prot,
        });
        self.prot.set(prot);
        log.maybe_crash(Crash::Modify);
    }

    fn release(node: Box<Seg>, log: &mut Log) {
        // The node drops either way, also while a crash unwinds.
        let _node = node;
        log.maybe_crash(Crash::Release);
    }

    fn try_merge(&self, next: &Seg, log: &mut Log) -> bool {
        log.maybe_crash(Crash::Merge);
        let yes = log.merge && self.prot.get() == next.prot.get();
        if yes {
            log.events.push(Event::Merge {
                id: self.id,
                next: next.id,
            });
        }
        yes
    }
}

/// A segment of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelSeg {
    pub start: usize,
    pub end: usize,
    pub id: u32,
    pub prot: u8,
}

/// The obviously-correct model: a sorted `Vec`, scanned linearly.
#[derive(Clone)]
pub struct Model {
    pub segs: Vec<ModelSeg>,
    pub window: Window,
    pub merge: bool,
    pub next_id: u32,
    pub events: Vec<Event>,
}

impl Model {
    pub fn new(window: Window, merge: bool) -> Self {
        Model {
            segs: Vec::new(),
            window,
            merge,
            next_id: 0,
            events: Vec::new(),
        }
    }

    fn id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id - 1
    }

    fn index_containing(&self, addr: usize) -> Option<usize> {
        self.segs
            .iter()
            .position(|s| s.start <= addr && addr < s.end)
    }

    pub fn find(&self, addr: usize) -> Option<ModelSeg> {
        self.index_containing(addr).map(|i| self.segs[i])
    }

    fn split(&mut self, i: usize, pos: usize) {
        let s = self.segs[i];
        let new_id = self.id();
        self.events.push(Event::Split {
            id: s.id,
            start: s.start,
            end: s.end,
            pos,
            new_id,
        });
        self.segs[i].end = pos;
        self.segs.insert(
            i + 1,
            ModelSeg {
                start: pos,
                end: s.end,
                id: new_id,
                prot: s.prot,
            },
        );
    }

    /// The one split an unmap of `[start, end)` needs: a segment strictly
    /// containing the range is cut at `end`.
    fn split_for_unmap(&mut self, start: usize, end: usize) {
        if let Some(i) = self.index_containing(start) {
            if self.segs[i].start < start && self.segs[i].end > end {
                self.split(i, end);
            }
        }
    }

    fn coverage(&self, start: usize, end: usize) -> (usize, usize) {
        let mut segments = 0;
        let mut mapped = 0;
        for s in self.segs.iter().filter(|s| s.start < end && s.end > start) {
            segments += 1;
            mapped += s.end.min(end) - s.start.max(start);
        }
        (segments, mapped)
    }

    pub fn unmap(&mut self, start: usize, end: usize) -> MapResult<(usize, usize)> {
        self.window.check(start, end)?;
        self.split_for_unmap(start, end);
        Ok(self.unmap_split(start, end))
    }

    /// Unmaps `[start, end)` once no segment strictly contains it; returns
    /// `(segments, mapped bytes)`.
    fn unmap_split(&mut self, start: usize, end: usize) -> (usize, usize) {
        let coverage = self.coverage(start, end);
        let mut i = 0;
        while i < self.segs.len() {
            let s = self.segs[i];
            if s.end <= start || s.start >= end {
                i += 1;
            } else if s.start < start {
                self.events.push(Event::Shrink {
                    id: s.id,
                    from: (s.start, s.end),
                    to: (s.start, start),
                });
                self.segs[i].end = start;
                i += 1;
            } else if s.end > end {
                self.events.push(Event::Shrink {
                    id: s.id,
                    from: (s.start, s.end),
                    to: (end, s.end),
                });
                self.segs[i].start = end;
                i += 1;
            } else {
                self.events.push(Event::Remove {
                    id: s.id,
                    start: s.start,
                    end: s.end,
                });
                self.segs.remove(i);
            }
        }
        coverage
    }

    /// Merges segment `i` into `i - 1` when the policy allows; returns the
    /// index now covering segment `i`'s range.
    fn merge_prev(&mut self, i: usize) -> usize {
        if i == 0 {
            return i;
        }
        let (p, s) = (self.segs[i - 1], self.segs[i]);
        if self.merge && p.end == s.start && p.prot == s.prot {
            self.events.push(Event::Merge {
                id: p.id,
                next: s.id,
            });
            self.segs[i - 1].end = s.end;
            self.segs.remove(i);
            i - 1
        } else {
            i
        }
    }

    pub fn mprotect(&mut self, start: usize, end: usize, prot: u8) -> MapResult<(usize, usize)> {
        self.window.check(start, end)?;
        if let Some(i) = self
            .index_containing(start)
            .filter(|&i| self.segs[i].start < start)
        {
            self.split(i, start);
        }
        if let Some(i) = self
            .index_containing(end - 1)
            .filter(|&i| self.segs[i].end > end)
        {
            self.split(i, end);
        }
        let coverage = self.coverage(start, end);
        let mut i = self.segs.partition_point(|s| s.end <= start);
        let mut last = None;
        while i < self.segs.len() && self.segs[i].start < end {
            let s = self.segs[i];
            self.events.push(Event::Modify {
                id: s.id,
                start: s.start,
                end: s.end,
                prot,
            });
            self.segs[i].prot = prot;
            i = self.merge_prev(i);
            last = Some(i);
            i += 1;
        }
        if let Some(l) = last.filter(|&l| l + 1 < self.segs.len()) {
            self.merge_prev(l + 1);
        }
        Ok(coverage)
    }

    fn insert(&mut self, start: usize, end: usize, id: u32, prot: u8) -> ModelSeg {
        let i = self.segs.partition_point(|s| s.start < start);
        self.segs.insert(
            i,
            ModelSeg {
                start,
                end,
                id,
                prot,
            },
        );
        let i = self.merge_prev(i);
        if i + 1 < self.segs.len() {
            self.merge_prev(i + 1);
        }
        self.segs[i]
    }

    pub fn mmap_fixed(&mut self, start: usize, end: usize, prot: u8) -> MapResult<ModelSeg> {
        self.window.check(start, end)?;
        self.split_for_unmap(start, end);
        let id = self.id();
        self.unmap_split(start, end);
        Ok(self.insert(start, end, id, prot))
    }

    pub fn mmap_fixed_noreplace(
        &mut self,
        start: usize,
        end: usize,
        prot: u8,
    ) -> MapResult<ModelSeg> {
        self.window.check(start, end)?;
        if self.segs.iter().any(|s| s.start < end && s.end > start) {
            return Err(MapError::Overlap { start, end });
        }
        let id = self.id();
        Ok(self.insert(start, end, id, prot))
    }

    /// Every hole, as `(start, end)` from 0 to `usize::MAX`.
    fn holes(&self) -> Vec<(usize, usize)> {
        let mut holes = Vec::new();
        let mut prev = 0;
        for s in &self.segs {
            holes.push((prev, s.start));
            prev = s.end;
        }
        holes.push((prev, usize::MAX));
        holes
    }

    pub fn find_free_area(&self, p: &PlacementSpec) -> MapResult<usize> {
        if p.len == 0 {
            return Err(MapError::ZeroLength);
        }
        if !p.align.is_power_of_two() {
            return Err(MapError::BadAlignment { align: p.align });
        }
        let (mut low, high) = (p.low.max(self.window.low()), p.high.min(self.window.high()));
        if low >= high {
            return Err(MapError::BadWindow { low, high });
        }
        match p.hint {
            Hint::None => {}
            Hint::AtOrAbove(h) => {
                low = low.max(h);
                if low >= high {
                    return Err(MapError::NoSpace { len: p.len });
                }
            }
            Hint::IfFree(h) => {
                if let Some(e) = h.checked_add(p.len) {
                    let free = !self.segs.iter().any(|s| s.start < e && s.end > h);
                    if h % p.align == 0 && h >= low && e <= high && free {
                        return Ok(h);
                    }
                }
            }
        }
        let no_space = MapError::NoSpace { len: p.len };
        let need = p.len.checked_add(p.align - 1).ok_or(no_space)?;
        let cut = |&(a, b): &(usize, usize)| {
            let (a, b) = (a.max(low), b.min(high));
            (b > a && b - a >= need).then_some((a, b))
        };
        let holes = self.holes();
        let mask = p.align - 1;
        match p.direction {
            Direction::BottomUp => holes.iter().find_map(cut).map(|(a, _)| (a + mask) & !mask),
            Direction::TopDown => holes
                .iter()
                .rev()
                .find_map(cut)
                .map(|(_, b)| (b - p.len) & !mask),
        }
        .ok_or(no_space)
    }

    pub fn mmap_placed(&mut self, p: &PlacementSpec, prot: u8) -> MapResult<usize> {
        let start = self.find_free_area(p)?;
        let id = self.id();
        self.insert(start, start + p.len, id, prot);
        Ok(start)
    }

    pub fn gaps(&self, start: usize, end: usize) -> Vec<(usize, usize)> {
        self.holes()
            .into_iter()
            .map(|(a, b)| (a.max(start), b.min(end)))
            .filter(|(a, b)| a < b)
            .collect()
    }
}

/// A `Placement` in plain fields, so the model can read it.
#[derive(Clone, Copy, Debug)]
pub struct PlacementSpec {
    pub len: usize,
    pub align: usize,
    pub low: usize,
    pub high: usize,
    pub direction: Direction,
    pub hint: Hint,
}

impl PlacementSpec {
    /// What `mmap_anywhere(hint, len, ..)` asks for (the seed's rule).
    pub fn anywhere(hint: usize, len: usize) -> Self {
        PlacementSpec {
            len,
            align: 1,
            low: 0,
            high: usize::MAX,
            direction: Direction::BottomUp,
            hint: Hint::AtOrAbove(hint),
        }
    }

    pub fn to_placement(self) -> Placement {
        Placement::new(self.len)
            .align(self.align)
            .window(self.low, self.high)
            .direction(self.direction)
            .hint(self.hint)
    }
}

/// One operation of a random sequence.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    Unmap(usize, usize),
    Mprotect(usize, usize, u8),
    MmapFixed(usize, usize, u8),
    MmapFixedNoReplace(usize, usize, u8),
    MmapAnywhere(usize, usize, u8),
    Placed(PlacementSpec, u8),
    Find(usize),
    Gaps(usize, usize),
    FailNextSplit,
    RemoveAt(usize),
    Clear,
}

/// The map and the model side by side.
pub struct Harness {
    pub map: Map,
    pub model: Model,
}

/// The model's state next to the map's, as comparable rows.
fn rows(map: &Map) -> Vec<ModelSeg> {
    map.iter()
        .map(|s| ModelSeg {
            start: s.link.start(),
            end: s.link.end(),
            id: s.id,
            prot: s.prot.get(),
        })
        .collect()
}

pub fn coverage_pair(c: Coverage) -> (usize, usize) {
    (c.segments(), c.mapped_len())
}

impl Harness {
    pub fn new(window: Window, merge: bool) -> Self {
        reset_ids();
        let log = Log {
            merge,
            ..Log::default()
        };
        Harness {
            map: Map::with_window(window, log),
            model: Model::new(window, merge),
        }
    }

    /// Runs `op` on both and asserts they agree in every respect.
    pub fn step(&mut self, op: Op) {
        let (map, model) = (&mut self.map, &mut self.model);
        match op {
            // A refused split is always the operation's first: the map must
            // then be exactly as before, which `check` below verifies
            // against the untouched model.
            Op::Unmap(s, e) => {
                let got = map.unmap(s, e).map(coverage_pair);
                if !matches!(got, Err(MapError::SplitFailed { .. })) {
                    assert_eq!(got, model.unmap(s, e), "{op:?}");
                }
            }
            Op::Mprotect(s, e, p) => {
                let got = map.mprotect(s, e, p).map(coverage_pair);
                if !matches!(got, Err(MapError::SplitFailed { .. })) {
                    assert_eq!(got, model.mprotect(s, e, p), "{op:?}");
                }
            }
            Op::MmapFixed(s, e, p) => {
                let got = map
                    .mmap_fixed(s, e, || Seg::boxed(p))
                    .map(|g| (g.id, g.link.range()));
                if !matches!(got, Err(MapError::SplitFailed { .. })) {
                    let want = model.mmap_fixed(s, e, p).map(|m| (m.id, m.start..m.end));
                    assert_eq!(got, want, "{op:?}");
                }
            }
            Op::MmapFixedNoReplace(s, e, p) => {
                let node = Seg::boxed(p);
                let got = map
                    .mmap_fixed_noreplace(s, e, node)
                    .map(|g| (g.id, g.link.range()));
                let got = got.map_err(|rejected| rejected.error);
                let want = model
                    .mmap_fixed_noreplace(s, e, p)
                    .map(|m| (m.id, m.start..m.end));
                if want.is_err() {
                    // The rejected node was handed back and dropped: its
                    // identity was consumed on the map side only.
                    model.next_id += 1;
                }
                assert_eq!(got, want, "{op:?}");
            }
            Op::MmapAnywhere(hint, len, p) => {
                let got = map.mmap_anywhere(hint, len, |_| Seg::boxed(p));
                assert_eq!(
                    got,
                    model.mmap_placed(&PlacementSpec::anywhere(hint, len), p),
                    "{op:?}"
                );
            }
            Op::Placed(spec, p) => {
                let placement = spec.to_placement();
                assert_eq!(
                    map.find_free_area(&placement),
                    model.find_free_area(&spec),
                    "{op:?}"
                );
                let got = map.mmap_placed(&placement, |_| Seg::boxed(p));
                assert_eq!(got, model.mmap_placed(&spec, p), "{op:?}");
            }
            Op::Find(addr) => {
                let got = map.find(addr).map(|s| s.id);
                assert_eq!(got, model.find(addr).map(|m| m.id), "{op:?}");
            }
            Op::Gaps(s, e) => match map.gaps(s, e) {
                Ok(gaps) => {
                    let got: Vec<_> = gaps.map(|g| (g.start, g.end)).collect();
                    assert_eq!(got, model.gaps(s, e), "{op:?}");
                }
                Err(err) => assert!(s >= e && err == MapError::EmptyRange { start: s, end: e }),
            },
            Op::FailNextSplit => map.args_mut().fail_next_split = true,
            Op::RemoveAt(addr) => {
                let start = model.find(addr).map(|m| m.start);
                let removed = start
                    .and_then(|s| map.cursor_mut_at(s))
                    .and_then(|mut c| c.remove_current())
                    .map(|node| node.id);
                let want = model
                    .index_containing(addr)
                    .map(|i| model.segs.remove(i).id);
                assert_eq!(removed, want, "{op:?}");
            }
            Op::Clear => {
                map.clear();
                let mut removed: Vec<_> = model
                    .segs
                    .drain(..)
                    .map(|s| Event::Remove {
                        id: s.id,
                        start: s.start,
                        end: s.end,
                    })
                    .collect();
                let at = model.events.len();
                let mut got = map.args().events[at..].to_vec();
                removed.sort();
                got.sort();
                assert_eq!(got, removed, "{op:?}");
                model.events.extend(removed);
                let events = &mut map.args_mut().events;
                events.truncate(at);
                events.extend(model.events[at..].iter().copied());
            }
        }
        self.check();
    }

    /// Map and model agree, and the map's invariants hold.
    /// Callbacks already compared are then dropped from both logs, so a
    /// step costs the same however long the run.
    pub fn check(&mut self) {
        self.map.assert_valid();
        assert_eq!(rows(&self.map), self.model.segs);
        assert_eq!(self.map.args().events, self.model.events);
        assert_eq!(self.map.len(), self.model.segs.len());
        self.map.args_mut().events.clear();
        self.model.events.clear();
    }

    /// Makes the model adopt the map's state, after a crash-test panic left
    /// the map somewhere the model cannot predict. Both sides skip one
    /// node identity (reading the next one uses it up).
    pub fn resync(&mut self) {
        self.model.segs = rows(&self.map);
        self.model.events.clone_from(&self.map.args().events);
        self.model.next_id = fresh_id() + 1;
    }
}
