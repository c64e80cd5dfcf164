//! `RangeActionMap`: the safe API over the tree.

#![forbid(unsafe_code)]

mod cursor;
mod fmt;
mod iter;
mod ops;
mod placement;

use crate::range::Window;
use crate::tree::handle::{Rest, Tree};
use crate::Segment;

pub use crate::tree::handle::{ArgsOf, OwnedOf, RangeAdapter, SegmentOf};
pub use cursor::{Cursor, CursorMut};
pub use iter::{Gaps, Iter, Overlapping};
pub use ops::Coverage;
pub use placement::{Hint, Placement};

/// The `mprotect` flags of adapter `A`'s segments.
pub type FlagsOf<A> = <SegmentOf<A> as Segment>::Flags;

/// A map of disjoint half-open ranges `[start, end)` to segments, with the
/// VM verbs: [`mmap_fixed`](Self::mmap_fixed),
/// [`mmap_anywhere`](Self::mmap_anywhere), [`unmap`](Self::unmap),
/// [`mprotect`](Self::mprotect) and [`find`](Self::find).
///
/// Segments are nodes of an intrusive red-black tree: the map owns them
/// through the adapter's pointer type and never allocates. See the
/// [crate docs](crate) for a tour.
///
/// The map is `Send` when its owners and `args` are, and `Sync` when its segments, adapter
/// and `args` are: no `&self` method writes a link (links are atomics, and the one thing a
/// lookup updates, its last-hit cache, is an atomic too), so several CPUs may look segments up
/// at once, behind the read side of a reader-writer lock.
///
/// # Invariants
///
/// Every segment lies in `window`.
pub struct RangeActionMap<A: RangeAdapter> {
    tree: Tree<A>,
    args: ArgsOf<A>,
    window: Window,
}

impl<A: RangeAdapter + Default> RangeActionMap<A> {
    /// An empty map over the default window `[0x1000, usize::MAX)`; `args`
    /// is handed to every [`Segment`] callback.
    ///
    /// # Examples
    ///
    /// ```
    /// # use range_action_map_testkit::doc::{Area, AreaAdapter};
    /// use range_action_map::RangeActionMap;
    ///
    /// let map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// assert!(map.is_empty());
    /// ```
    pub fn new(args: ArgsOf<A>) -> Self {
        Self::with_adapter(A::default(), Window::DEFAULT, args)
    }

    /// An empty map whose segments must lie in `window`.
    pub fn with_window(window: Window, args: ArgsOf<A>) -> Self {
        Self::with_adapter(A::default(), window, args)
    }
}

impl<A: RangeAdapter> RangeActionMap<A> {
    /// An empty map with an explicit adapter value.
    pub fn with_adapter(adapter: A, window: Window, args: ArgsOf<A>) -> Self {
        RangeActionMap {
            tree: Tree::new(adapter),
            args,
            window,
        }
    }

    /// Number of segments, in *O*(1).
    #[must_use]
    #[inline]
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// Whether the map holds no segment.
    #[must_use]
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.tree.len() == 0
    }

    /// The window of addresses segments may occupy.
    #[must_use]
    #[inline]
    pub fn window(&self) -> Window {
        self.window
    }

    /// The value handed to every callback.
    #[must_use]
    #[inline]
    pub fn args(&self) -> &ArgsOf<A> {
        &self.args
    }

    /// The value handed to every callback, mutably.
    #[inline]
    pub fn args_mut(&mut self) -> &mut ArgsOf<A> {
        &mut self.args
    }

    /// The segment containing `addr`, in *O*(log n); without a descent near
    /// the previous lookup, as page faults come: when `addr` lies in the
    /// segment where the previous `find` ended (the one it found, or a
    /// neighbour of the hole it fell into), in *O*(1), or within that
    /// segment's length of it, in the segment or the hole next to it, by a
    /// step to that neighbour (*O*(1) amortised over a run). The map keeps
    /// that one-entry cache, as Linux did for page faults.
    ///
    /// # Examples
    ///
    /// ```
    /// # use range_action_map_testkit::doc::{area, AreaAdapter};
    /// # use range_action_map::RangeActionMap;
    /// let mut map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// map.mmap_fixed(0x3000, 0x7000, || area(0)).unwrap();
    /// assert!(map.find(0x2fff).is_none());
    /// assert_eq!(map.find(0x5678).map(|a| a.link.range()), Some(0x3000..0x7000));
    /// assert!(map.find(0x7000).is_none());
    /// ```
    #[must_use]
    #[inline]
    pub fn find(&self, addr: usize) -> Option<&SegmentOf<A>> {
        self.tree.find(addr).map(|n| n.segment())
    }

    /// [`find`](Self::find), and beside its answer the value handed to every callback,
    /// mutably: for code that acts on the segment's resources through that value (a page-fault
    /// handler mapping a page of the area it found).
    #[inline]
    pub fn find_with_args_mut(&mut self, addr: usize) -> (Option<&SegmentOf<A>>, &mut ArgsOf<A>) {
        (self.tree.find(addr).map(|n| n.segment()), &mut self.args)
    }

    /// The range of a segment of this map, for code generic over the
    /// segment type (which does not know the name of its link field). In
    /// *O*(1): it reads the segment's own link, so for a segment in no map,
    /// or in another map, it is whatever that link holds; use
    /// [`cursor_from`](Self::cursor_from) to ask whether a segment is here.
    #[must_use]
    #[inline]
    pub fn range_of(&self, segment: &SegmentOf<A>) -> core::ops::Range<usize> {
        self.tree.link_of(segment).range()
    }

    /// The lowest segment, in *O*(1).
    #[must_use]
    #[inline]
    pub fn first(&self) -> Option<&SegmentOf<A>> {
        self.tree.first().map(|n| n.segment())
    }

    /// The highest segment, in *O*(1).
    #[must_use]
    #[inline]
    pub fn last(&self) -> Option<&SegmentOf<A>> {
        self.tree.last().map(|n| n.segment())
    }

    /// Checks every tree invariant (red-black properties, order,
    /// disjointness, the window, each augmented field recomputed from
    /// scratch) in *O*(n).
    ///
    /// # Panics
    ///
    /// With a sentence naming the broken invariant. Through the safe API
    /// this never happens; tests call it after every operation.
    #[track_caller]
    pub fn assert_valid(&self) {
        if let Err(broken) = self.tree.check() {
            panic!("RangeActionMap invariant broken: {broken}");
        }
        if let (Some(first), Some(last)) = (self.tree.first(), self.tree.last()) {
            let (low, high) = (self.window.low(), self.window.high());
            assert!(
                first.start() >= low && last.end() <= high,
                "RangeActionMap invariant broken: every segment lies in the window \
                 {low:#x}..{high:#x} (segments span {:#x}..{:#x})",
                first.start(),
                last.end()
            );
        }
    }
}

impl<A: RangeAdapter> Drop for RangeActionMap<A> {
    /// Hands every segment's node to [`Segment::release`], without calling
    /// [`Segment::remove`] (call [`clear`](RangeActionMap::clear) first to
    /// release what backs them). Should `release` panic, the nodes not yet
    /// released are leaked.
    fn drop(&mut self) {
        self.tree.clear_with(&mut self.args, Rest::Leak, |_, _| {});
    }
}

impl<A: RangeAdapter> RangeActionMap<A> {
    /// Whether no segment overlaps `[start, end)`, in *O*(log n).
    ///
    /// # Errors
    ///
    /// [`MapError::Overlap`](crate::MapError::Overlap) when one does.
    #[cfg(feature = "alloc")]
    pub(crate) fn check_free(&self, start: usize, end: usize) -> crate::MapResult<()> {
        if self.tree.is_free(start, end) {
            Ok(())
        } else {
            Err(crate::MapError::Overlap { start, end })
        }
    }
}
