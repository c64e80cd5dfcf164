//! Cursors, in the vocabulary of std's `BTreeMap` cursors, on stable Rust.

use super::{OwnedOf, RangeActionMap, RangeAdapter, SegmentOf};
use crate::tree::handle::{CursorMut as TreeCursorMut, NodeRef, Tree};

/// A read-only position in a map: at a segment, or at the "ghost" position
/// past both ends.
///
/// # Invariants
///
/// `current`, when set, is a node of `tree`.
pub struct Cursor<'a, A: RangeAdapter> {
    tree: &'a Tree<A>,
    current: Option<NodeRef<'a, A>>,
}

/// A position in a map that can also remove the current segment.
pub struct CursorMut<'a, A: RangeAdapter> {
    inner: TreeCursorMut<'a, A>,
}

impl<A: RangeAdapter> RangeActionMap<A> {
    /// A cursor at the first segment that ends after `addr` (the one
    /// containing `addr`, or the next one), or at the ghost position.
    /// *O*(log n).
    ///
    /// # Examples
    ///
    /// ```
    /// # use range_action_map_testkit::doc::{area, AreaAdapter};
    /// # use range_action_map::RangeActionMap;
    /// let mut map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// map.mmap_fixed(0x2000, 0x3000, || area(1)).unwrap();
    /// map.mmap_fixed(0x5000, 0x6000, || area(2)).unwrap();
    /// let mut c = map.lower_bound(0x3000);
    /// assert_eq!(c.get().map(|a| a.prot.get()), Some(2));
    /// assert_eq!(c.peek_prev().map(|a| a.prot.get()), Some(1));
    /// c.move_next();
    /// assert!(c.get().is_none());
    /// ```
    #[must_use]
    pub fn lower_bound(&self, addr: usize) -> Cursor<'_, A> {
        Cursor {
            tree: &self.tree,
            current: self.tree.lower_bound(addr),
        }
    }

    /// A cursor at the first segment (ghost if empty), in *O*(1).
    #[must_use]
    pub fn cursor_front(&self) -> Cursor<'_, A> {
        Cursor {
            tree: &self.tree,
            current: self.tree.first(),
        }
    }

    /// A cursor at the last segment (ghost if empty), in *O*(1).
    #[must_use]
    pub fn cursor_back(&self) -> Cursor<'_, A> {
        Cursor {
            tree: &self.tree,
            current: self.tree.last(),
        }
    }

    /// A cursor at `segment`, a reference obtained from this map (the
    /// page-fault path: `find`, then look at the neighbours). *O*(log n),
    /// *O*(1) right after the `find` that returned `segment`: the segment's
    /// membership is checked, so a segment of another map, or of none,
    /// gives `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use range_action_map_testkit::doc::{area, AreaAdapter};
    /// # use range_action_map::RangeActionMap;
    /// let mut map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// let mut other = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// map.mmap_fixed(0x2000, 0x3000, || area(1)).unwrap();
    /// map.mmap_fixed(0x3000, 0x4000, || area(2)).unwrap();
    /// other.mmap_fixed(0x2000, 0x3000, || area(3)).unwrap();
    ///
    /// let fault = map.find(0x2345).unwrap();
    /// let cursor = map.cursor_from(fault).unwrap();
    /// assert_eq!(cursor.peek_next().map(|a| a.prot.get()), Some(2));
    /// assert!(other.cursor_from(fault).is_none());
    /// ```
    #[must_use]
    pub fn cursor_from<'a>(&'a self, segment: &SegmentOf<A>) -> Option<Cursor<'a, A>> {
        let node = self.tree.member(segment)?;
        Some(Cursor {
            tree: &self.tree,
            current: Some(node),
        })
    }

    /// A mutable cursor at the first segment that ends after `addr`.
    pub fn lower_bound_mut(&mut self, addr: usize) -> CursorMut<'_, A> {
        CursorMut {
            inner: self.tree.lower_bound_mut(addr),
        }
    }

    /// A mutable cursor at the segment whose start is `start`, if that
    /// segment exists: how a caller that found a segment (by
    /// [`find`](Self::find) or a cursor) comes back to remove it.
    pub fn cursor_mut_at(&mut self, start: usize) -> Option<CursorMut<'_, A>> {
        let inner = self.tree.find_mut(start)?;
        let at_start = inner.get().is_some_and(|n| n.start() == start);
        at_start.then_some(CursorMut { inner })
    }
}

impl<'a, A: RangeAdapter> Cursor<'a, A> {
    /// The segment at the cursor; `None` at the ghost position.
    #[must_use]
    pub fn get(&self) -> Option<&'a SegmentOf<A>> {
        self.current.map(NodeRef::segment)
    }

    /// The range of the segment at the cursor.
    #[must_use]
    pub fn range(&self) -> Option<core::ops::Range<usize>> {
        self.current.map(NodeRef::range)
    }

    /// The segment after the cursor (the first one from the ghost position).
    #[must_use]
    pub fn peek_next(&self) -> Option<&'a SegmentOf<A>> {
        self.next_node().map(NodeRef::segment)
    }

    /// The segment before the cursor (the last one from the ghost position).
    #[must_use]
    pub fn peek_prev(&self) -> Option<&'a SegmentOf<A>> {
        self.prev_node().map(NodeRef::segment)
    }

    /// Moves to the next segment (wrapping through the ghost position).
    pub fn move_next(&mut self) {
        self.current = self.next_node();
    }

    /// Moves to the previous segment (wrapping through the ghost position).
    pub fn move_prev(&mut self) {
        self.current = self.prev_node();
    }

    fn next_node(&self) -> Option<NodeRef<'a, A>> {
        match self.current {
            Some(n) => n.next(),
            None => self.tree.first(),
        }
    }

    fn prev_node(&self) -> Option<NodeRef<'a, A>> {
        match self.current {
            Some(n) => n.prev(),
            None => self.tree.last(),
        }
    }
}

impl<A: RangeAdapter> Clone for Cursor<'_, A> {
    fn clone(&self) -> Self {
        Cursor {
            tree: self.tree,
            current: self.current,
        }
    }
}

impl<A: RangeAdapter> CursorMut<'_, A> {
    /// A read-only view of this position.
    #[must_use]
    pub fn as_cursor(&self) -> Cursor<'_, A> {
        Cursor {
            tree: self.inner.tree(),
            current: self.inner.get(),
        }
    }

    /// The segment at the cursor; `None` at the ghost position.
    #[must_use]
    pub fn get(&self) -> Option<&SegmentOf<A>> {
        self.inner.get().map(NodeRef::segment)
    }

    /// The range of the segment at the cursor.
    #[must_use]
    pub fn range(&self) -> Option<core::ops::Range<usize>> {
        self.inner.get().map(NodeRef::range)
    }

    /// The segment after the cursor (the first one from the ghost position).
    ///
    /// # Examples
    ///
    /// ```
    /// # use range_action_map_testkit::doc::{area, AreaAdapter};
    /// # use range_action_map::RangeActionMap;
    /// let mut map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// map.mmap_fixed(0x2000, 0x3000, || area(1)).unwrap();
    /// map.mmap_fixed(0x5000, 0x6000, || area(2)).unwrap();
    /// let mut c = map.lower_bound_mut(0x2000);
    /// assert_eq!(c.peek_next().map(|a| a.prot.get()), Some(2));
    /// assert!(c.peek_prev().is_none());
    /// c.remove_current();
    /// assert_eq!(c.peek_prev().map(|a| a.prot.get()), None);
    /// assert_eq!(c.get().map(|a| a.prot.get()), Some(2));
    /// ```
    #[must_use]
    pub fn peek_next(&self) -> Option<&SegmentOf<A>> {
        self.inner.peek_next().map(NodeRef::segment)
    }

    /// The segment before the cursor (the last one from the ghost position).
    #[must_use]
    pub fn peek_prev(&self) -> Option<&SegmentOf<A>> {
        self.inner.peek_prev().map(NodeRef::segment)
    }

    /// Moves to the next segment (wrapping through the ghost position).
    pub fn move_next(&mut self) {
        self.inner.move_next();
    }

    /// Moves to the previous segment (wrapping through the ghost position).
    pub fn move_prev(&mut self) {
        self.inner.move_prev();
    }

    /// Takes the segment at the cursor out of the map and returns its node,
    /// *without* calling [`Segment::remove`](crate::Segment::remove) (the
    /// caller now owns it). The cursor moves to the next segment.
    /// *O*(log n).
    pub fn remove_current(&mut self) -> Option<OwnedOf<A>> {
        self.inner.take()
    }
}

impl<A: RangeAdapter> core::fmt::Debug for Cursor<'_, A> {
    /// The range of the segment at the cursor (`None` at the ghost).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Cursor").field(&self.range()).finish()
    }
}

impl<A: RangeAdapter> core::fmt::Debug for CursorMut<'_, A> {
    /// The range of the segment at the cursor (`None` at the ghost).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("CursorMut").field(&self.range()).finish()
    }
}
