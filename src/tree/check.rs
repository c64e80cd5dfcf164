//! The invariant checker: every property of the module docs, verified from
//! scratch, cheapest first.

use core::fmt;
use core::ptr::NonNull;
use core::sync::atomic::Ordering;

use super::{augment, Node, RawTree};

/// A broken tree invariant, as found by the checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum Invariant {
    /// The root has a parent, or a child does not point back to its parent.
    ParentLink {
        /// Start of the node whose parent pointer is wrong.
        start: usize,
    },
    /// A node in the tree is marked unlinked.
    Unlinked {
        /// Start of the node.
        start: usize,
    },
    /// Property 2: the root is red.
    RedRoot,
    /// Property 4: a red node has a red child.
    RedRed {
        /// Start of the red child.
        start: usize,
    },
    /// Property 5: two paths from a node have different black heights.
    BlackHeight {
        /// Start of the node whose subtrees differ.
        start: usize,
    },
    /// Property 6: a node is empty or reversed.
    EmptyRange {
        /// Start of the node.
        start: usize,
        /// End of the node.
        end: usize,
    },
    /// Property 6: two consecutive nodes overlap or are out of order.
    Order {
        /// End of the earlier node.
        prev_end: usize,
        /// Start of the later node.
        start: usize,
    },
    /// Property 7: a node's `min_start`, `max_end` or `subtree_gap` is stale.
    Augment {
        /// Start of the node.
        start: usize,
    },
    /// The cached `len`, `first` or `last` disagrees with the tree.
    Summary,
    /// The last-hit cache names a node that is not in the tree.
    LastHit,
    /// The tree is deeper than a red-black tree of its size can be.
    Depth,
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Invariant::ParentLink { start } => write!(
                f,
                "every child points back to its parent and the root has none (node at {start:#x})"
            ),
            Invariant::Unlinked { start } => {
                write!(f, "every node in the tree is marked linked (node at {start:#x})")
            }
            Invariant::RedRoot => f.write_str("the root is black (property 2)"),
            Invariant::RedRed { start } => write!(
                f,
                "a red node has only black children (property 4; red child at {start:#x})"
            ),
            Invariant::BlackHeight { start } => write!(
                f,
                "every path down from a node meets the same number of black nodes \
                 (property 5; node at {start:#x})"
            ),
            Invariant::EmptyRange { start, end } => {
                write!(f, "every segment has start < end (got {start:#x}..{end:#x})")
            }
            Invariant::Order { prev_end, start } => write!(
                f,
                "segments are ordered and disjoint (one ends at {prev_end:#x}, the next starts at {start:#x})"
            ),
            Invariant::Augment { start } => write!(
                f,
                "min_start, max_end and subtree_gap are exact (node at {start:#x})"
            ),
            Invariant::Summary => f.write_str("the cached len, first and last match the tree"),
            Invariant::LastHit => {
                f.write_str("the last-hit cache is empty or names a node of the tree")
            }
            Invariant::Depth => f.write_str("the depth is at most 2·log2(n + 1)"),
        }
    }
}

impl RawTree {
    /// Checks every invariant; *O*(n) time, *O*(log n) stack.
    pub(crate) fn check(&self) -> Result<(), Invariant> {
        // Compared as an address only: a stale pointer must not be followed.
        let last_hit = NonNull::new(self.last_hit.load(Ordering::Relaxed));
        let Some(root) = self.root() else {
            return if self.len != 0 || self.first.is_some() || self.last.is_some() {
                Err(Invariant::Summary)
            } else if last_hit.is_some() {
                Err(Invariant::LastHit)
            } else {
                Ok(())
            };
        };
        // Structure first: the walks below follow parent pointers.
        if !root.is_linked() {
            return Err(Invariant::Unlinked {
                start: root.start(),
            });
        }
        if root.parent().is_some() {
            return Err(Invariant::ParentLink {
                start: root.start(),
            });
        }
        let count = check_structure(root, 0, self.len)?;
        if count != self.len {
            return Err(Invariant::Summary);
        }
        // Colours.
        if root.is_red() {
            return Err(Invariant::RedRoot);
        }
        check_colours(root)?;
        // Order and disjointness, by an in-order walk.
        let first = root.leftmost();
        if self.first != Some(first.ptr()) || self.last != Some(root.rightmost().ptr()) {
            return Err(Invariant::Summary);
        }
        let mut node = first;
        let mut last_hit_seen = last_hit.is_none_or(|p| p == node.ptr());
        if node.start() >= node.end() {
            return Err(Invariant::EmptyRange {
                start: node.start(),
                end: node.end(),
            });
        }
        while let Some(next) = node.next() {
            if next.start() >= next.end() {
                return Err(Invariant::EmptyRange {
                    start: next.start(),
                    end: next.end(),
                });
            }
            if node.end() > next.start() {
                return Err(Invariant::Order {
                    prev_end: node.end(),
                    start: next.start(),
                });
            }
            last_hit_seen |= last_hit == Some(next.ptr());
            node = next;
        }
        if !last_hit_seen {
            return Err(Invariant::LastHit);
        }
        // Augmentation, recomputed bottom-up from scratch.
        check_augment(root)
    }
}

/// Parent links and linked marks; returns the node count. Gives up past the
/// depth a red-black tree of `len` nodes can have, so a cycle cannot hang it.
fn check_structure(node: Node<'_>, depth: usize, len: usize) -> Result<usize, Invariant> {
    if depth > 2 * (usize::BITS - len.leading_zeros()) as usize + 2 {
        return Err(Invariant::Depth);
    }
    let mut count = 1;
    for child in [node.left(), node.right()].into_iter().flatten() {
        // An unlinked mark would also read as a bogus parent: name it first.
        if !child.is_linked() {
            return Err(Invariant::Unlinked {
                start: child.start(),
            });
        }
        if child.parent() != Some(node) {
            return Err(Invariant::ParentLink {
                start: child.start(),
            });
        }
        count += check_structure(child, depth + 1, len)?;
    }
    Ok(count)
}

/// Properties 4 and 5; returns the black height.
fn check_colours(node: Node<'_>) -> Result<usize, Invariant> {
    let mut heights = [1, 1];
    for (i, child) in [node.left(), node.right()].into_iter().enumerate() {
        if let Some(child) = child {
            if node.is_red() && child.is_red() {
                return Err(Invariant::RedRed {
                    start: child.start(),
                });
            }
            heights[i] = check_colours(child)?;
        }
    }
    if heights[0] != heights[1] {
        return Err(Invariant::BlackHeight {
            start: node.start(),
        });
    }
    Ok(heights[0] + usize::from(node.is_black()))
}

/// Property 7, children before parents.
fn check_augment(node: Node<'_>) -> Result<(), Invariant> {
    for child in [node.left(), node.right()].into_iter().flatten() {
        check_augment(child)?;
    }
    if augment::compute(node) == node.augment() {
        Ok(())
    } else {
        Err(Invariant::Augment {
            start: node.start(),
        })
    }
}
