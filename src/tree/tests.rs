//! Tests of the raw tree against a sorted `Vec`, with the checker after every
//! step, and of the checker against deliberately corrupted trees.

use core::sync::atomic::AtomicPtr;
use std::vec::Vec;

use super::check::Invariant;
use super::gap::{Direction, HoleQuery};
use super::{LinkPtr, Node, RangeLink, RawTree};
use range_action_map_testkit::Rng;

/// Operations per randomized test; smaller under Miri, which is ~1000×
/// slower, but still enough to reach every rebalance case.
const STEPS: usize = if cfg!(miri) { 60 } else { 4000 };

/// Slots of fixed addresses `[i*16 + off, i*16 + off + len)`, so random
/// inserts are disjoint by construction; links live in a `Vec` that is never
/// resized, so their addresses are stable.
struct Harness {
    tree: RawTree,
    links: Vec<RangeLink>,
    /// The model: `(start, end, slot)` sorted by start.
    model: Vec<(usize, usize, usize)>,
}

impl Harness {
    fn new(slots: usize) -> Self {
        Harness {
            tree: RawTree::new(),
            links: (0..slots).map(|_| RangeLink::new()).collect(),
            model: Vec::new(),
        }
    }

    fn ptr(&self, slot: usize) -> LinkPtr {
        LinkPtr::from(&self.links[slot])
    }

    fn insert(&mut self, slot: usize, start: usize, end: usize) {
        let ptr = self.ptr(slot);
        self.links[slot].set_parent_color_ptr(None, true);
        self.links[slot].set_range(start, end);
        let at = self.model.partition_point(|&(s, _, _)| s < start);
        let next = self.model.get(at).map(|&(_, _, next)| self.ptr(next));
        // SAFETY: the link is boxed in `self.links`, outlives the tree, and
        // is in no tree (each slot is inserted at most once at a time);
        // `next` is in the tree.
        unsafe { self.tree.insert_before(ptr, next) };
        self.model.insert(at, (start, end, slot));
    }

    fn erase(&mut self, index: usize) {
        let (_, _, slot) = self.model.remove(index);
        // SAFETY: the slot's link is in the tree (it is in the model).
        unsafe { self.tree.erase(self.ptr(slot)) };
        assert!(!self.links[slot].is_linked());
    }

    fn verify(&self) {
        if let Err(broken) = self.tree.check() {
            panic!("tree invariant broken: {broken}");
        }
        let mut in_order = Vec::new();
        let mut node = self.tree.first();
        while let Some(n) = node {
            in_order.push((n.start(), n.end()));
            node = n.next();
        }
        let model: Vec<_> = self.model.iter().map(|&(s, e, _)| (s, e)).collect();
        assert_eq!(in_order, model);
        let mut reversed = Vec::new();
        let mut node = self.tree.last();
        while let Some(n) = node {
            reversed.push((n.start(), n.end()));
            node = n.prev();
        }
        reversed.reverse();
        assert_eq!(reversed, model);
    }

    /// The tree's and the model's answers to `find(addr)` and to
    /// `lower_bound(addr)` agree, the latter asked before and after `find`
    /// fills the cache it consults.
    fn check_find(&self, addr: usize) {
        let above = self.model.iter().find(|&&(_, e, _)| e > addr);
        let lower_bound = || self.tree.lower_bound(addr).map(|n| n.start());
        assert_eq!(lower_bound(), above.map(|m| m.0), "lower_bound({addr})");
        let inside = self.model.iter().find(|&&(s, e, _)| s <= addr && addr < e);
        assert_eq!(
            self.tree.find(addr).map(|n| n.start()),
            inside.map(|m| m.0),
            "find({addr})"
        );
        assert_eq!(lower_bound(), above.map(|m| m.0), "lower_bound({addr})");
    }

    /// The tree's answer to a hole query, after checking that the node it
    /// names as following the hole is the first one above the placement.
    fn hole(&self, q: &HoleQuery) -> Option<usize> {
        let (at, next) = self.tree.find_hole(q)?;
        let above = self.model.iter().find(|&&(s, _, _)| s >= at + q.len);
        assert_eq!(
            next.map(|n| n.start()),
            above.map(|m| m.0),
            "node after the hole of {q:?}"
        );
        Some(at)
    }

    /// The model's answer to a hole query: scan every hole.
    fn model_hole(&self, q: &HoleQuery) -> Option<usize> {
        let need = q.len.checked_add(q.align - 1)?;
        let mut holes = Vec::new();
        let mut prev = 0;
        for &(s, e, _) in &self.model {
            holes.push((prev, s));
            prev = e;
        }
        holes.push((prev, usize::MAX));
        let cut = |&(a, b): &(usize, usize)| {
            let (a, b) = (a.max(q.low), b.min(q.high));
            (b > a && b - a >= need).then_some((a, b))
        };
        let mask = q.align - 1;
        match q.direction {
            Direction::BottomUp => holes.iter().find_map(cut).map(|(a, _)| (a + mask) & !mask),
            Direction::TopDown => holes
                .iter()
                .rev()
                .find_map(cut)
                .map(|(_, b)| (b - q.len) & !mask),
        }
    }
}

/// Random inserts and erases over `slots` slots, checked after every step.
fn churn(seed: u64, slots: usize) -> Harness {
    let mut rng = Rng(seed);
    let mut h = Harness::new(slots);
    for _ in 0..STEPS {
        if h.model.len() < slots && (h.model.is_empty() || rng.below(3) != 0) {
            let free: Vec<usize> = (0..slots).filter(|&i| !h.links[i].is_linked()).collect();
            let slot = free[rng.below(free.len())];
            let off = rng.below(8);
            let len = 1 + rng.below(8);
            h.insert(slot, slot * 16 + off, slot * 16 + off + len);
        } else {
            let index = rng.below(h.model.len());
            h.erase(index);
        }
        h.verify();
        // Lookups fill the last-hit cache that the next erase may have to
        // clear; `verify` checks it never names a node out of the tree. A
        // run of nearby addresses, up or down, is answered from the cached
        // node's neighbours, across segments and holes.
        let from = rng.below(slots * 16);
        let down = rng.below(2) == 0;
        for step in 0..6 {
            let delta = 3 * step;
            h.check_find(if down {
                from.saturating_sub(delta)
            } else {
                from + delta
            });
        }
    }
    h
}

#[test]
fn random_insert_erase_keeps_every_invariant() {
    for seed in 1..=if cfg!(miri) { 2 } else { 4 } {
        churn(seed, 64);
    }
}

#[test]
fn sequential_inserts_and_erases_rebalance() {
    let n = if cfg!(miri) { 64 } else { 1024 };
    let mut h = Harness::new(n);
    for i in 0..n {
        h.insert(i, i * 16, i * 16 + 8);
        h.verify();
    }
    for i in 0..n / 2 {
        h.erase(i);
        h.verify();
    }
    while !h.model.is_empty() {
        let last = h.model.len() - 1;
        h.erase(last);
        h.verify();
    }
    assert_eq!(h.tree.len(), 0);
}

#[test]
fn resize_in_place_keeps_the_augmentation_exact() {
    let mut h = churn(7, 48);
    let mut rng = Rng(99);
    for _ in 0..STEPS / 4 {
        if h.model.is_empty() {
            break;
        }
        let i = rng.below(h.model.len());
        let (s, e, slot) = h.model[i];
        if e - s < 2 {
            continue;
        }
        let (ns, ne) = if rng.below(2) == 0 {
            (s + 1, e)
        } else {
            (s, e - 1)
        };
        // Cache the node, then move its bounds: the cached node must be
        // re-checked, not trusted for the addresses it used to hold.
        h.check_find(if ns > s { s } else { e - 1 });
        // SAFETY: the slot's link is in the tree.
        unsafe { h.tree.resize(h.ptr(slot), ns, ne) };
        h.model[i] = (ns, ne, slot);
        h.verify();
        h.check_find(s);
        h.check_find(e - 1);
    }
}

/// Random splits and merges of adjacent nodes, between inserts and erases
/// into random holes, with the checker after every step: both skip the
/// usual refresh of the augmentation and rely on what cannot change.
#[test]
fn split_merge_and_replace_keep_every_invariant() {
    const SPACE: usize = 1024;
    for seed in 1..=if cfg!(miri) { 2 } else { 4 } {
        let mut rng = Rng(seed);
        let mut h = Harness::new(96);
        for _ in 0..STEPS {
            let free = h.links.iter().position(|l| !l.is_linked());
            match (rng.below(5), free) {
                (0, Some(slot)) => {
                    let start = rng.below(SPACE);
                    let end = start + 1 + rng.below(64);
                    if h.model.iter().all(|&(s, e, _)| e <= start || end <= s) {
                        h.insert(slot, start, end);
                    }
                }
                (1, Some(slot)) if !h.model.is_empty() => {
                    let i = rng.below(h.model.len());
                    let (s, e, left) = h.model[i];
                    if e - s >= 2 {
                        let pos = s + 1 + rng.below(e - s - 1);
                        h.check_find(s);
                        // SAFETY: `left` is in the tree, `slot` is free.
                        unsafe { h.tree.split(h.ptr(left), pos, h.ptr(slot)) };
                        h.model[i] = (s, pos, left);
                        h.model.insert(i + 1, (pos, e, slot));
                    }
                }
                (2, _) if h.model.len() >= 2 => {
                    let i = rng.below(h.model.len() - 1);
                    let ((s, e, prev), (ns, ne, next)) = (h.model[i], h.model[i + 1]);
                    if e == ns {
                        h.check_find(ns);
                        // SAFETY: both are in the tree, `next` right after
                        // `prev`.
                        unsafe { h.tree.merge(h.ptr(prev), h.ptr(next)) };
                        assert!(!h.links[next].is_linked());
                        h.model[i] = (s, ne, prev);
                        h.model.remove(i + 1);
                    }
                }
                (3, Some(slot)) if !h.model.is_empty() => {
                    // A node over the old one's range and some of the holes
                    // on either side.
                    let i = rng.below(h.model.len());
                    let (s, e, old) = h.model[i];
                    let low = i.checked_sub(1).map_or(0, |p| h.model[p].1);
                    let high = h.model.get(i + 1).map_or(SPACE + 64, |n| n.0);
                    let (start, end) = (s - rng.below(s - low + 1), e + rng.below(high - e + 1));
                    h.check_find(s);
                    h.links[slot].set_range(start, end);
                    // SAFETY: `old` is in the tree, `slot` is free, and the
                    // range covers only `old` and holes.
                    unsafe { h.tree.replace(h.ptr(old), h.ptr(slot)) };
                    assert!(!h.links[old].is_linked());
                    h.model[i] = (start, end, slot);
                }
                _ if !h.model.is_empty() => {
                    let i = rng.below(h.model.len());
                    h.erase(i);
                }
                _ => {}
            }
            h.verify();
            h.check_find(rng.below(SPACE + 64));
        }
    }
}

// === the last-hit cache of `find` ===

#[test]
fn find_after_erasing_the_cached_node() {
    let mut h = corruptible(8);
    let (start, _, _) = h.model[3];
    h.check_find(start);
    assert_eq!(h.tree.last_hit().map(|n| n.start()), Some(start));
    h.erase(3);
    assert!(h.tree.last_hit().is_none());
    h.verify();
    // The erased link still holds its range: a stale cache would return it.
    h.check_find(start);
    // Erasing another node keeps the cache.
    h.check_find(h.model[0].0);
    h.erase(5);
    assert_eq!(h.tree.last_hit().map(|n| n.start()), Some(h.model[0].0));
    h.verify();
}

#[test]
fn find_steps_to_the_neighbours_of_the_cached_node() {
    // Nodes `[16 i, 16 i + 8)`: every address from below the first to past
    // the last, upwards and then downwards, one at a time.
    let h = corruptible(8);
    for addr in 0..8 * 16 + 4 {
        h.check_find(addr);
    }
    for addr in (0..8 * 16 + 4).rev() {
        h.check_find(addr);
    }
    // A lookup that falls into a hole caches a neighbour of the hole.
    h.check_find(200);
    h.check_find(4 * 16 + 11);
    let cached = h.tree.last_hit().map(|n| n.start());
    assert!(matches!(cached, Some(64 | 80)), "{cached:?}");
    // A lookup two segments away is not answered by the neighbour.
    h.check_find(7 * 16 + 2);
    assert_eq!(h.tree.last_hit().map(|n| n.start()), Some(7 * 16));
}

#[test]
fn find_beyond_the_neighbour_descends() {
    // A long segment between short ones: an address within its length
    // but past its short neighbour, above and below, is found by a descent.
    let mut h = Harness::new(5);
    for (slot, (start, end)) in [(0, 4), (6, 7), (10, 40), (43, 44), (46, 50)]
        .into_iter()
        .enumerate()
    {
        h.insert(slot, start, end);
    }
    h.verify();
    for (from, to) in [(20, 47), (20, 2), (20, 45), (20, 5)] {
        h.check_find(from);
        h.check_find(to);
    }
}

#[test]
fn find_from_a_hole_neighbour_sees_inserts_and_erases() {
    // Nodes `[16 i, 16 i + 8)`: the hole after node 3 is `[56, 64)`.
    let mut h = corruptible(8);
    h.check_find(57);
    let border = h.tree.last_hit().map(|n| n.start());
    assert!(matches!(border, Some(48 | 64)), "{border:?}");
    for addr in 56..64 {
        h.check_find(addr);
        assert_eq!(h.tree.last_hit().map(|n| n.start()), border);
    }
    // A node inserted into the hole (node 7's link, taken out first) is
    // seen from the cached neighbour.
    h.erase(7);
    h.insert(7, 60, 62);
    h.verify();
    for addr in 55..65 {
        h.check_find(addr);
    }
    // Erasing the cached node empties the cache; the lookups after it
    // descend again.
    h.check_find(57);
    let cached = h.tree.last_hit().map(|n| n.start()).expect("a neighbour");
    let index = h
        .model
        .iter()
        .position(|m| m.0 == cached)
        .expect("in the tree");
    h.erase(index);
    assert!(h.tree.last_hit().is_none());
    h.verify();
    for addr in 40..90 {
        h.check_find(addr);
    }
    h.verify();
}

#[test]
fn find_after_draining_the_tree() {
    let mut h = corruptible(8);
    h.check_find(h.model[2].0);
    assert!(h.tree.last_hit().is_some());
    assert_eq!(h.tree.drain().count(), 8);
    h.model.clear();
    h.verify();
    h.check_find(2 * 16);
    // Re-inserting the drained node does not revive the old cache entry
    // by accident: the first lookup fills it again.
    h.insert(2, 2 * 16, 2 * 16 + 8);
    assert!(h.tree.last_hit().is_none());
    h.check_find(2 * 16 + 3);
    h.verify();
}

#[test]
fn find_after_shrinking_the_cached_node() {
    let mut h = corruptible(4);
    let (start, end, slot) = h.model[1];
    h.check_find(start);
    // SAFETY: the slot's link is in the tree.
    unsafe { h.tree.resize(h.ptr(slot), start + 2, end) };
    h.model[1] = (start + 2, end, slot);
    h.verify();
    h.check_find(start);
    h.check_find(start + 2);
}

#[test]
fn hole_search_matches_a_scan_of_every_hole() {
    let mut rng = Rng(5);
    for seed in 11..=13 {
        let h = churn(seed, 40);
        for _ in 0..STEPS / 4 {
            let align = 1 << rng.below(4);
            let low = rng.below(700);
            let query = HoleQuery {
                len: 1 + rng.below(24),
                align,
                low,
                high: low + 1 + rng.below(700),
                direction: if rng.below(2) == 0 {
                    Direction::BottomUp
                } else {
                    Direction::TopDown
                },
            };
            assert_eq!(h.hole(&query), h.model_hole(&query), "{query:?}");
        }
    }
}

#[test]
fn hole_search_at_the_ends_of_the_address_space() {
    let mut h = Harness::new(2);
    h.insert(0, 0, 0x1000);
    h.insert(1, usize::MAX - 0x1000, usize::MAX);
    let q = |len, direction| HoleQuery {
        len,
        align: 1,
        low: 0,
        high: usize::MAX,
        direction,
    };
    let free = usize::MAX - 0x2000;
    assert_eq!(h.hole(&q(free, Direction::BottomUp)), Some(0x1000));
    assert_eq!(h.hole(&q(free, Direction::TopDown)), Some(0x1000));
    assert_eq!(h.hole(&q(free + 1, Direction::BottomUp)), None);
    assert_eq!(h.hole(&q(usize::MAX, Direction::TopDown)), None);
    let aligned = HoleQuery {
        align: 1 << 63,
        ..q(1, Direction::BottomUp)
    };
    assert_eq!(h.hole(&aligned), Some(1 << 63));
}

#[test]
fn lookups_by_address() {
    let h = churn(3, 32);
    for addr in 0..32 * 16 {
        h.check_find(addr);
    }
}

#[test]
fn drain_yields_every_node_once() {
    let mut h = churn(21, 64);
    let mut drained: Vec<LinkPtr> = h.tree.drain().collect();
    assert_eq!(h.tree.len(), 0);
    assert!(h.tree.root().is_none());
    let mut expected: Vec<LinkPtr> = h.model.iter().map(|&(_, _, slot)| h.ptr(slot)).collect();
    drained.sort();
    expected.sort();
    assert_eq!(drained, expected);
    assert!(h.links.iter().all(|l| !l.is_linked()));
    h.model.clear();
}

// === the checker rejects corrupted trees ===

/// A valid tree of `n` nodes to corrupt.
fn corruptible(n: usize) -> Harness {
    let mut h = Harness::new(n);
    for i in 0..n {
        h.insert(i, i * 16, i * 16 + 8);
    }
    h.verify();
    h
}

fn root(h: &Harness) -> Node<'_> {
    h.tree.root().expect("non-empty")
}

#[test]
fn checker_rejects_a_red_root() {
    let h = corruptible(8);
    root(&h).set_red();
    assert_eq!(h.tree.check(), Err(Invariant::RedRoot));
}

/// The first node, in address order, for which `pick` holds.
fn node_where(h: &Harness, pick: impl Fn(Node<'_>) -> bool) -> Node<'_> {
    let mut node = root(h).leftmost();
    while !pick(node) {
        node = node.next().expect("the corruptible tree has such a node");
    }
    node
}

#[test]
fn checker_rejects_a_red_red_edge() {
    let h = corruptible(16);
    // A red node with a (black) child: redden the child.
    let red = node_where(&h, |n| n.is_red() && n.left().is_some());
    let child = red.left().expect("picked for it");
    child.set_red();
    assert_eq!(
        h.tree.check(),
        Err(Invariant::RedRed {
            start: child.start()
        })
    );
}

#[test]
fn checker_rejects_an_uneven_black_height() {
    let h = corruptible(16);
    // Blacken a red leaf: its path gains a black node, its sibling's not.
    let leaf = node_where(&h, |n| {
        n.is_red() && n.left().is_none() && n.right().is_none()
    });
    leaf.set_black();
    let parent = leaf.parent().expect("a red node is not the root");
    assert_eq!(
        h.tree.check(),
        Err(Invariant::BlackHeight {
            start: parent.start()
        })
    );
}

#[test]
fn checker_rejects_overlap_and_disorder() {
    let h = corruptible(8);
    let first = root(&h).leftmost();
    // The second node is [16, 24).
    first.set_range(0, 20);
    assert_eq!(
        h.tree.check(),
        Err(Invariant::Order {
            prev_end: 20,
            start: 16
        })
    );
    first.set_range(5, 5);
    assert_eq!(
        h.tree.check(),
        Err(Invariant::EmptyRange { start: 5, end: 5 })
    );
}

#[test]
fn checker_rejects_an_unlinked_node_in_the_tree() {
    let h = corruptible(8);
    let leaf = root(&h).leftmost();
    leaf.mark_unlinked();
    assert_eq!(
        h.tree.check(),
        Err(Invariant::Unlinked {
            start: leaf.start()
        })
    );
}

#[test]
fn checker_rejects_a_tree_deeper_than_its_length_allows() {
    let mut h = corruptible(16);
    // A red-black tree of 1 node is at most 4 deep; this one is deeper.
    h.tree.len = 1;
    assert_eq!(h.tree.check(), Err(Invariant::Depth));
}

#[test]
fn checker_rejects_a_stale_augmented_field() {
    let h = corruptible(8);
    let r = root(&h);
    let (min, max, gap) = r.augment();
    r.set_augment((min, max, gap + 1));
    assert_eq!(h.tree.check(), Err(Invariant::Augment { start: r.start() }));
    r.set_augment((min, max + 1, gap));
    assert_eq!(h.tree.check(), Err(Invariant::Augment { start: r.start() }));
}

#[test]
fn checker_rejects_a_broken_parent_link() {
    let h = corruptible(8);
    let leaf = root(&h).leftmost();
    leaf.set_parent(None);
    assert_eq!(
        h.tree.check(),
        Err(Invariant::ParentLink {
            start: leaf.start()
        })
    );
}

#[test]
fn checker_rejects_a_last_hit_out_of_the_tree() {
    let mut h = corruptible(8);
    h.erase(4);
    // `erase` cleared the cache; put the erased node back in it.
    h.tree.last_hit = AtomicPtr::new(h.ptr(4).as_ptr());
    assert_eq!(h.tree.check(), Err(Invariant::LastHit));
    h.model.clear();
    let _ = h.tree.drain().count();
    h.tree.last_hit = AtomicPtr::new(h.ptr(0).as_ptr());
    assert_eq!(h.tree.check(), Err(Invariant::LastHit));
}

#[test]
fn checker_rejects_a_wrong_length() {
    let mut h = corruptible(8);
    h.tree.len += 1;
    assert_eq!(h.tree.check(), Err(Invariant::Summary));
}
