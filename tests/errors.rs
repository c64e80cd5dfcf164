//! Hostile inputs for every public operation: each gets its typed error (or
//! its documented no-op), no callback runs, and the map is unchanged.

use range_action_map::{Direction, Hint, MapError, Placement, Window};
use range_action_map_testkit::logging::{Event, Log, Map, Seg};

const MAX: usize = usize::MAX;
const PAGE: usize = 0x1000;

/// A map with segments near both ends of the address space.
fn populated() -> Map {
    let mut map = Map::with_window(Window::new(PAGE, MAX).unwrap(), Log::default());
    map.mmap_fixed(0x10000, 0x20000, || Seg::boxed(0)).unwrap();
    map.mmap_fixed(0x30000, 0x40000, || Seg::boxed(1)).unwrap();
    map.mmap_fixed(MAX - 0x10000, MAX, || Seg::boxed(2))
        .unwrap();
    map.args_mut().events.clear();
    map
}

/// The observable state: ranges, identities, protections, callbacks.
type Snapshot = (Vec<(usize, usize, u32, u8)>, Vec<Event>);

fn snapshot(map: &Map) -> Snapshot {
    let segs = map
        .iter()
        .map(|s| (s.link.start(), s.link.end(), s.id, s.prot.get()))
        .collect();
    (segs, map.args().events.clone())
}

/// Runs `f` on a fresh map and checks it returned `want` and changed nothing.
fn refused<T: std::fmt::Debug>(
    what: &str,
    want: MapError,
    f: impl FnOnce(&mut Map) -> Result<T, MapError>,
) {
    let mut map = populated();
    let before = snapshot(&map);
    let got = f(&mut map);
    assert!(
        matches!(&got, Err(e) if *e == want),
        "{what}: expected {want:?}, got {got:?}"
    );
    map.assert_valid();
    assert_eq!(snapshot(&map), before, "{what}: map changed");
}

#[test]
fn bad_ranges_for_unmap_mprotect_and_mmap_fixed() {
    let cases: &[(&str, usize, usize, MapError)] = &[
        (
            "empty",
            0x5000,
            0x5000,
            MapError::EmptyRange {
                start: 0x5000,
                end: 0x5000,
            },
        ),
        (
            "reversed",
            0x6000,
            0x5000,
            MapError::EmptyRange {
                start: 0x6000,
                end: 0x5000,
            },
        ),
        (
            "start at 0",
            0,
            0x2000,
            MapError::OutOfWindow {
                start: 0,
                end: 0x2000,
            },
        ),
        (
            "below the window",
            0x800,
            0x2000,
            MapError::OutOfWindow {
                start: 0x800,
                end: 0x2000,
            },
        ),
        (
            "end at MAX-1 to MAX reversed",
            MAX,
            MAX - 1,
            MapError::EmptyRange {
                start: MAX,
                end: MAX - 1,
            },
        ),
        (
            "MAX to MAX",
            MAX,
            MAX,
            MapError::EmptyRange {
                start: MAX,
                end: MAX,
            },
        ),
        ("0 to 0", 0, 0, MapError::EmptyRange { start: 0, end: 0 }),
    ];
    for &(what, s, e, want) in cases {
        refused(&format!("unmap {what}"), want, |m| {
            m.unmap(s, e).map(|_| ())
        });
        refused(&format!("mprotect {what}"), want, |m| {
            m.mprotect(s, e, 3).map(|_| ())
        });
        refused(&format!("mmap_fixed {what}"), want, |m| {
            m.mmap_fixed(s, e, || Seg::boxed(3)).map(|_| ())
        });
        refused(&format!("noreplace {what}"), want, |m| {
            m.mmap_fixed_noreplace(s, e, Seg::boxed(3))
                .map(|_| ())
                .map_err(|r| r.error)
        });
    }
}

#[test]
fn a_narrow_window_refuses_its_outside() {
    let window = Window::new(0x10000, 0x20000).unwrap();
    let mut map = Map::with_window(window, Log::default());
    assert_eq!(
        map.mmap_fixed(0x1f000, 0x21000, || Seg::boxed(0))
            .unwrap_err(),
        MapError::OutOfWindow {
            start: 0x1f000,
            end: 0x21000
        }
    );
    assert_eq!(
        map.mmap_anywhere(0x20000, PAGE, |_| Seg::boxed(0)),
        Err(MapError::NoSpace { len: PAGE })
    );
    assert_eq!(
        map.mmap_anywhere(0, 0x10001, |_| Seg::boxed(0)),
        Err(MapError::NoSpace { len: 0x10001 })
    );
    assert_eq!(
        map.mmap_anywhere(0, 0x10000, |_| Seg::boxed(0)),
        Ok(0x10000)
    );
    assert_eq!(
        Window::new(5, 5),
        Err(MapError::BadWindow { low: 5, high: 5 })
    );
    map.assert_valid();
}

#[test]
fn noreplace_refuses_overlap_and_hands_the_node_back() {
    for (s, e) in [
        (0x1f000, 0x21000),
        (0x10000, 0x11000),
        (0x8000, 0x50000),
        (MAX - 1, MAX),
    ] {
        let mut map = populated();
        let before = snapshot(&map);
        let node = Seg::boxed(7);
        let id = node.id;
        let rejected = map.mmap_fixed_noreplace(s, e, node).unwrap_err();
        assert_eq!(rejected.error, MapError::Overlap { start: s, end: e });
        assert_eq!(rejected.node.id, id);
        assert!(!rejected.node.link.is_linked());
        assert_eq!(snapshot(&map), before);
    }
}

#[test]
fn lengths_alignments_and_hints() {
    let len_cases: &[(&str, Placement, MapError)] = &[
        ("zero length", Placement::new(0), MapError::ZeroLength),
        (
            "length MAX",
            Placement::new(MAX),
            MapError::NoSpace { len: MAX },
        ),
        (
            "length past the free space",
            Placement::new(MAX - 0x10000),
            MapError::NoSpace { len: MAX - 0x10000 },
        ),
        (
            "alignment 0",
            Placement::new(PAGE).align(0),
            MapError::BadAlignment { align: 0 },
        ),
        (
            "alignment 3",
            Placement::new(PAGE).align(3),
            MapError::BadAlignment { align: 3 },
        ),
        (
            "alignment MAX",
            Placement::new(PAGE).align(MAX),
            MapError::BadAlignment { align: MAX },
        ),
        (
            "alignment 2^63, len + align overflows",
            Placement::new(1 << 63).align(1 << 63),
            MapError::NoSpace { len: 1 << 63 },
        ),
        (
            "alignment larger than the window",
            Placement::new(PAGE).align(1 << 20).window(0x1000, 0x8000),
            MapError::NoSpace { len: PAGE },
        ),
        (
            "empty window",
            Placement::new(PAGE).window(0x9000, 0x9000),
            MapError::BadWindow {
                low: 0x9000,
                high: 0x9000,
            },
        ),
        (
            "window below the map's",
            Placement::new(PAGE).window(0, 0x1000),
            MapError::BadWindow {
                low: 0x1000,
                high: 0x1000,
            },
        ),
        (
            "hint past the window",
            Placement::new(PAGE).hint(Hint::AtOrAbove(MAX)),
            MapError::NoSpace { len: PAGE },
        ),
        (
            "hint near the top, no room",
            Placement::new(PAGE).hint(Hint::AtOrAbove(MAX - 0x10000)),
            MapError::NoSpace { len: PAGE },
        ),
        (
            "top-down, no room",
            Placement::new(MAX - 0x1000).top_down(),
            MapError::NoSpace { len: MAX - 0x1000 },
        ),
    ];
    for (what, placement, want) in len_cases {
        refused(what, *want, |m| m.find_free_area(placement));
        refused(what, *want, |m| {
            m.mmap_placed(placement, |_| -> Box<Seg> { panic!("f called on failure") })
        });
    }
    refused("mmap_anywhere zero", MapError::ZeroLength, |m| {
        m.mmap_anywhere(0x5000, 0, |_| -> Box<Seg> { panic!("f called on failure") })
    });
    refused(
        "mmap_anywhere overflowing hint",
        MapError::NoSpace { len: 0x2000 },
        |m| {
            m.mmap_anywhere(MAX - 0x1000, 0x2000, |_| -> Box<Seg> {
                panic!("f called on failure")
            })
        },
    );
}

#[test]
fn hints_that_are_not_free_fall_back_to_a_search() {
    let map = populated();
    let linux = |hint, len| map.find_free_area(&Placement::new(len).hint(Hint::IfFree(hint)));
    assert_eq!(linux(0x20000, PAGE), Ok(0x20000), "a free hint is taken");
    assert_eq!(
        linux(0x1f000, 0x2000),
        Ok(PAGE),
        "an occupied hint is ignored"
    );
    assert_eq!(
        linux(MAX - PAGE, 2 * PAGE),
        Ok(PAGE),
        "an overflowing hint is ignored"
    );
    assert_eq!(
        linux(0x20001, PAGE),
        Ok(0x20001),
        "alignment 1 takes any free hint"
    );
    let aligned = map.find_free_area(&Placement::new(PAGE).align(PAGE).hint(Hint::IfFree(0x20001)));
    assert_eq!(aligned, Ok(PAGE), "a misaligned hint is ignored");
    let top = map.find_free_area(&Placement::new(PAGE).direction(Direction::TopDown));
    assert_eq!(top, Ok(MAX - 0x11000));
}

#[test]
fn operations_over_holes_only_are_no_ops() {
    let mut map = populated();
    let before = snapshot(&map);
    let c = map.unmap(0x20000, 0x30000).unwrap();
    assert_eq!(
        (c.segments(), c.mapped_len(), c.unmapped_len()),
        (0, 0, 0x10000)
    );
    let c = map.mprotect(0x40000, MAX - 0x10000, 5).unwrap();
    assert!(!c.is_fully_mapped());
    assert_eq!(c.segments(), 0);
    assert_eq!(snapshot(&map), before);
}

#[test]
fn iterators_over_empty_ranges_yield_nothing() {
    let map = populated();
    for (start, end) in [
        (5, 5),
        (6, 5),
        (0x15000, 0x15000),
        (0x35000, 0x12000),
        (MAX, 0),
    ] {
        assert_eq!(map.gaps(start, end).count(), 0, "{start:#x}..{end:#x}");
        assert_eq!(
            map.overlapping(start, end).count(),
            0,
            "{start:#x}..{end:#x}"
        );
        assert_eq!(map.overlapping(start, end).next_back().map(|s| s.id), None);
    }
    assert_eq!(map.gaps(0, MAX).count(), 3);
    assert_eq!(map.overlapping(0, MAX).count(), 3);
}

#[test]
fn address_helpers() {
    use range_action_map::{check_align, check_aligned, checked_end};
    assert_eq!(
        checked_end(MAX, 1),
        Err(MapError::Overflow { start: MAX, len: 1 })
    );
    assert_eq!(checked_end(5, 0), Err(MapError::ZeroLength));
    assert_eq!(checked_end(MAX - 1, 1), Ok(MAX));
    assert_eq!(check_align(0), Err(MapError::BadAlignment { align: 0 }));
    assert_eq!(
        check_aligned(0x1001, 0x1000),
        Err(MapError::Misaligned {
            addr: 0x1001,
            align: 0x1000
        })
    );
    assert_eq!(
        check_aligned(0x1000, 0),
        Err(MapError::BadAlignment { align: 0 })
    );
    for e in [
        MapError::ZeroLength,
        MapError::AlreadyLinked,
        MapError::SplitFailed { pos: 1 },
    ] {
        assert!(!e.to_string().is_empty());
    }
}
