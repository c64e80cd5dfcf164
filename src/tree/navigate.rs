//! In-order and post-order walks, and lookups by address.

use core::ops::ControlFlow;

use super::{LinkPtr, Node, RawTree};

/// `start <= addr < end`, in one unsigned comparison. Takes the bounds by
/// value: links are atomics, which the compiler does not merge, so each
/// caller reads a field once and uses it twice.
#[inline(always)]
fn spans(start: usize, end: usize, addr: usize) -> bool {
    addr.wrapping_sub(start) < end.wrapping_sub(start)
}

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
    /// The node whose range contains `addr`, in *O*(log n); without a
    /// descent (a step to a neighbour, *O*(1) amortised over a run) near the
    /// previous lookup: when the node the cache holds contains `addr`, or
    /// `addr` lies within one segment length of it and its in-order
    /// neighbour on that side contains `addr`, or the hole between the two
    /// does. The cache holds the node the previous lookup ended at: the one
    /// it found, or a neighbour of the hole it fell into.
    #[inline]
    pub(crate) fn find(&self, addr: usize) -> Option<Node<'_>> {
        if let Some(last) = self.last_hit() {
            // The cached node is still in the tree, but a resize may have
            // moved its bounds: check them, not the address it was found for.
            let (start, end) = (last.start(), last.end());
            if spans(start, end, addr) {
                return Some(last);
            }
            // Only an address within one segment length of the cached node
            // asks its neighbour: the next page after a segment always is,
            // and a lookup far away (a uniform one) pays this one comparison,
            // which the branch predictor gets right, instead of a walk to the
            // neighbour whose loops and turns it cannot guess. The window
            // `[start - len, end + len)` in modular arithmetic: near the ends
            // of the address space it is cut short or wraps, which costs a
            // descent, never a wrong answer.
            let len = end - start;
            if addr.wrapping_sub(start.wrapping_sub(len)) < len.wrapping_mul(3) {
                if let Some(answer) = self.find_beside(last, addr, addr >= end) {
                    return answer;
                }
            }
        }
        self.find_uncached(addr)
    }

    /// [`find`](Self::find) from `last`'s in-order neighbour on the side of
    /// `addr` (above `last` if `up`), which `last` does not contain: the
    /// answer if that neighbour contains `addr` or `addr` lies between the
    /// two, `None` if `addr` lies beyond the neighbour. Out of line: inlined
    /// into `find`, it cost every uniform lookup eight instructions of
    /// register shuffling (callgrind).
    #[inline(never)]
    fn find_beside<'t>(
        &'t self,
        last: Node<'t>,
        addr: usize,
        up: bool,
    ) -> Option<Option<Node<'t>>> {
        let near = if up { last.next() } else { last.prev() };
        // No neighbour: nothing lies on that side of `last`.
        let Some(near) = near else {
            return Some(None);
        };
        let (start, end) = (near.start(), near.end());
        if if up { addr >= end } else { addr < start } {
            return None;
        }
        if spans(start, end, addr) {
            self.set_last_hit(near);
            return Some(Some(near));
        }
        // In the hole between `last` and `near`: the cache keeps `last`.
        Some(None)
    }

    /// The last hit of `find`, if it contains `addr`.
    #[inline]
    fn cached(&self, addr: usize) -> Option<Node<'_>> {
        self.last_hit().filter(|n| n.contains(addr))
    }

    /// [`find`](Self::find) by walking down from the root; caches the node
    /// it found, or else the last node it passed, a neighbour of the hole
    /// `addr` lies in.
    fn find_uncached(&self, addr: usize) -> Option<Node<'_>> {
        let mut n = self.root()?;
        // Loop invariant: a node containing `addr`, if any, is `n` or below
        // it. Unrolled by two so that a node and its child take turns in two
        // registers: one loop would pay a move per level to keep the node
        // whose empty child slot ends the descent.
        loop {
            let child = match self.step_down(n, addr) {
                ControlFlow::Continue(child) => child,
                ControlFlow::Break(found) => return found,
            };
            n = match self.step_down(child, addr) {
                ControlFlow::Continue(grandchild) => grandchild,
                ControlFlow::Break(found) => return found,
            };
        }
    }

    /// One level of [`find_uncached`](Self::find_uncached): `n`'s child
    /// towards `addr`, or the answer (with the cache set) when `n` contains
    /// `addr` or has no child on that side.
    #[inline(always)]
    fn step_down<'t>(
        &'t self,
        n: Node<'t>,
        addr: usize,
    ) -> ControlFlow<Option<Node<'t>>, Node<'t>> {
        n.prefetch_children();
        let start = n.start();
        if spans(start, n.end(), addr) {
            self.set_last_hit(n);
            return ControlFlow::Break(Some(n));
        }
        // Indexed, not branched on: which way a random lookup goes is a
        // coin toss the branch predictor would lose half the time.
        match n.child(addr >= start) {
            Some(child) => ControlFlow::Continue(child),
            None => {
                // `addr` lies between `n` and its in-order neighbour on that
                // side (an ancestor), or beyond the first or last node.
                self.set_last_hit(n);
                ControlFlow::Break(None)
            }
        }
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
