//! Iterators: all segments, the segments overlapping a range, the free gaps
//! of a range.

use core::iter::FusedIterator;
use core::ops::Range;

use super::{RangeActionMap, RangeAdapter, SegmentOf};
use crate::tree::Node;
use crate::{MapError, MapResult};

/// In-order iterator over the segments of a map, from
/// [`RangeActionMap::iter`]. Double-ended; each step is amortised *O*(1).
pub struct Iter<'a, A: RangeAdapter> {
    map: &'a RangeActionMap<A>,
    /// The next node from the front and from the back; `None` once they met.
    front: Option<Node<'a>>,
    back: Option<Node<'a>>,
    remaining: usize,
}

impl<A: RangeAdapter> RangeActionMap<A> {
    /// The segments in address order.
    ///
    /// # Examples
    ///
    /// ```
    /// # use range_action_map::doc_example::{area, AreaAdapter};
    /// # use range_action_map::RangeActionMap;
    /// let mut map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// map.mmap_fixed(0x5000, 0x6000, || area(0)).unwrap();
    /// map.mmap_fixed(0x2000, 0x3000, || area(0)).unwrap();
    /// let starts: Vec<_> = map.iter().map(|a| a.link.start()).collect();
    /// assert_eq!(starts, [0x2000, 0x5000]);
    /// ```
    pub fn iter(&self) -> Iter<'_, A> {
        Iter {
            map: self,
            front: self.tree.first(),
            back: self.tree.last(),
            remaining: self.len(),
        }
    }

    /// The segments that overlap `[start, end)`, in address order:
    /// *O*(log n) to start, then amortised *O*(1) per segment.
    ///
    /// # Errors
    ///
    /// [`MapError::EmptyRange`](crate::MapError::EmptyRange) when
    /// `start >= end`.
    pub fn overlapping(&self, start: usize, end: usize) -> MapResult<Overlapping<'_, A>> {
        if start >= end {
            return Err(MapError::EmptyRange { start, end });
        }
        Ok(Overlapping {
            map: self,
            next: self.tree.lower_bound(start),
            end,
        })
    }

    /// The free gaps of `[start, end)`, in address order, each cut to the
    /// range: *O*(log n) to start, then amortised *O*(1) per gap.
    ///
    /// # Examples
    ///
    /// ```
    /// # use range_action_map::doc_example::{area, AreaAdapter};
    /// # use range_action_map::RangeActionMap;
    /// let mut map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// map.mmap_fixed(0x3000, 0x4000, || area(0)).unwrap();
    /// let gaps: Vec<_> = map.gaps(0x1000, 0x6000).unwrap().collect();
    /// assert_eq!(gaps, [0x1000..0x3000, 0x4000..0x6000]);
    /// ```
    ///
    /// # Errors
    ///
    /// [`MapError::EmptyRange`](crate::MapError::EmptyRange) when
    /// `start >= end`.
    pub fn gaps(&self, start: usize, end: usize) -> MapResult<Gaps<'_, A>> {
        self.overlapping(start, end).map(|segments| Gaps {
            segments,
            cursor: start,
            end,
        })
    }
}

impl<'a, A: RangeAdapter> Iterator for Iter<'a, A> {
    type Item = &'a SegmentOf<A>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let node = self.front?;
        self.remaining -= 1;
        self.front = node.next();
        Some(self.map.value(node))
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
        Some(self.map.value(node))
    }
}

impl<A: RangeAdapter> ExactSizeIterator for Iter<'_, A> {}
impl<A: RangeAdapter> FusedIterator for Iter<'_, A> {}

impl<A: RangeAdapter> Clone for Iter<'_, A> {
    fn clone(&self) -> Self {
        Iter {
            map: self.map,
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

/// The segments overlapping a range, from [`RangeActionMap::overlapping`].
pub struct Overlapping<'a, A: RangeAdapter> {
    map: &'a RangeActionMap<A>,
    next: Option<Node<'a>>,
    end: usize,
}

impl<'a, A: RangeAdapter> Overlapping<'a, A> {
    /// The next overlapping node, with its range.
    fn next_node(&mut self) -> Option<Node<'a>> {
        let node = self.next.filter(|n| n.start() < self.end)?;
        self.next = node.next();
        Some(node)
    }
}

impl<'a, A: RangeAdapter> Iterator for Overlapping<'a, A> {
    type Item = &'a SegmentOf<A>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_node().map(|n| self.map.value(n))
    }
}

impl<A: RangeAdapter> FusedIterator for Overlapping<'_, A> {}

/// The free gaps of a range, from [`RangeActionMap::gaps`].
pub struct Gaps<'a, A: RangeAdapter> {
    segments: Overlapping<'a, A>,
    /// Where the next gap may start; `end` once done.
    cursor: usize,
    end: usize,
}

impl<A: RangeAdapter> Iterator for Gaps<'_, A> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        // Loop invariant: `[range start, cursor)` holds no gap not yet yielded.
        while self.cursor < self.end {
            match self.segments.next_node() {
                Some(n) => {
                    let gap = self.cursor..n.start();
                    self.cursor = n.end();
                    if gap.start < gap.end {
                        return Some(gap);
                    }
                }
                None => {
                    let gap = self.cursor..self.end;
                    self.cursor = self.end;
                    return Some(gap);
                }
            }
        }
        None
    }
}

impl<A: RangeAdapter> FusedIterator for Gaps<'_, A> {}
