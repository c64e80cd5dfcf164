//! The unsafe core: an intrusive, augmented red-black tree of disjoint
//! half-open ranges.
//!
//! This layer knows the shape of the tree, not what a segment means: it links
//! and unlinks [`RangeLink`]s, keeps them ordered by address, rebalances, and
//! keeps the augmentation exact. The map above it speaks the VM domain.
//!
//! # Red-black properties
//!
//! 1. Every node is either red or black.
//! 2. The root is black.
//! 3. All leaves (the absent children) are black.
//! 4. Both children of a red node are black (no red-red edge).
//! 5. Every path from a node to a descendant leaf has the same number of
//!    black nodes (the node's black height).
//!
//! 4 and 5 give height ≤ 2·log2(n + 1). The code cites them by number.
//!
//! # Order and augmentation
//!
//! 6. In-order, nodes have increasing `start`; every node has
//!    `start < end`; consecutive nodes are disjoint (`prev.end <= next.start`).
//! 7. Every node holds `min_start`, `max_end` and `subtree_gap` of its
//!    subtree (formulas in [`RangeLink`]), exact at every rest point. They are
//!    kept by the callbacks of [`augment`]: `propagate` (two flavours), `copy`, and
//!    `rotate`.
//!
//! The tree maintains 1–5 and 7 itself. Property 6 is the caller's: the map
//! checks ranges before it inserts or resizes. Breaking 6 gives wrong answers,
//! never unsoundness, because memory safety here depends only on every stored
//! pointer naming a live link (the `RawTree` invariant), which no ordering
//! mistake can break.
//!
//! # Drawing convention
//!
//! Diagrams in [`insert`] and [`erase`] draw a black node in lower case, a
//! red node in upper case, and a node of either colour in parentheses.
//!
//! # The one unsafe step
//!
//! [`Node`] is a link pointer that carries the promise "this link is alive
//! and every pointer it stores names a live link". Making one from a raw
//! pointer is `unsafe`; following pointers from one is then safe, so the
//! rebalancing algorithms contain no `unsafe` at all.
//!
//! # Ownership and handles
//!
//! [`handle::Tree`] owns the nodes through the user's adapter (pin on the
//! way in, detach on the way out, [`Segment::release`](crate::Segment::release)
//! for every node it is done with) and is all the layers above see: shared
//! [`handle::NodeRef`]s and one mutable [`handle::CursorMut`], each tied to
//! the borrow of the tree, never a raw pointer or an unbounded lifetime.

pub(crate) mod augment;
pub(crate) mod check;
pub(crate) mod erase;
pub(crate) mod gap;
pub(crate) mod handle;
pub(crate) mod insert;
pub(crate) mod link;
pub(crate) mod navigate;
#[cfg(feature = "alloc")]
pub(crate) mod value;

#[cfg(test)]
mod tests;

use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};

pub(crate) use link::LinkPtr;
pub use link::{RangeLink, RangeLinkOps};

/// A live link of a tree, for the lifetime `'t`.
///
/// # Invariants
///
/// `ptr` points to a [`RangeLink`] that stays alive for `'t`, and every
/// pointer stored in that link (parent, children) points to a link with the
/// same property.
#[derive(Clone, Copy)]
pub(crate) struct Node<'t> {
    ptr: LinkPtr,
    _tree: PhantomData<&'t RangeLink>,
}

impl PartialEq for Node<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.ptr == other.ptr
    }
}

impl Eq for Node<'_> {}

impl<'t> Node<'t> {
    /// Wraps a link pointer.
    ///
    /// # Safety
    ///
    /// - `ptr` points to a live [`RangeLink`] that outlives `'t`;
    /// - every pointer stored in that link, and transitively in the links it
    ///   reaches, points to a live link that outlives `'t` (true of every
    ///   link in a [`RawTree`] and of a fresh unlinked link).
    #[inline]
    pub(crate) unsafe fn from_ptr(ptr: LinkPtr) -> Self {
        // INVARIANT: the caller guarantees liveness of `ptr` and its reach.
        Node {
            ptr,
            _tree: PhantomData,
        }
    }

    /// The raw pointer, to store in another link or hand to the map.
    #[inline]
    pub(crate) fn ptr(self) -> LinkPtr {
        self.ptr
    }

    /// The link, for the whole of `'t`.
    #[inline]
    pub(crate) fn link(self) -> &'t RangeLink {
        // SAFETY: by the type invariant the link is alive for `'t`; links are
        // only accessed through shared references (all fields are atomics).
        unsafe { self.ptr.as_ref() }
    }

    #[inline]
    fn wrap(ptr: Option<LinkPtr>) -> Option<Node<'t>> {
        // SAFETY: `ptr` was read from a link reachable from `self`, so by the
        // type invariant it names a live link whose reach is live for `'t`.
        ptr.map(|p| unsafe { Node::from_ptr(p) })
    }

    #[inline]
    pub(crate) fn parent(self) -> Option<Node<'t>> {
        Self::wrap(self.link().parent_ptr())
    }

    /// The right child if `right`, else the left one.
    #[inline]
    pub(crate) fn child(self, right: bool) -> Option<Node<'t>> {
        Self::wrap(self.link().child_ptr(right))
    }

    #[inline]
    pub(crate) fn left(self) -> Option<Node<'t>> {
        Self::wrap(self.link().left_ptr())
    }

    #[inline]
    pub(crate) fn right(self) -> Option<Node<'t>> {
        Self::wrap(self.link().right_ptr())
    }

    #[inline]
    pub(crate) fn set_left(self, child: Option<Node<'t>>) {
        self.link().set_left_ptr(child.map(Node::ptr));
    }

    #[inline]
    pub(crate) fn set_right(self, child: Option<Node<'t>>) {
        self.link().set_right_ptr(child.map(Node::ptr));
    }

    /// Sets the right child if `right`, else the left one: the setter of
    /// [`child`](Self::child), for the direction-generic rebalance cases.
    #[inline]
    pub(crate) fn set_child(self, right: bool, child: Option<Node<'t>>) {
        if right {
            self.set_right(child);
        } else {
            self.set_left(child);
        }
    }

    /// Panics with a message that starts "inconsistent state:", says `what`
    /// is wrong, and names this node and `other` by address and range: for
    /// the states that the red-black properties rule out. Cold and out of
    /// line, so that the rebalance loops set up no frame for the message
    /// on their hot path.
    #[cold]
    #[inline(never)]
    #[track_caller]
    pub(crate) fn inconsistent(self, what: &str, other: Option<Node<'_>>) -> ! {
        match other {
            Some(o) => panic!(
                "inconsistent state: {what}: {:p} {:#x?}, {:p} {:#x?}",
                self.ptr(),
                self.range(),
                o.ptr(),
                o.range()
            ),
            None => panic!(
                "inconsistent state: {what}: {:p} {:#x?}",
                self.ptr(),
                self.range()
            ),
        }
    }

    #[inline]
    pub(crate) fn set_parent(self, parent: Option<Node<'t>>) {
        self.link().set_parent_ptr(parent.map(Node::ptr));
    }

    #[inline]
    pub(crate) fn set_parent_color(self, parent: Option<Node<'t>>, black: bool) {
        self.link()
            .set_parent_color_ptr(parent.map(Node::ptr), black);
    }
}

impl<'t> Deref for Node<'t> {
    type Target = RangeLink;

    #[inline]
    fn deref(&self) -> &RangeLink {
        self.link()
    }
}

/// The root of a tree, with O(1) `first`, `last` and `len`, and the node
/// the last [`find`](RawTree::find) ended at.
///
/// # Invariants
///
/// Every link reachable from `root` is alive, linked, and owned by this tree
/// (the map holds the owning pointer of its segment); `first` and `last` are
/// the leftmost and rightmost of them, `len` their number. `last_hit` is null
/// or one of them: every path that takes a node out of the tree goes through
/// [`erase`](RawTree::erase) or [`forget_all`](RawTree::forget_all), and
/// both clear it. Mutating methods keep red-black properties 1–5 and
/// augmentation 7 (module docs).
#[derive(Default)]
pub(crate) struct RawTree {
    root: Option<LinkPtr>,
    first: Option<LinkPtr>,
    last: Option<LinkPtr>,
    len: usize,
    /// One-entry cache for `find`, as Linux's `mm->mmap_cache` was for page
    /// faults, which hit the same area over and over, or the next one: the
    /// node the last `find` ended at (the one it found, or a neighbour of
    /// the hole it fell into). Written through `&self`; atomic (relaxed: it
    /// orders nothing, each access is a plain move on the usual targets)
    /// rather than a `Cell` so that it puts no obstacle in the way of
    /// sharing the tree between threads.
    last_hit: AtomicPtr<RangeLink>,
}

impl RawTree {
    /// An empty tree.
    pub(crate) const fn new() -> Self {
        RawTree {
            root: None,
            first: None,
            last: None,
            len: 0,
            last_hit: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Number of linked nodes.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn node<'t>(&'t self, ptr: Option<LinkPtr>) -> Option<Node<'t>> {
        // SAFETY: `ptr` is the root, first, last or last-hit link, alive and
        // reaching only live links by the `RawTree` invariant, for as long
        // as `self` is borrowed (only `&mut self` methods unlink nodes).
        ptr.map(|p| unsafe { Node::from_ptr(p) })
    }

    /// The root node.
    #[inline]
    pub(crate) fn root(&self) -> Option<Node<'_>> {
        self.node(self.root)
    }

    /// The lowest node, in O(1).
    #[inline]
    pub(crate) fn first(&self) -> Option<Node<'_>> {
        self.node(self.first)
    }

    /// The highest node, in O(1).
    #[inline]
    pub(crate) fn last(&self) -> Option<Node<'_>> {
        self.node(self.last)
    }

    /// The node the last `find` ended at (see [`find`](Self::find)), if
    /// still in the tree.
    #[inline]
    fn last_hit(&self) -> Option<Node<'_>> {
        self.node(NonNull::new(self.last_hit.load(Ordering::Relaxed)))
    }

    /// Remembers `node`, a node of this tree, for the next `find`.
    #[inline]
    fn set_last_hit(&self, node: Node<'_>) {
        self.last_hit.store(node.ptr().as_ptr(), Ordering::Relaxed);
    }

    /// Forgets the last hit if it is `ptr`, which is leaving the tree.
    #[inline]
    fn forget_last_hit(&mut self, ptr: LinkPtr) {
        let last_hit = self.last_hit.get_mut();
        if *last_hit == ptr.as_ptr() {
            // INVARIANT: the cache must not outlive the node's membership.
            *last_hit = ptr::null_mut();
        }
    }

    /// Forgets every node without touching them: the caller has taken
    /// ownership of all of them (see [`navigate::Drain`]).
    pub(crate) fn forget_all(&mut self) {
        // INVARIANT: this also empties the last-hit cache.
        *self = RawTree::new();
    }

    /// Changes the range of a linked node in place, in *O*(log n): no
    /// unlink, no rebalance, only the augmentation above it is refreshed.
    ///
    /// The new range must keep the node between its neighbours (property 6;
    /// the map only shrinks a node, or grows it into a hole).
    ///
    /// # Safety
    ///
    /// `ptr` points to a link of this tree.
    pub(crate) unsafe fn resize(&mut self, ptr: LinkPtr, start: usize, end: usize) {
        // SAFETY: by the caller `ptr` is in this tree, live with its reach.
        let node = unsafe { Node::from_ptr(ptr) };
        debug_assert!(
            start < end,
            "inconsistent state: resizing {:#x}..{:#x} to empty {start:#x}..{end:#x}",
            node.start(),
            node.end()
        );
        node.set_range(start, end);
        augment::propagate_removal(Some(node), None);
    }

    /// Replaces `old` by `new` in `parent`'s child slot, or at the root.
    #[inline]
    pub(crate) fn change_child<'t>(
        &mut self,
        old: Node<'t>,
        new: Option<Node<'t>>,
        parent: Option<Node<'t>>,
    ) {
        match parent {
            Some(p) if p.left() == Some(old) => p.set_left(new),
            Some(p) => p.set_right(new),
            None => self.root = new.map(Node::ptr),
        }
    }
}
