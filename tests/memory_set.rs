//! `MemorySet` end to end over the software Sv39 page table: the page table
//! and the counting frame allocator are the oracles.
//!
//! The model test runs random `push` / `map_anywhere` / `unmap` / `protect`
//! / page-fault / fork sequences against a per-page model and, after every
//! step, walks the page table page by page, checks every owned frame's
//! contents, and balances the allocator's books.

use std::collections::BTreeSet;

use range_action_map::memory_set::{
    Access, ByFrame, Device, FaultError, FrameAllocator, KernelLayout, Lazy, Linear, MemoryAttr,
    MemoryError, MemorySet, PageTable, PagingError, Shared, PAGE_SIZE,
};
use range_action_map::MapError;
use range_action_map_testkit::op::decode;
use range_action_map_testkit::set_model::Backing;
use range_action_map_testkit::{mmu, set_model, CountingFrameAllocator, Rng, SoftPageTable};

type Set = MemorySet<SoftPageTable, CountingFrameAllocator>;

fn setup(frames: usize) -> (CountingFrameAllocator, Set) {
    let fa = CountingFrameAllocator::new(frames);
    let set = MemorySet::new(SoftPageTable::new(fa.memory()), fa.clone());
    (fa, set)
}

fn rw() -> MemoryAttr {
    MemoryAttr::new().set_user()
}

fn ro() -> MemoryAttr {
    MemoryAttr::new().set_user().set_readonly()
}

fn rx() -> MemoryAttr {
    MemoryAttr::new().set_user().set_readonly().set_execute()
}

fn pa_of(set: &Set, va: usize) -> usize {
    set.page_table()
        .translate(va)
        .unwrap_or_else(|| panic!("{va:#x} is not mapped"))
        .0
}

fn read_u64(fa: &CountingFrameAllocator, pa: usize) -> u64 {
    let mut buf = [0; 8];
    fa.read(pa, 0, &mut buf);
    u64::from_le_bytes(buf)
}

// === unit tests: one per seed behaviour ===

#[test]
fn linear_maps_va_to_va_minus_offset() {
    let (_fa, mut set) = setup(16);
    let offset = 0xffff_ffff_4000_0000;
    let start = 0xffff_ffff_c020_0000;
    set.push(
        start,
        start + 4 * PAGE_SIZE,
        MemoryAttr::new(),
        Linear::new(offset),
    )
    .unwrap();
    for i in 0..4 {
        let va = start + i * PAGE_SIZE;
        assert_eq!(
            set.page_table().translate(va + 0x123),
            Some((va - offset + 0x123, MemoryAttr::new()))
        );
    }
}

#[test]
fn linear_below_its_offset_is_refused() {
    let (fa, mut set) = setup(16);
    let err = set.push(0x1000, 0x3000, rw(), Linear::new(0x2000));
    assert!(matches!(
        err,
        Err(MemoryError::Paging(PagingError::OutOfRange { .. }))
    ));
    assert!(set.is_empty());
    assert_eq!(set.page_table().mapped_pages().count(), 0);
    drop(set);
    assert_eq!(fa.live(), 0);
}

#[test]
fn by_frame_gives_distinct_zeroed_frames_freed_on_unmap() {
    let (fa, mut set) = setup(32);
    set.push(0x10000, 0x18000, rw(), ByFrame::new()).unwrap();
    let frames: BTreeSet<usize> = (0..8)
        .map(|i| pa_of(&set, 0x10000 + i * PAGE_SIZE))
        .collect();
    assert!(frames
        .iter()
        .all(|&pa| fa.is_live(pa) && read_u64(&fa, pa) == 0));
    assert_eq!(frames.len(), 8);
    let tables = set.page_table().table_frames();
    assert_eq!(fa.live(), 8 + tables);
    set.unmap(0x12000, 0x14000).unwrap();
    assert_eq!(fa.live(), 6 + tables);
    assert_eq!(set.len(), 2);
    drop(set);
    assert_eq!(fa.live(), 0);
}

#[test]
fn kernel_layout_has_five_sections_with_their_permissions() {
    let fa = CountingFrameAllocator::new(64);
    let offset = 0xffff_ffff_4000_0000;
    let base = 0xffff_ffff_c020_0000;
    let page = |n: usize| base + n * PAGE_SIZE;
    let layout = KernelLayout::new(offset)
        .text(page(0)..page(4))
        .rodata(page(4)..page(6))
        .data(page(6)..page(7))
        .bss(page(7)..page(9))
        .physical_memory(page(9)..page(16));
    let kernel =
        MemorySet::new_kernel(&layout, SoftPageTable::new(fa.memory()), fa.clone()).unwrap();
    let expected = [
        (".text", MemoryAttr::new().set_readonly().set_execute()),
        (".rodata", MemoryAttr::new().set_readonly()),
        (".data", MemoryAttr::new()),
        (".bss", MemoryAttr::new()),
        ("physical memory", MemoryAttr::new()),
    ];
    for ((name, range, attr), (want_name, want_attr)) in layout.sections().into_iter().zip(expected)
    {
        assert_eq!((name, attr), (want_name, want_attr));
        for va in range.clone().step_by(PAGE_SIZE) {
            let area = kernel.find(va).unwrap();
            assert_eq!(area.attr(), want_attr, "{name} at {va:#x}");
            assert_eq!(Backing::of(area.handler()), Backing::Linear(offset));
            assert_eq!(
                kernel.page_table().translate(va),
                Some((va - offset, want_attr))
            );
        }
    }
    // `.data`, `.bss` and physical memory are adjacent and all `rw-`: one area.
    assert_eq!(kernel.len(), 3);
    assert_eq!(kernel.page_table().mapped_pages().count(), 16);
    assert_eq!(fa.live(), kernel.page_table().table_frames());
    drop(kernel);
    assert_eq!(fa.live(), 0);
}

#[test]
fn kernel_layout_skips_empty_sections_and_refuses_misaligned_ones() {
    let fa = CountingFrameAllocator::new(16);
    let layout = KernelLayout::new(0).text(0x8020_0000..0x8020_2000);
    let kernel =
        MemorySet::new_kernel(&layout, SoftPageTable::new(fa.memory()), fa.clone()).unwrap();
    assert_eq!(kernel.len(), 1);
    drop(kernel);
    let bad = layout.rodata(0x8020_2000..0x8020_2800);
    let err = MemorySet::new_kernel(&bad, SoftPageTable::new(fa.memory()), fa.clone());
    assert!(matches!(
        err,
        Err(MemoryError::Map(MapError::Misaligned {
            addr: 0x8020_2800,
            ..
        }))
    ));
    assert_eq!(fa.live(), 0);
}

#[test]
fn protect_toggling_does_not_fragment() {
    let (fa, mut set) = setup(32);
    set.push(0x10000, 0x20000, rw(), ByFrame::new()).unwrap();
    let frames: Vec<usize> = (0x10000..0x20000)
        .step_by(PAGE_SIZE)
        .map(|va| pa_of(&set, va))
        .collect();
    for _ in 0..3 {
        set.protect(0x13000, 0x15000, ro()).unwrap();
        assert_eq!(set.len(), 3);
        assert_eq!(set.page_table().translate(0x14000).unwrap().1, ro());
        assert_eq!(set.page_table().translate(0x15000).unwrap().1, rw());
        set.protect(0x13000, 0x15000, rw()).unwrap();
        assert_eq!(set.len(), 1);
    }
    // A range over areas that mostly have the permissions already.
    set.protect(0x10000, 0x20000, rw()).unwrap();
    assert_eq!(set.len(), 1);
    let after: Vec<usize> = (0x10000..0x20000)
        .step_by(PAGE_SIZE)
        .map(|va| pa_of(&set, va))
        .collect();
    assert_eq!(frames, after, "protect moved a frame");
    drop(set);
    assert_eq!(fa.live(), 0);
}

#[test]
fn protect_leaves_areas_with_the_same_permissions_whole() {
    let (_fa, mut set) = setup(32);
    set.push(0x10000, 0x14000, rw(), ByFrame::new()).unwrap();
    set.push(0x14000, 0x18000, ro(), ByFrame::new()).unwrap();
    set.push(0x18000, 0x1c000, rw(), ByFrame::new()).unwrap();
    assert_eq!(set.len(), 3);
    // Inside the first area, same permissions: no split.
    set.protect(0x11000, 0x12000, rw()).unwrap();
    assert_eq!(set.len(), 3);
    // Across all three: only the middle changes, then everything merges.
    set.protect(0x11000, 0x1b000, rw()).unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(set.find(0x15000).unwrap().range(), 0x10000..0x1c000);
}

#[test]
fn misaligned_empty_overlapping_and_out_of_window_ranges_are_errors() {
    let (fa, mut set) = setup(16);
    let h = ByFrame::new();
    assert!(matches!(
        set.push(0x10800, 0x12000, rw(), h),
        Err(MemoryError::Map(MapError::Misaligned {
            addr: 0x10800,
            align: PAGE_SIZE
        }))
    ));
    assert!(matches!(
        set.push(0x10000, 0x12001, rw(), h),
        Err(MemoryError::Map(MapError::Misaligned { .. }))
    ));
    assert!(matches!(
        set.push(0x10000, 0x10000, rw(), h),
        Err(MemoryError::Map(MapError::EmptyRange { .. }))
    ));
    assert!(matches!(
        set.push(0x0, 0x1000, rw(), h),
        Err(MemoryError::Map(MapError::OutOfWindow { .. }))
    ));
    set.push(0x10000, 0x12000, rw(), h).unwrap();
    assert!(matches!(
        set.push(0x11000, 0x13000, rw(), h),
        Err(MemoryError::Map(MapError::Overlap { .. }))
    ));
    assert!(matches!(
        set.unmap(0x10000, 0x10800),
        Err(MemoryError::Map(MapError::Misaligned { .. }))
    ));
    assert!(matches!(
        set.protect(0x10000, 0x10000, ro()),
        Err(MemoryError::Map(MapError::EmptyRange { .. }))
    ));
    assert!(matches!(
        set.map_anywhere(0x10000, 0x800, PAGE_SIZE, rw(), h),
        Err(MemoryError::Map(MapError::Misaligned { .. }))
    ));
    assert!(matches!(
        set.map_anywhere(0x10000, 0, PAGE_SIZE, rw(), h),
        Err(MemoryError::Map(MapError::ZeroLength))
    ));
    assert!(matches!(
        set.map_anywhere(0x10000, PAGE_SIZE, 3, rw(), h),
        Err(MemoryError::Map(MapError::BadAlignment { align: 3 }))
    ));
    assert_eq!(set.len(), 1);
    assert_eq!(set.page_table().mapped_pages().count(), 2);
    assert_eq!(fa.live(), 2 + set.page_table().table_frames());
}

#[test]
fn map_anywhere_takes_the_lowest_aligned_hole_at_or_above_the_hint() {
    let (_fa, mut set) = setup(64);
    let h = Lazy::new();
    set.push(0x10000, 0x11000, rw(), h).unwrap();
    assert_eq!(
        set.map_anywhere(0x10000, 0x2000, 0x1000, ro(), h),
        Ok(0x11000)
    );
    assert_eq!(
        set.map_anywhere(0x10000, 0x1000, 0x4000, ro(), h),
        Ok(0x14000)
    );
    assert_eq!(
        set.map_anywhere(0x10000, 0x1000, 0x1000, rx(), h),
        Ok(0x13000)
    );
}

#[test]
fn out_of_frames_rolls_back_every_page() {
    // 3 table frames + 4 pages fit; 8 pages do not.
    let (fa, mut set) = setup(7);
    let err = set.push(0x10000, 0x18000, rw(), ByFrame::new());
    assert!(matches!(
        err,
        Err(MemoryError::Paging(PagingError::OutOfFrames))
    ));
    assert!(set.is_empty());
    assert_eq!(set.page_table().mapped_pages().count(), 0);
    assert_eq!(fa.live(), set.page_table().table_frames());
    set.push(0x10000, 0x14000, rw(), ByFrame::new()).unwrap();
    // A full allocator: the fork fails and tears its partial child down.
    let before = fa.live();
    let err = set.clone_for_fork(SoftPageTable::new(fa.memory()));
    assert!(matches!(
        err,
        Err(MemoryError::Paging(PagingError::OutOfFrames))
    ));
    assert_eq!(fa.live(), before);
}

#[test]
fn lazy_pages_are_mapped_on_first_fault_with_typed_errors() {
    let (fa, mut set) = setup(16);
    set.push(0x10000, 0x14000, ro(), Lazy::new()).unwrap();
    assert_eq!(set.page_table().mapped_pages().count(), 0);
    assert_eq!(
        set.handle_page_fault(0x9000, Access::Read),
        Err(FaultError::Unmapped { addr: 0x9000 })
    );
    assert_eq!(
        set.handle_page_fault(0x10008, Access::Write),
        Err(FaultError::AccessViolation {
            addr: 0x10008,
            access: Access::Write,
            attr: ro()
        })
    );
    assert!(matches!(
        set.handle_page_fault(0x10008, Access::Execute),
        Err(FaultError::AccessViolation { .. })
    ));
    assert_eq!(set.page_table().mapped_pages().count(), 0);
    set.handle_page_fault(0x12345, Access::Read).unwrap();
    let pa = pa_of(&set, 0x12000);
    assert_eq!(set.page_table().translate(0x12000), Some((pa, ro())));
    // A spurious fault on a mapped page changes nothing.
    set.handle_page_fault(0x12000, Access::Read).unwrap();
    assert_eq!(pa_of(&set, 0x12000), pa);
    // protect reaches the faulted page and the lazy rest.
    set.protect(0x10000, 0x14000, rw()).unwrap();
    assert_eq!(set.page_table().translate(0x12000), Some((pa, rw())));
    set.handle_page_fault(0x13000, Access::Write).unwrap();
    assert_eq!(set.page_table().translate(0x13000).unwrap().1, rw());
    assert_eq!(set.page_table().mapped_pages().count(), 2);
    set.unmap(0x10000, 0x14000).unwrap();
    assert_eq!(fa.live(), set.page_table().table_frames());
}

#[test]
fn fork_shares_frames_copy_on_write_then_parent_and_child_diverge() {
    let (fa, mut set) = setup(64);
    set.push(0x10000, 0x12000, rw(), ByFrame::new()).unwrap();
    set.push(0x20000, 0x24000, rw(), Lazy::new()).unwrap();
    set.push(0x30000, 0x31000, ro(), Linear::new(0)).unwrap();
    mmu::store(&mut set, 0x10000, b"parent").unwrap();
    mmu::store(&mut set, 0x21000, b"lazy!!").unwrap();
    let owned_before = fa.live() - set.page_table().table_frames();

    let mut child = set.clone_for_fork(SoftPageTable::new(fa.memory())).unwrap();
    assert_eq!(set.to_string(), child.to_string());
    // No page is copied: both sides map the same frames, read-only.
    for va in [0x10000, 0x11000, 0x21000] {
        let (pa, attr) = set.page_table().translate(va).unwrap();
        assert_eq!(child.page_table().translate(va), Some((pa, attr)));
        assert_eq!((fa.ref_count(pa), attr), (2, rw().set_readonly()));
    }
    assert!(child.page_table().translate(0x20000).is_none());
    assert_eq!(pa_of(&child, 0x30000), 0x30000);
    let tables = set.page_table().table_frames() + child.page_table().table_frames();
    assert_eq!(fa.live(), owned_before + tables);
    assert_eq!(mmu::read::<6, _>(&mut child, 0x10000), *b"parent");

    // The first write on each side copies; the last holder writes in place.
    mmu::store(&mut set, 0x10000, b"PARENT").unwrap();
    assert_eq!(fa.copies(), 1);
    mmu::store(&mut child, 0x10000, b"child!").unwrap();
    assert_eq!(fa.copies(), 1, "the child held the last reference");
    assert_eq!(mmu::read::<6, _>(&mut set, 0x10000), *b"PARENT");
    assert_eq!(mmu::read::<6, _>(&mut child, 0x10000), *b"child!");
    assert_eq!(mmu::read::<6, _>(&mut child, 0x21000), *b"lazy!!");
    assert_ne!(pa_of(&set, 0x10000), pa_of(&child, 0x10000));

    drop(set);
    assert_eq!(fa.live(), owned_before + child.page_table().table_frames());
    // The child is the last holder of every frame now: writes copy nothing.
    mmu::store(&mut child, 0x11000, b"mine").unwrap();
    mmu::store(&mut child, 0x21000, b"mine").unwrap();
    assert_eq!(fa.copies(), 1);
    drop(child);
    assert_eq!(fa.live(), 0);
}

#[test]
fn shared_memory_is_seen_by_both_sides_of_a_fork() {
    let (fa, mut set) = setup(64);
    set.push(0x10000, 0x13000, rw(), Shared::new()).unwrap();
    let mut child = set.clone_for_fork(SoftPageTable::new(fa.memory())).unwrap();
    mmu::store(&mut child, 0x11000, b"hello!").unwrap();
    assert_eq!(mmu::read::<6, _>(&mut set, 0x11000), *b"hello!");
    mmu::store(&mut set, 0x12000, b"reply!").unwrap();
    assert_eq!(mmu::read::<6, _>(&mut child, 0x12000), *b"reply!");
    assert_eq!(fa.copies(), 0);
    assert!(set.to_string().contains("rw-s 00000000 00:00 0 [shared]"));
    drop(set);
    assert_eq!(mmu::read::<6, _>(&mut child, 0x11000), *b"hello!");
    drop(child);
    assert_eq!(fa.live(), 0);
}

#[test]
fn device_memory_maps_its_registers_uncached_and_a_fork_maps_the_same() {
    let (fa, mut set) = setup(16);
    let (va, pa) = (0x4000_0000, 0x1000_0000);
    set.push(
        va,
        va + 2 * PAGE_SIZE,
        MemoryAttr::new(),
        Device::at(va, pa),
    )
    .unwrap();
    let device = MemoryAttr::new().set_device();
    assert_eq!(set.page_table().translate(va + 8), Some((pa + 8, device)));
    set.protect(va, va + PAGE_SIZE, ro()).unwrap();
    assert_eq!(
        set.page_table().translate(va),
        Some((pa, ro().set_device()))
    );
    let child = set.clone_for_fork(SoftPageTable::new(fa.memory())).unwrap();
    assert_eq!(
        child.page_table().translate(va + PAGE_SIZE),
        Some((pa + PAGE_SIZE, device))
    );
    assert_eq!(
        fa.live(),
        set.page_table().table_frames() + child.page_table().table_frames()
    );
    assert!(set.to_string().contains("r--s 10000000 00:00 0 [device]"));
}

#[test]
fn a_fork_that_runs_out_of_frames_leaves_the_parent_as_it_was() {
    let (fa, mut set) = setup(64);
    set.push(0x10000, 0x14000, rw(), ByFrame::new()).unwrap();
    set.push(0x4000_0000, 0x4000_2000, rw(), Lazy::new())
        .unwrap();
    mmu::store(&mut set, 0x4000_1000, b"far").unwrap();
    let pages: Vec<_> = set.page_table().mapped_pages().collect();
    let counts = fa.ref_counts();
    // The child needs a root, two middle and two leaf tables: give it fewer.
    for budget in 0..5 {
        fa.set_budget(Some(budget));
        let got = set.clone_for_fork(SoftPageTable::new(fa.memory()));
        assert_eq!(
            got.err(),
            Some(MemoryError::Paging(PagingError::OutOfFrames))
        );
        assert_eq!(set.page_table().mapped_pages().collect::<Vec<_>>(), pages);
        assert_eq!(fa.ref_counts(), counts, "budget {budget}");
    }
    fa.set_budget(Some(5));
    assert!(set.clone_for_fork(SoftPageTable::new(fa.memory())).is_ok());
}

#[test]
fn a_copy_on_write_break_without_a_frame_changes_nothing() {
    let (fa, mut set) = setup(64);
    set.push(0x10000, 0x11000, rw(), ByFrame::new()).unwrap();
    mmu::store(&mut set, 0x10000, b"before").unwrap();
    let mut child = set.clone_for_fork(SoftPageTable::new(fa.memory())).unwrap();
    fa.set_budget(Some(0));
    let got = mmu::store(&mut child, 0x10000, b"after!");
    assert_eq!(got, Err(FaultError::Paging(PagingError::OutOfFrames)));
    let (pa, attr) = set.page_table().translate(0x10000).unwrap();
    assert_eq!(child.page_table().translate(0x10000), Some((pa, attr)));
    assert_eq!(fa.ref_count(pa), 2);
    fa.set_budget(None);
    mmu::store(&mut child, 0x10000, b"after!").unwrap();
    assert_eq!(mmu::read::<6, _>(&mut set, 0x10000), *b"before");
}

#[test]
fn clear_unmaps_everything_and_drop_frees_the_tables() {
    let (fa, mut set) = setup(32);
    set.push(0x10000, 0x14000, rw(), ByFrame::new()).unwrap();
    set.push(0x14000, 0x15000, rx(), Linear::new(0)).unwrap();
    set.clear();
    assert!(set.is_empty());
    assert_eq!(set.page_table().mapped_pages().count(), 0);
    assert_eq!(fa.live(), set.page_table().table_frames());
    set.push(0x10000, 0x11000, rw(), ByFrame::new()).unwrap();
    drop(set);
    assert_eq!(fa.live(), 0);
    assert_eq!(fa.allocated(), fa.freed());
}

#[test]
fn activating_the_page_table_makes_the_set_current() {
    let (_fa, set) = setup(4);
    assert!(!set.page_table().is_active());
    set.page_table().activate();
    assert!(set.page_table().is_active());
    assert_eq!(set.page_table().activations(), 1);
}

#[test]
fn display_is_proc_maps_style() {
    let (_fa, mut set) = setup(16);
    set.push(0x10000, 0x12000, rx(), Linear::new(0x8000))
        .unwrap();
    set.push(0x20000, 0x21000, rw(), ByFrame::new()).unwrap();
    set.push(0x30000, 0x31000, ro(), Lazy::new()).unwrap();
    assert_eq!(
        set.to_string(),
        "00010000-00012000 r-xp 00008000 00:00 0 [linear]\n\
         00020000-00021000 rw-p 00000000 00:00 0 [frame]\n\
         00030000-00031000 r--p 00000000 00:00 0 [lazy]\n"
    );
}

// === model-based test ===

#[test]
fn model_random_operations_keep_page_table_and_frames_exact() {
    // Miri is ~1000x slower; a short run still covers every operation.
    let (runs, bytes) = if cfg!(miri) { (1, 160) } else { (96, 1200) };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for run in 0..runs {
        let data: Vec<u8> = rng.bytes(bytes).collect();
        eprintln!("run {run}: flags {:#04x}", data[0]);
        set_model::run_memory_set(decode(&data));
    }
}
