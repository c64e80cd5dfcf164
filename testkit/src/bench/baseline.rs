//! The original `range-action-map` algorithm (scPointer/maturin,
//! `range-action-map/src/{lib,range_area,segment}.rs`), rebuilt on stable
//! Rust so the benches can show what the augmented tree buys.
//!
//! What is reproduced, cost for cost:
//!
//! - segments live in a `BTreeMap` keyed by start, each value holding
//!   `start`, `end` and the user's segment;
//! - `find` is a `range(..=pos)` lookup from the back (*O*(log n));
//! - `unmap` and `mprotect` pull **every** overlapping area out of the map
//!   with `drain_filter` over the whole map (*O*(n) per call, whatever the
//!   range), cut each one through the segment's derived helpers
//!   (`shrink_to_left`, `split_and_remove_middle`, `modify_middle`, ...),
//!   and insert the pieces back;
//! - `mmap_fixed` is `unmap` followed by an insert;
//! - `find_free_area` walks the map from its first segment, first fit
//!   (*O*(n)).
//!
//! `drain_filter` (`btree_drain_filter`) is unstable; it is emulated by the
//! same full scan, collecting the matching keys, then one `remove` per
//! match. The scan, which dominates, is the original's; the removals cost
//! *O*(k log n) where the original unlinked in place during the scan.
//!
//! Two slips of the original are fixed, at no change in cost: in
//! `mprotect`, an area cut on its left kept `end = start` instead of
//! `end = end`, and one cut on its right was split at `end` instead of
//! `start`; both would corrupt the map.
//!
//! Extensions the original lacks, written in its style and marked as such:
//! [`RangeActionMap::insert_raw`] made public (building a map through
//! `mmap_fixed` would cost *O*(n) per segment), alignment and top-down
//! search by the same linear walk, and iteration over a range.

use std::collections::BTreeMap;

/// The seed's segment trait: a value that can be removed, split at an
/// absolute address (keeping the left part) and re-flagged, plus the
/// derived helpers the map calls.
pub trait Segment: Sized {
    /// The whole segment is unmapped.
    fn remove(&mut self, args: usize);
    /// Splits at `pos`: `self` keeps `[start, pos)`, `[pos, end)` is returned.
    fn split(&mut self, pos: usize, args: usize) -> Self;
    /// Applies new flags to the whole segment.
    fn modify(&mut self, flags: usize, args: usize);

    /// Keeps `[start, pos)` and removes the rest.
    fn shrink_to_left(&mut self, pos: usize, args: usize) {
        self.split(pos, args).remove(args);
    }
    /// Keeps `[pos, end)` and removes the rest.
    fn shrink_to_right(&mut self, pos: usize, args: usize) {
        let right = self.split(pos, args);
        self.remove(args);
        *self = right;
    }
    /// Removes `[left, right)`; `self` keeps the left part, the right part
    /// is returned.
    fn split_and_remove_middle(&mut self, left: usize, right: usize, args: usize) -> Self {
        let tail = self.split(right, args);
        self.split(left, args).remove(args);
        tail
    }
    /// Modifies `[start, pos)`; returns the untouched right part.
    fn modify_left(&mut self, pos: usize, flags: usize, args: usize) -> Self {
        let right = self.split(pos, args);
        self.modify(flags, args);
        right
    }
    /// Modifies `[pos, end)`, which is returned.
    fn modify_right(&mut self, pos: usize, flags: usize, args: usize) -> Self {
        let mut right = self.split(pos, args);
        right.modify(flags, args);
        right
    }
    /// Modifies `[left, right)`; returns the middle and the right parts.
    fn modify_middle(
        &mut self,
        left: usize,
        right: usize,
        flags: usize,
        args: usize,
    ) -> (Self, Self) {
        let tail = self.split(right, args);
        let mut middle = self.split(left, args);
        middle.modify(flags, args);
        (middle, tail)
    }
}

/// Lowest address a segment may use (the seed's `LOWER_LIMIT`; its
/// `UPPER_LIMIT` is `usize::MAX`, the end of the address space).
pub const LOWER_LIMIT: usize = 0x1000;

/// A segment with its bounds, as the map stores it.
struct Area<S> {
    start: usize,
    end: usize,
    segment: S,
}

/// What is put back into the map after an area was cut or re-flagged:
/// the area itself (unless it is gone) and up to two new areas.
type Pieces<S, const N: usize> = [Option<Area<S>>; N];

impl<S: Segment> Area<S> {
    fn contains(&self, pos: usize) -> bool {
        self.start <= pos && pos < self.end
    }

    fn overlaps(&self, start: usize, end: usize) -> bool {
        self.start < end && start < self.end
    }

    /// Removes `[start, end)` (which overlaps the area) from the area;
    /// returns what is left: nothing, the shrunk area, or its left and
    /// right parts.
    fn cut(mut self, start: usize, end: usize, args: usize) -> Pieces<S, 2> {
        if start <= self.start && self.end <= end {
            self.segment.remove(args);
            [None, None]
        } else if self.start < start && end < self.end {
            let old_end = self.end;
            self.end = start;
            let segment = self.segment.split_and_remove_middle(start, end, args);
            let right = Area {
                start: end,
                end: old_end,
                segment,
            };
            [Some(self), Some(right)]
        } else if end < self.end {
            self.segment.shrink_to_right(end, args);
            self.start = end;
            [Some(self), None]
        } else {
            self.segment.shrink_to_left(start, args);
            self.end = start;
            [Some(self), None]
        }
    }

    /// Applies `flags` to the part of the area inside `[start, end)`;
    /// returns the area and the parts split off it (the modified or
    /// untouched right part, or the modified middle and the untouched
    /// right part).
    fn protect(mut self, start: usize, end: usize, flags: usize, args: usize) -> Pieces<S, 3> {
        let old_end = self.end;
        if start <= self.start && self.end <= end {
            self.segment.modify(flags, args);
            [Some(self), None, None]
        } else if self.start < start && end < self.end {
            let (middle, tail) = self.segment.modify_middle(start, end, flags, args);
            self.end = start;
            let middle = Area {
                start,
                end,
                segment: middle,
            };
            let tail = Area {
                start: end,
                end: old_end,
                segment: tail,
            };
            [Some(self), Some(middle), Some(tail)]
        } else if end < self.end {
            let tail = self.segment.modify_left(end, flags, args);
            self.end = end;
            let tail = Area {
                start: end,
                end: old_end,
                segment: tail,
            };
            [Some(self), Some(tail), None]
        } else {
            let tail = self.segment.modify_right(start, flags, args);
            self.end = start;
            let tail = Area {
                start,
                end: old_end,
                segment: tail,
            };
            [Some(self), Some(tail), None]
        }
    }
}

/// The original map: areas in a `BTreeMap` keyed by start.
pub struct RangeActionMap<S: Segment> {
    areas: BTreeMap<usize, Area<S>>,
    args: usize,
}

impl<S: Segment> RangeActionMap<S> {
    /// An empty map; `args` is handed to every callback.
    pub fn new(args: usize) -> Self {
        RangeActionMap {
            areas: BTreeMap::new(),
            args,
        }
    }

    /// Number of areas.
    pub fn len(&self) -> usize {
        self.areas.len()
    }

    /// Whether there is no area.
    pub fn is_empty(&self) -> bool {
        self.areas.is_empty()
    }

    /// Inserts an area without any check (the original's private
    /// `insert_raw`; public here so that benches can build large maps).
    pub fn insert_raw(&mut self, start: usize, end: usize, segment: S) {
        self.areas.insert(
            start,
            Area {
                start,
                end,
                segment,
            },
        );
    }

    /// The segment containing `pos`, with its start.
    pub fn find(&self, pos: usize) -> Option<(usize, &S)> {
        let (_, area) = self.areas.range(..=pos).next_back()?;
        area.contains(pos).then_some((area.start, &area.segment))
    }

    /// Maps `len` bytes at the first fit at or above `hint`; `f` prepares
    /// the segment once its start is known.
    pub fn mmap_anywhere(
        &mut self,
        hint: usize,
        len: usize,
        mut segment: S,
        f: impl FnOnce(&mut S, usize),
    ) -> Option<usize> {
        let start = self.find_free_area(hint, len)?;
        f(&mut segment, start);
        self.insert_raw(start, start + len, segment);
        Some(start)
    }

    /// Unmaps `[start, end)` and maps `segment` there.
    pub fn mmap_fixed(
        &mut self,
        start: usize,
        end: usize,
        mut segment: S,
        f: impl FnOnce(&mut S, usize),
    ) -> Option<usize> {
        // The original also refuses `end > UPPER_LIMIT`, which never holds.
        if start < LOWER_LIMIT {
            return None;
        }
        self.unmap(start, end);
        f(&mut segment, start);
        self.insert_raw(start, end, segment);
        Some(start)
    }

    /// Takes every area overlapping `[start, end)` out of the map (the
    /// original's `drain_filter` over the whole map, and its one `Vec`)
    /// and puts back the pieces `rework` leaves of each.
    fn rework_overlapping<const N: usize>(
        &mut self,
        start: usize,
        end: usize,
        mut rework: impl FnMut(Area<S>, usize) -> Pieces<S, N>,
    ) {
        let keys: Vec<usize> = self
            .areas
            .iter()
            .filter(|(_, a)| a.overlaps(start, end))
            .map(|(&k, _)| k)
            .collect();
        // The pieces of an area lie inside it, so putting them back before
        // the next area is taken out collides with no key still to come.
        for key in keys {
            if let Some(area) = self.areas.remove(&key) {
                for piece in rework(area, self.args).into_iter().flatten() {
                    self.put(piece);
                }
            }
        }
    }

    /// Unmaps `[start, end)`, shrinking or splitting the areas it cuts.
    pub fn unmap(&mut self, start: usize, end: usize) {
        self.rework_overlapping(start, end, |area, args| area.cut(start, end, args));
    }

    /// Applies `flags` to the mapped parts of `[start, end)`, splitting the
    /// areas it cuts.
    pub fn mprotect(&mut self, start: usize, end: usize, flags: usize) {
        self.rework_overlapping(start, end, |area, args| {
            area.protect(start, end, flags, args)
        });
    }

    /// Puts an area (back) into the map.
    fn put(&mut self, area: Area<S>) {
        self.areas.insert(area.start, area);
    }

    /// The first fit of `len` bytes at or above `hint`, walking every area
    /// from the lowest.
    pub fn find_free_area(&self, hint: usize, len: usize) -> Option<usize> {
        self.find_free_area_aligned(hint, len, 1)
    }

    /// Extension: [`find_free_area`](Self::find_free_area) with the start
    /// rounded up to `align` (a power of two) after every area, as
    /// `memory_set` does.
    pub fn find_free_area_aligned(&self, hint: usize, len: usize, align: usize) -> Option<usize> {
        let mut last_end = align_up(hint.max(LOWER_LIMIT), align)?;
        for (&start, area) in &self.areas {
            if last_end.checked_add(len)? <= start {
                return Some(last_end);
            }
            last_end = last_end.max(align_up(area.end, align)?);
        }
        // The original's `<= UPPER_LIMIT` is the absence of overflow.
        last_end.checked_add(len).map(|_| last_end)
    }

    /// Extension: the highest fit of `len` bytes (start a multiple of
    /// `align`) ending at or below `high`, walking every area from the
    /// highest: the same linear first fit, mirrored.
    pub fn find_free_area_top_down(&self, high: usize, len: usize, align: usize) -> Option<usize> {
        let mut hole_end = high;
        for (&start, area) in self.areas.iter().rev() {
            if let Some(at) = fit_below(area.end, hole_end, len, align) {
                return Some(at);
            }
            hole_end = hole_end.min(start);
        }
        fit_below(LOWER_LIMIT, hole_end, len, align)
    }

    /// Extension: the areas overlapping `[start, end)` as `(start, end,
    /// segment)`, by a `BTreeMap` range walk.
    pub fn overlapping(
        &self,
        start: usize,
        end: usize,
    ) -> impl Iterator<Item = (usize, usize, &S)> {
        let before = self
            .areas
            .range(..start)
            .next_back()
            .filter(|(_, a)| a.end > start);
        before
            .into_iter()
            .chain(self.areas.range(start..end))
            .map(|(_, a)| (a.start, a.end, &a.segment))
    }

    /// Removes every area, calling `remove` on each.
    pub fn clear(&mut self) {
        let args = self.args;
        for (_, mut area) in std::mem::take(&mut self.areas) {
            area.segment.remove(args);
        }
    }
}

/// `addr` rounded up to `align` (a power of two), `None` on overflow.
fn align_up(addr: usize, align: usize) -> Option<usize> {
    addr.checked_add(align - 1).map(|a| a & !(align - 1))
}

/// The highest `align`-aligned start of `len` bytes inside the hole
/// `[low, high)`, if it fits.
fn fit_below(low: usize, high: usize, len: usize, align: usize) -> Option<usize> {
    let at = high.checked_sub(len)? & !(align - 1);
    (at >= low).then_some(at)
}
