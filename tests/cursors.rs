//! Cursors and iterators against a sorted `Vec` model, in the manner of
//! std's `test_cursor_*`: every way in (`lower_bound`, `cursor_front`,
//! `cursor_back`, `cursor_from`, `lower_bound_mut`, `cursor_mut_at`), every
//! move (`move_next`, `move_prev`, through the ghost position), every peek,
//! `remove_current` at both ends and on one-element maps, and `iter`,
//! `overlapping` and `gaps` consumed from the front, the back, and both in
//! turn.
//!
//! The maps and their models are the test kit's (the logging segment and
//! the sorted-`Vec` model, built side by side by its harness).

use std::ops::Range;

use range_action_map::{Cursor, Window};
use range_action_map_testkit::harness::Harness;
use range_action_map_testkit::logging::{Map, Seg, SegAdapter};
use range_action_map_testkit::model::Model;
use range_action_map_testkit::op::Op;
use range_action_map_testkit::Rng;

const PAGE: usize = 0x1000;

/// A random map of up to `n` segments with random holes, in a window of
/// 64 pages, and its model; segment `i` from the left has identity `i`.
fn random_map(rng: &mut Rng, n: usize) -> Harness {
    let mut h = Harness::new(Window::new(PAGE, 65 * PAGE).unwrap(), false);
    let mut at = PAGE;
    for _ in 0..n {
        let start = at + rng.below(3) * PAGE;
        let end = start + (1 + rng.below(3)) * PAGE;
        if end > 65 * PAGE {
            break;
        }
        h.step(Op::MmapFixed(start, end, 0));
        at = end;
    }
    h
}

fn id(s: &Seg) -> u32 {
    s.id
}

/// Runs `check` on random maps (fewer under Miri, which is slow) of up to
/// `max_len` segments, with the generator for further choices.
fn for_random_maps(seed: u64, max_len: usize, mut check: impl FnMut(&mut Rng, Harness)) {
    let rounds = if cfg!(miri) { 6 } else { 200 };
    let mut rng = Rng(seed);
    for _ in 0..rounds {
        let n = rng.below(max_len + 1);
        let h = random_map(&mut rng, n);
        check(&mut rng, h);
    }
}

/// The model's answer to `overlapping(start, end)`.
fn model_overlapping(model: &Model, start: usize, end: usize) -> Vec<u32> {
    (model.segs.iter())
        .filter(|m| m.start < end && m.end > start)
        .map(|m| m.id)
        .collect()
}

/// The model's answer to `gaps(start, end)`, as ranges.
fn model_gaps(model: &Model, start: usize, end: usize) -> Vec<Range<usize>> {
    (model.gaps(start, end).into_iter())
        .map(|(a, b)| a..b)
        .collect()
}

/// Takes everything from `iter`, choosing the end by `pattern` (bit i: the
/// i-th item from the back), and puts the items back in order.
fn both_ends<T, I: DoubleEndedIterator<Item = T>>(mut iter: I, mut pattern: u64) -> Vec<T> {
    let (mut front, mut back) = (Vec::new(), Vec::new());
    loop {
        let item = if pattern & 1 == 1 {
            iter.next_back().map(|x| (false, x))
        } else {
            iter.next().map(|x| (true, x))
        };
        pattern = pattern.rotate_right(1);
        match item {
            Some((true, x)) => front.push(x),
            Some((false, x)) => back.push(x),
            None => break,
        }
    }
    assert!(
        iter.next().is_none() && iter.next_back().is_none(),
        "not fused"
    );
    front.extend(back.into_iter().rev());
    front
}

#[test]
fn iterators_from_both_ends_match_the_model() {
    for_random_maps(0x5eed_c0de, 12, |rng, Harness { map, model }| {
        let all: Vec<u32> = model.segs.iter().map(|m| m.id).collect();
        let pattern = rng.next();
        assert_eq!(both_ends(map.iter().map(id), pattern), all);
        assert_eq!(map.iter().rev().map(id).collect::<Vec<_>>(), {
            let mut r = all.clone();
            r.reverse();
            r
        });
        for _ in 0..8 {
            let start = rng.in_range(0..70) * PAGE + rng.below(2) * (PAGE / 2);
            let end = start + 1 + rng.below(20 * PAGE);
            let want = model_overlapping(&model, start, end);
            let over = map.overlapping(start, end);
            assert_eq!(over.clone().map(id).collect::<Vec<_>>(), want);
            assert_eq!(
                both_ends(over, rng.next())
                    .into_iter()
                    .map(id)
                    .collect::<Vec<_>>(),
                want
            );
            let want = model_gaps(&model, start, end);
            let gaps = map.gaps(start, end);
            assert_eq!(
                gaps.clone().collect::<Vec<_>>(),
                want,
                "{start:#x}..{end:#x}"
            );
            assert_eq!(both_ends(gaps, rng.next()), want, "{start:#x}..{end:#x}");
        }
    });
}

/// Where a cursor is, as the model says: `None` for the ghost.
fn at(cursor: Option<&Seg>) -> Option<u32> {
    cursor.map(id)
}

#[test]
fn cursors_walk_like_the_model() {
    for_random_maps(0xc0_5507, 8, |rng, Harness { map, model }| {
        let ids: Vec<u32> = model.segs.iter().map(|m| m.id).collect();
        // Position k in 0..=len, where len is the ghost.
        let len = ids.len();
        let id_at = |k: usize| ids.get(k).copied();
        let check = |c: &Cursor<'_, SegAdapter>, k: usize| {
            assert_eq!(at(c.get()), id_at(k));
            assert_eq!(c.range(), model.segs.get(k).map(|m| m.start..m.end));
            assert_eq!(at(c.peek_next()), id_at(if k == len { 0 } else { k + 1 }));
            let prev = if k == 0 { len } else { k - 1 };
            assert_eq!(at(c.peek_prev()), id_at(prev));
        };

        // Index 0 is the first segment, or the ghost of an empty map.
        let mut c = map.cursor_front();
        let mut k = 0;
        for _ in 0..3 * (len + 1) {
            check(&c, k);
            if rng.below(2) == 0 {
                c.move_next();
                k = (k + 1) % (len + 1);
            } else {
                c.move_prev();
                k = (k + len) % (len + 1);
            }
        }
        check(&map.cursor_back(), len.saturating_sub(1));
        for (k, m) in model.segs.iter().enumerate() {
            check(&map.lower_bound(m.start), k);
            check(&map.lower_bound(m.end - 1), k);
            let seg = map.find(m.start).unwrap();
            check(&map.cursor_from(seg).unwrap(), k);
        }
        if let Some(m) = model.segs.last() {
            check(&map.lower_bound(m.end), len);
        }
    });
}

#[test]
fn cursor_mut_removes_at_both_ends_and_in_one_element_maps() {
    for_random_maps(0xdead_5eed, 6, |rng, Harness { mut map, model }| {
        let mut model = model.segs;
        while !model.is_empty() {
            let k = match rng.below(3) {
                0 => 0,
                1 => model.len() - 1,
                _ => rng.below(model.len()),
            };
            let (s, want) = (model[k].start, model[k].id);
            let mut c = if rng.below(2) == 0 {
                map.lower_bound_mut(s)
            } else {
                map.cursor_mut_at(s).unwrap()
            };
            assert_eq!(c.get().map(id), Some(want));
            assert_eq!(c.as_cursor().get().map(id), Some(want));
            assert_eq!(c.peek_prev().map(id), k.checked_sub(1).map(|p| model[p].id));
            assert_eq!(c.peek_next().map(id), model.get(k + 1).map(|m| m.id));
            let removed = c.remove_current().map(|s| id(&s));
            assert_eq!(removed, Some(want));
            model.remove(k);
            // The cursor moved to the next segment (or the ghost).
            assert_eq!(c.get().map(id), model.get(k).map(|m| m.id));
            if rng.below(2) == 0 {
                c.move_prev();
                // From the first segment, the ghost; from the ghost, the last.
                assert_eq!(c.get().map(id), k.checked_sub(1).map(|p| model[p].id));
            }
            map.assert_valid();
            assert_eq!(
                map.iter().map(id).collect::<Vec<_>>(),
                model.iter().map(|m| m.id).collect::<Vec<_>>()
            );
        }
        assert!(map.lower_bound_mut(0).remove_current().is_none());
        assert!(map.is_empty());
    });
}

#[test]
fn debug_shows_positions_and_ranges() {
    let mut map = Map::new(Default::default());
    map.mmap_fixed(0x2000, 0x3000, || Seg::boxed(0)).unwrap();
    map.mmap_fixed(0x5000, 0x6000, || Seg::boxed(0)).unwrap();
    assert_eq!(
        format!("{:?}", map.lower_bound(0x2800)),
        "Cursor(Some(8192..12288))"
    );
    assert_eq!(format!("{:?}", map.lower_bound(0x7000)), "Cursor(None)");
    assert_eq!(
        format!("{:?}", map.lower_bound_mut(0x5000)),
        "CursorMut(Some(20480..24576))"
    );
    assert_eq!(
        format!("{:?}", map.iter()),
        "Iter([0x2000..0x3000, 0x5000..0x6000])"
    );
    assert_eq!(
        format!("{:?}", map.overlapping(0x2800, 0x5001)),
        "Overlapping([0x2000..0x3000, 0x5000..0x6000])"
    );
    assert_eq!(
        format!("{:?}", map.gaps(0x1000, 0x7000)),
        "Gaps([0x1000..0x2000, 0x3000..0x5000, 0x6000..0x7000])"
    );
}
