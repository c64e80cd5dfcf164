//! Fuzz inputs: a plain byte reader that decodes any byte slice into a
//! scenario, and the runners the `cargo fuzz` targets (nightly) and the
//! corpus replay test (`tests/fuzz_corpus.rs`, stable) share.
//!
//! No `arbitrary` here on purpose: the decoder is a few lines of byte
//! reading, so stable tests replay the committed corpus byte for byte
//! without the fuzz crate's dependencies. Every byte slice decodes (a
//! reader past the end yields zeros), so libFuzzer never wastes an input.
//!
//! Layout of an input (all runners):
//!
//! ```text
//! byte 0        scenario flags: bit 0 high base (near usize::MAX), bit 1
//!               merge, bits 2-3 window, bit 4 byte grid (else pages)
//! [crash only]  byte 1 callback kind, byte 2 which call of it panics
//! rest          operations, 1 tag byte + its operands each, until the end
//! ```
#![allow(dead_code)] // each fuzz target uses one runner

use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use range_action_map::boxed;
use range_action_map::{Direction, Hint, Window};

use crate::common::{live_nodes, Crash, Harness, Map, Op, PlacementSpec, Seg};

const PAGE: usize = 0x1000;

/// Operations per scenario: enough for deep trees, small enough for a fast
/// fuzzer (the harness checks O(n) after every step).
pub const MAX_OPS: usize = 200;

/// Reads integers off a byte slice; past its end every read is zero.
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u64(&mut self) -> u64 {
        let mut bytes = [0; 8];
        for b in &mut bytes {
            *b = self.u8();
        }
        u64::from_le_bytes(bytes)
    }

    pub fn usize(&mut self) -> usize {
        // Truncation on 32-bit targets is fine: any value is a test value.
        self.u64() as usize
    }
}

/// Where a scenario's addresses live, and how they are spaced.
#[derive(Clone, Copy, Debug)]
pub struct Grid {
    /// Near `usize::MAX` rather than near 0.
    pub high: bool,
    /// Spacing of grid addresses: 1 byte or one page.
    pub unit: usize,
}

impl Grid {
    /// Address of grid point `k` of the wide grid (`k < 0x1000`). The high
    /// grid's last point is `unit` below `2^64`, so `end == usize::MAX` and
    /// overflow come from wild values.
    fn point(self, k: usize) -> usize {
        if self.high {
            (usize::MAX - 0x1000 * self.unit + 1) + k * self.unit
        } else {
            k * self.unit
        }
    }

    /// Point `k` of the dense 64-point grid where most addresses fall: the
    /// window's low edge (low base) or the top of the address space.
    fn dense(self, k: usize) -> usize {
        if self.high {
            self.point(0x1000 - 64 + k)
        } else {
            PAGE.saturating_sub(4 * self.unit) + k * self.unit
        }
    }
}

/// A decoded scenario for the intrusive map.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub window: Window,
    pub merge: bool,
    pub grid: Grid,
    pub ops: Vec<Op>,
}

/// Decodes addresses, lengths and operations on a grid.
pub struct Decoder<'a> {
    pub r: Reader<'a>,
    pub grid: Grid,
}

impl Decoder<'_> {
    /// A value no grid produces: the edges of the address space.
    fn wild(&mut self) -> usize {
        match self.r.u8() % 8 {
            0 => 0,
            1 => 1,
            2 => PAGE - 1,
            3 => usize::MAX,
            4 => usize::MAX - 1,
            5 => usize::MAX - PAGE + 1,
            6 => 1 << (usize::BITS - 1),
            _ => self.r.usize(),
        }
    }

    /// An address: mostly on the dense grid, sometimes on the wide one,
    /// sometimes wild.
    pub fn addr(&mut self) -> usize {
        let v = self.r.u16() as usize;
        match v >> 12 {
            0xF => self.wild(),
            0xE => self.grid.point(v & 0xFFF),
            _ => self.grid.dense(v % 64),
        }
    }

    /// A range: usually ordered and non-empty, sometimes as read (empty or
    /// reversed), sometimes `start + len` for a length that may overflow
    /// (saturated to `usize::MAX`: a range type cannot hold more).
    pub fn range(&mut self) -> (usize, usize) {
        let tag = self.r.u8();
        let a = self.addr();
        match tag % 16 {
            0 => (a, self.addr()),
            1 => (a, a.saturating_add(self.len())),
            _ => {
                let b = self.addr();
                let (lo, hi) = (a.min(b), a.max(b));
                (lo, hi.max(lo.saturating_add(1)))
            }
        }
    }

    /// A length: mostly a few grid units, sometimes wild (0, huge, or
    /// overflowing when added to a high address).
    pub fn len(&mut self) -> usize {
        let v = self.r.u8();
        match v % 16 {
            0 => self.wild(),
            1 => usize::MAX - self.grid.unit * (v as usize >> 4),
            _ => (v as usize >> 4) * self.grid.unit,
        }
    }

    /// An alignment: mostly a power-of-two multiple of the unit, sometimes
    /// 0, not a power of two, or huge.
    fn align(&mut self) -> usize {
        let v = self.r.u8();
        match v % 16 {
            0 => 0,
            1 => 3 * self.grid.unit,
            2 => 1 << (usize::BITS - 1),
            3 => self.wild(),
            _ => self.grid.unit << (v as usize >> 4 & 3),
        }
    }

    fn prot(&mut self) -> u8 {
        self.r.u8() % 4
    }

    /// One operation for the intrusive map.
    pub fn op(&mut self) -> Op {
        match self.r.u8() % 20 {
            0..=3 => {
                let (s, e) = self.range();
                Op::MmapFixed(s, e, self.prot())
            }
            4..=6 => {
                let (s, e) = self.range();
                Op::Unmap(s, e)
            }
            7..=9 => {
                let (s, e) = self.range();
                Op::Mprotect(s, e, self.prot())
            }
            10 => {
                let (s, e) = self.range();
                Op::MmapFixedNoReplace(s, e, self.prot())
            }
            11 | 12 => Op::MmapAnywhere(self.addr(), self.len(), self.prot()),
            13 | 14 => {
                let (low, high) = self.range();
                let hint = match self.r.u8() % 3 {
                    0 => Hint::None,
                    1 => Hint::AtOrAbove(self.addr()),
                    _ => Hint::IfFree(self.addr()),
                };
                let direction = if self.r.u8() & 1 == 0 {
                    Direction::BottomUp
                } else {
                    Direction::TopDown
                };
                let spec = PlacementSpec {
                    len: self.len(),
                    align: self.align(),
                    low,
                    high,
                    direction,
                    hint,
                };
                Op::Placed(spec, self.prot())
            }
            15 => Op::Find(self.addr()),
            16 => {
                let (s, e) = self.range();
                Op::Gaps(s, e)
            }
            17 => Op::FailNextSplit,
            18 => Op::RemoveAt(self.addr()),
            _ => Op::Clear,
        }
    }

    /// Operations until the input runs out (at most [`MAX_OPS`]).
    pub fn ops(&mut self) -> Vec<Op> {
        let mut ops = Vec::new();
        while !self.r.is_empty() && ops.len() < MAX_OPS {
            ops.push(self.op());
        }
        ops
    }
}

/// Reads the scenario flags byte: the grid, the merge flag and a window.
fn header(r: &mut Reader<'_>) -> (Grid, bool, Window) {
    let flags = r.u8();
    let grid = Grid {
        high: flags & 1 != 0,
        unit: if flags & 0x10 != 0 { 1 } else { PAGE },
    };
    let merge = flags & 2 != 0;
    // A window cutting through the dense grid, at either end.
    let tight = (grid.dense(2), grid.dense(60));
    let window = match flags >> 2 & 3 {
        1 => Window::new(0, usize::MAX),
        2 => Window::new(tight.0, tight.1),
        _ => Ok(Window::DEFAULT),
    };
    (grid, merge, window.unwrap_or(Window::DEFAULT))
}

impl Scenario {
    /// Decodes any byte slice.
    pub fn decode(data: &[u8]) -> Scenario {
        let mut r = Reader::new(data);
        let (grid, merge, window) = header(&mut r);
        let ops = Decoder { r, grid }.ops();
        Scenario {
            window,
            merge,
            grid,
            ops,
        }
    }
}

/// Differential run: every operation on the map and the sorted-`Vec` model,
/// segments, results and callback log compared and `assert_valid` after
/// each; at the end every node is dropped exactly once.
pub fn run_differential(data: &[u8]) {
    let scenario = Scenario::decode(data);
    let baseline = live_nodes();
    let mut h = Harness::new(scenario.window, scenario.merge);
    for op in scenario.ops {
        h.step(op);
    }
    assert_eq!(live_nodes() - baseline, h.map.len() as isize);
    drop(h);
    assert_eq!(live_nodes(), baseline, "a node leaked or was dropped twice");
}

// === crash-test runner ===

const CRASH_MESSAGE: &str = "crash-test segment";

/// Keeps crash-test panics quiet (and alive: libFuzzer's own hook aborts
/// on every panic, caught or not); any other panic goes to the previous
/// hook, so a real failure still aborts the fuzzer.
fn install_crash_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied());
            if !msg.is_some_and(|m| m.starts_with(CRASH_MESSAGE)) {
                previous(info);
            }
        }));
    });
}

/// Runs one operation on the map alone, ignoring its result: after a
/// crash the model no longer knows the map's state.
fn apply_to_map(map: &mut Map, op: Op) {
    match op {
        Op::Unmap(s, e) => drop(map.unmap(s, e)),
        Op::Mprotect(s, e, p) => drop(map.mprotect(s, e, p)),
        Op::MmapFixed(s, e, p) => drop(map.mmap_fixed(s, e, || Seg::boxed(p)).map(|_| ())),
        Op::MmapFixedNoReplace(s, e, p) => {
            drop(map.mmap_fixed_noreplace(s, e, Seg::boxed(p)).map(|_| ()))
        }
        Op::MmapAnywhere(hint, len, p) => drop(map.mmap_anywhere(hint, len, |_| Seg::boxed(p))),
        Op::Placed(spec, p) => drop(map.mmap_placed(&spec.to_placement(), |_| Seg::boxed(p))),
        Op::Find(addr) => drop(map.find(addr)),
        Op::Gaps(s, e) => drop(map.gaps(s, e).map(Iterator::count)),
        Op::FailNextSplit => map.args_mut().fail_next_split = true,
        Op::RemoveAt(addr) => {
            let start = map.find(addr).map(|s| s.link.start());
            drop(start.and_then(|s| map.cursor_mut_at(s)?.remove_current()));
        }
        Op::Clear => map.clear(),
    }
}

/// Crash run: byte 1 picks the callback kind and byte 2 which call of it
/// panics. Until the panic the run is differential; the panic must come
/// from the crash-test segment, after which the map must be valid and
/// every node accounted for (in the map, or dropped exactly once). The
/// rest of the operations then run on the map alone, validated after
/// each, and dropping the map must bring the node count back.
pub fn run_crash(data: &[u8]) {
    install_crash_hook();
    let mut r = Reader::new(data);
    let (grid, merge, window) = header(&mut r);
    let kind = [
        Crash::Remove,
        Crash::Shrink,
        Crash::Split,
        Crash::Modify,
        Crash::Merge,
    ][usize::from(r.u8() % 5)];
    let n = usize::from(r.u8() % 32);
    let ops = Decoder { r, grid }.ops();

    let baseline = live_nodes();
    let mut h = Harness::new(window, merge);
    h.map.args_mut().crash = Some((kind, n));
    let mut ops = ops.into_iter();
    for op in ops.by_ref() {
        match catch_unwind(AssertUnwindSafe(|| h.step(op))) {
            Ok(()) => {}
            Err(payload) => {
                let crashed = h.map.args().crash.is_none()
                    && (payload.downcast_ref::<String>())
                        .is_some_and(|m| m.starts_with(CRASH_MESSAGE));
                if !crashed {
                    panic::resume_unwind(payload);
                }
                break;
            }
        }
    }
    let mut map = h.map;
    map.assert_valid();
    assert_eq!(
        live_nodes() - baseline,
        map.len() as isize,
        "every live node is in the map after the panic"
    );
    // The map keeps working.
    for op in ops {
        apply_to_map(&mut map, op);
        map.assert_valid();
        assert_eq!(live_nodes() - baseline, map.len() as isize);
    }
    drop(map);
    assert_eq!(live_nodes(), baseline, "a node leaked or was dropped twice");
}

// === seed-style (boxed) map runner ===

thread_local! {
    /// Boxed values alive, and bytes handed to `remove`.
    static BOXED: std::cell::Cell<(isize, usize)> = const { std::cell::Cell::new((0, 0)) };
}

fn boxed_counters() -> (isize, usize) {
    BOXED.with(std::cell::Cell::get)
}

/// A seed-style value segment that tracks its own range, as the seed's
/// users do, and counts itself alive and its removed bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Val {
    pub start: usize,
    pub end: usize,
    pub flags: usize,
}

impl Val {
    fn new(start: usize, end: usize, flags: usize) -> Val {
        BOXED.with(|c| {
            let (live, removed) = c.get();
            c.set((live + 1, removed));
        });
        Val { start, end, flags }
    }
}

impl Drop for Val {
    fn drop(&mut self) {
        BOXED.with(|c| {
            let (live, removed) = c.get();
            c.set((live - 1, removed));
        });
    }
}

impl boxed::Segment for Val {
    fn remove(&mut self, _args: boxed::ArgsType) {
        let len = self.end - self.start;
        BOXED.with(|c| {
            let (live, removed) = c.get();
            c.set((live, removed.wrapping_add(len)));
        });
    }

    fn split(&mut self, pos: usize, _args: boxed::ArgsType) -> Self {
        assert!(
            self.start < pos && pos < self.end,
            "split of {self:?} at {pos:#x} outside it"
        );
        let right = Val::new(pos, self.end, self.flags);
        self.end = pos;
        right
    }

    fn modify(&mut self, flags: boxed::IdentType, _args: boxed::ArgsType) {
        self.flags = flags;
    }
}

/// The boxed map's model: sorted `(start, end, flags)` and removed bytes.
#[derive(Default)]
struct RangesModel {
    segs: Vec<(usize, usize, usize)>,
    removed: usize,
}

impl RangesModel {
    // `UPPER_LIMIT` is `usize::MAX` today; the check stays in case it moves.
    #[allow(clippy::absurd_extreme_comparisons)]
    fn accepts(start: usize, end: usize) -> bool {
        start < end && start >= boxed::LOWER_LIMIT && end <= boxed::UPPER_LIMIT
    }

    /// Cuts `[start, end)` out; pieces outside keep their flags.
    fn unmap(&mut self, start: usize, end: usize) {
        if !Self::accepts(start, end) {
            return;
        }
        let mut out = Vec::new();
        for &(s, e, f) in &self.segs {
            if e <= start || s >= end {
                out.push((s, e, f));
                continue;
            }
            self.removed = self.removed.wrapping_add(e.min(end) - s.max(start));
            if s < start {
                out.push((s, start, f));
            }
            if e > end {
                out.push((end, e, f));
            }
        }
        self.segs = out;
    }

    fn mprotect(&mut self, start: usize, end: usize, flags: usize) {
        if !Self::accepts(start, end) {
            return;
        }
        let mut out = Vec::new();
        for &(s, e, f) in &self.segs {
            if e <= start || s >= end {
                out.push((s, e, f));
                continue;
            }
            let (a, b) = (s.max(start), e.min(end));
            if s < a {
                out.push((s, a, f));
            }
            out.push((a, b, flags));
            if b < e {
                out.push((b, e, f));
            }
        }
        self.segs = out;
    }

    fn insert(&mut self, start: usize, end: usize, flags: usize) {
        let i = self.segs.partition_point(|&(s, _, _)| s < start);
        self.segs.insert(i, (start, end, flags));
    }

    fn mmap_fixed(&mut self, start: usize, end: usize, flags: usize) -> Option<usize> {
        if !Self::accepts(start, end) {
            return None;
        }
        self.unmap(start, end);
        self.insert(start, end, flags);
        Some(start)
    }

    /// The lowest start at or above `hint` (and the lower limit) of a free
    /// `len`-byte range ending at most at the upper limit.
    fn find_free_area(&self, hint: usize, len: usize) -> Option<usize> {
        if len == 0 {
            return None;
        }
        let floor = hint.max(boxed::LOWER_LIMIT);
        let mut hole_start = 0;
        let ends = self.segs.iter().map(|&(s, e, _)| (s, e));
        for (hole_end, next) in ends.chain([(boxed::UPPER_LIMIT, boxed::UPPER_LIMIT)]) {
            let a = hole_start.max(floor);
            if a.checked_add(len).is_some_and(|e| e <= hole_end) {
                return Some(a);
            }
            hole_start = next;
        }
        None
    }

    fn find(&self, addr: usize) -> Option<(usize, usize, usize)> {
        self.segs
            .iter()
            .copied()
            .find(|&(s, e, _)| s <= addr && addr < e)
    }
}

/// Seed-style run: the boxed value map against a model of ranges. After
/// each operation the map's `ranges()` (and each value's own idea of its
/// range) equal the model's, the intrusive map underneath is valid, every
/// value alive is in the map and `remove` saw exactly the unmapped bytes.
pub fn run_boxed(data: &[u8]) {
    let mut r = Reader::new(data);
    let (grid, _, _) = header(&mut r);
    let mut d = Decoder { r, grid };
    let (live0, removed0) = boxed_counters();
    let mut map = boxed::RangeActionMap::<Val>::new(0);
    let mut model = RangesModel::default();
    let mut steps = 0;
    while !d.r.is_empty() && steps < MAX_OPS {
        steps += 1;
        let flags = usize::from(d.r.u8() % 4);
        match d.r.u8() % 8 {
            0 | 1 => {
                let (s, e) = d.range();
                let got = map.mmap_fixed(s, e, || Val::new(s, e, flags));
                assert_eq!(
                    got,
                    model.mmap_fixed(s, e, flags),
                    "mmap_fixed {s:#x}..{e:#x}"
                );
            }
            2 | 3 => {
                let (s, e) = d.range();
                map.unmap(s, e);
                model.unmap(s, e);
            }
            4 | 5 => {
                let (s, e) = d.range();
                map.mprotect(s, e, flags);
                model.mprotect(s, e, flags);
            }
            6 => {
                let (hint, len) = (d.addr(), d.len());
                let want = model.find_free_area(hint, len);
                assert_eq!(map.find_free_area(hint, len), want, "{hint:#x} {len:#x}");
                let got = map.mmap_anywhere(hint, len, |s| Val::new(s, s + len, flags));
                assert_eq!(got, want, "mmap_anywhere {hint:#x} {len:#x}");
                if let Some(s) = want {
                    model.insert(s, s + len, flags);
                }
            }
            _ => {
                let addr = d.addr();
                let got = map.find(addr).map(|v| (v.start, v.end, v.flags));
                assert_eq!(got, model.find(addr), "find {addr:#x}");
            }
        }
        map.as_intrusive().assert_valid();
        let got: Vec<_> = map
            .ranges()
            .map(|(r, v)| {
                assert_eq!((v.start, v.end), (r.start, r.end), "value tracks its range");
                (r.start, r.end, v.flags)
            })
            .collect();
        assert_eq!(got, model.segs);
        assert_eq!(map.len(), model.segs.len());
        let (live, removed) = boxed_counters();
        assert_eq!(
            live - live0,
            map.len() as isize,
            "values alive are in the map"
        );
        assert_eq!(
            removed.wrapping_sub(removed0),
            model.removed,
            "bytes handed to remove"
        );
    }
    drop(map);
    assert_eq!(
        boxed_counters().0,
        live0,
        "a value leaked or was dropped twice"
    );
}
