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
            let sibling = parent.right();
            if node != sibling {
                // `node` is the left child (or the absent left leaf).
                let Some(mut sibling) = sibling else { break };
                if sibling.is_red() {
                    // Case 1 – red sibling: rotate left at the parent so the
                    // sibling becomes black.
                    //
                    //      P               s
                    //     / \             / \
                    //    N   s    -->    p   Sr
                    //       / \         / \
                    //      Sl  Sr      N   Sl
                    let tmp = sibling.left();
                    parent.set_right(tmp);
                    sibling.set_left(Some(parent));
                    if let Some(t) = tmp {
                        t.set_parent_color(Some(parent), true);
                    }
                    self.rotate_set_parents(parent, sibling, false);
                    augment::rotate(parent, sibling);
                    match parent.right() {
                        Some(s) => sibling = s,
                        None => break,
                    }
                }
                let tmp1 = sibling.right().filter(|n| n.is_red());
                let tmp2 = sibling.left().filter(|n| n.is_red());
                if tmp1.is_none() && tmp2.is_none() {
                    // Case 2 – sibling and both its children black: make the
                    // sibling red; the parent's paths are now one black short
                    // together, so move up (or stop at a red parent, which
                    // turns black).
                    //
                    //     (p)           (p)
                    //     / \           / \
                    //    N   S    -->  N   s
                    //       / \           / \
                    //      sl  sr        sl  sr
                    sibling.set_parent_color(Some(parent), false);
                    if parent.is_red() {
                        parent.set_black();
                    } else {
                        node = Some(parent);
                        match parent.parent() {
                            Some(p) => {
                                parent = p;
                                continue;
                            }
                            None => break,
                        }
                    }
                    break;
                }
                let outer = match tmp1 {
                    Some(outer) => outer,
                    None => {
                        // Case 3 – sibling's right child black, left red:
                        // rotate right at the sibling.
                        //
                        //   (p)           (p)
                        //   / \           / \
                        //  N   s    -->  N   sl
                        //     / \             \
                        //    SL  sr            S
                        //                       \
                        //                        sr
                        let Some(sl) = tmp2 else { break };
                        let tmp = sl.right();
                        sibling.set_left(tmp);
                        sl.set_right(Some(sibling));
                        parent.set_right(Some(sl));
                        if let Some(t) = tmp {
                            t.set_parent_color(Some(sibling), true);
                        }
                        // `sibling` becomes a red child of `sl`.
                        sibling.set_parent_color(Some(sl), false);
                        sl.set_parent(Some(parent));
                        augment::rotate(sibling, sl);
                        let outer = sibling;
                        sibling = sl;
                        outer
                    }
                };
                // Case 4 – sibling's right child red: rotate left at the
                // parent and recolour; the black height is restored.
                //
                //      (p)             (s)
                //      / \             / \
                //     N   s     -->   p   sr
                //        / \         / \
                //      (sl) SR      N  (sl)
                let tmp = sibling.left();
                parent.set_right(tmp);
                sibling.set_left(Some(parent));
                outer.set_parent_color(Some(sibling), true);
                if let Some(t) = tmp {
                    t.set_parent(Some(parent));
                }
                self.rotate_set_parents(parent, sibling, true);
                augment::rotate(parent, sibling);
                break;
            } else {
                // Mirror image: `node` is the right child.
                let Some(mut sibling) = parent.left() else {
                    break;
                };
                if sibling.is_red() {
                    // Case 1 – mirrored: rotate right at the parent.
                    let tmp = sibling.right();
                    parent.set_left(tmp);
                    sibling.set_right(Some(parent));
                    if let Some(t) = tmp {
                        t.set_parent_color(Some(parent), true);
                    }
                    self.rotate_set_parents(parent, sibling, false);
                    augment::rotate(parent, sibling);
                    match parent.left() {
                        Some(s) => sibling = s,
                        None => break,
                    }
                }
                let tmp1 = sibling.left().filter(|n| n.is_red());
                let tmp2 = sibling.right().filter(|n| n.is_red());
                if tmp1.is_none() && tmp2.is_none() {
                    // Case 2 – mirrored.
                    sibling.set_parent_color(Some(parent), false);
                    if parent.is_red() {
                        parent.set_black();
                    } else {
                        node = Some(parent);
                        match parent.parent() {
                            Some(p) => {
                                parent = p;
                                continue;
                            }
                            None => break,
                        }
                    }
                    break;
                }
                let outer = match tmp1 {
                    Some(outer) => outer,
                    None => {
                        // Case 3 – mirrored: rotate left at the sibling.
                        let Some(sr) = tmp2 else { break };
                        let tmp = sr.left();
                        sibling.set_right(tmp);
                        sr.set_left(Some(sibling));
                        parent.set_left(Some(sr));
                        if let Some(t) = tmp {
                            t.set_parent_color(Some(sibling), true);
                        }
                        sibling.set_parent_color(Some(sr), false);
                        sr.set_parent(Some(parent));
                        augment::rotate(sibling, sr);
                        let outer = sibling;
                        sibling = sr;
                        outer
                    }
                };
                // Case 4 – mirrored: rotate right at the parent.
                let tmp = sibling.right();
                parent.set_left(tmp);
                sibling.set_right(Some(parent));
                outer.set_parent_color(Some(sibling), true);
                if let Some(t) = tmp {
                    t.set_parent(Some(parent));
                }
                self.rotate_set_parents(parent, sibling, true);
                augment::rotate(parent, sibling);
                break;
            }
        }
    }
}
