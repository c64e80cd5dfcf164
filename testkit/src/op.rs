//! The operations of a random sequence, and the one generator that makes
//! them for the model tests, the fuzz targets and the benches.
//!
//! The generator is a decoder: any byte string is a [`Scenario`] (through
//! [`arbitrary::Arbitrary`], which is what `cargo fuzz` feeds its targets),
//! and the model tests and the benches draw seeded random bytes
//! ([`Rng::bytes`](crate::Rng::bytes)) and decode them the same way.
//! Integers come off the input through `arbitrary`'s `Unstructured`
//! (little-endian, zeros once the input runs out, so every byte string
//! decodes and libFuzzer never wastes an input), and the decoder turns them
//! into addresses on a grid, edge values and operations, weighted towards
//! what finds bugs. The committed fuzz corpus replays byte for byte through
//! it on stable (`tests/fuzz_corpus.rs`).
//!
//! Layout of an input:
//!
//! ```text
//! byte 0        scenario flags: bit 0 high base (near usize::MAX), bit 1
//!               merge, bits 2-3 window, bit 4 byte grid (else pages)
//! [crash only]  byte 1 callback kind, byte 2 which call of it panics
//! rest          operations, 1 tag byte + its operands each, until the end
//! ```
//!
//! ```
//! use range_action_map_testkit::op::{decode, Op, Scenario};
//!
//! // Flags 0: the low page grid, no merging, the default window. Tag 0:
//! // `mmap_fixed` of a range (range tag 2: two addresses, little-endian
//! // `u16`s 5 and 9, pages of the dense grid), protection 1.
//! let scenario: Scenario = decode(&[0, 0, 2, 5, 0, 9, 0, 1]);
//! assert_eq!(scenario.ops.len(), 1);
//! assert!(matches!(scenario.ops[0], Op::MmapFixed(0x5000, 0x9000, 1)));
//! ```

use std::iter;

use arbitrary::{Arbitrary, Unstructured};
use range_action_map::{Direction, Hint, Window};

use crate::logging::Crash;
use crate::model::PlacementSpec;

const PAGE: usize = 0x1000;

/// Operations per scenario: enough for deep trees, small enough for a fast
/// fuzzer (the harness checks O(n) after every step).
pub const MAX_OPS: usize = 200;

/// One operation of a random sequence.
#[derive(Clone, Copy, Debug)]
///
/// Ranges are `(start, end)` and protections a `u8`, as the test kit's
/// [`Seg`](crate::logging::Seg) keeps them; any values at all, since
/// refusing bad ones is part of what is tested.
pub enum Op {
    /// `unmap(start, end)`.
    Unmap(usize, usize),
    /// `mprotect(start, end, prot)`.
    Mprotect(usize, usize, u8),
    /// `mmap_fixed(start, end, ..)` of a new segment with protection `prot`.
    MmapFixed(usize, usize, u8),
    /// `mmap_fixed_noreplace(start, end, ..)`, likewise.
    MmapFixedNoReplace(usize, usize, u8),
    /// `mmap_anywhere(hint, len, ..)`, likewise.
    MmapAnywhere(usize, usize, u8),
    /// `find_free_area` and `mmap_placed` with this placement, likewise.
    Placed(PlacementSpec, u8),
    /// `find(addr)`.
    Find(usize),
    /// `gaps(start, end)`.
    Gaps(usize, usize),
    /// Makes the next `try_split` fail.
    FailNextSplit,
    /// `remove_current` on a cursor at the segment holding `addr`.
    RemoveAt(usize),
    /// `clear()`.
    Clear,
}

// === decoding ===

/// Reads integers off the input with `arbitrary`; past its end every read
/// is zero.
pub(crate) struct Reader<'u, 'a>(pub(crate) &'u mut Unstructured<'a>);

impl<'a> Reader<'_, 'a> {
    /// Whether every byte was read.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn int<T: Arbitrary<'a> + Default>(&mut self) -> T {
        // Integers decode from any bytes, none included.
        T::arbitrary(self.0).unwrap_or_default()
    }

    /// The next byte.
    pub(crate) fn u8(&mut self) -> u8 {
        self.int()
    }

    /// The next two bytes, little-endian.
    pub(crate) fn u16(&mut self) -> u16 {
        self.int()
    }

    /// The next eight bytes, little-endian.
    pub(crate) fn usize(&mut self) -> usize {
        // The same 8 bytes on every target; truncation on 32-bit targets is
        // fine: any value is a test value.
        self.int::<u64>() as usize
    }
}

/// Where a scenario's addresses live, and how they are spaced.
#[derive(Clone, Copy, Debug)]
struct Grid {
    /// Near `usize::MAX` rather than near 0.
    high: bool,
    /// Spacing of grid addresses: 1 byte or one page.
    unit: usize,
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
struct Decoder<'u, 'a> {
    r: Reader<'u, 'a>,
    grid: Grid,
}

impl<'u, 'a> Decoder<'u, 'a> {
    /// Reads the scenario flags byte (see the module doc): the merge flag,
    /// the window, and a decoder over the rest on the chosen grid.
    fn new(u: &'u mut Unstructured<'a>) -> (Self, bool, Window) {
        let mut r = Reader(u);
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
    fn op(&mut self) -> Op {
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
    fn seed_op(&mut self) -> Op {
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
    fn ops(mut self, op: fn(&mut Self) -> Op) -> Vec<Op> {
        iter::from_fn(|| (!self.r.is_empty()).then(|| op(&mut self)))
            .take(MAX_OPS)
            .collect()
    }
}

// === scenarios ===

/// A random sequence for the intrusive map: the `ops` fuzz target, the
/// model test's scenarios, the benches' mixed workload.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Whether adjacent segments of equal protection merge.
    pub merge: bool,
    /// The map's window.
    pub window: Window,
    /// The operations, at most [`MAX_OPS`].
    pub ops: Vec<Op>,
}

impl<'a> Arbitrary<'a> for Scenario {
    /// Flags byte, then operations until the input runs out.
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let (d, merge, window) = Decoder::new(u);
        let ops = d.ops(Decoder::op);
        Ok(Scenario { merge, window, ops })
    }
}

impl Scenario {
    /// Smaller scenarios to try when this one fails: the first half of the
    /// operations, then every operation left out in turn, last first.
    pub fn shrink(&self) -> impl Iterator<Item = Scenario> {
        let (merge, window, ops) = (self.merge, self.window, self.ops.clone());
        let half = ops[..ops.len() / 2].to_vec();
        let singles = (0..ops.len()).rev().map(move |i| {
            let mut fewer = ops.clone();
            fewer.remove(i);
            fewer
        });
        iter::once(half)
            .filter(|h| !h.is_empty())
            .chain(singles)
            .map(move |ops| Scenario { merge, window, ops })
    }
}

/// A [`Scenario`] whose segments panic in one call of one callback: the
/// `crash` fuzz target.
#[derive(Clone, Debug)]
pub struct CrashScenario {
    /// The callback that panics, never [`Crash::Release`].
    pub kind: Crash,
    /// How many calls of it go well before the one that panics (`< 32`).
    pub after: usize,
    /// The map and the operations.
    pub scenario: Scenario,
}

impl<'a> Arbitrary<'a> for CrashScenario {
    /// Flags byte, callback byte, count byte, then operations.
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let (mut d, merge, window) = Decoder::new(u);
        let kind = [
            Crash::Remove,
            Crash::Shrink,
            Crash::Split,
            Crash::Modify,
            Crash::Merge,
        ][usize::from(d.r.u8() % 5)];
        let after = usize::from(d.r.u8() % 32);
        let ops = d.ops(Decoder::op);
        Ok(CrashScenario {
            kind,
            after,
            scenario: Scenario { merge, window, ops },
        })
    }
}

/// A sequence of the verbs the seed-style map has (`mmap_fixed`, `unmap`,
/// `mprotect`, `mmap_anywhere`, `find`): the `boxed` fuzz target. The
/// flags byte picks the grid only; the seed's map has its own window and
/// does not merge.
#[derive(Clone, Debug)]
pub struct SeedScenario {
    /// The operations, at most [`MAX_OPS`].
    pub ops: Vec<Op>,
}

impl<'a> Arbitrary<'a> for SeedScenario {
    /// Flags byte, then seed operations until the input runs out.
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let (d, _, _) = Decoder::new(u);
        Ok(SeedScenario {
            ops: d.ops(Decoder::seed_op),
        })
    }
}

/// Decodes `data` as `cargo fuzz` does for a target taking a `T`
/// (`arbitrary_take_rest`). Every byte string decodes.
pub fn decode<T: for<'a> Arbitrary<'a>>(data: &[u8]) -> T {
    T::arbitrary_take_rest(Unstructured::new(data)).expect("every input decodes")
}
