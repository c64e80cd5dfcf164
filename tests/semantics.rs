//! Table-driven overlap cases for `unmap`, `mprotect` and `mmap_fixed`.
//!
//! Each case is drawn as pictures, one character per page from 0x10000:
//! a run of one letter is one segment (lower case: protection 0, upper case:
//! protection 1), `.` is a hole. Letters name segments in address order, so
//! a segment cut in two shows as two letters. The callbacks are listed with
//! ranges in page numbers.

use range_action_map::MapError;
use range_action_map_testkit::logging::{Event, Log, Map, Seg};

const BASE: usize = 0x10000;
const PAGE: usize = 0x1000;

fn addr(page: usize) -> usize {
    BASE + page * PAGE
}

fn page_of(addr: usize) -> usize {
    (addr - BASE) / PAGE
}

/// Builds a map from a picture.
fn build(picture: &str) -> Map {
    let mut map = Map::new(Log::default());
    let bytes = picture.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let run = bytes[i..].iter().take_while(|&&b| b == c).count();
        if c != b'.' {
            let prot = u8::from(c.is_ascii_uppercase());
            map.mmap_fixed(addr(i), addr(i + run), || Seg::boxed(prot))
                .expect("valid picture");
        }
        i += run;
    }
    map.args_mut().events.clear();
    map
}

/// Draws a map as a picture `len` pages wide.
fn draw(map: &Map, len: usize) -> String {
    let mut out = vec![b'.'; len];
    for (n, seg) in map.iter().enumerate() {
        let letter = b'a' + n as u8;
        let letter = if seg.prot.get() == 1 {
            letter.to_ascii_uppercase()
        } else {
            letter
        };
        out[page_of(seg.link.start())..page_of(seg.link.end())].fill(letter);
    }
    String::from_utf8(out).expect("ascii")
}

/// The callbacks in page units, without node identities.
fn describe(events: &[Event]) -> Vec<String> {
    let r = |s: usize, e: usize| format!("{}..{}", page_of(s), page_of(e));
    events
        .iter()
        .map(|e| match *e {
            Event::Remove { start, end, .. } => format!("remove {}", r(start, end)),
            Event::Shrink { from, to, .. } => {
                format!("shrink {} to {}", r(from.0, from.1), r(to.0, to.1))
            }
            Event::Split {
                start, end, pos, ..
            } => format!("split {} at {}", r(start, end), page_of(pos)),
            Event::Modify {
                start, end, prot, ..
            } => format!("modify {} to {prot}", r(start, end)),
            Event::Merge { .. } => "merge".to_string(),
        })
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum Act {
    Unmap(usize, usize),
    Protect(usize, usize),
    Fixed(usize, usize),
}

/// Runs one case and checks the picture, the callbacks and the coverage.
fn case(
    name: &str,
    before: &str,
    act: Act,
    after: &str,
    calls: &[&str],
    covered: Option<(usize, usize)>,
) {
    let mut map = build(before);
    let coverage = match act {
        Act::Unmap(s, e) => Some(map.unmap(addr(s), addr(e)).expect(name)),
        Act::Protect(s, e) => Some(map.mprotect(addr(s), addr(e), 1).expect(name)),
        Act::Fixed(s, e) => {
            map.mmap_fixed(addr(s), addr(e), || Seg::boxed(1))
                .expect(name);
            None
        }
    };
    map.assert_valid();
    assert_eq!(draw(&map, before.len()), after, "{name}: picture");
    assert_eq!(describe(&map.args().events), calls, "{name}: callbacks");
    if let (Some(c), Some((segments, mapped_pages))) = (coverage, covered) {
        assert_eq!(
            (c.segments(), c.mapped_len()),
            (segments, mapped_pages * PAGE),
            "{name}: coverage"
        );
        assert_eq!(c.is_fully_mapped(), c.unmapped_len() == 0, "{name}");
    }
}

#[test]
fn unmap_cases() {
    //                      before         range          after          callbacks
    case(
        "inside one",
        "aaaaaaaa",
        Act::Unmap(2, 4),
        "aa..bbbb",
        &["split 0..8 at 4", "shrink 0..4 to 0..2"],
        Some((1, 2)),
    );
    case(
        "whole segment",
        "..aaaa..",
        Act::Unmap(2, 6),
        "........",
        &["remove 2..6"],
        Some((1, 4)),
    );
    case(
        "wider than segment",
        "..aaaa..",
        Act::Unmap(1, 7),
        "........",
        &["remove 2..6"],
        Some((1, 4)),
    );
    case(
        "left straddle",
        "..aaaa",
        Act::Unmap(0, 4),
        "....aa",
        &["shrink 2..6 to 4..6"],
        Some((1, 2)),
    );
    case(
        "right straddle",
        "aaaa..",
        Act::Unmap(2, 6),
        "aa....",
        &["shrink 0..4 to 0..2"],
        Some((1, 2)),
    );
    case(
        "several with holes",
        "aa.bb.cc",
        Act::Unmap(1, 7),
        "a......b",
        &["shrink 0..2 to 0..1", "remove 3..5", "shrink 6..8 to 7..8"],
        Some((3, 4)),
    );
    case(
        "exact neighbours untouched",
        "aabbcc",
        Act::Unmap(2, 4),
        "aa..bb",
        &["remove 2..4"],
        Some((1, 2)),
    );
    case(
        "holes only",
        "aa....bb",
        Act::Unmap(2, 6),
        "aa....bb",
        &[],
        Some((0, 0)),
    );
    case(
        "touching from outside",
        "..aa..",
        Act::Unmap(4, 6),
        "..aa..",
        &[],
        Some((0, 0)),
    );
}

#[test]
fn mprotect_cases() {
    case(
        "inside one",
        "aaaaaaaa",
        Act::Protect(2, 4),
        "aaBBcccc",
        &["split 0..8 at 2", "split 2..8 at 4", "modify 2..4 to 1"],
        Some((1, 2)),
    );
    case(
        "whole segment",
        "..aaaa..",
        Act::Protect(2, 6),
        "..AAAA..",
        &["modify 2..6 to 1"],
        Some((1, 4)),
    );
    case(
        "several with holes",
        "aa.bb.cc",
        Act::Protect(1, 7),
        "aB.CC.De",
        &[
            "split 0..2 at 1",
            "split 6..8 at 7",
            "modify 1..2 to 1",
            "modify 3..5 to 1",
            "modify 6..7 to 1",
        ],
        Some((3, 4)),
    );
    case(
        "exact boundaries",
        "aabbcc",
        Act::Protect(2, 4),
        "aaBBcc",
        &["modify 2..4 to 1"],
        Some((1, 2)),
    );
    case(
        "holes only",
        "aa....bb",
        Act::Protect(2, 6),
        "aa....bb",
        &[],
        Some((0, 0)),
    );
    case(
        "left straddle",
        "..aaaa",
        Act::Protect(0, 4),
        "..AAbb",
        &["split 2..6 at 4", "modify 2..4 to 1"],
        Some((1, 2)),
    );
}

#[test]
fn mmap_fixed_cases() {
    case(
        "into a hole",
        "aa..bb",
        Act::Fixed(2, 4),
        "aaBBcc",
        &[],
        None,
    );
    case(
        "over the middle",
        "aaaaaaaa",
        Act::Fixed(2, 4),
        "aaBBcccc",
        &["split 0..8 at 4", "shrink 0..4 to 0..2"],
        None,
    );
    case(
        "over several",
        "aa.bb.cc",
        Act::Fixed(1, 7),
        "aBBBBBBc",
        &["shrink 0..2 to 0..1", "remove 3..5", "shrink 6..8 to 7..8"],
        None,
    );
    case(
        "exactly over one",
        "aabbcc",
        Act::Fixed(2, 4),
        "aaBBcc",
        &["remove 2..4"],
        None,
    );
}

#[test]
fn segments_outside_the_range_keep_their_identity() {
    let mut map = build("aa.bbbbbb.cc");
    let ids = |map: &Map| {
        map.iter()
            .map(|s| (s.id, s.link.start()))
            .collect::<Vec<_>>()
    };
    let before = ids(&map);
    map.unmap(addr(4), addr(6)).unwrap();
    let after = ids(&map);
    assert_eq!(after[0], before[0]);
    assert_eq!(
        after[1], before[1],
        "the left piece of b stays the same node"
    );
    assert_eq!(after[3], before[2]);
    assert!(
        !before.iter().any(|&(id, _)| id == after[2].0),
        "the right piece is new"
    );
}

#[test]
fn merge_hook_coalesces_after_mprotect_and_mmap() {
    let mut map = build("aaaaaaaa");
    map.args_mut().merge = true;
    map.mprotect(addr(2), addr(4), 1).unwrap();
    assert_eq!(draw(&map, 8), "aaBBcccc");
    map.mprotect(addr(2), addr(4), 0).unwrap();
    assert_eq!(draw(&map, 8), "aaaaaaaa", "toggling back does not fragment");
    assert_eq!(map.len(), 1);
    map.unmap(addr(7), addr(8)).unwrap();
    map.mmap_fixed(addr(7), addr(8), || Seg::boxed(0)).unwrap();
    assert_eq!(
        map.len(),
        1,
        "a compatible neighbour absorbs the new segment"
    );
    map.assert_valid();
}

#[test]
fn refused_ranges_call_nothing() {
    let mut map = build("aa");
    assert!(map.mmap_fixed(addr(3), addr(2), || Seg::boxed(0)).is_err());
    assert_eq!(
        map.unmap(0, 1).unwrap_err(),
        MapError::OutOfWindow { start: 0, end: 1 }
    );
    assert!(map.args().events.is_empty());
}
