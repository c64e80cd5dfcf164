//! `MemorySet` built with the `LinuxLayout` policy: every placement is the
//! one `LinuxLayout::get_unmapped_area` makes on an equivalent map of
//! plain VMAs, grows-down areas keep their bit through splits and merges,
//! pages are mapped (checked by walking the software Sv39 table) and the
//! frame allocator's books balance.

use std::cell::Cell;

use intrusive_collections::intrusive_adapter;
use range_action_map::linux::{GrowsDown, LinuxLayout, StackRlimit};
use range_action_map::memory_set::{
    Access, FirstFit, MemoryAttr, MemoryError, MemorySet, PageTable, PlacementPolicy, PAGE_SIZE,
};
use range_action_map::{MapError, MapResult, RangeActionMap, RangeAdapter, RangeLink, Segment};
use range_action_map::{SegmentOf, Window};
use range_action_map_testkit::set_model::Backing;
use range_action_map_testkit::{CountingFrameAllocator, Rng, SoftPageTable};

// === the equivalent map: plain VMAs with the same bits ===

/// A VMA of the reference map: the area's permissions, handler and
/// grows-down bit, merged under the same rule as a `MemoryArea`.
struct Vma {
    link: RangeLink,
    attr: Cell<MemoryAttr>,
    handler: Backing,
    grows_down: bool,
}

intrusive_adapter!(VmaAdapter = Box<Vma>: Vma { link: RangeLink });

fn vma(attr: MemoryAttr, handler: Backing, grows_down: bool) -> Box<Vma> {
    Box::new(Vma {
        link: RangeLink::new(),
        attr: Cell::new(attr),
        handler,
        grows_down,
    })
}

impl Segment for Vma {
    type Args = ();
    type Flags = MemoryAttr;
    type Pointer = Box<Vma>;

    fn remove(&self, _: &mut ()) {}

    fn shrink(&self, _start: usize, _end: usize, _: &mut ()) {}

    fn split(&self, _pos: usize, _: &mut ()) -> Box<Vma> {
        vma(self.attr.get(), self.handler, self.grows_down)
    }

    fn modify(&self, attr: MemoryAttr, _: &mut ()) {
        self.attr.set(attr);
    }

    fn try_merge(&self, next: &Self, _: &mut ()) -> bool {
        self.attr.get() == next.attr.get()
            && self.handler == next.handler
            && self.grows_down == next.grows_down
    }
}

impl GrowsDown for Vma {
    fn grows_down(&self) -> bool {
        self.grows_down
    }
}

type Reference = RangeActionMap<VmaAdapter>;
type Set<P = LinuxLayout> = MemorySet<SoftPageTable, CountingFrameAllocator, P>;

/// One area as both sides show it: range, permissions, handler, grows down.
type AreaView = (usize, usize, MemoryAttr, Backing, bool);

const MIB: usize = 1 << 20;
const HUGE: usize = 2 * MIB;
/// The user half of Sv39, which the software page table translates.
const TASK: usize = 1 << 38;

fn rw() -> MemoryAttr {
    MemoryAttr::new().set_user()
}

fn ro() -> MemoryAttr {
    MemoryAttr::new().set_user().set_readonly()
}

/// A RISC-V Sv39 process with an 8 MiB stack limit.
fn sv39() -> LinuxLayout {
    LinuxLayout::for_task_size(TASK, StackRlimit::DEFAULT)
}

/// A set laid out by `layout` over `[mmap_min_addr, task_size)`, the
/// reference map over the same window, and the allocator.
fn setup(layout: LinuxLayout, frames: usize) -> (CountingFrameAllocator, Set, Reference) {
    let window = Window::new(layout.mmap_min_addr(), layout.task_size()).unwrap();
    let fa = CountingFrameAllocator::new(frames);
    let set = MemorySet::with_policy(layout, window, SoftPageTable::new(fa.memory()), fa.clone());
    (fa, set, Reference::with_window(window, ()))
}

/// Both sides' areas, in order.
fn views(set: &Set, reference: &Reference) -> (Vec<AreaView>, Vec<AreaView>) {
    let of_set = set
        .iter()
        .map(|a| {
            let r = a.range();
            (
                r.start,
                r.end,
                a.attr(),
                Backing::of(a.handler()),
                a.grows_down(),
            )
        })
        .collect();
    let of_reference = reference
        .iter()
        .map(|v| {
            let r = v.link.range();
            (r.start, r.end, v.attr.get(), v.handler, v.grows_down)
        })
        .collect();
    (of_set, of_reference)
}

/// The set and the reference hold the same areas; the page table maps
/// exactly the pages of the `ByFrame` areas plus the faulted-in lazy ones,
/// each with its area's permissions; every live frame is a mapped page or a
/// table.
#[track_caller]
fn check(fa: &CountingFrameAllocator, set: &Set, reference: &Reference, faulted: &[usize]) {
    reference.assert_valid();
    let (of_set, of_reference) = views(set, reference);
    assert_eq!(of_set, of_reference);
    let mut expected: Vec<(usize, MemoryAttr)> = Vec::new();
    for &(start, end, attr, handler, _) in &of_set {
        for va in (start..end).step_by(PAGE_SIZE) {
            if handler == Backing::ByFrame || faulted.contains(&va) {
                expected.push((va, attr));
            }
        }
    }
    let pt = set.page_table();
    let mapped: Vec<_> = pt.mapped_pages().map(|(va, _, attr)| (va, attr)).collect();
    assert_eq!(
        mapped, expected,
        "the page table maps exactly the areas' pages"
    );
    assert_eq!(fa.live(), mapped.len() + pt.table_frames());
}

/// `map_anywhere` (or its grows-down twin) on the set, and the same
/// mapping in the reference at the address `LinuxLayout::get_unmapped_area`
/// gives for it: both must agree, failures included.
fn map_both(
    set: &mut Set,
    reference: &mut Reference,
    hint: usize,
    len: usize,
    handler: Backing,
    grows_down: bool,
) -> MapResult<usize> {
    let expected = set.policy().get_unmapped_area(reference, hint, len);
    let got = if grows_down {
        set.map_anywhere_grows_down(hint, len, PAGE_SIZE, rw(), handler.boxed())
    } else {
        set.map_anywhere(hint, len, PAGE_SIZE, rw(), handler.boxed())
    };
    assert_eq!(
        got,
        expected.map_err(MemoryError::Map),
        "map_anywhere({hint:#x}, {len:#x})"
    );
    if let Ok(start) = expected {
        reference
            .mmap_fixed_noreplace(start, start + len, vma(rw(), handler, grows_down))
            .unwrap();
    }
    expected
}

// === each rule through a MemorySet ===

#[test]
fn top_down_hint_and_huge_page_rules() {
    let layout = sv39();
    let base = layout.mmap_base();
    assert_eq!(base, TASK - 128 * MIB);
    let (fa, mut set, mut reference) = setup(layout, 256);
    let by_frame = Backing::ByFrame;

    // Top-down from mmap_base.
    let a = map_both(&mut set, &mut reference, 0, 0x3000, by_frame, false);
    assert_eq!(a, Ok(base - 0x3000));
    // A free hint is taken as is.
    let b = map_both(
        &mut set,
        &mut reference,
        0x4000_0000,
        0x2000,
        by_frame,
        false,
    );
    assert_eq!(b, Ok(0x4000_0000));
    // An occupied one is ignored.
    let c = map_both(
        &mut set,
        &mut reference,
        0x4000_1000,
        0x1000,
        by_frame,
        false,
    );
    assert_eq!(c, Ok(base - 0x4000));
    // A low one is raised to mmap_min_addr.
    let d = map_both(&mut set, &mut reference, 0x1000, 0x1000, by_frame, false);
    assert_eq!(d, Ok(layout.mmap_min_addr()));
    // A 2 MiB multiple without a hint is 2 MiB aligned (lazy: no frames).
    let lazy = Backing::Lazy;
    let e = map_both(&mut set, &mut reference, 0, 2 * HUGE, lazy, false);
    assert_eq!(e, Ok((base - 0x4000 - 2 * HUGE) & !(HUGE - 1)));
    // With a hint it is not.
    let f = map_both(&mut set, &mut reference, 0x5000_1000, HUGE, lazy, false);
    assert_eq!(f, Ok(0x5000_1000));
    check(&fa, &set, &reference, &[]);

    // Every page of the ByFrame areas is mapped to its own frame, rw-.
    for va in [
        base - 0x3000,
        base - 0x1000,
        0x4000_1000,
        layout.mmap_min_addr(),
    ] {
        let (pa, attr) = set.page_table().translate(va).unwrap();
        assert!(fa.is_live(pa) && attr == rw(), "{va:#x}");
    }
    drop(set);
    assert_eq!(fa.live(), 0);
}

#[test]
fn guard_gap_below_a_grows_down_stack() {
    let layout = sv39();
    let (fa, mut set, mut reference) = setup(layout, 256);
    let lazy = Backing::Lazy;
    // The main stack, as exec sets it up: at the top of user space.
    let stack_top = TASK - 0x1000;
    let stack = stack_top - 0x20000;
    set.push_grows_down(stack, stack_top, rw(), lazy.boxed())
        .unwrap();
    reference
        .mmap_fixed_noreplace(stack, stack_top, vma(rw(), lazy, true))
        .unwrap();
    assert!(set.find(stack).unwrap().grows_down());

    // A MAP_GROWSDOWN mapping right below mmap_base.
    let base = layout.mmap_base();
    let thread_stack = map_both(&mut set, &mut reference, 0, 0x10000, lazy, true);
    assert_eq!(thread_stack, Ok(base - 0x10000));
    // Its guard gap, 1 MiB, ends at `start_gap`. A hint ending right there
    // is taken...
    let start_gap = base - 0x10000 - layout.guard_gap();
    let hint = start_gap - 0x1000;
    assert_eq!(
        map_both(&mut set, &mut reference, hint, 0x1000, lazy, false),
        Ok(hint)
    );
    // ...the top-down search skips the guard gap...
    let below = map_both(&mut set, &mut reference, 0, 0x1000, lazy, false);
    assert_eq!(below, Ok(start_gap - 0x2000));
    // ...and a hint whose range ends inside it is refused.
    let refused = map_both(
        &mut set,
        &mut reference,
        base - 0x11000,
        0x1000,
        lazy,
        false,
    );
    assert_eq!(refused, Ok(start_gap - 0x3000));
    // The same layout without the bit would have used the guard gap.
    let (_fa, mut flat, _) = setup(layout, 16);
    flat.map_anywhere(0, 0x10000, PAGE_SIZE, rw(), lazy.boxed())
        .unwrap();
    assert_eq!(
        flat.map_anywhere(0, 0x1000, PAGE_SIZE, rw(), lazy.boxed()),
        Ok(base - 0x11000)
    );

    // A grows-down area does not merge with an adjacent ordinary one...
    set.push(base, base + 0x1000, rw(), lazy.boxed()).unwrap();
    reference
        .mmap_fixed_noreplace(base, base + 0x1000, vma(rw(), lazy, false))
        .unwrap();
    // ...but does with a grows-down one.
    set.push_grows_down(stack - 0x1000, stack, rw(), lazy.boxed())
        .unwrap();
    reference
        .mmap_fixed_noreplace(stack - 0x1000, stack, vma(rw(), lazy, true))
        .unwrap();
    assert_eq!(
        set.find(stack - 0x1000).unwrap().range(),
        stack - 0x1000..stack_top
    );
    // Splitting it keeps the bit in both pieces.
    set.protect(base - 0x8000, base - 0x7000, ro()).unwrap();
    reference
        .mprotect(base - 0x8000, base - 0x7000, ro())
        .unwrap();
    assert_eq!(set.len(), reference.len());
    for addr in [base - 0x10000, base - 0x8000, base - 0x7000] {
        assert!(set.find(addr).unwrap().grows_down(), "{addr:#x}");
    }
    // The stack still faults in its pages, with its pieces' permissions.
    set.handle_page_fault(base - 0x1000, Access::Write).unwrap();
    set.handle_page_fault(base - 0x8000, Access::Read).unwrap();
    check(&fa, &set, &reference, &[base - 0x8000, base - 0x1000]);
    assert_eq!(
        map_both(&mut set, &mut reference, 0, 0x1000, lazy, false),
        Ok(start_gap - 0x4000)
    );
    drop(set);
    assert_eq!(fa.live(), 0);
}

#[test]
fn bottom_up_fallback_when_the_top_down_range_is_full() {
    // `ulimit -s unlimited`: mmap_base at 1/6 of user space, below the
    // fallback's floor at 1/3.
    let layout = LinuxLayout::for_task_size(TASK, StackRlimit::Unlimited);
    assert!(layout.mmap_base() < layout.unmapped_base());
    let (fa, mut set, mut reference) = setup(layout, 64);
    let lazy = Backing::Lazy;
    // Fill [mmap_min_addr, mmap_base) but for one page (lazy: no frames).
    let (low, base) = (layout.mmap_min_addr(), layout.mmap_base());
    set.push(low, base - 0x1000, rw(), lazy.boxed()).unwrap();
    reference
        .mmap_fixed_noreplace(low, base - 0x1000, vma(rw(), lazy, false))
        .unwrap();
    // Two pages do not fit below mmap_base: bottom-up from unmapped_base.
    let up = map_both(&mut set, &mut reference, 0, 0x2000, Backing::ByFrame, false);
    assert_eq!(up, Ok(layout.unmapped_base()));
    // One page still goes top-down.
    assert_eq!(
        map_both(&mut set, &mut reference, 0, 0x1000, lazy, false),
        Ok(base - 0x1000)
    );
    check(&fa, &set, &reference, &[]);
    // Nothing fits anywhere: the error is Linux's -ENOMEM.
    assert_eq!(
        map_both(&mut set, &mut reference, 0, TASK, lazy, false),
        Err(MapError::NoSpace { len: TASK })
    );
    drop(set);
    assert_eq!(fa.live(), 0);
}

#[test]
fn alignment_above_a_page_is_linux_align_mask() {
    let layout = sv39();
    let (fa, mut set, mut reference) = setup(layout, 64);
    let lazy = Backing::Lazy;
    set.push(
        layout.mmap_base() - 0x3000,
        layout.mmap_base(),
        rw(),
        lazy.boxed(),
    )
    .unwrap();
    reference
        .mmap_fixed_noreplace(
            layout.mmap_base() - 0x3000,
            layout.mmap_base(),
            vma(rw(), lazy, false),
        )
        .unwrap();
    for (hint, len, align) in [
        (0, 0x3000, 0x10000),
        (0, HUGE, HUGE),
        (0x4000_1000, 0x1000, 0x10000),
        (0x4001_0000, 0x1000, 0x10000),
    ] {
        let expected = layout.get_unmapped_area_aligned(&reference, hint, len, align);
        let got = set.map_anywhere(hint, len, align, rw(), lazy.boxed());
        assert_eq!(got, expected.map_err(MemoryError::Map));
        let start = expected.unwrap();
        assert_eq!(start % align, 0, "{start:#x} is {align:#x}-aligned");
        reference
            .mmap_fixed_noreplace(start, start + len, vma(rw(), lazy, false))
            .unwrap();
    }
    // The highest 64 KiB boundary below the first area; the hint rounded
    // up to 0x4001_0000, then refused there, is taken as such the next time.
    let starts: Vec<_> = set.iter().map(|a| a.range().start).collect();
    assert!(starts.contains(&((layout.mmap_base() - 0x3000 - 0x3000) & !0xffff)));
    assert!(starts.contains(&0x4001_0000));
    check(&fa, &set, &reference, &[]);
    // Bad requests are typed errors, nothing mapped.
    let n = set.len();
    for (len, align, error) in [
        (
            0x1800,
            PAGE_SIZE,
            MapError::Misaligned {
                addr: 0x1800,
                align: PAGE_SIZE,
            },
        ),
        (0, PAGE_SIZE, MapError::ZeroLength),
        (0x1000, 0x3000, MapError::BadAlignment { align: 0x3000 }),
        (0x1000, 0, MapError::BadAlignment { align: 0 }),
    ] {
        assert_eq!(
            set.map_anywhere(0, len, align, rw(), lazy.boxed()),
            Err(MemoryError::Map(error))
        );
    }
    assert_eq!(set.len(), n);
}

#[test]
fn fork_keeps_the_policy_and_the_bits() {
    let layout = sv39();
    let (fa, mut set, _) = setup(layout, 64);
    let base = layout.mmap_base();
    set.map_anywhere_grows_down(0, 0x4000, PAGE_SIZE, rw(), Backing::ByFrame.boxed())
        .unwrap();
    let child = set.clone_for_fork(SoftPageTable::new(fa.memory())).unwrap();
    assert_eq!(child.policy(), &layout);
    assert!(child.find(base - 0x4000).unwrap().grows_down());
    let mut child = child;
    assert_eq!(
        child.map_anywhere(0, 0x1000, PAGE_SIZE, rw(), Backing::Lazy.boxed()),
        Ok(base - 0x4000 - layout.guard_gap() - 0x1000)
    );
    drop(child);
    drop(set);
    assert_eq!(fa.live(), 0);
}

// === a policy that lies is refused, not obeyed ===

/// Always proposes the same start, free or not.
struct Always(usize);

impl PlacementPolicy for Always {
    fn place<A>(&self, _: &RangeActionMap<A>, _: usize, _: usize, _: usize) -> MapResult<usize>
    where
        A: RangeAdapter,
        SegmentOf<A>: GrowsDown,
    {
        Ok(self.0)
    }
}

#[test]
fn a_wrong_policy_answer_maps_nothing() {
    let fa = CountingFrameAllocator::new(16);
    let window = Window::new(0x10000, TASK).unwrap();
    let cases = [
        (
            0x10000,
            MapError::Overlap {
                start: 0x10000,
                end: 0x12000,
            },
        ),
        (
            0x10800,
            MapError::Misaligned {
                addr: 0x10800,
                align: PAGE_SIZE,
            },
        ),
        (
            0x1000,
            MapError::OutOfWindow {
                start: 0x1000,
                end: 0x3000,
            },
        ),
        (
            usize::MAX & !0xfff,
            MapError::Overflow {
                start: usize::MAX & !0xfff,
                len: 0x2000,
            },
        ),
    ];
    for (start, error) in cases {
        let mut set = MemorySet::with_policy(
            Always(start),
            window,
            SoftPageTable::new(fa.memory()),
            fa.clone(),
        );
        set.push(0x10000, 0x11000, rw(), Backing::ByFrame.boxed())
            .unwrap();
        let live = fa.live();
        assert_eq!(
            set.map_anywhere(0, 0x2000, PAGE_SIZE, rw(), Backing::ByFrame.boxed()),
            Err(MemoryError::Map(error))
        );
        assert_eq!((set.len(), fa.live()), (1, live));
    }
    assert_eq!(fa.live(), 0);
}

#[test]
fn first_fit_is_still_the_default() {
    let fa = CountingFrameAllocator::new(16);
    let mut set: Set<FirstFit> = MemorySet::new(SoftPageTable::new(fa.memory()), fa.clone());
    assert_eq!(set.policy(), &FirstFit);
    // A grows-down area gets no guard gap from FirstFit.
    set.push_grows_down(0x20000, 0x30000, rw(), Backing::Lazy.boxed())
        .unwrap();
    assert_eq!(
        set.map_anywhere(0x1f000, 0x1000, PAGE_SIZE, rw(), Backing::Lazy.boxed()),
        Ok(0x1f000)
    );
}

// === random sequences against the reference ===

#[test]
fn random_sequences_place_as_get_unmapped_area() {
    // A small layout, so that the top-down range fills up, guard gaps bite
    // and the bottom-up fallback runs: mmap_base at 64 MiB, fallback from
    // 128 MiB, a 256 KiB guard gap.
    let layout = sv39()
        .with_mmap_base(64 * MIB)
        .with_unmapped_base(128 * MIB)
        .with_guard_gap(256 << 10);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    // How often the rules under test decided a placement, to show that the
    // sequences reach them.
    let (mut guarded, mut fallback, mut huge) = (0, 0, 0);
    for run in 0..24 {
        let (fa, mut set, mut reference) = setup(layout, 1024);
        let mut faulted: Vec<usize> = Vec::new();
        for step in 0..150 {
            // A page of the window, below the fallback's busiest part.
            let page = |rng: &mut Rng| 0x10000 + rng.below(160 * MIB / PAGE_SIZE) * PAGE_SIZE;
            match rng.below(10) {
                // mmap: no hint, a random one, or one next to an area; small
                // (frame backed), 2 MiB multiples and large lazy ones.
                0..=4 => {
                    let hint = match rng.below(3) {
                        0 => 0,
                        1 => page(&mut rng),
                        _ => set.iter().nth(rng.below(set.len().max(1))).map_or(0, |a| {
                            a.range().start.saturating_sub(rng.below(8) * PAGE_SIZE)
                        }),
                    };
                    let (len, handler) = match rng.below(4) {
                        0 => ((1 + rng.below(4)) * PAGE_SIZE, Backing::ByFrame),
                        1 => ((1 + rng.below(2)) * HUGE, Backing::Lazy),
                        2 => ((1 + rng.below(4096)) * PAGE_SIZE, Backing::Lazy),
                        _ => ((1 + rng.below(64)) * PAGE_SIZE, Backing::Lazy),
                    };
                    let grows_down = rng.below(4) == 0;
                    let unguarded = layout.get_unmapped_area_with(&reference, hint, len, |_| false);
                    let placed = map_both(&mut set, &mut reference, hint, len, handler, grows_down);
                    if let Ok(start) = placed {
                        guarded += usize::from(unguarded != placed);
                        fallback += usize::from(hint == 0 && start >= layout.mmap_base());
                        huge += usize::from(hint == 0 && len % HUGE == 0);
                    }
                }
                // munmap of a random range.
                5..=6 => {
                    let start = page(&mut rng);
                    let end = start + (1 + rng.below(8192)) * PAGE_SIZE;
                    set.unmap(start, end).unwrap();
                    reference.unmap(start, end).unwrap();
                    faulted.retain(|&va| va < start || va >= end);
                }
                // mprotect, splitting and merging areas (grows-down ones too).
                7..=8 => {
                    let start = page(&mut rng);
                    let end = start + (1 + rng.below(64)) * PAGE_SIZE;
                    let attr = if rng.below(2) == 0 { rw() } else { ro() };
                    set.protect(start, end, attr).unwrap();
                    reference.mprotect(start, end, attr).unwrap();
                }
                // A page fault somewhere in an area.
                _ => {
                    let nth = set.iter().nth(rng.below(set.len().max(1)));
                    if let Some((r, lazy)) =
                        nth.map(|a| (a.range(), Backing::of(a.handler()) == Backing::Lazy))
                    {
                        let va = r.start + rng.below((r.end - r.start) / PAGE_SIZE) * PAGE_SIZE;
                        set.handle_page_fault(va, Access::Read).unwrap();
                        if lazy && !faulted.contains(&va) {
                            faulted.push(va);
                        }
                    }
                }
            }
            let (of_set, of_reference) = views(&set, &reference);
            assert_eq!(of_set, of_reference, "run {run}, step {step}");
        }
        check(&fa, &set, &reference, &faulted);
        drop(set);
        assert_eq!(fa.live(), 0, "run {run}");
    }
    assert!(
        guarded > 10 && fallback > 10 && huge > 10,
        "guard gaps {guarded}, fallbacks {fallback}, huge pages {huge}"
    );
}
