//! Unlinking a node, and the erase rebalance.

use super::{augment, LinkPtr, Node, RawTree};

impl RawTree {
    /// Unlinks the node at `ptr` and rebalances, in *O*(log n). The link is
    /// left unlinked; the caller owns the node again.
    ///
    /// # Safety
    ///
    /// `ptr` points to a link of this tree.
    pub(crate) unsafe fn erase(&mut self, ptr: LinkPtr) {
        // SAFETY: by the caller `ptr` is in this tree, so it and everything
        // it reaches are live (`RawTree` invariant) for this call.
        let node = unsafe { Node::from_ptr(ptr) };
        self.forget_last_hit(ptr);
        if self.first == Some(ptr) {
            self.first = node.next().map(Node::ptr);
        }
        if self.last == Some(ptr) {
            self.last = node.prev().map(Node::ptr);
        }
        self.len -= 1;

        if let Some(parent) = self.erase_splice(node) {
            self.erase_rebalance(parent);
        }
        node.mark_unlinked();
    }

    /// Grows the node at `prev` over its successor `next`, which starts
    /// where it ends, and unlinks `next` (the caller owns it again). Cheaper
    /// than an erase and a resize: no gap ever opens, so the augmentation
    /// above the two nodes does not change and its refresh stops early.
    ///
    /// # Safety
    ///
    /// `prev` and `next` point to links of this tree, `next` the in-order
    /// successor of `prev`.
    pub(crate) unsafe fn merge(&mut self, prev: LinkPtr, next: LinkPtr) {
        // SAFETY: by the caller both links are in this tree, so they and
        // their reach are live for this call.
        let (prev_node, next_node) = unsafe { (Node::from_ptr(prev), Node::from_ptr(next)) };
        debug_assert!(
            prev_node.next() == Some(next_node) && prev_node.end() == next_node.start(),
            "inconsistent state: merge of {:#x}..{:#x} with {:#x}..{:#x}",
            prev_node.start(),
            prev_node.end(),
            next_node.start(),
            next_node.end()
        );
        // For a moment `prev` covers `next`'s range too. Every subtree that
        // holds both nodes keeps its values (same addresses, no new gap).
        prev_node.set_range(prev_node.start(), next_node.end());
        if prev_node.right().is_none() {
            // `next` is an ancestor and `prev` the rightmost node of its left
            // subtree: the subtrees in between end higher now.
            augment::propagate(Some(prev_node), Some(next_node));
        }
        // Otherwise `next` is the leftmost node of `prev`'s right subtree,
        // and every subtree that holds `prev` holds `next`.
        //
        // SAFETY: `next` is in this tree (caller).
        unsafe { self.erase(next) };
    }

    /// Takes `node` out of the tree, keeping property 4 and the augmentation,
    /// and returns the parent of the spot that lost a black node when
    /// property 5 now needs repair.
    fn erase_splice<'t>(&mut self, node: Node<'t>) -> Option<Node<'t>> {
        let (child, left) = (node.right(), node.left());
        let (rebalance, fix_from);

        match (left, child) {
            (None, _) => {
                // Case 1 – at most a right child. A lone child of a node is
                // red (property 5), so when there is one it takes the node's
                // colour and nothing else changes. A black leaf leaves a hole
                // in the black height.
                let parent = node.parent();
                self.change_child(node, child, parent);
                if let Some(c) = child {
                    c.set_parent_color_raw(node.parent_color_raw());
                    rebalance = None;
                } else {
                    rebalance = if node.is_black() { parent } else { None };
                }
                fix_from = parent;
            }
            (Some(l), None) => {
                // Case 1 – only a left child, which is red (property 5).
                let parent = node.parent();
                l.set_parent_color_raw(node.parent_color_raw());
                self.change_child(node, Some(l), parent);
                rebalance = None;
                fix_from = parent;
            }
            (Some(l), Some(r)) => {
                // Two children: the successor `s` (leftmost of the right
                // subtree) takes the node's place and colour.
                let (successor, parent, child2);
                match r.left() {
                    None => {
                        // Case 2 – the successor is the right child.
                        //
                        //     (n)          (s)
                        //     / \          / \
                        //   (x) (s)  ->  (x) (c)
                        //         \
                        //         (c)
                        successor = r;
                        parent = r;
                        child2 = r.right();
                        augment::copy(node, successor);
                    }
                    Some(mut tmp) => {
                        // Case 3 – the successor is the leftmost node of the
                        // right child's subtree.
                        //
                        //     (n)          (s)
                        //     / \          / \
                        //   (x) (y)  ->  (x) (y)
                        //       /            /
                        //     (p)          (p)
                        //     /            /
                        //   (s)          (c)
                        //     \
                        //     (c)
                        let mut p = r;
                        while let Some(next) = tmp.left() {
                            p = tmp;
                            tmp = next;
                        }
                        successor = tmp;
                        parent = p;
                        child2 = successor.right();
                        parent.set_left(child2);
                        successor.set_right(Some(r));
                        r.set_parent(Some(successor));
                        augment::copy(node, successor);
                        augment::propagate_removal(Some(parent), Some(successor));
                    }
                }

                successor.set_left(Some(l));
                l.set_parent(Some(successor));
                let node_parent = node.parent();
                self.change_child(node, Some(successor), node_parent);

                if let Some(c2) = child2 {
                    c2.set_parent_color(Some(parent), true);
                    rebalance = None;
                } else {
                    rebalance = if successor.is_black() {
                        Some(parent)
                    } else {
                        None
                    };
                }
                successor.set_parent_color_raw(node.parent_color_raw());
                fix_from = Some(successor);
            }
        }

        augment::propagate_removal(fix_from, None);
        rebalance
    }

    /// Restores property 5 after a black node was removed below `parent`
    /// (on the side whose child is now absent or was just fixed).
    fn erase_rebalance<'t>(&mut self, mut parent: Node<'t>) {
        let mut node: Option<Node<'t>> = None;
        // Loop invariant: `node` is black or absent; every path through
        // `node` has one black node fewer than it should; all other
        // properties hold.
        loop {
            // `node` is the right child iff it equals `parent.right()`, even
            // when absent: its sibling never is (`erase_cases`). The side is
            // a constant in each copy of the cases: see `erase_cases`.
            let right = parent.right();
            let up = if node != right {
                self.erase_cases::<false>(node, parent, right)
            } else {
                self.erase_cases::<true>(node, parent, parent.left())
            };
            match up {
                Some(p) => {
                    node = Some(parent);
                    parent = p;
                }
                None => break,
            }
        }
    }

    /// Cases 1–4 of [`erase_rebalance`](Self::erase_rebalance), for `node`
    /// (black or absent, one black short) on side `SIDE` of `parent`
    /// (`false` for left, as [`Node::child`] takes it), and its `sibling`.
    /// Returns `parent`'s parent when the shortage moved up to `parent`
    /// (case 2 under a black parent that is not the root), `None` when
    /// property 5 holds again.
    ///
    /// The diagrams draw `node` as the left child; when it is the right one,
    /// every picture is mirrored and "left" and "right" trade places.
    /// `SIDE` is a const parameter for the reason given on
    /// [`insert_cases`](Self::insert_cases).
    #[inline(always)]
    fn erase_cases<'t, const SIDE: bool>(
        &mut self,
        node: Option<Node<'t>>,
        parent: Node<'t>,
        sibling: Option<Node<'t>>,
    ) -> Option<Node<'t>> {
        // Property 5: paths through the sibling hold one black node more
        // than those through `node`, so at least one: it is not a leaf.
        let Some(mut sibling) = sibling else {
            parent.inconsistent("a child one black short has no sibling", node);
        };

        if sibling.is_red() {
            // Case 1 – red sibling: rotate at the parent (left in the
            // picture) so that the sibling becomes black.
            //
            //      P               s
            //     / \             / \
            //    N   s    -->    p   Sr
            //       / \         / \
            //      Sl  Sr      N   Sl
            //
            // Property 5: the red sibling's paths hold at least one black
            // node below it, so both its children are nodes, and black
            // (property 4). `Sl` is the new sibling.
            let Some(inner) = sibling.child(SIDE) else {
                sibling.inconsistent(
                    "the red sibling of a child one black short has a leaf child",
                    Some(parent),
                );
            };
            parent.set_child(!SIDE, Some(inner));
            sibling.set_child(SIDE, Some(parent));
            inner.set_parent_color(Some(parent), true);
            self.rotate_set_parents(parent, sibling, false);
            augment::rotate(parent, sibling);
            sibling = inner;
        }

        let outer = match sibling.child(!SIDE).filter(|n| n.is_red()) {
            Some(outer) => outer,
            None => {
                let Some(inner) = sibling.child(SIDE).filter(|n| n.is_red()) else {
                    // Case 2 – sibling and both its children black: make the
                    // sibling red; the parent's paths are now one black short
                    // together, so move up (or stop at a red parent, which
                    // turns black; or at the root: the whole tree is one
                    // black shorter).
                    //
                    //     (p)           (p)
                    //     / \           / \
                    //    N   S    -->  N   s
                    //       / \           / \
                    //      sl  sr        sl  sr
                    sibling.set_parent_color(Some(parent), false);
                    if parent.is_red() {
                        parent.set_black();
                        return None;
                    }
                    return parent.parent();
                };
                // Case 3 – sibling's outer child black, inner red: rotate at
                // the sibling (right in the picture), which turns it into
                // case 4.
                //
                //   (p)           (p)
                //   / \           / \
                //  N   s    -->  N   sl
                //     / \             \
                //    SL  sr            S
                //                       \
                //                        sr
                let tmp = inner.child(!SIDE);
                sibling.set_child(SIDE, tmp);
                inner.set_child(!SIDE, Some(sibling));
                parent.set_child(!SIDE, Some(inner));
                if let Some(t) = tmp {
                    t.set_parent_color(Some(sibling), true);
                }
                // INVARIANT: the parent links of `sibling` (now under
                // `inner`) and of `inner` (now under `parent`) are stale
                // until case 4 rewrites both, as in Linux; nothing in between
                // reads them (`augment::rotate` reads children only).
                augment::rotate(sibling, inner);
                let outer = sibling;
                sibling = inner;
                outer
            }
        };

        // Case 4 – sibling's outer child red: rotate at the parent (left in
        // the picture) and recolour; the black height is restored.
        //
        //      (p)             (s)
        //      / \             / \
        //     N   s     -->   p   sr
        //        / \         / \
        //      (sl) SR      N  (sl)
        let tmp = sibling.child(SIDE);
        parent.set_child(!SIDE, tmp);
        sibling.set_child(SIDE, Some(parent));
        outer.set_parent_color(Some(sibling), true);
        if let Some(t) = tmp {
            t.set_parent(Some(parent));
        }
        self.rotate_set_parents(parent, sibling, true);
        augment::rotate(parent, sibling);
        None
    }
}
