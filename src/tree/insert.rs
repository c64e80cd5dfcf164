//! Linking a node next to its in-order neighbour, splitting a node in
//! place, putting a fresh node in another's place, and the insert
//! rebalance.

use super::{augment, LinkPtr, Node, RawTree};

impl RawTree {
    /// Links the node at `ptr` just before `next` in address order (after
    /// the last node when `next` is `None`) and rebalances, in *O*(log n).
    ///
    /// There is no descent from the root: callers know the node that
    /// follows a free range from the lookup that found the range free. The
    /// new node takes the in-order slot between `next` and its predecessor:
    /// `next`'s free left slot, or the free right slot of the rightmost node
    /// of `next`'s left subtree.
    ///
    /// # Safety
    ///
    /// - `ptr` points to a live link that is in no tree (fresh from
    ///   `acquire_link`), and that stays alive until it is erased from this
    ///   tree;
    /// - the link's owner is transferred to this tree's owner;
    /// - `next` is `None` or points to a link of this tree.
    ///
    /// The node's range must already be set, must not overlap any node of
    /// the tree, and `next` must be the first node above it (property 6; the
    /// map checks it). Breaking this gives a misordered tree, not
    /// unsoundness.
    pub(crate) unsafe fn insert_before(&mut self, ptr: LinkPtr, next: Option<LinkPtr>) {
        // SAFETY: by the caller, `ptr` is a live link and reaches nothing yet
        // (`reset_as_leaf` clears its children before any traversal).
        let node = unsafe { Node::from_ptr(ptr) };
        node.reset_as_leaf();
        // SAFETY: by the caller `next` is in this tree, live with its reach,
        // as is the last node (`RawTree` invariant); both for as long as
        // this `&mut self` call runs.
        let (next, last) = unsafe {
            (
                next.map(|p| Node::from_ptr(p)),
                self.last.map(|p| Node::from_ptr(p)),
            )
        };
        debug_assert!(
            node.start() < node.end()
                && next.is_none_or(|n| node.end() <= n.start())
                && next
                    .map_or(last, |n| n.prev())
                    .is_none_or(|p| p.end() <= node.start()),
            "inconsistent state: inserting {:#x}..{:#x} before {:?}",
            node.start(),
            node.end(),
            next.map(|n| n.range())
        );

        match next {
            Some(n) => {
                if self.first == Some(n.ptr()) {
                    self.first = Some(ptr);
                }
                match n.left() {
                    None => self.attach(node, Some(n), true),
                    Some(l) => self.attach(node, Some(l.rightmost()), false),
                }
            }
            None => {
                if last.is_none() {
                    self.first = Some(ptr);
                }
                self.last = Some(ptr);
                // The last node has no right child.
                self.attach(node, last, false);
            }
        }
    }

    /// Splits the node at `ptr` at `pos`, strictly inside its range: it
    /// keeps `[start, pos)` and the fresh link `right` is linked just after
    /// it with `[pos, end)`. No descent from the root: the new node goes
    /// where the node's successor would, so the cost is the height of the
    /// node's right subtree plus the rebalance, *O*(1) on average.
    ///
    /// # Safety
    ///
    /// - `ptr` points to a link of this tree;
    /// - `right` is as the node of [`insert_before`](Self::insert_before).
    pub(crate) unsafe fn split(&mut self, ptr: LinkPtr, pos: usize, right: LinkPtr) {
        // SAFETY: by the caller `ptr` is in this tree, live with its reach.
        let node = unsafe { Node::from_ptr(ptr) };
        // SAFETY: by the caller `right` is a live, unlinked link; it reaches
        // nothing once `reset_as_leaf` has run.
        let new = unsafe { Node::from_ptr(right) };
        let (start, end) = (node.start(), node.end());
        debug_assert!(
            start < pos && pos < end,
            "inconsistent state: split of {start:#x}..{end:#x} at {pos:#x}"
        );
        node.set_range(start, pos);
        new.set_range(pos, end);
        new.reset_as_leaf();
        if self.last == Some(ptr) {
            self.last = Some(right);
        }
        // The augmentation of `node` and of its ancestors is already right:
        // each of their subtrees covers the same addresses as before, with
        // no new gap. Only the nodes between `new` and `node` change (they
        // gain a new lowest start), and `attach` recomputes exactly those,
        // stopping at `node` at the latest.
        match node.right() {
            None => self.attach(new, Some(node), false),
            Some(r) => self.attach(new, Some(r.leftmost()), true),
        }
    }

    /// Puts the fresh link `new` in the place of the node at `old`, which
    /// leaves the tree (the caller owns it again). No descent and no
    /// rebalance: `new` takes `old`'s parent, children and colour, so only
    /// the augmentation above it is refreshed, *O*(log n) at worst. Cheaper
    /// than an erase and an insert, each of which rebalances and refreshes
    /// the path to the root.
    ///
    /// # Safety
    ///
    /// - `old` points to a link of this tree;
    /// - `new` is as the node of [`insert_before`](Self::insert_before).
    ///
    /// `new`'s range must already be set, must cover `old`'s, and must not
    /// overlap any other node (property 6; the map checks it).
    pub(crate) unsafe fn replace(&mut self, old: LinkPtr, new: LinkPtr) {
        // SAFETY: by the caller `old` is in this tree, live with its reach,
        // and `new` is a live link that nothing reads as a tree link until
        // it is linked below.
        let (old_node, new_node) = unsafe { (Node::from_ptr(old), Node::from_ptr(new)) };
        debug_assert!(
            new_node.start() <= old_node.start()
                && old_node.end() <= new_node.end()
                && old_node.prev().is_none_or(|p| p.end() <= new_node.start())
                && old_node.next().is_none_or(|n| new_node.end() <= n.start()),
            "inconsistent state: replacing {:#x}..{:#x} by {:#x}..{:#x}",
            old_node.start(),
            old_node.end(),
            new_node.start(),
            new_node.end()
        );
        self.forget_last_hit(old);
        if self.first == Some(old) {
            self.first = Some(new);
        }
        if self.last == Some(old) {
            self.last = Some(new);
        }
        let (left, right) = (old_node.left(), old_node.right());
        new_node.set_parent_color_raw(old_node.parent_color_raw());
        new_node.set_left(left);
        new_node.set_right(right);
        for child in [left, right].into_iter().flatten() {
            child.set_parent(Some(new_node));
        }
        self.change_child(old_node, Some(new_node), old_node.parent());
        augment::copy(old_node, new_node);
        old_node.mark_unlinked();
        // Only `new`'s own range differs from what its subtree cached.
        augment::propagate(Some(new_node), None);
    }

    /// Hangs the leaf `node` as `parent`'s left or right child (or as the
    /// root), refreshes the augmentation above it and rebalances.
    fn attach<'t>(&mut self, node: Node<'t>, parent: Option<Node<'t>>, is_left: bool) {
        // A new node is red: property 5 still holds, only 4 may break.
        node.set_parent_color(parent, false);
        match parent {
            None => self.root = Some(node.ptr()),
            Some(p) if is_left => p.set_left(Some(node)),
            Some(p) => p.set_right(Some(node)),
        }
        self.len += 1;

        augment::propagate(parent, None);
        self.insert_rebalance(node);
    }

    /// Rotates around `old`, making `new` (one of its children) the root of
    /// the subtree, with the colour `old` had; `old` gets `color_black`.
    #[inline]
    pub(crate) fn rotate_set_parents<'t>(&mut self, old: Node<'t>, new: Node<'t>, old_black: bool) {
        let parent = old.parent();
        new.set_parent_color_raw(old.parent_color_raw());
        old.set_parent_color(Some(new), old_black);
        self.change_child(old, Some(new), parent);
    }

    /// Restores property 4 after `node` was linked red.
    fn insert_rebalance<'t>(&mut self, mut node: Node<'t>) {
        // Loop invariant: `node` is red; property 4 holds everywhere except
        // possibly between `node` and its parent; property 5 holds.
        loop {
            let Some(parent) = node.parent() else {
                // The inserted node (or a recoloured grandparent) is the
                // root: blacken it (property 2); all paths gain one black.
                node.set_black();
                break;
            };
            if parent.is_black() {
                break;
            }
            // Property 2: the root is black, so the red parent has a parent.
            let Some(gparent) = parent.parent() else {
                parent.inconsistent("a red node's red parent is the root", Some(node));
            };
            // The side is a constant in each copy of the cases: see
            // `insert_cases`.
            let up = if gparent.right() == Some(parent) {
                self.insert_cases::<true>(node, parent, gparent)
            } else {
                self.insert_cases::<false>(node, parent, gparent)
            };
            match up {
                Some(g) => node = g,
                None => break,
            }
        }
    }

    /// Cases 1–3 of [`insert_rebalance`](Self::insert_rebalance), for a red
    /// `node` under a red `parent` that is `gparent`'s child on side `SIDE`
    /// (`false` for left, as [`Node::child`] takes it). Returns the
    /// grandparent when the red-red edge moved up to it (case 1), `None`
    /// when property 4 holds again.
    ///
    /// The diagrams draw the parent as the left child; when it is the right
    /// one, every picture is mirrored and "left" and "right" trade places.
    ///
    /// `SIDE` is a const parameter, not a run-time `bool`, so that each side
    /// is compiled with fixed child offsets, as the hand-mirrored cases of
    /// `lib/rbtree.c` are: with a run-time side, every child access computed
    /// its offset and every `set_child` branched, which cost 3 % more
    /// instructions per `unmap_remap` (7 % inside `erase`) under
    /// `benches/callgrind.sh`.
    #[inline(always)]
    fn insert_cases<'t, const SIDE: bool>(
        &mut self,
        node: Node<'t>,
        mut parent: Node<'t>,
        gparent: Node<'t>,
    ) -> Option<Node<'t>> {
        if let Some(uncle) = gparent.child(!SIDE).filter(|u| u.is_red()) {
            // Case 1 – uncle is red: flip colours, move up twice.
            //
            //       g            G
            //      / \          / \
            //     P   U  -->   p   u
            //    /            /
            //   N            N
            //
            // The grandparent may now be a red child of a red node.
            uncle.set_black();
            parent.set_black();
            gparent.set_red();
            return Some(gparent);
        }

        if parent.child(!SIDE) == Some(node) {
            // Case 2 – node is the parent's inner child: rotate at the parent
            // (left in the picture), which turns it into case 3.
            //
            //      g             g
            //     / \           / \
            //    P   u  -->    N   u
            //     \           /
            //      N         P
            let tmp = node.child(SIDE);
            parent.set_child(!SIDE, tmp);
            node.set_child(SIDE, Some(parent));
            if let Some(t) = tmp {
                t.set_parent_color(Some(parent), true);
            }
            parent.set_parent_color(Some(node), false);
            // `node`'s own parent link and `gparent`'s child slot are
            // rewritten by case 3 just below.
            augment::rotate(parent, node);
            parent = node;
        }

        // Case 3 – node is the parent's outer child: rotate at the
        // grandparent (right in the picture); the parent takes its place and
        // colour, and no red-red edge is left.
        //
        //        g           p
        //       / \         / \
        //      P   u  -->  N   G
        //     /                 \
        //    N                   u
        let tmp = parent.child(!SIDE);
        gparent.set_child(SIDE, tmp);
        parent.set_child(!SIDE, Some(gparent));
        if let Some(t) = tmp {
            t.set_parent_color(Some(gparent), true);
        }
        self.rotate_set_parents(gparent, parent, false);
        augment::rotate(gparent, parent);
        None
    }
}
