//! Ownership of the nodes, and the safe handles the map works through.
//!
//! A [`Tree`] owns its nodes through the adapter: a node enters it
//! [`Pinned`] (its owning pointer turned raw, its link acquired) and leaves
//! it [`Detached`] (unlinked, the owner rebuilt exactly once and handed to
//! [`Segment::release`] or to the caller). In between, the layers above see
//! the node only through handles whose lifetimes are tied to the borrow of
//! the tree, as std's `BTreeMap` hands `map.rs` typed `NodeRef`s:
//!
//! - [`NodeRef<'t, A>`]: a shared handle, `Copy`, for lookups, iterators and
//!   read-only cursors;
//! - [`CursorMut<'t, A>`]: the one mutable handle, a position (a node, or
//!   the ghost past both ends) holding `&'t mut Tree`, with the operations
//!   the map needs: resize, split, merge with the successor or absorb it
//!   unasked, take out, insert before the position, and put a new node in
//!   the place of the one there.
//!
//! Nothing here knows what a segment means beyond the [`Segment`] methods
//! that move ownership (`try_split` for a new node, `try_merge` to ask
//! before absorbing one, `release` for every node leaving the tree).
//! Ordering and disjointness (property 6) stay the caller's: breaking them
//! gives wrong answers, never unsoundness.

use core::ops::Range;

use intrusive_collections::{Adapter, LinkOps, PointerOps};

use super::check::Invariant;
use super::gap::HoleQuery;
use super::navigate::Drain;
use super::{LinkPtr, Node, RangeLink, RangeLinkOps, RawTree};
use crate::{MapError, MapResult, Segment};

/// An adapter whose nodes can live in a
/// [`RangeActionMap`](crate::RangeActionMap): declared with
/// [`range_adapter!`](crate::range_adapter) (or
/// [`intrusive_adapter!`](intrusive_collections::intrusive_adapter), which
/// does not check the field's type) over a [`RangeLink`] field of a type
/// implementing [`Segment`], whose `Segment::Pointer` is the adapter's pointer
/// type.
///
/// It is implemented for every such adapter whose pointer operations are
/// `Copy` (those of `intrusive_adapter!` are); you never implement it.
pub trait RangeAdapter:
    Adapter<
    LinkOps = RangeLinkOps,
    PointerOps: Copy
                    + PointerOps<
        Value: Segment<Pointer = <Self::PointerOps as PointerOps>::Pointer> + Sized,
    >,
>
{
}

impl<A> RangeAdapter for A where
    A: Adapter<
        LinkOps = RangeLinkOps,
        PointerOps: Copy
                        + PointerOps<
            Value: Segment<Pointer = <A::PointerOps as PointerOps>::Pointer> + Sized,
        >,
    >
{
}

/// The segment type of adapter `A`.
pub type SegmentOf<A> = <<A as Adapter>::PointerOps as PointerOps>::Value;
/// The owning pointer type of adapter `A` (`Box<T>`, `UnsafeRef<T>`, `&'static T`).
pub type OwnedOf<A> = <<A as Adapter>::PointerOps as PointerOps>::Pointer;
/// The per-map callback argument of adapter `A`'s segments.
pub type ArgsOf<A> = <SegmentOf<A> as Segment>::Args;

/// A tree that owns its nodes through the adapter `A`.
///
/// # Invariants
///
/// Every link of `raw` is the link of a value of `adapter` whose owning
/// pointer was turned raw by `into_raw` and whose link was acquired (see
/// [`Pinned`]); the tree is its only owner until it leaves as a
/// [`Detached`], which rebuilds the owner exactly once.
pub(crate) struct Tree<A: RangeAdapter> {
    raw: RawTree,
    adapter: A,
}

// SAFETY: the raw pointers in the tree point only into nodes it owns, so
// moving the tree moves its nodes (owned through `OwnedOf<A>`, which may be
// sent by the bound) and its adapter (which may be sent by the bound).
unsafe impl<A: RangeAdapter + Send> Send for Tree<A> where OwnedOf<A>: Send {}

// SAFETY: through `&Tree` nothing writes a link: every `&self` method only
// reads links (all atomics), and the one thing a `&self` lookup writes, the
// last-hit cache, is an `AtomicPtr`. Writes to links need `&mut Tree`, which
// no reader can hold at the same time. So sharing the tree shares its
// adapter (`A: Sync`) and hands out `&` segments to several threads
// (`SegmentOf<A>: Sync`), and nothing else.
unsafe impl<A: RangeAdapter + Sync> Sync for Tree<A> where SegmentOf<A>: Sync {}

// === impl Tree: reading ===

impl<A: RangeAdapter> Tree<A> {
    /// An empty tree.
    pub(crate) const fn new(adapter: A) -> Self {
        Tree {
            raw: RawTree::new(),
            adapter,
        }
    }

    /// Number of nodes, in *O*(1).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.raw.len()
    }

    /// The handle of a node of `self.raw`.
    #[inline]
    fn handle<'t>(&'t self, node: Node<'t>) -> NodeRef<'t, A> {
        NodeRef {
            node,
            adapter: &self.adapter,
        }
    }

    /// The lowest node, in *O*(1).
    #[inline]
    pub(crate) fn first(&self) -> Option<NodeRef<'_, A>> {
        self.raw.first().map(|n| self.handle(n))
    }

    /// The highest node, in *O*(1).
    #[inline]
    pub(crate) fn last(&self) -> Option<NodeRef<'_, A>> {
        self.raw.last().map(|n| self.handle(n))
    }

    /// The node containing `addr` ([`RawTree::find`]).
    #[inline]
    pub(crate) fn find(&self, addr: usize) -> Option<NodeRef<'_, A>> {
        self.raw.find(addr).map(|n| self.handle(n))
    }

    /// The first node that ends after `addr` ([`RawTree::lower_bound`]).
    #[inline]
    pub(crate) fn lower_bound(&self, addr: usize) -> Option<NodeRef<'_, A>> {
        self.raw.lower_bound(addr).map(|n| self.handle(n))
    }

    /// Where a node of `query.len` bytes goes: at `at` if that range is
    /// free, else where `query` finds a hole ([`RawTree::find_hole`]); and
    /// the node that follows it. `at + query.len` must not overflow.
    fn place_raw(&self, at: Option<usize>, query: &HoleQuery) -> Option<(usize, Option<Node<'_>>)> {
        let free_at = at.and_then(|at| Some((at, self.after_free(at, at + query.len)?)));
        free_at.or_else(|| self.raw.find_hole(query))
    }

    /// `Some` of the node after `[start, end)` (`None` after the last) if no
    /// node overlaps the range, in *O*(log n).
    fn after_free(&self, start: usize, end: usize) -> Option<Option<Node<'_>>> {
        let next = self.raw.lower_bound(start);
        next.is_none_or(|n| n.start() >= end).then_some(next)
    }

    /// Whether no node overlaps `[start, end)`, in *O*(log n).
    #[cfg(feature = "alloc")]
    #[inline]
    pub(crate) fn is_free(&self, start: usize, end: usize) -> bool {
        self.after_free(start, end).is_some()
    }

    /// Where a node of `query.len` bytes goes: at `at` if that range is
    /// free, else where `query` finds a hole. *O*(log n).
    #[inline]
    pub(crate) fn place(&self, at: Option<usize>, query: &HoleQuery) -> Option<usize> {
        self.place_raw(at, query).map(|(start, _)| start)
    }

    /// The link embedded in `segment`, which may be in this tree, in another
    /// one or in none: only its own fields may be read, never the links it
    /// points to (whoever owns them may have freed them).
    #[inline]
    pub(crate) fn link_of<'s>(&self, segment: &'s SegmentOf<A>) -> &'s RangeLink {
        // SAFETY: `get_link` offsets a live value's address to its link
        // field, which lives as long as the borrow of `segment`.
        unsafe { self.adapter.get_link(segment).as_ref() }
    }

    /// The node of `segment` if it is a node of this tree, in *O*(log n)
    /// (*O*(1) when it is the last `find` hit). Decided by a lookup of the
    /// segment's start here and a pointer comparison, never by following
    /// the segment's own tree pointers.
    pub(crate) fn member(&self, segment: &SegmentOf<A>) -> Option<NodeRef<'_, A>> {
        let link = self.link_of(segment);
        self.find(link.start())
            .filter(|node| core::ptr::eq(node.node.link(), link))
    }

    /// Checks every invariant of the raw tree ([`RawTree::check`]).
    pub(crate) fn check(&self) -> Result<(), Invariant> {
        self.raw.check()
    }
}

// === impl Tree: mutable positions ===

impl<A: RangeAdapter> Tree<A> {
    /// A mutable cursor at `node`, a node of `self.raw`, or the ghost.
    fn cursor_mut(&mut self, node: Option<LinkPtr>) -> CursorMut<'_, A> {
        // INVARIANT: callers pass nodes they just found in this tree.
        CursorMut {
            tree: self,
            current: node,
        }
    }

    /// A mutable cursor at the first node that ends after `addr`, or at the
    /// ghost.
    pub(crate) fn lower_bound_mut(&mut self, addr: usize) -> CursorMut<'_, A> {
        let node = self.raw.lower_bound(addr).map(Node::ptr);
        self.cursor_mut(node)
    }

    /// A mutable cursor at the node containing `addr`, if there is one.
    pub(crate) fn find_mut(&mut self, addr: usize) -> Option<CursorMut<'_, A>> {
        let node = self.raw.find(addr).map(Node::ptr)?;
        Some(self.cursor_mut(Some(node)))
    }

    /// A mutable cursor where a node for `[start, end)` is linked (at the
    /// node after it, or the ghost), if no node overlaps the range.
    pub(crate) fn vacant_mut(&mut self, start: usize, end: usize) -> Option<CursorMut<'_, A>> {
        let next = self.after_free(start, end)?.map(Node::ptr);
        Some(self.cursor_mut(next))
    }

    /// [`place`](Self::place), and a mutable cursor at the node after the
    /// place (the ghost after the last node), where the new node goes.
    pub(crate) fn place_mut(
        &mut self,
        at: Option<usize>,
        query: &HoleQuery,
    ) -> Option<(usize, CursorMut<'_, A>)> {
        let (start, next) = self.place_raw(at, query)?;
        let next = next.map(Node::ptr);
        Some((start, self.cursor_mut(next)))
    }

    /// Takes ownership of `owned` for insertion: its pointer turned raw and
    /// its link acquired, so that no other tree can take it. Hands it back
    /// if its link is already in a tree.
    pub(crate) fn pin(&mut self, owned: OwnedOf<A>) -> Result<Pinned<A>, OwnedOf<A>> {
        let ops = *self.adapter.pointer_ops();
        let value = ops.into_raw(owned);
        // SAFETY: `value` comes from `into_raw`, so it points to a live value.
        let link = unsafe { self.adapter.get_link(value) };
        // SAFETY: `link` points to the live value's link.
        if unsafe { self.adapter.link_ops_mut().acquire_link(link) } {
            // INVARIANT: acquired just now, in no tree, owned by the guard.
            Ok(Pinned { link, value, ops })
        } else {
            // SAFETY: `value` came from `into_raw` just above and was not used.
            Err(unsafe { ops.from_raw(value) })
        }
    }

    /// Empties the tree: hands every node, in post-order, to `each` and
    /// then to [`Segment::release`], in *O*(n). Should either panic, the
    /// nodes not yet released are dropped (`Rest::Drop`) or leaked
    /// (`Rest::Leak`, where dropping them could panic again during unwind);
    /// the tree is empty either way.
    pub(crate) fn clear_with(
        &mut self,
        args: &mut ArgsOf<A>,
        rest: Rest,
        mut each: impl FnMut(&SegmentOf<A>, &mut ArgsOf<A>),
    ) {
        /// The nodes the walk has not yet yielded, dropped or leaked if
        /// the loop below unwinds.
        struct Remaining<'t, A: RangeAdapter> {
            drain: Drain,
            adapter: &'t A,
            rest: Rest,
        }
        impl<A: RangeAdapter> Remaining<'_, A> {
            fn next(&mut self) -> Option<Detached<A>> {
                let link = self.drain.next()?;
                // SAFETY: drained links are unlinked former links of this
                // tree (type invariant), each yielded once; the guard now
                // owns the value.
                let value = unsafe { self.adapter.get_value(link) };
                Some(Detached {
                    value,
                    ops: *self.adapter.pointer_ops(),
                })
            }
        }
        impl<A: RangeAdapter> Drop for Remaining<'_, A> {
            fn drop(&mut self) {
                if let Rest::Drop = self.rest {
                    while self.next().is_some() {}
                }
            }
        }

        let mut remaining = Remaining {
            drain: self.raw.drain(),
            adapter: &self.adapter,
            rest,
        };
        while let Some(node) = remaining.next() {
            each(node.segment(), args);
            node.release(args);
        }
    }
}

/// What [`Tree::clear_with`] does with the nodes left when a callback
/// panics.
#[derive(Clone, Copy)]
pub(crate) enum Rest {
    /// Drop them (each owner once).
    Drop,
    /// Leak them (during a `Drop` of the map, where dropping could panic
    /// again while unwinding).
    Leak,
}

// === NodeRef ===

/// A node of a [`Tree<A>`], for as long as the tree is borrowed (`'t`).
///
/// # Invariants
///
/// `node` is a node of the tree `adapter` belongs to.
pub(crate) struct NodeRef<'t, A: RangeAdapter> {
    node: Node<'t>,
    adapter: &'t A,
}

impl<A: RangeAdapter> Clone for NodeRef<'_, A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A: RangeAdapter> Copy for NodeRef<'_, A> {}

impl<A: RangeAdapter> PartialEq for NodeRef<'_, A> {
    fn eq(&self, other: &Self) -> bool {
        self.node == other.node
    }
}

impl<'t, A: RangeAdapter> NodeRef<'t, A> {
    /// The node's first address.
    #[inline]
    pub(crate) fn start(self) -> usize {
        self.node.start()
    }

    /// One past the node's last address.
    #[inline]
    pub(crate) fn end(self) -> usize {
        self.node.end()
    }

    /// The node's range.
    #[inline]
    pub(crate) fn range(self) -> Range<usize> {
        self.node.range()
    }

    /// The segment the node belongs to.
    #[inline]
    pub(crate) fn segment(self) -> &'t SegmentOf<A> {
        // SAFETY: the node is in the tree (type invariant), which put it
        // there from a value of this adapter and keeps it alive while it is
        // borrowed for `'t`.
        unsafe { &*self.adapter.get_value(self.node.ptr()) }
    }

    /// The in-order successor.
    #[inline]
    pub(crate) fn next(self) -> Option<Self> {
        self.node.next().map(|node| NodeRef { node, ..self })
    }

    /// The in-order predecessor.
    #[inline]
    pub(crate) fn prev(self) -> Option<Self> {
        self.node.prev().map(|node| NodeRef { node, ..self })
    }
}

// === CursorMut ===

/// A mutable position in a [`Tree<A>`]: at a node, or at the ghost past
/// both ends.
///
/// # Invariants
///
/// `current`, when set, is a node of `tree.raw`.
pub(crate) struct CursorMut<'t, A: RangeAdapter> {
    tree: &'t mut Tree<A>,
    current: Option<LinkPtr>,
}

impl<'t, A: RangeAdapter> CursorMut<'t, A> {
    /// The tree, to read.
    #[inline]
    pub(crate) fn tree(&self) -> &Tree<A> {
        self.tree
    }

    /// The node at the cursor; `None` at the ghost.
    #[inline]
    pub(crate) fn get(&self) -> Option<NodeRef<'_, A>> {
        // SAFETY: `current` is a node of the tree (type invariant), live
        // with its reach while the tree is borrowed.
        let node = self.current.map(|p| unsafe { Node::from_ptr(p) });
        node.map(|n| self.tree.handle(n))
    }

    /// The node at the cursor, for the whole borrow of the tree.
    #[inline]
    pub(crate) fn into_ref(self) -> Option<NodeRef<'t, A>> {
        let tree: &'t Tree<A> = self.tree;
        // SAFETY: as in `get`, for `'t`, the borrow the cursor held.
        let node = self.current.map(|p| unsafe { Node::from_ptr(p) });
        node.map(|n| tree.handle(n))
    }

    /// The node after the cursor (the first from the ghost).
    #[inline]
    pub(crate) fn peek_next(&self) -> Option<NodeRef<'_, A>> {
        match self.get() {
            Some(n) => n.next(),
            None => self.tree.first(),
        }
    }

    /// The node before the cursor (the last from the ghost).
    #[inline]
    pub(crate) fn peek_prev(&self) -> Option<NodeRef<'_, A>> {
        match self.get() {
            Some(n) => n.prev(),
            None => self.tree.last(),
        }
    }

    /// Moves to the next node (wrapping through the ghost).
    #[inline]
    pub(crate) fn move_next(&mut self) {
        // INVARIANT: a node read from the tree.
        self.current = self.peek_next().map(|n| n.node.ptr());
    }

    /// Moves to the previous node (wrapping through the ghost).
    #[inline]
    pub(crate) fn move_prev(&mut self) {
        // INVARIANT: a node read from the tree.
        self.current = self.peek_prev().map(|n| n.node.ptr());
    }

    /// The node at the cursor, which callers know is not the ghost.
    #[track_caller]
    fn at(&self) -> NodeRef<'_, A> {
        match self.get() {
            Some(node) => node,
            None => panic!("inconsistent state: a node operation at the ghost position"),
        }
    }

    /// Changes the range of the node at the cursor in place
    /// ([`RawTree::resize`]); it must stay between its neighbours.
    pub(crate) fn resize(&mut self, start: usize, end: usize) {
        let link = self.at().node.ptr();
        // SAFETY: `link` is a node of the tree (type invariant).
        unsafe { self.tree.raw.resize(link, start, end) }
    }

    /// Splits the node at the cursor at `pos`, strictly inside it: it keeps
    /// `[start, pos)`, and a node from [`Segment::try_split`] takes
    /// `[pos, end)` just after it. The cursor stays on the left piece.
    ///
    /// # Errors
    ///
    /// [`MapError::SplitFailed`] when `try_split` fails;
    /// [`MapError::AlreadyLinked`] when it returns a node that is in a tree
    /// (that pointer is forgotten, never dropped). The tree is unchanged.
    pub(crate) fn split(&mut self, pos: usize, args: &mut ArgsOf<A>) -> MapResult<()> {
        self.split_link(pos, args).map(|_| ())
    }

    /// [`split`](Self::split), returning the right piece's link.
    fn split_link(&mut self, pos: usize, args: &mut ArgsOf<A>) -> MapResult<LinkPtr> {
        let node = self.at();
        let link = node.node.ptr();
        let right = node
            .segment()
            .try_split(pos, args)
            .map_err(|_| MapError::SplitFailed { pos })?;
        let right = self.tree.pin(right).map_err(forget_linked)?.into_link();
        // SAFETY: `link` is a node of the tree (type invariant); `right` was
        // pinned, so it is live and in no tree, and its owner passes to the
        // tree.
        unsafe { self.tree.raw.split(link, pos, right) };
        Ok(right)
    }

    /// [`split`](Self::split), then moves the cursor to the right piece.
    ///
    /// # Errors
    ///
    /// As [`split`](Self::split); the cursor does not move.
    pub(crate) fn split_off(&mut self, pos: usize, args: &mut ArgsOf<A>) -> MapResult<()> {
        let right = self.split_link(pos, args)?;
        // INVARIANT: just linked.
        self.current = Some(right);
        Ok(())
    }

    /// Asks the predecessor of the node at the cursor to absorb it
    /// ([`absorb`](Self::absorb)); on yes the cursor moves to the
    /// predecessor. Returns whether it merged.
    pub(crate) fn merge_prev(&mut self, args: &mut ArgsOf<A>) -> bool {
        let Some(node) = self.get() else {
            return false;
        };
        let Some(prev) = node.prev() else {
            return false;
        };
        let (prev, node) = (prev.node.ptr(), node.node.ptr());
        // SAFETY: read from the tree just now: `node` and its predecessor.
        let merged = unsafe { self.absorb(prev, node, args) };
        if merged {
            // INVARIANT: `prev` stays in the tree; `node` just left it.
            self.current = Some(prev);
        }
        merged
    }

    /// Asks the node at the cursor to absorb its successor
    /// ([`absorb`](Self::absorb)). Returns whether it merged.
    pub(crate) fn merge_next(&mut self, args: &mut ArgsOf<A>) -> bool {
        let Some(node) = self.get() else {
            return false;
        };
        let Some(next) = node.next() else {
            return false;
        };
        let (node, next) = (node.node.ptr(), next.node.ptr());
        // SAFETY: read from the tree just now: `node` and its successor.
        unsafe { self.absorb(node, next, args) }
    }

    /// If `next` starts where `prev` ends, asks `prev` to absorb it through
    /// [`Segment::try_merge`]; on yes `prev` grows over `next`, which leaves
    /// the tree through [`Segment::release`]. Returns whether it merged.
    ///
    /// # Safety
    ///
    /// `prev` and `next` are nodes of the tree, `next` the successor of
    /// `prev`, and the cursor is at one of them.
    unsafe fn absorb(&mut self, prev: LinkPtr, next: LinkPtr, args: &mut ArgsOf<A>) -> bool {
        // SAFETY: both are nodes of the tree (caller), live with their
        // reach while it is borrowed.
        let (p, n) = unsafe { (Node::from_ptr(prev), Node::from_ptr(next)) };
        let (p, n) = (self.tree.handle(p), self.tree.handle(n));
        if p.end() != n.start() || !p.segment().try_merge(n.segment(), args) {
            return false;
        }
        // SAFETY: both are nodes of the tree, `next` the successor of
        // `prev`, starting where it ends.
        unsafe { self.swallow(prev, next, args, |_, _| {}) };
        true
    }

    /// Takes the node at the cursor out of the tree, moves to the next one
    /// and returns the node's owner; `None` at the ghost.
    pub(crate) fn take(&mut self) -> Option<OwnedOf<A>> {
        self.detach().map(Detached::into_owner)
    }

    /// Takes the node at the cursor out of the tree, moves to the next one,
    /// calls `f` on the segment and then hands it to [`Segment::release`].
    /// Should `f` panic, the segment is dropped, unlinked.
    pub(crate) fn remove_with(
        &mut self,
        args: &mut ArgsOf<A>,
        f: impl FnOnce(&SegmentOf<A>, &mut ArgsOf<A>),
    ) {
        if let Some(node) = self.detach() {
            f(node.segment(), args);
            node.release(args);
        }
    }

    /// Unlinks the node at the cursor and moves to the next one.
    fn detach(&mut self) -> Option<Detached<A>> {
        let link = self.current?;
        self.move_next();
        // SAFETY: `link` is a node of the tree (type invariant), which the
        // cursor no longer names.
        unsafe { self.tree.raw.erase(link) };
        // SAFETY: the tree just unlinked `link`, one of its own.
        Some(unsafe { self.tree.detach_unlinked(link) })
    }

    /// Links the pinned node with range `[start, end)` in the place of the
    /// node at the cursor ([`RawTree::replace`]), moves the cursor to it,
    /// then calls `f` on the old segment, now out of the tree, and hands it
    /// to [`Segment::release`]. The range must cover the old node's and no
    /// other node. Should `f` or `release` panic, the old segment is
    /// dropped and the new one stays linked, with the cursor at it (the
    /// caller [`take`](Self::take)s it out if it must not stay).
    pub(crate) fn replace_with(
        &mut self,
        node: Pinned<A>,
        start: usize,
        end: usize,
        args: &mut ArgsOf<A>,
        f: impl FnOnce(&SegmentOf<A>, &mut ArgsOf<A>),
    ) {
        let old = self.at().node.ptr();
        let link = node.into_link();
        // SAFETY: a pinned link is live, acquired and in no tree.
        unsafe { Node::from_ptr(link) }.set_range(start, end);
        // SAFETY: `old` is a node of the tree (type invariant); `link` is in
        // no tree with its range set, and its owner passes to the tree.
        unsafe { self.tree.raw.replace(old, link) };
        // INVARIANT: just linked.
        self.current = Some(link);
        // SAFETY: the tree just unlinked `old`, one of its own.
        let old = unsafe { self.tree.detach_unlinked(old) };
        f(old.segment(), args);
        old.release(args);
    }

    /// Grows the node at the cursor over the hole after it, if any, and
    /// over its successor, which leaves the tree: `f` runs on the
    /// successor's segment, which then goes to [`Segment::release`]. Should
    /// `f` panic, the successor is dropped, unlinked, and the node at the
    /// cursor keeps its grown range. Cheaper than an erase and a resize
    /// when there is no hole: no gap opens or closes.
    pub(crate) fn absorb_next_with(
        &mut self,
        args: &mut ArgsOf<A>,
        f: impl FnOnce(&SegmentOf<A>, &mut ArgsOf<A>),
    ) {
        let node = self.at();
        let Some(next) = node.next() else {
            node.node
                .inconsistent("absorbing the successor of the last node", None)
        };
        let (link, next_start) = (node.node.ptr(), next.start());
        let next = next.node.ptr();
        if node.end() < next_start {
            let start = node.start();
            // SAFETY: `link` is a node of the tree (type invariant), and
            // grows only into the hole before its successor.
            unsafe { self.tree.raw.resize(link, start, next_start) };
        }
        // SAFETY: read from the tree just now: the node and its successor,
        // which starts where the node now ends.
        unsafe { self.swallow(link, next, args, f) };
    }

    /// `prev` grows over `next`, which leaves the tree: `f` runs on its
    /// segment, which then goes to [`Segment::release`].
    ///
    /// # Safety
    ///
    /// `prev` and `next` are nodes of the tree, `next` the successor of
    /// `prev`, starting where it ends, and the cursor is at one of them (at
    /// `prev` once this returns: the caller moves it).
    unsafe fn swallow(
        &mut self,
        prev: LinkPtr,
        next: LinkPtr,
        args: &mut ArgsOf<A>,
        f: impl FnOnce(&SegmentOf<A>, &mut ArgsOf<A>),
    ) {
        // SAFETY: both are nodes of the tree, `next` the successor of
        // `prev`, starting where it ends (caller).
        unsafe { self.tree.raw.merge(prev, next) };
        // SAFETY: the tree just unlinked `next`, one of its own.
        let next = unsafe { self.tree.detach_unlinked(next) };
        f(next.segment(), args);
        next.release(args);
    }

    /// Pins `owned` for insertion ([`Tree::pin`]).
    pub(crate) fn pin(&mut self, owned: OwnedOf<A>) -> Result<Pinned<A>, OwnedOf<A>> {
        self.tree.pin(owned)
    }

    /// Links the pinned node with range `[start, end)`, which must be free
    /// with the cursor's node the first one above it (the ghost: none),
    /// and moves the cursor to it.
    pub(crate) fn insert_before(&mut self, node: Pinned<A>, start: usize, end: usize) {
        let link = node.into_link();
        // SAFETY: a pinned link is live, acquired and in no tree.
        let new = unsafe { Node::from_ptr(link) };
        new.set_range(start, end);
        // SAFETY: `link` is in no tree with its range set, and its owner
        // passes to the tree; `current` is a node of the tree (type
        // invariant).
        unsafe { self.tree.raw.insert_before(link, self.current) };
        // INVARIANT: just linked.
        self.current = Some(link);
    }
}

impl<A: RangeAdapter> Tree<A> {
    /// The guard of a node this tree has just unlinked.
    ///
    /// # Safety
    ///
    /// `link` was a link of this tree and was unlinked by the tree since;
    /// this is called once for it.
    unsafe fn detach_unlinked(&mut self, link: LinkPtr) -> Detached<A> {
        // SAFETY: acquired when it was pinned, out of the tree now, released
        // once (caller).
        unsafe { self.adapter.link_ops_mut().release_link(link) };
        Detached {
            // SAFETY: the link belongs to a value of this adapter (type
            // invariant).
            value: unsafe { self.adapter.get_value(link) },
            ops: *self.adapter.pointer_ops(),
        }
    }
}

/// The error for a node that is already in a tree; the pointer is
/// forgotten, never dropped, since its value is owned by that tree.
pub(crate) fn forget_linked<P>(owned: P) -> MapError {
    core::mem::forget(owned);
    MapError::AlreadyLinked
}

// === Pinned and Detached ===

/// A node on its way into a tree: its owning pointer turned raw and its
/// link acquired, so that no tree can take it. Released and dropped if the
/// guard drops before it is linked.
///
/// # Invariants
///
/// `value` came from `ops.into_raw`, `link` is its link, acquired and in no
/// tree, and nothing else will rebuild the owner.
pub(crate) struct Pinned<A: RangeAdapter> {
    link: LinkPtr,
    value: *const SegmentOf<A>,
    ops: A::PointerOps,
}

impl<A: RangeAdapter> Pinned<A> {
    /// The link, for the tree that takes ownership of it.
    fn into_link(self) -> LinkPtr {
        let link = self.link;
        core::mem::forget(self);
        link
    }
}

impl<A: RangeAdapter> Drop for Pinned<A> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the link was acquired and is in no
        // tree, and the owner is rebuilt once, here.
        unsafe {
            RangeLinkOps.release_link(self.link);
            drop(self.ops.from_raw(self.value));
        }
    }
}

/// A value just unlinked from a tree, still raw, whose owner is rebuilt
/// and dropped when this guard drops, also during a panic. Callbacks run
/// through [`Detached::segment`] *before* the owner exists again: rebuilding
/// a `Box` asserts unique access, which a later access through another
/// pointer would violate (Stacked Borrows).
///
/// # Invariants
///
/// `value` came from `ops.into_raw`, its link is unlinked and released, and
/// nothing else will rebuild it.
pub(crate) struct Detached<A: RangeAdapter> {
    value: *const SegmentOf<A>,
    ops: A::PointerOps,
}

impl<A: RangeAdapter> Detached<A> {
    /// The value, alive until the guard goes.
    fn segment(&self) -> &SegmentOf<A> {
        // SAFETY: the owner is not rebuilt until the guard goes, so the
        // value is alive and only shared.
        unsafe { &*self.value }
    }

    /// Rebuilds the owner.
    fn into_owner(self) -> OwnedOf<A> {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: by the type invariant the owner is rebuilt exactly once:
        // here, since `this` never drops.
        unsafe { this.ops.from_raw(this.value) }
    }

    /// Rebuilds the owner and hands it to [`Segment::release`].
    fn release(self, args: &mut ArgsOf<A>) {
        SegmentOf::<A>::release(self.into_owner(), args);
    }
}

impl<A: RangeAdapter> Drop for Detached<A> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the owner is rebuilt exactly once.
        drop(unsafe { self.ops.from_raw(self.value) });
    }
}
