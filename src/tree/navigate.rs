//! In-order and post-order walks, and lookups by address.

use super::{LinkPtr, Node, RawTree};

impl<'t> Node<'t> {
    /// The leftmost node of the subtree rooted here.
    #[inline]
    pub(crate) fn leftmost(mut self) -> Node<'t> {
        while let Some(l) = self.left() {
            self = l;
        }
        self
    }

    /// The rightmost node of the subtree rooted here.
    #[inline]
    pub(crate) fn rightmost(mut self) -> Node<'t> {
        while let Some(r) = self.right() {
            self = r;
        }
        self
    }

    /// The in-order successor, in amortised *O*(1), worst case *O*(log n).
    pub(crate) fn next(self) -> Option<Node<'t>> {
        if let Some(r) = self.right() {
            return Some(r.leftmost());
        }
        // Climb while we come from a right child; the first ancestor we reach
        // from its left is the successor.
        let mut node = self;
        let mut parent = node.parent();
        while let Some(p) = parent {
            if p.right() != Some(node) {
                break;
            }
            node = p;
            parent = p.parent();
        }
        parent
    }

    /// The in-order predecessor, in amortised *O*(1), worst case *O*(log n).
    pub(crate) fn prev(self) -> Option<Node<'t>> {
        if let Some(l) = self.left() {
            return Some(l.rightmost());
        }
        let mut node = self;
        let mut parent = node.parent();
        while let Some(p) = parent {
            if p.left() != Some(node) {
                break;
            }
            node = p;
            parent = p.parent();
        }
        parent
    }

    /// Starts loading both children's lines, so that the miss on the one a
    /// descent takes overlaps the comparison that picks it. A hint: a no-op
    /// off x86-64.
    #[inline(always)]
    fn prefetch_children(self) {
        #[cfg(target_arch = "x86_64")]
        for right in [false, true] {
            let child = self
                .child_ptr(right)
                .map_or(core::ptr::null(), |c| c.as_ptr().cast_const());
            // SAFETY: SSE, which the intrinsic needs, is part of every
            // x86-64 CPU; a prefetch reads nothing and cannot fault, even
            // at null (an absent child).
            unsafe {
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                    child.cast::<i8>(),
                );
            }
        }
    }
}

impl RawTree {
    /// The node whose range contains `addr`: in *O*(1) when it is the node
    /// the previous successful `find` returned, else in *O*(log n).
    #[inline]
    pub(crate) fn find(&self, addr: usize) -> Option<Node<'_>> {
        if let Some(hit) = self.cached(addr) {
            return Some(hit);
        }
        let found = self.find_uncached(addr)?;
        self.set_last_hit(found);
        Some(found)
    }

    /// The last hit of `find`, if it contains `addr`.
    #[inline]
    fn cached(&self, addr: usize) -> Option<Node<'_>> {
        // The cached node is still in the tree, but a resize may have moved
        // its bounds: check them, not the address it was found for.
        self.last_hit().filter(|n| n.contains(addr))
    }

    /// [`find`](Self::find) by walking down from the root.
    fn find_uncached(&self, addr: usize) -> Option<Node<'_>> {
        let mut cur = self.root();
        // Loop invariant: a node containing `addr`, if any, is below `cur`.
        while let Some(n) = cur {
            n.prefetch_children();
            // Each field read once: they are atomics, which the compiler does
            // not merge.
            let start = n.start();
            // `start <= addr < end` in one unsigned comparison.
            if addr.wrapping_sub(start) < n.end().wrapping_sub(start) {
                return Some(n);
            }
            // Indexed, not branched on: which way a random lookup goes is a
            // coin toss the branch predictor would lose half the time.
            cur = n.child(addr >= start);
        }
        None
    }

    /// The first node that ends after `addr`: the one containing `addr`, or
    /// else the first one above it. *O*(1) when that is the last hit of
    /// `find` (an `unmap` or `mprotect` inside one segment looks it up
    /// again), else *O*(log n).
    pub(crate) fn lower_bound(&self, addr: usize) -> Option<Node<'_>> {
        if let Some(hit) = self.cached(addr) {
            return Some(hit);
        }
        let mut cur = self.root();
        let mut best = None;
        // Loop invariant: `best` is the lowest node seen with `end > addr`;
        // any lower such node is below `cur`.
        while let Some(n) = cur {
            if n.end() > addr {
                best = Some(n);
                cur = n.left();
            } else {
                cur = n.right();
            }
        }
        best
    }

    /// Empties the tree in *O*(1) and returns a post-order walk (children
    /// before parents) that yields every former node exactly once, unlinked,
    /// in *O*(n) total, for `clear` and `Drop`. Nodes the walk has not yet
    /// yielded are owned by it: whoever drops it early must finish the walk.
    pub(crate) fn drain(&mut self) -> Drain {
        let next = self.root().map(|r| leftmost_leaf(r).ptr());
        self.forget_all();
        Drain { next }
    }
}

/// The first node of a post-order walk of the subtree at `node`.
fn leftmost_leaf(mut node: Node<'_>) -> Node<'_> {
    loop {
        if let Some(l) = node.left() {
            node = l;
        } else if let Some(r) = node.right() {
            node = r;
        } else {
            return node;
        }
    }
}

/// A post-order walk that detaches every node, from [`RawTree::drain`].
///
/// # Invariants
///
/// `next` and every node after it in post-order are live links not yet
/// yielded; nodes already yielded are never touched again (a node is yielded
/// only after both its children were).
pub(crate) struct Drain {
    next: Option<LinkPtr>,
}

impl Iterator for Drain {
    type Item = LinkPtr;

    fn next(&mut self) -> Option<LinkPtr> {
        let ptr = self.next?;
        // SAFETY: by the `Drain` invariant `ptr` and the nodes above it are
        // live and unyielded; the walk reads only `ptr`'s parent and the
        // parent's right subtree, all after `ptr` in post-order.
        let node = unsafe { Node::from_ptr(ptr) };
        self.next = node.parent().map(|parent| match parent.right() {
            Some(r) if r != node => leftmost_leaf(r).ptr(),
            _ => parent.ptr(),
        });
        node.mark_unlinked();
        Some(ptr)
    }
}
