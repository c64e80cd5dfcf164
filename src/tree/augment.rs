//! The augmentation callbacks, after Linux's `rbtree_augmented.h`.
//!
//! Each node caches three values of its subtree: `min_start`, `max_end` and
//! `subtree_gap` (formulas on [`RangeLink`](super::RangeLink)). They are a
//! function of the node and its two children only, so three small callbacks
//! keep them exact:
//!
//! - [`propagate`] after a node's range or children changed: recompute
//!   upwards, stopping early once a value comes out unchanged;
//! - [`copy`] when erase splices the successor into the erased node's place;
//! - [`rotate`] after a rotation: the new subtree root inherits the old
//!   root's values (same set of nodes), only the old root is recomputed.

use super::Node;

/// The augmented values of `node` computed from its range and its children.
#[inline]
pub(crate) fn compute(node: Node<'_>) -> (usize, usize, usize) {
    let (mut min_start, mut max_end, mut gap) = (node.start(), node.end(), 0);
    if let Some(left) = node.left() {
        min_start = left.min_start();
        gap = left
            .subtree_gap()
            .max(node.start().saturating_sub(left.max_end()));
    }
    if let Some(right) = node.right() {
        max_end = right.max_end();
        gap = gap
            .max(right.subtree_gap())
            .max(right.min_start().saturating_sub(node.end()));
    }
    (min_start, max_end, gap)
}

/// Recomputes `node`'s values; reports whether any of them changed.
#[inline]
pub(crate) fn recompute(node: Node<'_>) -> bool {
    let new = compute(node);
    if new == node.augment() {
        return false;
    }
    node.set_augment(new);
    true
}

/// Recomputes from `node` up to, not including, `stop` (the root's parent
/// when `None`), returning early at the first node whose values did not
/// change: its ancestors depend on it only through those values.
#[inline]
pub(crate) fn propagate<'t>(mut node: Option<Node<'t>>, stop: Option<Node<'t>>) {
    // Loop invariant: every node below `node` on the path is exact.
    while let Some(n) = node {
        if Some(n) == stop || !recompute(n) {
            break;
        }
        node = n.parent();
    }
}

/// When erase moves `new` (the successor) into the place of `old`, `new`
/// takes over the values of the subtree it now roots; the propagation that
/// follows corrects them for `new`'s own range.
#[inline]
pub(crate) fn copy(old: Node<'_>, new: Node<'_>) {
    new.set_augment(old.augment());
}

/// After a rotation made `new` the root of the subtree `old` used to root.
#[inline]
pub(crate) fn rotate(old: Node<'_>, new: Node<'_>) {
    new.set_augment(old.augment());
    old.set_augment(compute(old));
}
