//! Fuzz inputs: a plain byte reader that decodes any byte slice into a
//! scenario, and the runners the `cargo fuzz` targets (nightly) and the
//! corpus replay test (`tests/fuzz_corpus.rs`, stable) share.
//!
//! Inputs are decoded structure-aware: integers come off the input through
//! `arbitrary`'s `Unstructured` (little-endian, zeros once the input runs
//! out, so every byte slice decodes and libFuzzer never wastes an input),
//! and the decoders below turn them into addresses on a grid, edge values
//! and operations, weighted towards what finds bugs. Stable tests replay the
//! committed corpus byte for byte through the same code.
//!
//! Layout of an input (all runners):
//!
//! ```text
//! byte 0        scenario flags: bit 0 high base (near usize::MAX), bit 1
//!               merge, bits 2-3 window, bit 4 byte grid (else pages)
//! [crash only]  byte 1 callback kind, byte 2 which call of it panics
//! rest          operations, 1 tag byte + its operands each, until the end
//! ```
use std::any::Any;
use std::cell::Cell;
use std::iter;
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use arbitrary::{Arbitrary, Unstructured};
use range_action_map::boxed;
use range_action_map::{Direction, Hint, Window};

use crate::harness::Harness;
use crate::logging::{live_nodes, Crash, Event, CRASH_MESSAGE};
use crate::model::{Model, PlacementSpec};
use crate::op::Op;

const PAGE: usize = 0x1000;

/// Operations per scenario: enough for deep trees, small enough for a fast
/// fuzzer (the harness checks O(n) after every step).
pub const MAX_OPS: usize = 200;

/// Reads integers off a byte slice with `arbitrary`; past its end every
/// read is zero.
pub struct Reader<'a> {
    u: Unstructured<'a>,
}

impl<'a> Reader<'a> {
    /// A reader of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader {
            u: Unstructured::new(data),
        }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.u.is_empty()
    }

    fn int<T: Arbitrary<'a>>(&mut self) -> T {
        T::arbitrary(&mut self.u).expect("integers decode from any bytes")
    }

    /// The next byte.
    pub fn u8(&mut self) -> u8 {
        self.int()
    }

    /// The next two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        self.int()
    }

    /// The next eight bytes, little-endian.
    pub fn usize(&mut self) -> usize {
        // The same 8 bytes on every target; truncation on 32-bit targets is
        // fine: any value is a test value.
        self.int::<u64>() as usize
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

/// Decodes addresses, lengths and operations on a grid.
pub struct Decoder<'a> {
    r: Reader<'a>,
    grid: Grid,
}

impl<'a> Decoder<'a> {
    /// Reads the scenario flags byte (see the module doc): the merge flag,
    /// the window, and a decoder over the rest on the chosen grid.
    pub fn new(data: &'a [u8]) -> (Self, bool, Window) {
        let mut r = Reader::new(data);
        let flags = r.u8();
        let grid = Grid {
            high: flags & 1 != 0,
            unit: if flags & 0x10 != 0 { 1 } else { PAGE },
        };
        let merge = flags & 2 != 0;
        // A window cutting through the dense grid, at either end.
        let window = match flags >> 2 & 3 {
            1 => Window::new(0, usize::MAX),
            2 => Window::new(grid.dense(2), grid.dense(60)),
            _ => Ok(Window::DEFAULT),
        };
        (
            Decoder { r, grid },
            merge,
            window.unwrap_or(Window::DEFAULT),
        )
    }

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
    fn addr(&mut self) -> usize {
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
    fn range(&mut self) -> (usize, usize) {
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
    fn len(&mut self) -> usize {
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

    /// One operation for the seed-style map, whose verbs are a subset:
    /// `mmap_fixed`, `unmap`, `mprotect`, `mmap_anywhere` and `find`.
    pub fn seed_op(&mut self) -> Op {
        let prot = self.prot();
        match self.r.u8() % 8 {
            0 | 1 => {
                let (s, e) = self.range();
                Op::MmapFixed(s, e, prot)
            }
            2 | 3 => {
                let (s, e) = self.range();
                Op::Unmap(s, e)
            }
            4 | 5 => {
                let (s, e) = self.range();
                Op::Mprotect(s, e, prot)
            }
            6 => Op::MmapAnywhere(self.addr(), self.len(), prot),
            _ => Op::Find(self.addr()),
        }
    }

    /// Operations decoded by `op` until the input runs out (at most
    /// [`MAX_OPS`]).
    pub fn ops(mut self, op: fn(&mut Self) -> Op) -> impl Iterator<Item = Op> + 'a {
        iter::from_fn(move || (!self.r.is_empty()).then(|| op(&mut self))).take(MAX_OPS)
    }
}

/// Differential run: every operation on the map and the sorted-`Vec` model,
/// segments, results and callback log compared and `assert_valid` after
/// each; at the end every node is dropped exactly once.
pub fn run_differential(data: &[u8]) {
    let (d, merge, window) = Decoder::new(data);
    let baseline = live_nodes();
    let mut h = Harness::new(window, merge);
    for op in d.ops(Decoder::op) {
        h.step(op);
    }
    assert_eq!(live_nodes() - baseline, h.map.len() as isize);
    drop(h);
    assert_eq!(live_nodes(), baseline, "a node leaked or was dropped twice");
}

// === crash-test runner ===

/// Whether a panic payload is the crash-test segment's.
fn is_crash_test(payload: &(dyn Any + Send)) -> bool {
    let msg = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied());
    msg.is_some_and(|m| m.starts_with(CRASH_MESSAGE))
}

/// Keeps crash-test panics quiet (and alive: libFuzzer's own hook aborts
/// on every panic, caught or not); any other panic goes to the previous
/// hook, so a real failure still aborts the fuzzer.
fn install_crash_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !is_crash_test(info.payload()) {
                previous(info);
            }
        }));
    });
}

/// Crash run: byte 1 picks the callback kind and byte 2 which call of it
/// panics. Until the panic the run is differential; the panic must come
/// from the crash-test segment, after which the map must be valid and
/// every node accounted for (in the map, or dropped exactly once). The
/// model then adopts the map's state and the rest of the operations run
/// differentially, and dropping the map must bring the node count back.
pub fn run_crash(data: &[u8]) {
    install_crash_hook();
    let (mut d, merge, window) = Decoder::new(data);
    let kind = [
        Crash::Remove,
        Crash::Shrink,
        Crash::Split,
        Crash::Modify,
        Crash::Merge,
    ][usize::from(d.r.u8() % 5)];
    let n = usize::from(d.r.u8() % 32);

    let baseline = live_nodes();
    let mut h = Harness::new(window, merge);
    h.map.args_mut().crash = Some((kind, n));
    let mut ops = d.ops(Decoder::op);
    for op in ops.by_ref() {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| h.step(op))) {
            if !(h.map.args().crash.is_none() && is_crash_test(&*payload)) {
                panic::resume_unwind(payload);
            }
            h.map.assert_valid();
            h.resync();
            break;
        }
    }
    assert_eq!(
        live_nodes() - baseline,
        h.map.len() as isize,
        "every live node is in the map after the panic"
    );
    // The map keeps working.
    for op in ops {
        h.step(op);
        assert_eq!(live_nodes() - baseline, h.map.len() as isize);
    }
    drop(h);
    assert_eq!(live_nodes(), baseline, "a node leaked or was dropped twice");
}

// === seed-style (boxed) map runner ===

thread_local! {
    /// Boxed values alive, and bytes handed to `remove`.
    static BOXED: Cell<(isize, usize)> = const { Cell::new((0, 0)) };
}

fn boxed_counters() -> (isize, usize) {
    BOXED.with(Cell::get)
}

/// A seed-style value segment that tracks its own range, as the seed's
/// users do, and counts itself alive and its removed bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Val {
    /// Its start, as the value believes it.
    pub start: usize,
    /// Its end, likewise.
    pub end: usize,
    /// Its flags, which `modify` sets.
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

/// Bytes an event of the model takes out of the map.
fn removed_bytes(event: Event) -> usize {
    match event {
        Event::Remove { start, end, .. } => end - start,
        Event::Shrink { from, to, .. } => (from.1 - from.0) - (to.1 - to.0),
        _ => 0,
    }
}

/// Seed-style run: the boxed value map against the model (no merging, the
/// seed's limits as its window). After each operation the map's `ranges()`
/// (and each value's own idea of its range) equal the model's, the
/// intrusive map underneath is valid, every value alive is in the map and
/// `remove` saw exactly the bytes the model's log unmapped.
pub fn run_boxed(data: &[u8]) {
    let (d, _, _) = Decoder::new(data);
    let (live0, removed0) = boxed_counters();
    let mut map = boxed::RangeActionMap::<Val>::new(0);
    let limits = Window::new(boxed::LOWER_LIMIT, boxed::UPPER_LIMIT);
    let mut model = Model::new(limits.expect("the seed's limits"), false);
    let mut removed = 0usize;
    for op in d.ops(Decoder::seed_op) {
        match op {
            Op::MmapFixed(s, e, p) => {
                let got = map.mmap_fixed(s, e, || Val::new(s, e, p.into()));
                let want = model.mmap_fixed(s, e, p).ok().map(|m| m.start);
                assert_eq!(got, want, "{op:?}");
            }
            Op::Unmap(s, e) => {
                map.unmap(s, e);
                let _refused_is_a_no_op = model.unmap(s, e);
            }
            Op::Mprotect(s, e, p) => {
                map.mprotect(s, e, p.into());
                let _refused_is_a_no_op = model.mprotect(s, e, p);
            }
            Op::MmapAnywhere(hint, len, p) => {
                let want = model
                    .mmap_placed(&PlacementSpec::anywhere(hint, len), p)
                    .ok();
                assert_eq!(map.find_free_area(hint, len), want, "{op:?}");
                let got = map.mmap_anywhere(hint, len, |s| Val::new(s, s + len, p.into()));
                assert_eq!(got, want, "{op:?}");
            }
            Op::Find(addr) => {
                let got = map.find(addr).map(|v| (v.start, v.end, v.flags));
                let want = model.find(addr).map(|m| (m.start, m.end, m.prot.into()));
                assert_eq!(got, want, "{op:?}");
            }
            other => unreachable!("not a seed verb: {other:?}"),
        }
        map.as_intrusive().assert_valid();
        let got: Vec<_> = map
            .ranges()
            .map(|(r, v)| {
                assert_eq!((v.start, v.end), (r.start, r.end), "value tracks its range");
                (r.start, r.end, v.flags)
            })
            .collect();
        let want: Vec<_> = (model.segs.iter())
            .map(|m| (m.start, m.end, usize::from(m.prot)))
            .collect();
        assert_eq!(got, want);
        assert_eq!(map.len(), model.segs.len());
        let (live, removed_now) = boxed_counters();
        assert_eq!(
            live - live0,
            map.len() as isize,
            "values alive are in the map"
        );
        // Only the removed bytes are wanted from the log: drain it.
        for event in model.events.drain(..) {
            removed = removed.wrapping_add(removed_bytes(event));
        }
        assert_eq!(
            removed_now.wrapping_sub(removed0),
            removed,
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
