//! Huge pages: `Linear` and `Device` areas take 2 MiB and 1 GiB leaves wherever the alignment
//! allows, and a change to part of a huge page splits it first, keeping every other
//! translation; a split that finds no frame changes nothing.

use range_action_map::memory_set::{
    Device, Leaf, Linear, MemoryAttr, MemoryError, MemorySet, PageSize, PageTable, PagingError,
    PAGE_SIZE,
};
use range_action_map_testkit::{CountingFrameAllocator, SoftPageTable};

type Set = MemorySet<SoftPageTable, CountingFrameAllocator>;

const MIB2: usize = 2 << 20;
const GIB: usize = 1 << 30;
/// A kernel's linear map: virtual `pa + OFFSET`.
const OFFSET: usize = 0xffff_ffc0_0000_0000;

fn setup(
    pt: fn(range_action_map_testkit::PhysMemory) -> SoftPageTable,
) -> (CountingFrameAllocator, Set) {
    let fa = CountingFrameAllocator::new(1024);
    let set = MemorySet::new(pt(fa.memory()), fa.clone());
    (fa, set)
}

fn sizes(set: &Set) -> Vec<PageSize> {
    set.page_table()
        .leaves()
        .iter()
        .map(|leaf| leaf.size)
        .collect()
}

/// Every 4 KiB translation of `[start, end)`, sampled every `step` bytes.
fn translations(
    set: &Set,
    start: usize,
    end: usize,
    step: usize,
) -> Vec<Option<(usize, MemoryAttr)>> {
    (start..end)
        .step_by(step)
        .map(|va| set.page_table().translate(va))
        .collect()
}

#[test]
#[cfg_attr(miri, ignore = "maps a thousand leaves: minutes under Miri")]
fn a_gib_of_linear_map_is_one_leaf_and_one_table() {
    let (fa, mut huge) = setup(SoftPageTable::new);
    huge.push(
        OFFSET + GIB,
        OFFSET + 2 * GIB,
        MemoryAttr::new(),
        Linear::new(OFFSET),
    )
    .unwrap();
    assert_eq!(sizes(&huge), [PageSize::Size1G]);
    assert_eq!(huge.page_table().table_frames(), 1);
    assert_eq!(
        huge.page_table().translate(OFFSET + GIB + 0x1234),
        Some((GIB + 0x1234, MemoryAttr::new()))
    );

    // Without huge pages: one leaf per page.
    let blocks = 64;
    let (_, mut flat) = setup(SoftPageTable::without_huge_pages);
    let end = OFFSET + GIB + blocks * MIB2;
    flat.push(OFFSET + GIB, end, MemoryAttr::new(), Linear::new(OFFSET))
        .unwrap();
    assert_eq!(flat.page_table().leaves().len(), blocks * 512);
    assert_eq!(flat.page_table().table_frames(), 1 + 1 + blocks);
    drop(huge);
    assert_eq!(fa.live(), 0);
}

#[test]
#[cfg_attr(miri, ignore = "maps a thousand leaves: minutes under Miri")]
fn an_unaligned_linear_area_takes_small_pages_up_to_the_alignment() {
    let (_fa, mut set) = setup(SoftPageTable::new);
    let start = OFFSET + MIB2 - 2 * PAGE_SIZE;
    set.push(
        start,
        start + 2 * PAGE_SIZE + 2 * MIB2 + PAGE_SIZE,
        MemoryAttr::new(),
        Linear::new(OFFSET),
    )
    .unwrap();
    use PageSize::*;
    assert_eq!(sizes(&set), [Size4K, Size4K, Size2M, Size2M, Size4K]);
    // Physical and virtual alignment disagree: 4 KiB pages only.
    let skewed = OFFSET + 8 * MIB2;
    set.push(
        skewed,
        skewed + MIB2,
        MemoryAttr::new(),
        Linear::new(OFFSET + PAGE_SIZE),
    )
    .unwrap();
    assert_eq!(set.page_table().leaves().len(), 5 + 512);
}

#[test]
#[cfg_attr(miri, ignore = "tears down a thousand leaves: minutes under Miri")]
fn unmapping_part_of_a_huge_page_splits_it_and_keeps_the_rest() {
    let (fa, mut set) = setup(SoftPageTable::new);
    let start = OFFSET + GIB;
    set.push(start, start + GIB, MemoryAttr::new(), Linear::new(OFFSET))
        .unwrap();
    let before = translations(&set, start, start + GIB, 3 * MIB2 + 5 * PAGE_SIZE);
    let hole = start + 3 * MIB2 + 7 * PAGE_SIZE..start + 3 * MIB2 + 9 * PAGE_SIZE;
    set.unmap(hole.start, hole.end).unwrap();
    assert_eq!(set.len(), 2);
    let after = translations(&set, start, start + GIB, 3 * MIB2 + 5 * PAGE_SIZE);
    assert_eq!(after, before, "no page outside the hole moved");
    assert_eq!(set.page_table().translate(hole.start), None);
    assert_eq!(set.page_table().translate(hole.end - 1), None);
    assert_eq!(
        set.page_table()
            .query(hole.end)
            .map(|leaf: Leaf| (leaf.va, leaf.size)),
        Some((hole.end, PageSize::Size4K))
    );
    // One 1 GiB leaf became 511 + 511 + 510 pieces: two tables.
    assert_eq!(set.page_table().table_frames(), 3);
    assert_eq!(set.page_table().flushes(), 1);
    drop(set);
    assert_eq!(fa.live(), 0);
}

#[test]
fn protecting_part_of_a_huge_page_splits_it() {
    let (_fa, mut set) = setup(SoftPageTable::new);
    let start = OFFSET + 4 * MIB2;
    set.push(
        start,
        start + 2 * MIB2,
        MemoryAttr::new(),
        Device::new(OFFSET),
    )
    .unwrap();
    assert_eq!(sizes(&set), [PageSize::Size2M; 2]);
    let ro = MemoryAttr::new().set_readonly();
    let half = start + MIB2 / 2;
    set.protect(half, start + MIB2, ro).unwrap();
    let device = MemoryAttr::new().set_device();
    assert_eq!(set.page_table().translate(start), Some((4 * MIB2, device)));
    assert_eq!(
        set.page_table().translate(half),
        Some((4 * MIB2 + MIB2 / 2, ro.set_device()))
    );
    // The second leaf stays whole.
    assert_eq!(set.page_table().leaves().len(), 512 + 1);
    set.protect(half, start + MIB2, MemoryAttr::new()).unwrap();
    assert_eq!(set.len(), 1, "merged back");
    assert_eq!(
        set.page_table().translate(half),
        Some((4 * MIB2 + MIB2 / 2, device))
    );
}

#[test]
fn a_split_without_a_frame_refuses_the_unmap_and_changes_nothing() {
    let (fa, mut set) = setup(SoftPageTable::new);
    let start = OFFSET + GIB;
    set.push(start, start + GIB, MemoryAttr::new(), Linear::new(OFFSET))
        .unwrap();
    fa.set_budget(Some(1));
    let got = set.unmap(start + PAGE_SIZE, start + 2 * PAGE_SIZE);
    assert_eq!(got, Err(MemoryError::Paging(PagingError::OutOfFrames)));
    assert_eq!(set.len(), 1);
    assert_eq!(
        set.page_table().translate(start + PAGE_SIZE),
        Some((GIB + PAGE_SIZE, MemoryAttr::new()))
    );
    let got = set.protect(
        start + PAGE_SIZE,
        start + 2 * PAGE_SIZE,
        MemoryAttr::new().set_readonly(),
    );
    assert_eq!(got, Err(MemoryError::Paging(PagingError::OutOfFrames)));
    assert_eq!(set.iter().next().unwrap().attr(), MemoryAttr::new());
    fa.set_budget(None);
    set.unmap(start + PAGE_SIZE, start + 2 * PAGE_SIZE).unwrap();
}

#[test]
fn a_fork_maps_the_same_huge_leaves() {
    let (fa, mut set) = setup(SoftPageTable::new);
    set.push(
        OFFSET + GIB,
        OFFSET + GIB + 4 * MIB2,
        MemoryAttr::new(),
        Linear::new(OFFSET),
    )
    .unwrap();
    let child = set.clone_for_fork(SoftPageTable::new(fa.memory())).unwrap();
    assert_eq!(child.page_table().leaves(), set.page_table().leaves());
    assert_eq!(sizes(&child), [PageSize::Size2M; 4]);
}
