//! `linux::LinuxLayout` against Linux: one test per placement rule on a
//! small map, then a replay of traces recorded on a real kernel
//! (`tests/data/linux_mmap/`, see its README) that requires every placement
//! and every failure to match.

use std::cell::Cell;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use intrusive_collections::intrusive_adapter;
use range_action_map::linux::{GrowsDown, LinuxLayout, StackRlimit, DEFAULT_TASK_SIZE, PAGE_SIZE};
use range_action_map::{MapError, RangeActionMap, RangeLink, Segment};

// === a VMA with a grows-down bit ===

#[derive(Debug)]
struct Vma {
    link: RangeLink,
    grows_down: Cell<bool>,
    prot: Cell<usize>,
}

intrusive_adapter!(VmaAdapter = Box<Vma>: Vma { link: RangeLink });

fn vma(grows_down: bool) -> Box<Vma> {
    Box::new(Vma {
        link: RangeLink::new(),
        grows_down: Cell::new(grows_down),
        prot: Cell::new(0),
    })
}

impl Segment for Vma {
    type Args = ();
    type Flags = usize;
    type Pointer = Box<Vma>;

    fn remove(&self, _: &mut ()) {}

    fn shrink(&self, _start: usize, _end: usize, _: &mut ()) {}

    /// Both pieces keep the grows-down bit, as Linux's do.
    fn split(&self, _pos: usize, _: &mut ()) -> Box<Vma> {
        let right = vma(self.grows_down.get());
        right.prot.set(self.prot.get());
        right
    }

    fn modify(&self, prot: usize, _: &mut ()) {
        self.prot.set(prot);
    }
}

impl GrowsDown for Vma {
    fn grows_down(&self) -> bool {
        self.grows_down.get()
    }
}

type Map = RangeActionMap<VmaAdapter>;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
const HUGE: usize = 2 * MIB;
const GUARD: usize = MIB;
/// `mmap_base` of the default layout (8 MiB stack limit).
const BASE: usize = 0x7fff_f7ff_f000;
const TASK: usize = DEFAULT_TASK_SIZE;

/// A map holding `[start, end, grows_down)` segments, mapped with
/// `mmap_fixed`.
fn map_of(segments: &[(usize, usize, bool)]) -> Map {
    let mut map = Map::new(());
    for &(start, end, grows_down) in segments {
        map.mmap_fixed(start, end, || vma(grows_down)).unwrap();
    }
    map.assert_valid();
    map
}

fn place(layout: &LinuxLayout, map: &Map, hint: usize, len: usize) -> Result<usize, MapError> {
    layout.get_unmapped_area(map, hint, len)
}

// === parameters ===

#[test]
fn mmap_base_follows_the_stack_rlimit() {
    // The three layouts of the traces, checked there against ld.so's end.
    assert_eq!(LinuxLayout::new().mmap_base(), BASE);
    assert_eq!(LinuxLayout::default(), LinuxLayout::new());
    let gib = LinuxLayout::from_stack_rlimit(StackRlimit::Bytes(1 << 30));
    assert_eq!(gib.mmap_base(), 0x7fff_bfef_f000);
    let unlimited = LinuxLayout::from_stack_rlimit(StackRlimit::Unlimited);
    assert_eq!(unlimited.mmap_base(), 0x1555_5555_6000);
    // A sum that overflows keeps the limit alone, then clamps.
    assert_eq!(
        LinuxLayout::from_stack_rlimit(StackRlimit::Bytes(usize::MAX)),
        unlimited
    );
    assert_eq!(StackRlimit::from_raw(u64::MAX), StackRlimit::Unlimited);
    assert_eq!(StackRlimit::from_raw(0x80_0000), StackRlimit::DEFAULT);
    // Tiny limits still leave 128 MiB.
    assert_eq!(
        LinuxLayout::from_stack_rlimit(StackRlimit::Bytes(0)).mmap_base(),
        TASK - 128 * MIB
    );

    let l = LinuxLayout::new();
    assert_eq!(l.task_size(), 0x7fff_ffff_f000);
    assert_eq!(l.mmap_min_addr(), 0x10000);
    assert_eq!(l.guard_gap(), 256 * PAGE_SIZE);
    assert_eq!(l.huge_page_size(), HUGE);
    assert_eq!(l.unmapped_base(), 0x2aaa_aaaa_b000);
}

// === (a) each rule on its own ===

#[test]
fn free_hint_is_taken() {
    let l = LinuxLayout::new();
    let map = map_of(&[(0x1000_0000, 0x1001_0000, false)]);
    assert_eq!(place(&l, &map, 0x2000_0000, 0x3000), Ok(0x2000_0000));
    // Rounded down to a page.
    assert_eq!(place(&l, &map, 0x2000_0123, 0x3000), Ok(0x2000_0000));
    // Ending exactly at an ordinary segment, or starting at its end.
    assert_eq!(place(&l, &map, 0x0fff_d000, 0x3000), Ok(0x0fff_d000));
    assert_eq!(place(&l, &map, 0x1001_0000, 0x1000), Ok(0x1001_0000));
    // Above mmap_base: only the search is limited by it.
    assert_eq!(
        place(&l, &map, 0x7fff_f800_0000, 0x1000),
        Ok(0x7fff_f800_0000)
    );
    // The last page of user space.
    assert_eq!(place(&l, &map, TASK - 0x1000, 0x1000), Ok(TASK - 0x1000));
    // A hint with a 2 MiB multiple is taken as is, unaligned.
    assert_eq!(place(&l, &map, 0x3000_1000, HUGE), Ok(0x3000_1000));
}

#[test]
fn low_hint_is_raised_to_mmap_min_addr() {
    let l = LinuxLayout::new();
    let map = map_of(&[]);
    assert_eq!(place(&l, &map, 0x1000, 0x1000), Ok(0x10000));
    assert_eq!(place(&l, &map, 0xf123, 0x1000), Ok(0x10000));
    // Below a page it is no hint at all: top-down search.
    assert_eq!(place(&l, &map, 0xfff, 0x1000), Ok(BASE - 0x1000));
}

#[test]
fn refused_hint_falls_back_to_the_top_down_search() {
    let l = LinuxLayout::new();
    let map = map_of(&[
        (0x1000_0000, 0x1001_0000, false),
        (BASE - 0x4000, BASE, false),
    ]);
    let below = BASE - 0x4000 - 0x2000;
    // Occupied.
    assert_eq!(place(&l, &map, 0x1000_8000, 0x2000), Ok(below));
    // Overlapping the segment's start by a page.
    assert_eq!(place(&l, &map, 0x0fff_f000, 0x2000), Ok(below));
    // Past the end of user space: ignored, not an error.
    assert_eq!(place(&l, &map, TASK - 0x1000, 0x2000), Ok(below));
    assert_eq!(place(&l, &map, TASK, 0x2000), Ok(below));
    assert_eq!(place(&l, &map, 0xffff_8000_0000_0000, 0x2000), Ok(below));
    // A refused hint turns the huge-page rule off: placed unaligned.
    assert_eq!(place(&l, &map, 0x1000_0000, HUGE), Ok(BASE - 0x4000 - HUGE));
}

#[test]
fn hint_must_keep_clear_of_the_guard_gap() {
    let l = LinuxLayout::new();
    let stack = 0x2000_0000;
    let map = map_of(&[(stack, stack + 0x10000, true)]);
    // Ends at the grows-down segment: inside its guard gap, refused.
    assert_eq!(place(&l, &map, stack - 0x1000, 0x1000), Ok(BASE - 0x1000));
    // Ends one page into the guard gap: refused.
    assert_eq!(
        place(&l, &map, stack - GUARD - 0x1000, 0x2000),
        Ok(BASE - 0x2000)
    );
    // Ends exactly at the guard gap: taken.
    assert_eq!(
        place(&l, &map, stack - GUARD - 0x2000, 0x2000),
        Ok(stack - GUARD - 0x2000)
    );
    // Right above it: the segment below is never looked at.
    assert_eq!(
        place(&l, &map, stack + 0x10000, 0x1000),
        Ok(stack + 0x10000)
    );
    // The same segment without the bit: taken.
    let flat = map_of(&[(stack, stack + 0x10000, false)]);
    assert_eq!(place(&l, &flat, stack - 0x1000, 0x1000), Ok(stack - 0x1000));
}

#[test]
fn top_down_search_takes_the_top_of_the_highest_hole() {
    let l = LinuxLayout::new();
    //   [a)   hole of 0x3000   [b)  hole of 0x1000  [c)  mmap_base
    let map = map_of(&[
        (BASE - 0x1000, BASE, false),
        (BASE - 0x4000, BASE - 0x2000, false),
        (BASE - 0x8000, BASE - 0x7000, false),
    ]);
    assert_eq!(place(&l, &map, 0, 0x1000), Ok(BASE - 0x2000));
    assert_eq!(place(&l, &map, 0, 0x2000), Ok(BASE - 0x6000));
    assert_eq!(place(&l, &map, 0, 0x3000), Ok(BASE - 0x7000));
    assert_eq!(place(&l, &map, 0, 0x4000), Ok(BASE - 0xc000));
    // Never below mmap_min_addr.
    let low = LinuxLayout::new().with_mmap_base(0x14000);
    assert_eq!(place(&low, &map_of(&[]), 0, 0x4000), Ok(0x10000));
    let full = map_of(&[(0x11000, 0x14000, false)]);
    assert_eq!(place(&low, &full, 0, 0x1000), Ok(0x10000));
    assert_eq!(
        place(&low, &full, 0, 0x2000),
        Ok(low.unmapped_base()),
        "falls back bottom-up"
    );
}

#[test]
fn guard_gap_below_a_grows_down_segment() {
    let l = LinuxLayout::new();
    let stack = BASE - 0x10000;
    let map = map_of(&[(stack, BASE, true)]);
    assert_eq!(place(&l, &map, 0, 0x1000), Ok(stack - GUARD - 0x1000));
    // Without a guard gap, right below.
    assert_eq!(
        place(&l.with_guard_gap(0), &map, 0, 0x1000),
        Ok(stack - 0x1000)
    );
}

#[test]
fn guard_gap_is_checked_only_above_the_chosen_hole() {
    // A grows-down segment G with an ordinary segment O inside its guard
    // zone, leaving a one-page hole between them:
    //
    //     ...free...  [OOOOOOOOOOOOOOO)[hole)[GGGG)  mmap_base
    //             |<------------ 1 MiB ------->|
    let l = LinuxLayout::new();
    let g = BASE - 0x10000;
    let o = (g - 0x80000, g - 0x1000);
    let map = map_of(&[(g, BASE, true), (o.0, o.1, false)]);
    // Two pages do not fit the one-page hole; the next hole down is below O,
    // whose upper neighbour is ordinary: accepted, inside G's guard zone.
    assert_eq!(place(&l, &map, 0, 0x2000), Ok(o.0 - 0x2000));
    // One page fits the hole under G, which is refused; the ceiling drops to
    // G's guard gap and every hole above it is skipped, including the free
    // space right below O that the two-page request just got.
    assert_eq!(place(&l, &map, 0, 0x1000), Ok(g - GUARD - 0x1000));
}

#[test]
fn huge_page_multiples_are_aligned() {
    let l = LinuxLayout::new();
    let map = map_of(&[]);
    // The highest 2 MiB boundary with room below mmap_base.
    assert_eq!(place(&l, &map, 0, 4 * MIB), Ok(0x7fff_f7a0_0000));
    assert_eq!(place(&l, &map, 0, HUGE), Ok(0x7fff_f7c0_0000));
    // An aligned padded result moves up a whole huge page: the mapping
    // ends at an aligned mmap_base.
    let aligned = l.with_mmap_base(0x7fff_0000_0000);
    assert_eq!(
        place(&aligned, &map, 0, 4 * MIB),
        Ok(0x7fff_0000_0000 - 4 * MIB)
    );
    // Not a multiple: unaligned.
    assert_eq!(
        place(&l, &map, 0, HUGE + PAGE_SIZE),
        Ok(BASE - HUGE - PAGE_SIZE)
    );
    assert_eq!(
        place(&l, &map, 0, HUGE - PAGE_SIZE),
        Ok(BASE - HUGE + PAGE_SIZE)
    );
    // A byte count that rounds up to a multiple counts.
    assert_eq!(place(&l, &map, 0, HUGE - 100), Ok(0x7fff_f7c0_0000));
    // A hint below a page is no hint: aligned.
    assert_eq!(place(&l, &map, 0x800, HUGE), Ok(0x7fff_f7c0_0000));
    // Rule off.
    assert_eq!(
        place(&l.with_huge_page_size(0).unwrap(), &map, 0, HUGE),
        Ok(BASE - HUGE)
    );
    // Grows-down requests follow the same rule; the policy does not care.
    assert_eq!(
        l.get_unmapped_area_with(&map, 0, HUGE, |_| true),
        Ok(0x7fff_f7c0_0000)
    );
}

#[test]
fn huge_page_padding_may_take_the_bottom_up_fallback() {
    // Below mmap_base only an exact 2 MiB hole is left: the padded request
    // fails top-down and succeeds bottom-up, above mmap_base, where it is
    // aligned up (`seed-1` #840 in the traces).
    let l = LinuxLayout::new();
    let hole = 0x4000_1000;
    let map = map_of(&[(0x10000, hole, false), (hole + HUGE, BASE, false)]);
    assert_eq!(place(&l, &map, 0, HUGE), Ok(0x7fff_f800_0000));
    // Unpadded (a refused hint turns the rule off), the hole fits.
    assert_eq!(place(&l, &map, 0x10000, HUGE), Ok(hole));
}

#[test]
fn huge_page_padding_that_fits_nowhere_retries_plainly() {
    let l = LinuxLayout::new();
    let hole = 0x4000_1000;
    let map = map_of(&[(0x10000, hole, false), (hole + HUGE, TASK, false)]);
    assert_eq!(
        place(&l, &map, 0, HUGE),
        Ok(hole),
        "unaligned, in the only hole"
    );
}

#[test]
fn bottom_up_fallback_from_unmapped_base() {
    let l = LinuxLayout::new();
    let map = map_of(&[(0x10000, BASE, false)]);
    assert_eq!(place(&l, &map, 0, 0x1000), Ok(BASE));
    // With an unlimited stack mmap_base is below unmapped_base, and the
    // fallback starts at unmapped_base, not right above mmap_base.
    let u = LinuxLayout::from_stack_rlimit(StackRlimit::Unlimited);
    let map = map_of(&[(0x10000, u.mmap_base(), false)]);
    assert_eq!(place(&u, &map, 0, 0x1000), Ok(0x2aaa_aaaa_b000));
    assert_eq!(
        place(&u, &map, 0, 8 * KIB * KIB * KIB * KIB),
        Ok(0x2aaa_aac0_0000),
        "seed-7 #337"
    );
}

#[test]
fn bottom_up_fallback_keeps_the_guard_gap() {
    let l = LinuxLayout::new();
    let stack = BASE + MIB;
    let map = map_of(&[(0x10000, BASE, false), (stack, stack + MIB, true)]);
    // The hole [BASE, stack) is 1 MiB: all guard gap. Restart above it.
    assert_eq!(place(&l, &map, 0, 0x1000), Ok(stack + MIB));
    // An ordinary segment there: right above mmap_base.
    let map = map_of(&[(0x10000, BASE, false), (stack, stack + MIB, false)]);
    assert_eq!(place(&l, &map, 0, 0x1000), Ok(BASE));
}

#[test]
fn no_room_at_all_is_an_error() {
    let l = LinuxLayout::new();
    let map = map_of(&[(0x10000, TASK, false)]);
    assert_eq!(
        place(&l, &map, 0, 0x1000),
        Err(MapError::NoSpace { len: 0x1000 })
    );
    assert_eq!(
        place(&l, &map, 0x20000, 0x1000),
        Err(MapError::NoSpace { len: 0x1000 })
    );
    assert_eq!(
        place(&l, &map, 0, HUGE),
        Err(MapError::NoSpace { len: HUGE })
    );
    // Below mmap_min_addr is free, but out of bounds.
    assert_eq!(
        place(&l, &map, 0x1000, 0x1000),
        Err(MapError::NoSpace { len: 0x1000 })
    );
    // Bad requests.
    let empty = map_of(&[]);
    assert_eq!(place(&l, &empty, 0, 0), Err(MapError::ZeroLength));
    assert_eq!(
        place(&l, &empty, 0, usize::MAX),
        Err(MapError::Overflow {
            start: 0,
            len: usize::MAX
        })
    );
    assert_eq!(
        place(&l, &empty, 0, TASK + 1),
        Err(MapError::NoSpace {
            len: TASK + PAGE_SIZE
        })
    );
    // All of user space is not available: nothing below mmap_min_addr.
    assert_eq!(
        place(&l, &empty, 0, TASK),
        Err(MapError::NoSpace { len: TASK })
    );
    assert_eq!(
        place(&l, &empty, 0, BASE - 0x10000),
        Ok(0x10000),
        "all of [mmap_min_addr, mmap_base)"
    );
    let len = BASE - 0xf000;
    assert_eq!(
        place(&l, &empty, 0, len),
        Err(MapError::NoSpace { len }),
        "more than either search window"
    );
    empty.assert_valid();
}

#[test]
fn huge_page_size_is_a_power_of_two_of_at_least_a_page() {
    let l = LinuxLayout::new();
    for bad in [1, 0x800, PAGE_SIZE - 1, PAGE_SIZE + 1, 3 * MIB, usize::MAX] {
        assert_eq!(
            l.with_huge_page_size(bad),
            Err(MapError::BadAlignment { align: bad }),
            "{bad:#x}"
        );
    }
    for good in [0, PAGE_SIZE, HUGE, 1 << 30] {
        assert_eq!(
            l.with_huge_page_size(good).map(|l| l.huge_page_size()),
            Ok(good)
        );
    }
    // The smallest size places on page boundaries, as the rule off does.
    let map = map_of(&[]);
    let page = l.with_huge_page_size(PAGE_SIZE).unwrap();
    assert_eq!(place(&page, &map, 0, 0x3000), Ok(BASE - 0x3000));
}

/// A window whose ends are not page aligned: every policy places whole
/// pages inside it.
#[test]
fn policies_round_an_unaligned_window_inward() {
    use range_action_map::memory_set::{FirstFit, PlacementPolicy};
    use range_action_map::Window;

    let window = Window::new(0x1800, 0x9800).unwrap();
    let mut map = Map::with_window(window, ());
    // Seven whole pages, [0x2000, 0x9000).
    assert_eq!(FirstFit.place(&map, 0, 0x1000, PAGE_SIZE), Ok(0x2000));
    assert_eq!(FirstFit.place(&map, 0x1800, 0x7000, PAGE_SIZE), Ok(0x2000));
    assert_eq!(FirstFit.place(&map, 0x3800, 0x1000, PAGE_SIZE), Ok(0x4000));
    assert_eq!(
        FirstFit.place(&map, 0, 0x8000, PAGE_SIZE),
        Err(MapError::NoSpace { len: 0x8000 })
    );
    assert_eq!(FirstFit.place(&map, 0, 0x2000, 0x4000), Ok(0x4000));
    let layout = LinuxLayout::new()
        .with_mmap_min_addr(0x1000)
        .with_mmap_base(0x10000);
    assert_eq!(layout.get_unmapped_area(&map, 0, 0x1000), Ok(0x8000));
    assert_eq!(layout.get_unmapped_area(&map, 0, 0x7000), Ok(0x2000));
    map.mmap_fixed(0x2000, 0x8000, || vma(false)).unwrap();
    assert_eq!(FirstFit.place(&map, 0, 0x1000, PAGE_SIZE), Ok(0x8000));
    assert_eq!(layout.get_unmapped_area(&map, 0, 0x1000), Ok(0x8000));
    // Less than a page in the window.
    let sliver = Map::with_window(Window::new(0x1800, 0x1900).unwrap(), ());
    assert_eq!(
        FirstFit.place(&sliver, 0, 0x1000, PAGE_SIZE),
        Err(MapError::NoSpace { len: 0x1000 })
    );
}

#[test]
fn mmap_maps_where_it_places() {
    let l = LinuxLayout::new();
    let mut map = map_of(&[]);
    let a = l.mmap(&mut map, 0, 10, |_| vma(false)).unwrap();
    let b = l.mmap(&mut map, 0, HUGE, |_| vma(false)).unwrap();
    let c = l.mmap(&mut map, 0, 0x1000, |_| vma(true)).unwrap();
    let d = l.mmap(&mut map, 0, 0x1000, |_| vma(false)).unwrap();
    assert_eq!(a, BASE - 0x1000);
    assert_eq!(b, 0x7fff_f7c0_0000);
    assert_eq!(c, a - 0x1000, "in the hole above the aligned one");
    assert_eq!(d, c - GUARD - 0x1000);
    assert_eq!(map.find(b).map(|v| map.range_of(v)), Some(b..b + HUGE));
    assert_eq!(
        l.mmap(&mut map, 0, 0, |_| vma(false)),
        Err(MapError::ZeroLength)
    );
    assert_eq!(map.len(), 4);
    map.assert_valid();
}

// === (b) replay of the Linux traces ===

const MAP_FIXED: usize = 0x10;
const MAP_GROWSDOWN: usize = 0x100;
const MAP_FIXED_NOREPLACE: usize = 0x10_0000;

/// One recorded system call.
#[derive(Debug)]
enum Op {
    Mmap {
        hint: usize,
        len: usize,
        flags: usize,
        why: String,
    },
    Munmap {
        addr: usize,
        len: usize,
    },
    Mprotect {
        addr: usize,
        len: usize,
        prot: usize,
    },
}

/// What a call returned: an address or 0, or an errno name.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Ok(usize),
    Err(String),
}

struct Call {
    seq: u64,
    op: Op,
    result: Outcome,
}

/// A trace file: the stack limit, the maps snapshots and the calls.
struct Trace {
    rlimit_stack: u64,
    initial: Vec<(usize, usize, String)>,
    last: Vec<(usize, usize, String)>,
    calls: Vec<Call>,
}

fn num(s: &str) -> usize {
    let parsed = match s.strip_prefix("0x") {
        Some(hex) => usize::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.unwrap_or_else(|e| panic!("bad number {s:?}: {e}"))
}

fn parse_trace(path: &Path) -> Trace {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut trace = Trace {
        rlimit_stack: 0,
        initial: Vec::new(),
        last: Vec::new(),
        calls: Vec::new(),
    };
    // Inside a maps snapshot: whether it is the initial one.
    let mut snapshot: Option<bool> = None;
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("maps-begin ") {
            snapshot = Some(name == "initial");
            continue;
        }
        if line.starts_with("maps-end ") {
            snapshot = None;
            continue;
        }
        if let Some(initial) = snapshot {
            // 555555554000-555555555000 r--p 00000000 fe:00 5308465   /path
            let mut fields = line.split_whitespace();
            let (start, end) = fields
                .next()
                .and_then(|r| r.split_once('-'))
                .expect("maps range");
            let hex = |s| usize::from_str_radix(s, 16).unwrap_or_else(|e| panic!("{line}: {e}"));
            let name = fields.nth(4).unwrap_or("").to_string();
            let range = (hex(start), hex(end), name);
            if initial {
                trace.initial.push(range);
            } else {
                trace.last.push(range);
            }
            continue;
        }
        if let Some(v) = line.strip_prefix("rlimit-stack ") {
            trace.rlimit_stack =
                u64::from_str_radix(v.trim_start_matches("0x"), 16).expect("rlimit");
            continue;
        }
        // <seq> <call> <args...> -> <result>
        let Some((call, result)) = line.split_once(" -> ") else {
            continue;
        };
        let mut words = call.split_whitespace();
        let (Some(seq), Some(name)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(seq) = seq.parse() else { continue };
        let args: Vec<&str> = words.collect();
        let kv = |key: &str| {
            let prefix = format!("{key}=");
            args.iter()
                .find_map(|a| a.strip_prefix(&prefix))
                .unwrap_or_else(|| panic!("seq {seq}: no {key}"))
        };
        let op = match name {
            "mmap" => Op::Mmap {
                hint: num(kv("hint")),
                len: num(kv("len")),
                flags: num(kv("flags")),
                why: kv("why").to_string(),
            },
            "munmap" => Op::Munmap {
                addr: num(args[0]),
                len: num(args[1]),
            },
            "mprotect" => Op::Mprotect {
                addr: num(args[0]),
                len: num(args[1]),
                prot: num(args[2]),
            },
            other => panic!("seq {seq}: unknown call {other}"),
        };
        let result = if result.starts_with('-') {
            Outcome::Err(result.to_string())
        } else {
            Outcome::Ok(num(result))
        };
        trace.calls.push(Call { seq, op, result });
    }
    trace
}

/// The errno Linux gives for a policy error.
fn errno(e: MapError) -> Outcome {
    Outcome::Err(
        match e {
            MapError::ZeroLength => "-EINVAL",
            MapError::NoSpace { .. } | MapError::Overflow { .. } => "-ENOMEM",
            MapError::Overlap { .. } => "-EEXIST",
            other => panic!("unexpected error {other:?}"),
        }
        .to_string(),
    )
}

/// Merged occupied ranges.
fn occupancy(ranges: impl IntoIterator<Item = (usize, usize)>) -> Vec<(usize, usize)> {
    let mut ranges: Vec<_> = ranges.into_iter().collect();
    ranges.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (s, e) in ranges {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

#[derive(Default)]
struct Tally {
    mmaps: usize,
    matched: usize,
    searched: usize,
    mismatches: Vec<String>,
}

/// `MAP_FIXED` / `MAP_FIXED_NOREPLACE` through the map: the kernel's checks
/// on the address, then `mmap_fixed` or `mmap_fixed_noreplace`. Returns the
/// prediction; the map then holds the prediction's outcome.
fn mmap_fixed(map: &mut Map, addr: usize, len: usize, flags: usize) -> Outcome {
    if addr % PAGE_SIZE != 0 {
        return Outcome::Err("-EINVAL".into());
    }
    let len = match LinuxLayout::mapping_len(len) {
        Ok(len) => len,
        Err(e) => return errno(e),
    };
    if len > TASK || addr > TASK - len {
        return Outcome::Err("-ENOMEM".into());
    }
    let grows_down = flags & MAP_GROWSDOWN != 0;
    if flags & MAP_FIXED_NOREPLACE != 0 {
        match map.mmap_fixed_noreplace(addr, addr + len, vma(grows_down)) {
            Ok(_) => Outcome::Ok(addr),
            Err(e) => errno(e.error),
        }
    } else {
        map.mmap_fixed(addr, addr + len, || vma(grows_down))
            .expect("MAP_FIXED");
        Outcome::Ok(addr)
    }
}

fn replay(path: &Path, tally: &mut Tally) {
    let trace = parse_trace(path);
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let layout = LinuxLayout::from_stack_rlimit(StackRlimit::from_raw(trace.rlimit_stack));
    let mut map = Map::new(());
    for (start, end, what) in &trace.initial {
        // [vsyscall] is a gate area above user space, not a VMA.
        if *start < layout.task_size() {
            map.mmap_fixed(*start, *end, || vma(what == "[stack]"))
                .unwrap();
        }
    }
    // ld.so is the first mapping the ELF loader places top-down: it ends at
    // mmap_base, which checks the layout's derivation from the rlimit.
    assert!(
        trace
            .initial
            .iter()
            .any(|&(_, end, _)| end == layout.mmap_base()),
        "{name}: no initial mapping ends at mmap_base {:#x}",
        layout.mmap_base()
    );

    let (mut mmaps, mut matched) = (0, 0);
    for call in &trace.calls {
        match call.op {
            Op::Mmap {
                hint,
                len,
                flags,
                ref why,
            } => {
                let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
                let predicted = if fixed {
                    mmap_fixed(&mut map, hint, len, flags)
                } else {
                    tally.searched += 1;
                    layout
                        .get_unmapped_area(&map, hint, len)
                        .map_or_else(errno, Outcome::Ok)
                };
                mmaps += 1;
                if predicted == call.result {
                    matched += 1;
                } else {
                    let mut line = String::new();
                    write!(
                        line,
                        "{name} #{} mmap hint={hint:#x} len={len:#x} flags={flags:#x} why={why}: \
                         kernel {:x?}, policy {:x?}",
                        call.seq, call.result, predicted
                    )
                    .unwrap();
                    tally.mismatches.push(line);
                }
                // Follow the kernel, so that one miss cannot cascade. A
                // fixed mapping the map predicted right is already in; one
                // it predicted wrong is taken out first.
                if !(fixed && predicted == call.result) {
                    let len = LinuxLayout::mapping_len(len).unwrap_or(0);
                    if let (true, Outcome::Ok(addr)) = (fixed, &predicted) {
                        map.unmap(*addr, addr + len).unwrap();
                    }
                    if let Outcome::Ok(addr) = call.result {
                        map.mmap_fixed(addr, addr + len, || vma(flags & MAP_GROWSDOWN != 0))
                            .unwrap();
                    }
                }
            }
            Op::Munmap { addr, len } => {
                if call.result == Outcome::Ok(0) {
                    let len = LinuxLayout::mapping_len(len).unwrap();
                    map.unmap(addr, addr + len).unwrap();
                }
            }
            Op::Mprotect { addr, len, prot } => {
                if call.result == Outcome::Ok(0) {
                    let len = LinuxLayout::mapping_len(len).unwrap();
                    map.mprotect(addr, addr + len, prot).unwrap();
                }
            }
        }
    }
    map.assert_valid();

    // The replayed address space is the kernel's final one.
    let last = occupancy(
        trace
            .last
            .iter()
            .filter(|r| r.0 < layout.task_size())
            .map(|r| (r.0, r.1)),
    );
    let ours = occupancy(map.iter().map(|v| {
        let r = map.range_of(v);
        (r.start, r.end)
    }));
    assert_eq!(
        ours, last,
        "{name}: replayed occupancy differs from the final /proc/self/maps"
    );

    eprintln!(
        "{name}: rlimit-stack={:#x} mmap_base={:#x}: {matched}/{mmaps} mmap results match Linux",
        trace.rlimit_stack,
        layout.mmap_base()
    );
    tally.mmaps += mmaps;
    tally.matched += matched;
}

fn trace_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/linux_mmap");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("seed-") && name.ends_with(".txt")
        })
        .collect();
    files.sort();
    files
}

#[test]
fn replay_matches_linux_exactly() {
    let files = trace_files();
    assert!(!files.is_empty(), "no traces in tests/data/linux_mmap");
    let mut tally = Tally::default();
    for file in &files {
        replay(file, &mut tally);
    }
    eprintln!(
        "TOTAL: {}/{} mmap results match Linux ({} non-fixed placements searched) over {} traces",
        tally.matched,
        tally.mmaps,
        tally.searched,
        files.len()
    );
    assert!(
        tally.mismatches.is_empty(),
        "{} of {} mmap results differ from Linux:\n{}",
        tally.mismatches.len(),
        tally.mmaps,
        tally.mismatches.join("\n")
    );
    assert_eq!(tally.matched, tally.mmaps);
}
