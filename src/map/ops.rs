//! The VM verbs: `mmap_fixed`, `mmap_fixed_noreplace`, `mmap_anywhere`,
//! `unmap`, `mprotect`, `clear`.
//!
//! Every operation that cuts segments works in two phases. Phase 1 makes
//! every split the operation needs: the only step that allocates and the only
//! one that may fail, and one that changes no mapping. Phase 2 then removes,
//! shrinks or modifies; it cannot fail. So an error leaves the address space
//! exactly as it was, and a panicking `split` too.
//!
//! Callbacks always run while the tree is valid: a segment is unlinked
//! before its `remove` runs (so a panic there drops it and leaves the rest
//! mapped), and is resized only after its `shrink` returned.

use intrusive_collections::LinkOps;

use super::{Detached, FlagsOf, OwnedOf, RangeActionMap, RangeAdapter, SegmentOf, Successor};
use crate::error::InsertError;
use crate::tree::LinkPtr;
use crate::{MapError, MapResult, Segment};

/// What an [`unmap`](RangeActionMap::unmap) or
/// [`mprotect`](RangeActionMap::mprotect) found in its range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Coverage {
    segments: usize,
    mapped_len: usize,
    range_len: usize,
}

impl Coverage {
    /// How many segments (pieces after splitting) the operation acted on.
    #[must_use]
    pub fn segments(&self) -> usize {
        self.segments
    }

    /// Bytes of the range that were mapped.
    #[must_use]
    pub fn mapped_len(&self) -> usize {
        self.mapped_len
    }

    /// Bytes of the range that were holes (left as they are).
    #[must_use]
    pub fn unmapped_len(&self) -> usize {
        self.range_len - self.mapped_len
    }

    /// Whether the whole range was mapped (Linux's `mprotect` fails with
    /// `ENOMEM` otherwise).
    #[must_use]
    pub fn is_fully_mapped(&self) -> bool {
        self.mapped_len == self.range_len
    }
}

impl<A: RangeAdapter> RangeActionMap<A> {
    /// Unmaps `[start, end)`: segments inside it are removed, segments that
    /// straddle a bound are shrunk (or, for one that contains the whole
    /// range, split once and shrunk). Segments outside keep their node.
    /// *O*(log n + k) for k segments touched.
    ///
    /// Callbacks: one `shrink` per straddling segment, one `remove` per
    /// segment inside, one `try_split` when a segment contains the range.
    ///
    /// ```text
    /// range:        [==========)
    /// before:   [aaaa)  [bb) [cccccc)        [ddd)
    /// after:    [aa)             [cc)        [ddd)
    /// ```
    ///
    /// # Examples
    ///
    /// ```
    /// # use range_action_map::doc_example::{area, AreaAdapter};
    /// # use range_action_map::RangeActionMap;
    /// let mut map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// map.mmap_fixed(0x1000, 0x9000, || area(0)).unwrap();
    /// let cov = map.unmap(0x4000, 0x5000).unwrap();
    /// assert_eq!(cov.segments(), 1);
    /// let ranges: Vec<_> = map.iter().map(|a| a.link.range()).collect();
    /// assert_eq!(ranges, [0x1000..0x4000, 0x5000..0x9000]);
    /// ```
    ///
    /// # Errors
    ///
    /// [`MapError::EmptyRange`] or [`MapError::OutOfWindow`] for a bad range;
    /// [`MapError::SplitFailed`] when `try_split` fails, and
    /// [`MapError::AlreadyLinked`] when it returns a node that is already in
    /// a map (that pointer is forgotten, never dropped); after either,
    /// nothing changed.
    ///
    /// # Panics
    ///
    /// Only if a callback panics. The map stays valid: segments already
    /// handled are gone, the one whose `remove` panicked is unlinked and
    /// dropped, one whose `shrink` panicked keeps its old range, the rest
    /// are untouched.
    pub fn unmap(&mut self, start: usize, end: usize) -> MapResult<Coverage> {
        self.window.check(start, end)?;
        let first = self.split_for_unmap(start, end)?;
        Ok(self.unmap_split(first, start, end).0)
    }

    /// Applies `flags` to `[start, end)`: segments that straddle a bound
    /// are split there, then every piece inside sees one `modify`. Holes in
    /// the range stay holes and are reported in the [`Coverage`]. Modified
    /// pieces are offered to [`Segment::try_merge`] with their neighbours.
    /// *O*(log n + k).
    ///
    /// ```text
    /// range:        [==========)
    /// before:   [aaaa)  [bb) [cccccc)
    /// after:    [a)[A)  [BB) [CC)[cc)        (upper case: modified)
    /// ```
    ///
    /// # Examples
    ///
    /// ```
    /// # use range_action_map::doc_example::{area, AreaAdapter};
    /// # use range_action_map::RangeActionMap;
    /// let mut map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// map.mmap_fixed(0x1000, 0x4000, || area(0)).unwrap();
    /// let cov = map.mprotect(0x2000, 0x6000, 7).unwrap();
    /// assert!(!cov.is_fully_mapped());
    /// let prots: Vec<_> = map.iter().map(|a| (a.link.range(), a.prot.get())).collect();
    /// assert_eq!(prots, [(0x1000..0x2000, 0), (0x2000..0x4000, 7)]);
    /// ```
    ///
    /// # Errors
    ///
    /// [`MapError::EmptyRange`] or [`MapError::OutOfWindow`];
    /// [`MapError::SplitFailed`] when `try_split` fails, and
    /// [`MapError::AlreadyLinked`] when it returns a node that is already in
    /// a map (that pointer is forgotten, never dropped). After either, a
    /// split made at `start` may remain (it changes no mapping) and nothing
    /// was modified.
    ///
    /// # Panics
    ///
    /// Only if a callback panics: pieces before the panicking one are
    /// modified, the rest are not; the map stays valid.
    pub fn mprotect(&mut self, start: usize, end: usize, flags: FlagsOf<A>) -> MapResult<Coverage> {
        self.window.check(start, end)?;
        // Phase 1: split at both bounds; `first` is the first piece inside.
        let mut first = self.first_overlapping(start, end);
        if let Some(link) = first.filter(|&l| self.node_at(l).start() < start) {
            first = Some(self.split_at(link, start)?);
        }
        if let Some(link) = first {
            // The piece holding `end - 1`: found without a descent in the
            // usual case of a range inside one segment.
            let last = if self.node_at(link).end() >= end {
                Some(link)
            } else {
                self.first_overlapping(end - 1, end)
            };
            if let Some(last) = last.filter(|&l| self.node_at(l).end() > end) {
                self.split_at(last, end)?;
            }
        }
        // Phase 2: modify every piece inside, merging as we go.
        let mut coverage = Coverage {
            range_len: end - start,
            ..Coverage::default()
        };
        let mut cur = first;
        let mut last = None;
        while let Some(link) = cur {
            let node = self.node_at(link);
            if node.start() >= end {
                break;
            }
            coverage.segments += 1;
            coverage.mapped_len += node.end() - node.start();
            self.segment_at(link).modify(flags, &mut self.args);
            let next = node.next().map(|n| n.ptr());
            last = Some(self.merge_with_prev(link));
            cur = next;
        }
        if let Some(link) = last {
            self.merge_with_next(link);
        }
        Ok(coverage)
    }

    /// Maps a new segment at exactly `[start, end)`, unmapping whatever was
    /// there first (`MAP_FIXED`). `f` builds the node; it is called after
    /// the splits and before anything is unmapped. The new segment is offered
    /// to [`Segment::try_merge`] with its neighbours. *O*(log n + k).
    ///
    /// # Returns
    ///
    /// The segment now covering `start` (the new one, or the neighbour it
    /// merged into).
    ///
    /// # Examples
    ///
    /// ```
    /// # use range_action_map::doc_example::{area, AreaAdapter};
    /// # use range_action_map::RangeActionMap;
    /// let mut map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// map.mmap_fixed(0x1000, 0x9000, || area(1)).unwrap();
    /// let seg = map.mmap_fixed(0x3000, 0x4000, || area(2)).unwrap();
    /// assert_eq!(seg.prot.get(), 2);
    /// assert_eq!(map.len(), 3);
    /// ```
    ///
    /// # Errors
    ///
    /// [`MapError::EmptyRange`] or [`MapError::OutOfWindow`] (then `f` is not
    /// called); [`MapError::SplitFailed`] (nothing changed, `f` not called);
    /// [`MapError::AlreadyLinked`] if `f` returns a node that is in a map
    /// (the pointer is then forgotten, never dropped; only a split, which
    /// changes no mapping, may have happened).
    ///
    /// # Panics
    ///
    /// If `f` or a callback panics; the map stays valid (as for
    /// [`unmap`](Self::unmap)).
    pub fn mmap_fixed(
        &mut self,
        start: usize,
        end: usize,
        f: impl FnOnce() -> OwnedOf<A>,
    ) -> MapResult<&SegmentOf<A>> {
        self.window.check(start, end)?;
        let first = self.split_for_unmap(start, end)?;
        // Acquired before the first callback, so that no callback can link
        // the node elsewhere; dropped if a callback below panics.
        let link = self.acquire(f()).map_err(forget_linked)?;
        let mut pinned = Pinned {
            map: self,
            link: Some(link),
        };
        let (_, next) = pinned.map.unmap_split(first, start, end);
        pinned.link = None;
        drop(pinned);
        Ok(self.insert_and_merge(link, start, end, next))
    }

    /// Maps `node` at `[start, end)` only if no segment overlaps it
    /// (`MAP_FIXED_NOREPLACE`). *O*(log n).
    ///
    /// # Errors
    ///
    /// [`MapError::Overlap`], [`MapError::EmptyRange`],
    /// [`MapError::OutOfWindow`] or [`MapError::AlreadyLinked`], with `node`
    /// handed back untouched in the [`InsertError`].
    pub fn mmap_fixed_noreplace(
        &mut self,
        start: usize,
        end: usize,
        node: OwnedOf<A>,
    ) -> Result<&SegmentOf<A>, InsertError<OwnedOf<A>>> {
        let next = match self
            .window
            .check(start, end)
            .and_then(|()| self.check_free(start, end))
        {
            Ok(next) => next,
            Err(error) => return Err(InsertError { error, node }),
        };
        let link = self.acquire(node).map_err(|node| InsertError {
            error: MapError::AlreadyLinked,
            node,
        })?;
        Ok(self.insert_and_merge(link, start, end, next))
    }

    /// Removes every segment, calling [`Segment::remove`] and then
    /// [`Segment::release`] on each, in *O*(n). Dropping the map releases
    /// the nodes without `remove`.
    ///
    /// # Panics
    ///
    /// If a callback panics; the map is then empty, and the nodes not yet
    /// released are dropped.
    pub fn clear(&mut self) {
        /// Drops the nodes a panicking `remove` would otherwise leak.
        struct Rest<'a, A: RangeAdapter> {
            drain: crate::tree::navigate::Drain,
            adapter: &'a A,
        }
        impl<A: RangeAdapter> Rest<'_, A> {
            fn next(&mut self) -> Option<Detached<'_, A>> {
                let link = self.drain.next()?;
                // SAFETY: drained links are unlinked former tree links of
                // this adapter's values, each yielded once.
                Some(unsafe { Detached::new(self.adapter, self.adapter.get_value(link)) })
            }
        }
        impl<A: RangeAdapter> Drop for Rest<'_, A> {
            fn drop(&mut self) {
                while self.next().is_some() {}
            }
        }

        let mut rest = Rest {
            drain: self.tree.drain(),
            adapter: &self.adapter,
        };
        while let Some(node) = rest.next() {
            node.segment().remove(&mut self.args);
            node.release(&mut self.args);
        }
    }

    // === shared steps ===

    /// The first segment that overlaps `[start, end)`, if any.
    fn first_overlapping(&self, start: usize, end: usize) -> Option<LinkPtr> {
        self.tree
            .lower_bound(start)
            .filter(|n| n.start() < end)
            .map(|n| n.ptr())
    }

    /// Phase 1 of an unmap of `[start, end)`: the one split it may need, when
    /// a segment strictly contains the range. Returns the first segment
    /// that ends above `start`, where phase 2 starts.
    fn split_for_unmap(&mut self, start: usize, end: usize) -> MapResult<Option<LinkPtr>> {
        let first = self.tree.lower_bound(start).map(|n| n.ptr());
        if let Some(link) = first {
            let node = self.node_at(link);
            if node.start() < start && node.end() > end {
                self.split_at(link, end)?;
            }
        }
        Ok(first)
    }

    /// Phase 2 of an unmap, from `first`, the first segment that ends above
    /// `start`: no segment crosses both bounds any more, so each one that
    /// overlaps the range is shrunk from one side or removed whole. Returns
    /// what was found, and the segment that now follows the range.
    fn unmap_split(
        &mut self,
        first: Option<LinkPtr>,
        start: usize,
        end: usize,
    ) -> (Coverage, Successor) {
        let mut coverage = Coverage {
            range_len: end - start,
            ..Coverage::default()
        };
        let mut cur = first;
        while let Some(link) = cur {
            let node = self.node_at(link);
            let (s, e) = (node.start(), node.end());
            if s >= end {
                break;
            }
            coverage.segments += 1;
            coverage.mapped_len += e.min(end) - s.max(start);
            if e > end {
                // The last one, and it stays: it follows the range.
                self.segment_at(link).shrink(end, e, &mut self.args);
                self.resize(link, end, e);
                break;
            }
            cur = node.next().map(|n| n.ptr());
            if s < start {
                self.segment_at(link).shrink(s, start, &mut self.args);
                self.resize(link, s, start);
            } else {
                // SAFETY: `link` was just found in the tree.
                let value = unsafe { self.detach(link) };
                // SAFETY: `detach` returned the raw value of this adapter.
                let node = unsafe { Detached::new(&self.adapter, value) };
                node.segment().remove(&mut self.args);
                node.release(&mut self.args);
            }
        }
        (coverage, cur)
    }

    /// Splits the segment at `link` at `pos` (strictly inside it): it keeps
    /// `[start, pos)`, a new node from `try_split` takes `[pos, end)` and
    /// is returned.
    fn split_at(&mut self, link: LinkPtr, pos: usize) -> MapResult<LinkPtr> {
        let right = self
            .segment_at(link)
            .try_split(pos, &mut self.args)
            .map_err(|_| MapError::SplitFailed { pos })?;
        let right = self.acquire(right).map_err(forget_linked)?;
        // SAFETY: `link` is in the tree (callers just found it), `right` was
        // just acquired, so it is live and in no tree.
        unsafe { self.tree.split(link, pos, right) };
        Ok(right)
    }

    /// Links a node at `[start, end)` (free, followed by `next`) and merges
    /// it with its neighbours when they agree; returns the segment covering
    /// `start`.
    pub(super) fn insert_and_merge(
        &mut self,
        link: LinkPtr,
        start: usize,
        end: usize,
        next: Successor,
    ) -> &SegmentOf<A> {
        self.link(link, start, end, next);
        let link = self.merge_with_prev(link);
        let link = self.merge_with_next(link);
        self.segment_at(link)
    }

    /// Offers `link` to its predecessor's `try_merge`; returns the link that
    /// now covers `link`'s range.
    fn merge_with_prev(&mut self, link: LinkPtr) -> LinkPtr {
        match self
            .node_at(link)
            .prev()
            .filter(|p| p.end() == self.node_at(link).start())
        {
            Some(prev) => {
                let prev = prev.ptr();
                if self.try_absorb(prev, link) {
                    prev
                } else {
                    link
                }
            }
            None => link,
        }
    }

    /// Offers `link`'s successor to `link`'s `try_merge`; returns `link`.
    fn merge_with_next(&mut self, link: LinkPtr) -> LinkPtr {
        if let Some(next) = self
            .node_at(link)
            .next()
            .filter(|n| n.start() == self.node_at(link).end())
        {
            let next = next.ptr();
            self.try_absorb(link, next);
        }
        link
    }

    /// Asks `prev` to absorb the adjacent `next`; on yes, `next` leaves the
    /// map (released without `remove`) and `prev` grows over its range.
    fn try_absorb(&mut self, prev: LinkPtr, next: LinkPtr) -> bool {
        let next_seg = self.segment_at(next);
        if !self.segment_at(prev).try_merge(next_seg, &mut self.args) {
            return false;
        }
        // SAFETY: `next` is prev's successor in this tree (callers).
        unsafe { self.tree.merge(prev, next) };
        // SAFETY: the tree just unlinked `next`.
        let value = unsafe { self.release_link(next) };
        // SAFETY: `release_link` returned the raw value of this adapter.
        unsafe { Detached::new(&self.adapter, value) }.release(&mut self.args);
        true
    }
}

/// A node acquired by the map (its link marked as linked, so that no other
/// map can take it) and not yet in the tree, released and dropped if the
/// guard drops while it still holds it.
///
/// # Invariants
///
/// `link`, while set, came from `map.acquire` and is in no tree.
struct Pinned<'m, A: RangeAdapter> {
    map: &'m mut RangeActionMap<A>,
    link: Option<LinkPtr>,
}

impl<A: RangeAdapter> Drop for Pinned<'_, A> {
    fn drop(&mut self) {
        if let Some(link) = self.link {
            // SAFETY: by the type invariant the link was acquired and is in
            // no tree: releasing it and rebuilding its owner (once, in the
            // guard) undoes `acquire`.
            unsafe {
                self.map.adapter.link_ops_mut().release_link(link);
                drop(Detached::new(
                    &self.map.adapter,
                    self.map.adapter.get_value(link),
                ));
            }
        }
    }
}

/// The error for a node that is already in a map; the pointer is forgotten,
/// never dropped, since its value is owned by that map.
pub(super) fn forget_linked<P>(owned: P) -> MapError {
    core::mem::forget(owned);
    MapError::AlreadyLinked
}
