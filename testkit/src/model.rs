//! The obviously correct model of the map: a sorted `Vec`, scanned
//! linearly, that logs the callbacks the map must make.

use range_action_map::{Direction, Hint, MapError, MapResult, Placement, Window};

use crate::logging::Event;

/// A segment of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelSeg {
    /// Its start.
    pub start: usize,
    /// Its end.
    pub end: usize,
    /// The identity the map's node has.
    pub id: u32,
    /// Its protection.
    pub prot: u8,
}

/// The obviously-correct model: a sorted `Vec`, scanned linearly.
#[derive(Clone)]
pub struct Model {
    /// The segments, sorted and disjoint.
    pub segs: Vec<ModelSeg>,
    /// Where segments may be.
    pub window: Window,
    /// Whether adjacent segments of equal protection merge.
    pub merge: bool,
    /// The protections whose segments never merge, even when `merge` is set.
    pub never_merges: fn(u8) -> bool,
    /// The identity the next node gets, as [`fresh_id`](crate::logging::fresh_id) counts.
    pub next_id: u32,
    /// The callbacks the map must have made.
    pub events: Vec<Event>,
}

impl Model {
    /// An empty model of a map over `window`.
    pub fn new(window: Window, merge: bool) -> Self {
        Model {
            segs: Vec::new(),
            window,
            merge,
            never_merges: |_| false,
            next_id: 0,
            events: Vec::new(),
        }
    }

    fn id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id - 1
    }

    /// The index in [`segs`](Self::segs) of the segment holding `addr`.
    pub fn index_containing(&self, addr: usize) -> Option<usize> {
        self.segs
            .iter()
            .position(|s| s.start <= addr && addr < s.end)
    }

    /// The segment holding `addr`.
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

    /// `RangeActionMap::unmap`; returns `(segments, mapped bytes)` of the
    /// range, as the map's `Coverage`.
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
        if self.merge && p.end == s.start && p.prot == s.prot && !(self.never_merges)(p.prot) {
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

    /// `RangeActionMap::mprotect`, merging as the map does when
    /// [`merge`](Self::merge) is set; returns the coverage, as `unmap`.
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

    /// `RangeActionMap::mmap_fixed`: the segment now covering the range.
    pub fn mmap_fixed(&mut self, start: usize, end: usize, prot: u8) -> MapResult<ModelSeg> {
        self.window.check(start, end)?;
        self.split_for_unmap(start, end);
        let id = self.id();
        self.unmap_split(start, end);
        Ok(self.insert(start, end, id, prot))
    }

    /// `RangeActionMap::mmap_fixed_noreplace`: refuses any overlap.
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

    /// `RangeActionMap::find_free_area`, by a scan of every hole.
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

    /// `RangeActionMap::mmap_placed`: the start of the new segment.
    pub fn mmap_placed(&mut self, p: &PlacementSpec, prot: u8) -> MapResult<usize> {
        let start = self.find_free_area(p)?;
        let id = self.id();
        self.insert(start, start + p.len, id, prot);
        Ok(start)
    }

    /// The holes of `[start, end)`, as `(start, end)`.
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
    /// Bytes to place.
    pub len: usize,
    /// Alignment of the start.
    pub align: usize,
    /// The window's low end.
    pub low: usize,
    /// The window's high end.
    pub high: usize,
    /// Bottom-up or top-down.
    pub direction: Direction,
    /// The hint and its rule.
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

    /// The `Placement` the map takes.
    pub fn to_placement(self) -> Placement {
        Placement::new(self.len)
            .align(self.align)
            .window(self.low, self.high)
            .direction(self.direction)
            .hint(self.hint)
    }
}
