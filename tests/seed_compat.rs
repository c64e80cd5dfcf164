//! The seed's README and doc examples, compiled against `boxed` with only the
//! import path changed, behave as they did.

use range_action_map::boxed::{
    ArgsType, IdentType, RangeActionMap, Segment, LOWER_LIMIT, UPPER_LIMIT,
};

/// A segment that keeps only its bounds (the seed's example type).
#[derive(Debug, PartialEq)]
struct Seg(usize, usize);

impl Segment for Seg {
    fn remove(&mut self, _args: ArgsType) {}
    fn modify(&mut self, _new_flag: IdentType, _args: ArgsType) {}
    fn split(&mut self, pos: usize, _args: ArgsType) -> Self {
        let right_end = self.1;
        self.1 = pos;
        Self(pos, right_end)
    }
}

#[test]
fn the_seed_readme_example() {
    let mut ram = RangeActionMap::<Seg>::new(ArgsType::default());
    ram.mmap_fixed(0x3000, 0x7000, || Seg(0x3000, 0x7000));
    assert!(ram.find(0x2111).is_none());
    assert!(ram.find(0x3000).is_some());
    assert!(ram.find(0x5678).is_some());
    assert!(ram.find(0x7000).is_none());
}

#[test]
fn the_seed_mmap_anywhere_example() {
    let mut map: RangeActionMap<Seg> = RangeActionMap::new(0);
    assert_eq!(
        Some(10123),
        map.mmap_anywhere(10123, 10, |start| Seg(start, start + 10))
    );
    assert_eq!(
        Some(10140),
        map.mmap_anywhere(10140, 10, |start| Seg(start, start + 10))
    );
    assert_eq!(
        Some(10150),
        map.mmap_anywhere(10120, 10, |start| Seg(start, start + 10))
    );
    assert_eq!(map.find_free_area(10120, 3), Some(10120));
}

#[test]
fn the_issue_example() {
    let mut map = RangeActionMap::<Seg>::new(0);
    map.mmap_fixed(0x3000, 0x7000, || Seg(0x3000, 0x7000));
    assert!(map.find(0x5678).is_some() && map.find(0x7000).is_none());
    assert_eq!(
        map.mmap_anywhere(10123, 10, |s| Seg(s, s + 10)),
        Some(10123)
    );
    map.unmap(0x4000, 0x5000);
    map.mprotect(0x3000, 0x3800, 0x7);
    let segs: Vec<_> = map.iter().collect();
    assert_eq!(
        segs,
        [
            &Seg(10123, 10133),
            &Seg(0x3000, 0x3800),
            &Seg(0x3800, 0x4000),
            &Seg(0x5000, 0x7000)
        ]
    );
    map.assert_valid();
}

/// A segment that logs what the seed's helpers did, with the map's args.
#[derive(Debug)]
struct Logged {
    range: (usize, usize),
    flags: usize,
    log: Vec<String>,
}

impl Segment for Logged {
    fn remove(&mut self, args: ArgsType) {
        self.log
            .push(format!("remove {:x?} args {args}", self.range));
    }
    fn modify(&mut self, new_flag: IdentType, _args: ArgsType) {
        self.flags = new_flag;
    }
    fn split(&mut self, pos: usize, _args: ArgsType) -> Self {
        let right = Logged {
            range: (pos, self.range.1),
            flags: self.flags,
            log: Vec::new(),
        };
        self.range.1 = pos;
        right
    }
}

#[test]
fn values_are_reachable_mutably_and_see_the_args() {
    let mut map = RangeActionMap::<Logged>::new(42);
    map.mmap_fixed(0x1000, 0x9000, || Logged {
        range: (0x1000, 0x9000),
        flags: 0,
        log: Vec::new(),
    });
    map.mprotect(0x2000, 0x3000, 5);
    let flags: Vec<_> = map.iter().map(|s| s.flags).collect();
    assert_eq!(flags, [0, 5, 0]);
    for seg in map.iter_mut() {
        seg.flags += 1;
    }
    map.find_mut(0x2000).unwrap().flags = 9;
    let ranges: Vec<_> = map.ranges().map(|(r, s)| (r, s.flags)).collect();
    assert_eq!(
        ranges,
        [
            (0x1000..0x2000, 1),
            (0x2000..0x3000, 9),
            (0x3000..0x9000, 1)
        ]
    );
    // Shrinking from the left goes through the seed's `shrink_to_right`:
    // split, remove the left part, keep the right one.
    map.unmap(0x3000, 0x4000);
    let last = map.find(0x5000).unwrap();
    assert_eq!(last.range, (0x4000, 0x9000));
    assert_eq!(map.len(), 3);
    assert!(format!("{map:?}").starts_with("RangeActionMap { segments: ["));
}

#[test]
fn refused_inputs_are_none_or_no_ops() {
    let mut map = RangeActionMap::<Seg>::new(0);
    assert_eq!(map.mmap_fixed(0, 0x2000, || unreachable!()), None);
    assert_eq!(map.mmap_fixed(0x3000, 0x2000, || unreachable!()), None);
    assert_eq!(map.mmap_anywhere(0, 0, |_| unreachable!()), None);
    assert_eq!(map.mmap_anywhere(UPPER_LIMIT, 1, |_| unreachable!()), None);
    map.unmap(5, 1);
    map.mprotect(0, 1, 3);
    assert!(map.is_empty());
    assert_eq!(
        map.mmap_anywhere(0, 1, |s| Seg(s, s + 1)),
        Some(LOWER_LIMIT)
    );
}
