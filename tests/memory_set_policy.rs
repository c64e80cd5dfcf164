//! `MemorySet`'s placement policies over the test kit's Sv39 table: Linux's
//! layout keeps the stack guard gap through splits and merges, and
//! `FirstFit` aligns and refuses overflow.

use range_action_map::linux::{GrowsDown, LinuxLayout, StackRlimit};
use range_action_map::memory_set::{
    ByFrame, Lazy, MemoryAttr, MemoryError, MemorySet, PageTable, PAGE_SIZE,
};
use range_action_map::{MapError, Window};
use range_action_map_testkit::{CountingFrameAllocator, SoftPageTable};

/// An Sv39 process laid out by Linux's rules: a `ByFrame` stack that
/// grows down below `mmap_base`, then an area placed below its guard
/// gap; a split keeps the bit on both sides, and a merge only joins
/// equal bits.
#[test]
fn linux_policy_keeps_the_guard_gap_through_splits_and_merges() {
    let layout = LinuxLayout::for_task_size(1 << 38, StackRlimit::DEFAULT);
    let window = Window::new(layout.mmap_min_addr(), layout.task_size()).unwrap();
    let fa = CountingFrameAllocator::new(32);
    let mut set =
        MemorySet::with_policy(layout, window, SoftPageTable::new(fa.memory()), fa.clone());
    let (rw, base, guard) = (
        MemoryAttr::new().set_user(),
        layout.mmap_base(),
        layout.guard_gap(),
    );

    let stack = set
        .map_anywhere_grows_down(0, 4 * PAGE_SIZE, PAGE_SIZE, rw, ByFrame::new())
        .unwrap();
    assert_eq!(stack, base - 4 * PAGE_SIZE);
    let below = set.map_anywhere(0, PAGE_SIZE, PAGE_SIZE, rw, Lazy::new());
    assert_eq!(below, Ok(stack - guard - PAGE_SIZE));

    // An ordinary neighbour does not merge with the stack; a grows-down
    // one does.
    set.push(base, base + PAGE_SIZE, rw, ByFrame::new())
        .unwrap();
    set.push_grows_down(stack - PAGE_SIZE, stack, rw, ByFrame::new())
        .unwrap();
    assert_eq!(set.len(), 3);
    assert_eq!(set.find(stack).unwrap().range(), stack - PAGE_SIZE..base);

    set.protect(stack, stack + PAGE_SIZE, rw.set_readonly())
        .unwrap();
    assert_eq!(set.len(), 5);
    let bits: Vec<_> = set.iter().map(GrowsDown::grows_down).collect();
    assert_eq!(bits, [false, true, true, true, false]);
    assert_eq!(
        set.page_table().translate(stack).map(|(_, attr)| attr),
        Some(rw.set_readonly())
    );
    // The five stack pages and the neighbour, plus the tables.
    assert_eq!(fa.live(), 6 + set.page_table().table_frames());
    drop(set);
    assert_eq!(fa.live(), 0);
}

/// `FirstFit` pads a large alignment and rounds up; an overflowing pad
/// or hint is an error, not a panic.
#[test]
fn first_fit_aligns_and_refuses_overflow() {
    let fa = CountingFrameAllocator::new(8);
    let mut set = MemorySet::new(SoftPageTable::new(fa.memory()), fa.clone());
    let rw = MemoryAttr::new().set_user();
    let lazy = Lazy::new();
    assert_eq!(
        set.map_anywhere(0x1000, 0x1000, 0x10000, rw, lazy),
        Ok(0x10000)
    );
    let huge = usize::MAX & !(PAGE_SIZE - 1);
    assert!(matches!(
        set.map_anywhere(0, huge, 1 << 20, rw, lazy),
        Err(MemoryError::Map(MapError::Overflow { .. }))
    ));
    assert!(matches!(
        set.map_anywhere(usize::MAX, 0x1000, PAGE_SIZE, rw, lazy),
        Err(MemoryError::Map(MapError::NoSpace { .. }))
    ));
    assert_eq!(set.len(), 1);
}
