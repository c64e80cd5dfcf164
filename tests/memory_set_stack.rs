//! Stacks that grow: a fault below an area that grows down extends it, as Linux's
//! `expand_stack` does, up to the stack rlimit and never into the guard gap above the area
//! below; every refusal is a typed error and leaves the set as it was.

use range_action_map::linux::{LinuxLayout, StackRlimit};
use range_action_map::memory_set::{
    Access, ByFrame, FaultError, Lazy, MemoryAttr, MemorySet, PagingError, PAGE_SIZE,
};
use range_action_map::Window;
use range_action_map_testkit::{mmu, CountingFrameAllocator, SoftPageTable};

type Set<P = LinuxLayout> = MemorySet<SoftPageTable, CountingFrameAllocator, P>;

const MIB: usize = 1 << 20;
/// The top of a stack, in Sv39's lower half.
const TOP: usize = 0x3f_0000_0000;

fn rw() -> MemoryAttr {
    MemoryAttr::new().set_user()
}

fn linux(frames: usize) -> (CountingFrameAllocator, Set) {
    let layout = LinuxLayout::for_task_size(1 << 38, StackRlimit::DEFAULT);
    let window = Window::new(layout.mmap_min_addr(), layout.task_size()).unwrap();
    let fa = CountingFrameAllocator::new(frames);
    let set = MemorySet::with_policy(layout, window, SoftPageTable::new(fa.memory()), fa.clone());
    (fa, set)
}

fn ranges<P>(set: &Set<P>) -> Vec<(usize, usize)> {
    set.iter()
        .map(|a| (a.range().start, a.range().end))
        .collect()
}

#[test]
fn a_fault_below_a_stack_grows_it_down_to_the_page() {
    let (fa, mut set) = linux(64);
    set.push_grows_down(TOP - 4 * PAGE_SIZE, TOP, rw(), Lazy::new())
        .unwrap();
    let addr = TOP - 7 * PAGE_SIZE + 0x10;
    mmu::store(&mut set, addr, b"deep").unwrap();
    assert_eq!(ranges(&set), [(TOP - 7 * PAGE_SIZE, TOP)], "one area");
    assert!(set.find(addr).is_some_and(|a| a.attr() == rw()));
    assert_eq!(
        set.page_table().mapped_pages().count(),
        1,
        "lazy: the faulting page only"
    );
    // A populated stack maps the pages it grows by.
    let populated = TOP - 64 * MIB;
    set.push_grows_down(populated, populated + 4 * PAGE_SIZE, rw(), ByFrame::new())
        .unwrap();
    set.handle_page_fault(populated - 2 * PAGE_SIZE, Access::Read)
        .unwrap();
    assert_eq!(
        set.find(populated).unwrap().range(),
        populated - 2 * PAGE_SIZE..populated + 4 * PAGE_SIZE
    );
    assert_eq!(set.page_table().mapped_pages().count(), 1 + 4 + 2);
    drop(set);
    assert_eq!(fa.live(), 0);
}

#[test]
fn a_stack_stops_at_its_rlimit() {
    let (fa, mut set) = linux(64);
    set.set_stack_rlimit(StackRlimit::Bytes(8 * PAGE_SIZE));
    set.push_grows_down(TOP - 4 * PAGE_SIZE, TOP, rw(), Lazy::new())
        .unwrap();
    let too_deep = TOP - 9 * PAGE_SIZE;
    assert_eq!(
        set.handle_page_fault(too_deep, Access::Write),
        Err(FaultError::StackLimit { addr: too_deep })
    );
    assert_eq!(ranges(&set), [(TOP - 4 * PAGE_SIZE, TOP)]);
    set.handle_page_fault(TOP - 8 * PAGE_SIZE, Access::Write)
        .unwrap();
    assert_eq!(ranges(&set), [(TOP - 8 * PAGE_SIZE, TOP)]);
    // A fork inherits the limit.
    let mut child = set.clone_for_fork(SoftPageTable::new(fa.memory())).unwrap();
    assert_eq!(child.stack_rlimit(), StackRlimit::Bytes(8 * PAGE_SIZE));
    assert_eq!(
        child.handle_page_fault(too_deep, Access::Read),
        Err(FaultError::StackLimit { addr: too_deep })
    );
}

#[test]
fn a_stack_keeps_the_guard_gap_above_the_area_below() {
    let (_fa, mut set) = linux(64);
    let gap = LinuxLayout::DEFAULT_GUARD_GAP;
    let stack = TOP - 4 * PAGE_SIZE;
    let below_end = stack - gap - 4 * PAGE_SIZE;
    set.push(below_end - PAGE_SIZE, below_end, rw(), Lazy::new())
        .unwrap();
    set.push_grows_down(stack, TOP, rw(), Lazy::new()).unwrap();
    let into_gap = below_end + gap - PAGE_SIZE;
    assert_eq!(
        set.handle_page_fault(into_gap, Access::Read),
        Err(FaultError::StackLimit { addr: into_gap })
    );
    assert_eq!(
        ranges(&set),
        [(below_end - PAGE_SIZE, below_end), (stack, TOP)]
    );
    set.handle_page_fault(below_end + gap, Access::Read)
        .unwrap();
    assert_eq!(ranges(&set)[1], (below_end + gap, TOP));
}

#[test]
fn with_first_fit_a_stack_grows_until_it_meets_the_area_below() {
    let fa = CountingFrameAllocator::new(64);
    let mut set: Set<_> = MemorySet::new(SoftPageTable::new(fa.memory()), fa.clone());
    set.push(0x10000, 0x11000, rw(), Lazy::new()).unwrap();
    set.push_grows_down(0x20000, 0x21000, rw(), Lazy::new())
        .unwrap();
    set.handle_page_fault(0x11000, Access::Write).unwrap();
    assert_eq!(ranges(&set), [(0x10000, 0x11000), (0x11000, 0x21000)]);
}

#[test]
fn a_fault_below_an_area_that_does_not_grow_down_is_unmapped() {
    let (_fa, mut set) = linux(64);
    set.push(TOP - PAGE_SIZE, TOP, rw(), Lazy::new()).unwrap();
    let addr = TOP - 2 * PAGE_SIZE;
    assert_eq!(
        set.handle_page_fault(addr, Access::Read),
        Err(FaultError::Unmapped { addr })
    );
    assert_eq!(
        set.handle_page_fault(TOP, Access::Read),
        Err(FaultError::Unmapped { addr: TOP })
    );
}

#[test]
fn a_stack_whose_new_page_finds_no_frame_shrinks_back() {
    let (fa, mut set) = linux(64);
    set.push_grows_down(TOP - PAGE_SIZE, TOP, rw(), Lazy::new())
        .unwrap();
    mmu::store(&mut set, TOP - PAGE_SIZE, b"top").unwrap();
    let counts = fa.ref_counts();
    fa.set_budget(Some(0));
    assert_eq!(
        set.handle_page_fault(TOP - 2 * PAGE_SIZE, Access::Write),
        Err(FaultError::Paging(PagingError::OutOfFrames))
    );
    assert_eq!(ranges(&set), [(TOP - PAGE_SIZE, TOP)]);
    assert_eq!(fa.ref_counts(), counts);
    let populated = TOP - 64 * MIB;
    set.push_grows_down(populated, populated + PAGE_SIZE, rw(), Lazy::new())
        .unwrap();
    fa.set_budget(None);
    set.push_grows_down(
        populated - 16 * MIB,
        populated - 16 * MIB + PAGE_SIZE,
        rw(),
        ByFrame::new(),
    )
    .unwrap();
    let owned = |set: &Set| fa.live() - set.page_table().table_frames();
    let before = owned(&set);
    fa.set_budget(Some(3));
    let deep = populated - 16 * MIB - 8 * PAGE_SIZE;
    assert_eq!(
        set.handle_page_fault(deep, Access::Read),
        Err(FaultError::Paging(PagingError::OutOfFrames)),
        "eight pages to populate, three frames"
    );
    // The page table may keep a table it allocated; the pages' frames are all back.
    assert_eq!(owned(&set), before);
    assert_eq!(
        set.find(deep + 8 * PAGE_SIZE).unwrap().range().start,
        populated - 16 * MIB
    );
}
