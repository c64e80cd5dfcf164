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

use super::{ArgsOf, FlagsOf, OwnedOf, RangeActionMap, RangeAdapter, SegmentOf};
use crate::error::InsertError;
use crate::tree::handle::{forget_linked, CursorMut, NodeRef, Pinned, Rest, Tree};
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
    /// # use range_action_map_testkit::doc::{area, AreaAdapter};
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
        let mut cursor = split_for_unmap(&mut self.tree, &mut self.args, start, end)?;
        Ok(unmap_split::<A, false>(
            &mut cursor,
            &mut self.args,
            start,
            end,
        ))
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
    /// # use range_action_map_testkit::doc::{area, AreaAdapter};
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
        let args = &mut self.args;
        // Phase 1: split at both bounds; the cursor ends at the first piece
        // inside.
        let mut cursor = self.tree.lower_bound_mut(start);
        // The first segment that ends above `start` straddles it if it
        // starts below.
        if cursor.get().is_some_and(|n| n.start() < start) {
            cursor.split_off(start, args)?;
        }
        // Walk to the last piece (no descent: phase 2 walks as far), split
        // it at `end` if it reaches beyond, and come back.
        let mut steps = 0;
        while cursor.get().is_some_and(|n| n.end() < end)
            && cursor.peek_next().is_some_and(|n| n.start() < end)
        {
            cursor.move_next();
            steps += 1;
        }
        if cursor
            .get()
            .is_some_and(|n| n.start() < end && n.end() > end)
        {
            cursor.split(end, args)?;
        }
        for _ in 0..steps {
            cursor.move_prev();
        }
        // Phase 2: modify every piece inside, merging as we go.
        let mut coverage = Coverage {
            range_len: end - start,
            ..Coverage::default()
        };
        // Loop invariant: the pieces before the cursor are modified and
        // merged with their predecessors; the cursor is at the next piece.
        while let Some(node) = cursor.get().filter(|n| n.start() < end) {
            coverage.segments += 1;
            coverage.mapped_len += node.end() - node.start();
            node.segment().modify(flags, args);
            cursor.merge_prev(args);
            cursor.move_next();
        }
        if coverage.segments > 0 {
            cursor.move_prev();
            cursor.merge_next(args);
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
    /// # use range_action_map_testkit::doc::{area, AreaAdapter};
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
        let args = &mut self.args;
        let mut cursor = split_for_unmap(&mut self.tree, args, start, end)?;
        // Pinned before the first callback, so that no callback can link
        // the node elsewhere; dropped if a callback below panics.
        let node = cursor.pin(f()).map_err(forget_linked)?;
        unmap_split::<A, true>(&mut cursor, args, start, end);
        let node = if cursor.get().is_some_and(|n| n.start() < end) {
            map_over(&mut cursor, node, start, end, args);
            merge_around(cursor, args)
        } else {
            insert_and_merge(cursor, node, start, end, args)
        };
        Ok(node.segment())
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
        if let Err(error) = self.window.check(start, end) {
            return Err(InsertError { error, node });
        }
        let Some(mut cursor) = self.tree.vacant_mut(start, end) else {
            let error = MapError::Overlap { start, end };
            return Err(InsertError { error, node });
        };
        let node = cursor.pin(node).map_err(|node| InsertError {
            error: MapError::AlreadyLinked,
            node,
        })?;
        Ok(insert_and_merge(cursor, node, start, end, &mut self.args).segment())
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
        self.tree
            .clear_with(&mut self.args, Rest::Drop, |segment, args| {
                segment.remove(args)
            });
    }
}

// === shared steps ===

/// Phase 1 of an unmap of `[start, end)`: the one split it may need, when
/// a segment strictly contains the range. Returns a cursor at the first
/// segment that ends above `start`, where phase 2 starts.
fn split_for_unmap<'t, A: RangeAdapter>(
    tree: &'t mut Tree<A>,
    args: &mut ArgsOf<A>,
    start: usize,
    end: usize,
) -> MapResult<CursorMut<'t, A>> {
    let mut cursor = tree.lower_bound_mut(start);
    if cursor
        .get()
        .is_some_and(|n| n.start() < start && n.end() > end)
    {
        cursor.split(end, args)?;
    }
    Ok(cursor)
}

/// Phase 2 of an unmap, from the cursor at the first segment that ends
/// above `start`: no segment crosses both bounds any more, so each one that
/// overlaps the range is shrunk from one side or removed whole. With
/// `KEEP_INSIDE`, stops at the first segment inside the range, with the
/// cursor at it, for [`map_over`]. Otherwise leaves the cursor at the
/// segment that now follows the range (or the ghost). `KEEP_INSIDE` is a
/// const parameter so that `unmap`'s copy has no test for it.
fn unmap_split<A: RangeAdapter, const KEEP_INSIDE: bool>(
    cursor: &mut CursorMut<'_, A>,
    args: &mut ArgsOf<A>,
    start: usize,
    end: usize,
) -> Coverage {
    let mut coverage = Coverage {
        range_len: end - start,
        ..Coverage::default()
    };
    // Loop invariant: every mapped address of `[start, cursor's start)` is
    // unmapped, and the cursor is at the first segment that ends above it.
    while let Some(node) = cursor.get().filter(|n| n.start() < end) {
        let (s, e) = (node.start(), node.end());
        if KEEP_INSIDE && s >= start && e <= end {
            break;
        }
        coverage.segments += 1;
        coverage.mapped_len += e.min(end) - s.max(start);
        if e > end {
            // The last one, and it stays: it follows the range.
            node.segment().shrink(end, e, args);
            cursor.resize(end, e);
            break;
        }
        if s < start {
            node.segment().shrink(s, start, args);
            cursor.resize(s, start);
            cursor.move_next();
        } else {
            cursor.remove_with(args, SegmentOf::<A>::remove);
        }
    }
    coverage
}

/// Links the pinned node at `[start, end)` (free, the cursor at the
/// segment after it) and merges it with its neighbours when they agree;
/// returns the segment covering `start`.
pub(super) fn insert_and_merge<'t, A: RangeAdapter>(
    mut cursor: CursorMut<'t, A>,
    node: Pinned<A>,
    start: usize,
    end: usize,
    args: &mut ArgsOf<A>,
) -> NodeRef<'t, A> {
    debug_assert!(
        cursor.get().is_none_or(|n| end <= n.start())
            && cursor.peek_prev().is_none_or(|p| p.end() <= start),
        "inconsistent state: linking {start:#x}..{end:#x} over a mapped segment"
    );
    cursor.insert_before(node, start, end);
    merge_around(cursor, args)
}

/// Merges the segment just linked at the cursor with its neighbours when
/// they agree; returns the segment covering its start.
fn merge_around<'t, A: RangeAdapter>(
    mut cursor: CursorMut<'t, A>,
    args: &mut ArgsOf<A>,
) -> NodeRef<'t, A> {
    cursor.merge_prev(args);
    cursor.merge_next(args);
    match cursor.into_ref() {
        Some(node) => node,
        None => unreachable!("inconsistent state: the cursor left the node it linked"),
    }
}

/// Phase 2 of `mmap_fixed` from the first segment inside `[start, end)`
/// (the cursor's; any segment straddling `start` already shrunk): the
/// pinned node takes that segment's place, then grows over the holes and
/// the segments after it up to `end`, shrinking one that straddles `end`.
/// The callbacks run in the order of [`unmap_split`]'s, and no gap opens
/// in the tree, so the refresh of the augmentation stops early, and
/// nothing is erased, inserted or rebalanced but the segments inside.
/// Should a callback panic, the new node is taken out again and dropped,
/// as if it had never been linked. Leaves the cursor at the new node.
fn map_over<A: RangeAdapter>(
    cursor: &mut CursorMut<'_, A>,
    node: Pinned<A>,
    start: usize,
    end: usize,
    args: &mut ArgsOf<A>,
) {
    /// Takes the new node (at the cursor) out again if a callback unwinds.
    struct Unlink<'c, 't, A: RangeAdapter>(&'c mut CursorMut<'t, A>);
    impl<A: RangeAdapter> Drop for Unlink<'_, '_, A> {
        fn drop(&mut self) {
            drop(self.0.take());
        }
    }

    let Some(first_end) = cursor.get().map(|n| n.end()) else {
        unreachable!("inconsistent state: mapping over a range with no segment inside")
    };
    let guard = Unlink(cursor);
    guard
        .0
        .replace_with(node, start, first_end, args, SegmentOf::<A>::remove);
    // Loop invariant: the new node covers `[start, its end)`, everything
    // mapped there before is unmapped, and the cursor is at the new node.
    while let Some(next) = guard.0.peek_next().filter(|n| n.start() < end) {
        let (s, e) = (next.start(), next.end());
        if e > end {
            // It stays: it follows the range.
            next.segment().shrink(end, e, args);
            guard.0.move_next();
            guard.0.resize(end, e);
            guard.0.move_prev();
            break;
        }
        debug_assert!(s >= start, "inconsistent state: {s:#x} below {start:#x}");
        guard.0.absorb_next_with(args, SegmentOf::<A>::remove);
    }
    if guard.0.get().is_some_and(|n| n.end() < end) {
        // The range ends in a hole.
        guard.0.resize(start, end);
    }
    core::mem::forget(guard);
}
