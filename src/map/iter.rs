//! Iterators: all segments, the segments overlapping a range, the free gaps
//! of a range.

use core::fmt;
use core::iter::FusedIterator;
use core::ops::Range;

use super::{ArgsOf, RangeActionMap, RangeAdapter, SegmentOf};
use crate::tree::handle::{NodeRef, Tree};

/// In-order iterator over the segments of a map, from
/// [`RangeActionMap::iter`]. Double-ended; each step is amortised *O*(1).
pub struct Iter<'a, A: RangeAdapter> {
    /// The next node from the front and from the back; `None` once they met.
    front: Option<NodeRef<'a, A>>,
    back: Option<NodeRef<'a, A>>,
    remaining: usize,
}

impl<A: RangeAdapter> RangeActionMap<A> {
    /// The segments in address order.
    ///
    /// # Examples
    ///
    /// ```
    /// # use range_action_map_testkit::doc::{area, AreaAdapter};
    /// # use range_action_map::RangeActionMap;
    /// let mut map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// map.mmap_fixed(0x5000, 0x6000, || area(0)).unwrap();
    /// map.mmap_fixed(0x2000, 0x3000, || area(0)).unwrap();
    /// let starts: Vec<_> = map.iter().map(|a| a.link.start()).collect();
    /// assert_eq!(starts, [0x2000, 0x5000]);
    /// ```
    #[must_use]
    pub fn iter(&self) -> Iter<'_, A> {
        Iter::new(&self.tree)
    }

    /// The segments in address order, and beside them the value handed to every callback,
    /// mutably: for code that acts on each segment's resources through that value (a fork
    /// write-protecting each area's pages in the page table).
    pub fn iter_with_args_mut(&mut self) -> (Iter<'_, A>, &mut ArgsOf<A>) {
        (Iter::new(&self.tree), &mut self.args)
    }

    /// The segments that overlap `[start, end)`, in address order, from
    /// either end: *O*(log n) to start, then amortised *O*(1) per segment.
    ///
    /// # Examples
    ///
    /// ```
    /// # use range_action_map_testkit::doc::{area, AreaAdapter};
    /// # use range_action_map::RangeActionMap;
    /// let mut map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// for (start, prot) in [(0x1000, 1), (0x3000, 2), (0x5000, 3)] {
    ///     map.mmap_fixed(start, start + 0x1000, || area(prot)).unwrap();
    /// }
    /// let prots: Vec<_> = map.overlapping(0x1800, 0x5000).map(|a| a.prot.get()).collect();
    /// assert_eq!(prots, [1, 2]);
    /// let last = map.overlapping(0x1800, 0x5001).next_back();
    /// assert_eq!(last.map(|a| a.prot.get()), Some(3));
    /// ```
    ///
    /// An empty or reversed range (`start >= end`) overlaps nothing.
    pub fn overlapping(&self, start: usize, end: usize) -> Overlapping<'_, A> {
        Overlapping::new(&self.tree, start, end)
    }

    /// [`overlapping`](Self::overlapping), and beside it the value handed to every callback,
    /// mutably: for code that acts on the resources of the segments of a range through that
    /// value (`msync` writing back each area's pages).
    pub fn overlapping_with_args_mut(
        &mut self,
        start: usize,
        end: usize,
    ) -> (Overlapping<'_, A>, &mut ArgsOf<A>) {
        (Overlapping::new(&self.tree, start, end), &mut self.args)
    }

    /// The free gaps of `[start, end)`, in address order, from either end,
    /// each cut to the range: *O*(log n) to start, then amortised *O*(1)
    /// per gap.
    ///
    /// # Examples
    ///
    /// ```
    /// # use range_action_map_testkit::doc::{area, AreaAdapter};
    /// # use range_action_map::RangeActionMap;
    /// let mut map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// map.mmap_fixed(0x3000, 0x4000, || area(0)).unwrap();
    /// let gaps: Vec<_> = map.gaps(0x1000, 0x6000).collect();
    /// assert_eq!(gaps, [0x1000..0x3000, 0x4000..0x6000]);
    /// ```
    ///
    /// An empty or reversed range (`start >= end`) has no gaps, as in
    /// `rangemap`.
    pub fn gaps(&self, start: usize, end: usize) -> Gaps<'_, A> {
        Gaps {
            segments: self.overlapping(start, end),
            low: start,
            high: end,
        }
    }
}

impl<'a, A: RangeAdapter> Iterator for Iter<'a, A> {
    type Item = &'a SegmentOf<A>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_node().map(NodeRef::segment)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<A: RangeAdapter> DoubleEndedIterator for Iter<'_, A> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let node = self.back?;
        self.remaining -= 1;
        self.back = node.prev();
        Some(node.segment())
    }
}

impl<'a, A: RangeAdapter> Iter<'a, A> {
    /// An iterator over every segment of `tree`.
    fn new(tree: &'a Tree<A>) -> Self {
        Iter {
            front: tree.first(),
            back: tree.last(),
            remaining: tree.len(),
        }
    }

    /// The next node from the front.
    fn next_node(&mut self) -> Option<NodeRef<'a, A>> {
        if self.remaining == 0 {
            return None;
        }
        let node = self.front?;
        self.remaining -= 1;
        self.front = node.next();
        Some(node)
    }
}

impl<A: RangeAdapter> ExactSizeIterator for Iter<'_, A> {}
impl<A: RangeAdapter> FusedIterator for Iter<'_, A> {}

impl<A: RangeAdapter> Clone for Iter<'_, A> {
    fn clone(&self) -> Self {
        Iter {
            front: self.front,
            back: self.back,
            remaining: self.remaining,
        }
    }
}

impl<'a, A: RangeAdapter> IntoIterator for &'a RangeActionMap<A> {
    type Item = &'a SegmentOf<A>;
    type IntoIter = Iter<'a, A>;

    fn into_iter(self) -> Iter<'a, A> {
        self.iter()
    }
}

impl<A: RangeAdapter> fmt::Debug for Iter<'_, A> {
    /// The ranges still to come.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut nodes = self.clone();
        let ranges = core::iter::from_fn(move || nodes.next_node().map(NodeRef::range));
        f.debug_tuple("Iter").field(&DebugRanges(ranges)).finish()
    }
}

/// The segments overlapping a range, from [`RangeActionMap::overlapping`].
/// Double-ended; each step is amortised *O*(1).
pub struct Overlapping<'a, A: RangeAdapter> {
    tree: &'a Tree<A>,
    /// The range's end.
    end: usize,
    /// The next segment from the front: the segments not yet yielded are
    /// those from here that start before `end`, up to `back` once known.
    /// `None` once all were yielded.
    front: Option<NodeRef<'a, A>>,
    /// The next segment from the back, found at the first `next_back` (a
    /// walk from the front only never pays for that descent).
    back: Option<Option<NodeRef<'a, A>>>,
}

impl<'a, A: RangeAdapter> Overlapping<'a, A> {
    /// The segments of `tree` that overlap `[start, end)`.
    fn new(tree: &'a Tree<A>, start: usize, end: usize) -> Self {
        let front = tree
            .lower_bound(start)
            .filter(|n| start < end && n.start() < end);
        Overlapping {
            tree,
            end,
            front,
            back: None,
        }
    }

    /// The next overlapping node from the front.
    fn next_node(&mut self) -> Option<NodeRef<'a, A>> {
        let node = self.front.filter(|n| n.start() < self.end)?;
        if self.back == Some(Some(node)) {
            self.finish();
        } else {
            self.front = node.next();
        }
        Some(node)
    }

    /// The next overlapping node from the back.
    fn next_back_node(&mut self) -> Option<NodeRef<'a, A>> {
        if self.back.is_none() {
            self.back = Some(self.last_left());
        }
        let node = self.back.flatten()?;
        if self.front == Some(node) {
            self.finish();
        } else {
            self.back = Some(node.prev());
        }
        Some(node)
    }

    /// The last segment not yet yielded from the front: the first one that
    /// ends at or after `end`, if it starts before `end`, else the one
    /// before it; `None` if the front is past it.
    fn last_left(&self) -> Option<NodeRef<'a, A>> {
        let front = self.front.filter(|n| n.start() < self.end)?;
        let last = match self.tree.lower_bound(self.end - 1) {
            Some(n) if n.start() < self.end => Some(n),
            Some(n) => n.prev(),
            None => self.tree.last(),
        };
        // The front overlaps, so the last overlapping segment is at or after it.
        debug_assert!(last.is_some_and(|l| l.start() >= front.start()));
        last
    }

    /// Both ends met: nothing is left.
    fn finish(&mut self) {
        (self.front, self.back) = (None, Some(None));
    }
}

impl<'a, A: RangeAdapter> Iterator for Overlapping<'a, A> {
    type Item = &'a SegmentOf<A>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_node().map(NodeRef::segment)
    }
}

impl<A: RangeAdapter> DoubleEndedIterator for Overlapping<'_, A> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.next_back_node().map(NodeRef::segment)
    }
}

impl<A: RangeAdapter> FusedIterator for Overlapping<'_, A> {}

impl<A: RangeAdapter> Clone for Overlapping<'_, A> {
    fn clone(&self) -> Self {
        Overlapping {
            tree: self.tree,
            end: self.end,
            front: self.front,
            back: self.back,
        }
    }
}

impl<A: RangeAdapter> fmt::Debug for Overlapping<'_, A> {
    /// The ranges still to come.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut nodes = self.clone();
        let ranges = core::iter::from_fn(move || nodes.next_node().map(NodeRef::range));
        f.debug_tuple("Overlapping")
            .field(&DebugRanges(ranges))
            .finish()
    }
}

/// The free gaps of a range, from [`RangeActionMap::gaps`]. Double-ended;
/// each step is amortised *O*(1).
pub struct Gaps<'a, A: RangeAdapter> {
    segments: Overlapping<'a, A>,
    /// Loop invariant (both ends): every gap in `[range start, low)` and in
    /// `[high, range end)` was yielded; the rest are in `[low, high)`, whose
    /// segments are those `segments` has left.
    low: usize,
    high: usize,
}

impl<A: RangeAdapter> Iterator for Gaps<'_, A> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        while self.low < self.high {
            let gap = match self.segments.next_node() {
                Some(n) => {
                    let gap = self.low..n.start().min(self.high);
                    self.low = n.end().min(self.high);
                    gap
                }
                None => {
                    let gap = self.low..self.high;
                    self.low = self.high;
                    gap
                }
            };
            if !gap.is_empty() {
                return Some(gap);
            }
        }
        None
    }
}

impl<A: RangeAdapter> DoubleEndedIterator for Gaps<'_, A> {
    fn next_back(&mut self) -> Option<Range<usize>> {
        while self.low < self.high {
            let gap = match self.segments.next_back_node() {
                Some(n) => {
                    let gap = n.end().max(self.low)..self.high;
                    self.high = n.start().max(self.low);
                    gap
                }
                None => {
                    let gap = self.low..self.high;
                    self.high = self.low;
                    gap
                }
            };
            if !gap.is_empty() {
                return Some(gap);
            }
        }
        None
    }
}

impl<A: RangeAdapter> FusedIterator for Gaps<'_, A> {}

impl<A: RangeAdapter> Clone for Gaps<'_, A> {
    fn clone(&self) -> Self {
        Gaps {
            segments: self.segments.clone(),
            low: self.low,
            high: self.high,
        }
    }
}

impl<A: RangeAdapter> fmt::Debug for Gaps<'_, A> {
    /// The gaps still to come.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Gaps")
            .field(&DebugRanges(self.clone()))
            .finish()
    }
}

/// Prints the ranges of an iterator as a list in hex.
struct DebugRanges<I>(I);

impl<I: Iterator<Item = Range<usize>> + Clone> fmt::Debug for DebugRanges<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for r in self.0.clone() {
            list.entry(&format_args!("{:#x}..{:#x}", r.start, r.end));
        }
        list.finish()
    }
}
