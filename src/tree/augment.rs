//! The augmentation callbacks, after Linux's `rbtree_augmented.h`.
//!
//! Each node caches three values of its subtree: `min_start`, `max_end` and
//! `subtree_gap` (formulas on [`RangeLink`](super::RangeLink)). They are a
//! function of the node and its two children only, so three small callbacks
//! keep them exact:
//!
//! - [`propagate`] (after an insertion) and [`propagate_removal`] (after
//!   an erase or a resize) when a node's range or children changed:
//!   recompute upwards, stopping early once a value comes out unchanged;
//! - [`copy`] when erase splices the successor into the erased node's place;
//! - [`rotate`] after a rotation: the new subtree root inherits the old
//!   root's values (same set of nodes), only the old root is recomputed.

use super::Node;

/// The augmented values of `node` computed from its range and its children.
#[inline]
pub(crate) fn compute(node: Node<'_>) -> (usize, usize, usize) {
    // Each field read once: they are atomics, which the compiler does not merge.
    let (start, end) = (node.start(), node.end());
    let (mut min_start, mut max_end, mut gap) = (start, end, 0);
    if let Some(left) = node.left() {
        min_start = left.min_start();
        gap = left.subtree_gap().max(start.saturating_sub(left.max_end()));
    }
    if let Some(right) = node.right() {
        max_end = right.max_end();
        gap = gap
            .max(right.subtree_gap())
            .max(right.min_start().saturating_sub(end));
    }
    (min_start, max_end, gap)
}

/// Recomputes from `node` up to, not including, `stop` (the root's parent
/// when `None`), returning early at the first node whose values did not
/// change: its ancestors depend on it only through those values. For
/// insertions, where a gap shrinks.
#[inline]
pub(crate) fn propagate<'t>(node: Option<Node<'t>>, stop: Option<Node<'t>>) {
    walk_up::<false>(node, stop);
}

/// [`propagate`] after a node left the tree or changed its range, where a
/// gap usually grows.
///
/// `node` may have changed in any way (its range, its children). Above it,
/// each ancestor has one changed input, the child the walk comes from, and
/// when only that child's gap moved, the ancestor's values follow without
/// reading its other child (a likely cache miss in a large tree): a gap
/// that grew raises the maximum, a gap that shrank from below the maximum
/// leaves it. Only a shrinking gap that was the maximum needs the full
/// recomputation, which is why insertions use [`propagate`], whose loop is
/// shorter.
#[inline]
pub(crate) fn propagate_removal<'t>(node: Option<Node<'t>>, stop: Option<Node<'t>>) {
    walk_up::<true>(node, stop);
}

/// The walk of [`propagate`] and [`propagate_removal`]; `INCREMENTAL`
/// turns on the latter's shortcut.
#[inline]
fn walk_up<'t, const INCREMENTAL: bool>(mut node: Option<Node<'t>>, stop: Option<Node<'t>>) {
    // The values of the child the walk comes from, after and before this
    // walk (kept, not read again: links are atomics, which are not cached
    // in registers).
    type Augment = (usize, usize, usize);
    let mut from: Option<(Augment, Augment)> = None;
    // Loop invariant: every node below `node` on the path is exact, and
    // `node`'s only stale input, if any, is `from`.
    while let Some(n) = node {
        if Some(n) == stop {
            break;
        }
        let old = n.augment();
        let new = match from {
            Some(((child_min, child_max, gap), (old_min, old_max, child_gap)))
                if INCREMENTAL && child_min == old_min && child_max == old_max =>
            {
                if gap >= child_gap {
                    (old.0, old.1, old.2.max(gap))
                } else if old.2 > child_gap {
                    old
                } else {
                    compute(n)
                }
            }
            _ => compute(n),
        };
        if new == old {
            break;
        }
        n.set_augment(new);
        from = Some((new, old));
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
