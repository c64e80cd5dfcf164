//! Free-hole search in *O*(log n), after Linux's pre-maple-tree
//! `unmapped_area` (bottom-up) and `unmapped_area_topdown` (its mirror).
//!
//! A *hole* is the space between two consecutive nodes, before the first
//! node (from address 0) or after the last one (up to `usize::MAX`). The
//! search wants the lowest (bottom-up) or highest (top-down) hole that, cut to
//! the window `[low, high)`, holds `len` bytes at an `align`ed address. As in
//! Linux it looks for a hole of at least `len + align - 1` bytes, which always
//! holds an aligned placement; with `align == 1` the answer is exact.
//!
//! Both directions run the same code over a mirrored view of the tree: in the
//! top-down view, address `x` reads `usize::MAX - x` and left and right trade
//! places, so "highest hole" becomes "lowest hole".

use super::{Node, RawTree};

/// Which end of the window a search prefers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The lowest hole: the seed's and Linux's legacy layout.
    #[default]
    BottomUp,
    /// The highest hole: Linux's default `mmap` layout.
    TopDown,
}

/// What a hole search asks for; checked by the map before it gets here.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HoleQuery {
    /// Bytes to place, non-zero.
    pub(crate) len: usize,
    /// Alignment of the placement, a power of two.
    pub(crate) align: usize,
    /// Lowest address the placement may use.
    pub(crate) low: usize,
    /// One past the highest address the placement may use.
    pub(crate) high: usize,
    /// Which end to prefer.
    pub(crate) direction: Direction,
}

/// The tree seen from one end: bottom-up is the tree itself, top-down its
/// mirror image.
#[derive(Clone, Copy)]
struct View(Direction);

impl View {
    #[inline]
    fn mirror(self, addr: usize) -> usize {
        match self.0 {
            Direction::BottomUp => addr,
            Direction::TopDown => usize::MAX - addr,
        }
    }

    /// The child searched first.
    #[inline]
    fn near<'t>(self, n: Node<'t>) -> Option<Node<'t>> {
        match self.0 {
            Direction::BottomUp => n.left(),
            Direction::TopDown => n.right(),
        }
    }

    /// The child searched last.
    #[inline]
    fn far<'t>(self, n: Node<'t>) -> Option<Node<'t>> {
        match self.0 {
            Direction::BottomUp => n.right(),
            Direction::TopDown => n.left(),
        }
    }

    /// The node's boundary that faces the start of the search.
    #[inline]
    fn low_edge(self, n: Node<'_>) -> usize {
        match self.0 {
            Direction::BottomUp => n.start(),
            Direction::TopDown => self.mirror(n.end()),
        }
    }

    /// The node's boundary that faces away from the start of the search.
    #[inline]
    fn high_edge(self, n: Node<'_>) -> usize {
        match self.0 {
            Direction::BottomUp => n.end(),
            Direction::TopDown => self.mirror(n.start()),
        }
    }

    /// The subtree's boundary that faces the start of the search.
    #[inline]
    fn subtree_low(self, n: Node<'_>) -> usize {
        match self.0 {
            Direction::BottomUp => n.min_start(),
            Direction::TopDown => self.mirror(n.max_end()),
        }
    }

    /// The subtree's boundary that faces away from the start of the search.
    #[inline]
    fn subtree_high(self, n: Node<'_>) -> usize {
        match self.0 {
            Direction::BottomUp => n.max_end(),
            Direction::TopDown => self.mirror(n.min_start()),
        }
    }
}

/// The cut of hole `[a, b)` to `[low, high)` if it holds `need` bytes.
#[inline]
fn fit(a: usize, b: usize, low: usize, high: usize, need: usize) -> Option<usize> {
    let (a, b) = (a.max(low), b.min(high));
    (b > a && b - a >= need).then_some(a)
}

impl RawTree {
    /// The placement of `query` and the node that follows its hole (`None`
    /// after the last node), or `None` when no hole fits. *O*(log n),
    /// allocation-free, including when it fails.
    pub(crate) fn find_hole(&self, query: &HoleQuery) -> Option<(usize, Option<Node<'_>>)> {
        let need = query.len.checked_add(query.align - 1)?;
        let view = View(query.direction);
        // The window, in the view's coordinates.
        let (low, high) = match query.direction {
            Direction::BottomUp => (query.low, query.high),
            Direction::TopDown => (view.mirror(query.high), view.mirror(query.low)),
        };
        let (hole_low, beyond) = self.lowest_hole(view, low, high, need)?;
        let mask = query.align - 1;
        Some(match query.direction {
            // `need` bytes from `hole_low` hold an aligned `len`: no overflow.
            Direction::BottomUp => ((hole_low + mask) & !mask, beyond),
            // Top-down, the node beyond the hole is the one below it.
            Direction::TopDown => (
                (view.mirror(hole_low) - query.len) & !mask,
                beyond.map_or(self.first(), Node::next),
            ),
        })
    }

    /// The low end (cut to the window) of the lowest hole in `view` whose cut
    /// to `[low, high)` holds `need` bytes, and the node that ends the hole
    /// in `view` (`None` for the hole after every node).
    fn lowest_hole(
        &self,
        view: View,
        low: usize,
        high: usize,
        need: usize,
    ) -> Option<(usize, Option<Node<'_>>)> {
        let at_end = |hole_start| fit(hole_start, usize::MAX, low, high, need).map(|at| (at, None));
        let Some(root) = self.root() else {
            return at_end(0);
        };

        // A hole that ends below this cannot hold `need` bytes at or above
        // `low` (Linux's `low_limit`).
        let low_limit = low.saturating_add(need);
        // Whether the subtree at `n`, whose predecessor ends at `prev_end`,
        // may hold a fitting hole: its leading hole or an inner one is big
        // enough (Cond1), one of them ends high enough above `low` (Cond2: a
        // hole ends at a node's low edge, below the subtree's high edge), and
        // one starts low enough below `high` (Cond3: holes start at or after
        // `prev_end`).
        let promising = |n: Node<'_>, prev_end: usize| {
            let leading = view.subtree_low(n).saturating_sub(prev_end);
            leading.max(n.subtree_gap()) >= need
                && view.subtree_high(n) > low_limit
                && prev_end.saturating_add(need) <= high
        };

        if !promising(root, 0) {
            return at_end(view.subtree_high(root));
        }
        let mut node = root;
        let mut prev_end = 0;
        'down: loop {
            // Loop invariant: `node` is promising; every hole before the
            // leading hole of its subtree was rejected, and `prev_end` is
            // where that hole starts.
            //
            // Both the near subtree and the hole after it end at or below
            // the node's low edge: when that is under `low_limit`, neither
            // can fit and the near child is not even read (as Linux's
            // `gap_end >= low_limit` test; on the way down to a hint, about
            // one cache miss saved per level).
            if view.low_edge(node) >= low_limit {
                if let Some(near) = view.near(node).filter(|&c| promising(c, prev_end)) {
                    node = near;
                    continue 'down;
                }
                let hole_start = view.near(node).map_or(prev_end, |c| view.subtree_high(c));
                if let Some(at) = fit(hole_start, view.low_edge(node), low, high, need) {
                    return Some((at, Some(node)));
                }
            }
            if let Some(far) = view
                .far(node)
                .filter(|&c| promising(c, view.high_edge(node)))
            {
                prev_end = view.high_edge(node);
                node = far;
                continue 'down;
            }
            // Climb. Coming up from a near child, the parent's own hole and
            // far subtree are next in order; coming from a far child, the
            // whole parent subtree is done.
            loop {
                let Some(parent) = node.parent() else {
                    break 'down;
                };
                if view.near(parent) == Some(node) {
                    if let Some(at) = fit(
                        view.subtree_high(node),
                        view.low_edge(parent),
                        low,
                        high,
                        need,
                    ) {
                        return Some((at, Some(parent)));
                    }
                    let after = view.high_edge(parent);
                    if let Some(far) = view.far(parent).filter(|&c| promising(c, after)) {
                        prev_end = after;
                        node = far;
                        continue 'down;
                    }
                }
                node = parent;
            }
        }
        at_end(view.subtree_high(root))
    }
}
