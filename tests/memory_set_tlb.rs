//! The TLB: every operation that unmaps pages or takes permissions away flushes once, after
//! changing the table and before any frame goes back to the allocator. The software page
//! table's simulated TLB keeps serving stale translations until it is flushed, and the frame
//! allocator refuses to free a frame a TLB still maps, so a missing or late flush fails here.

use std::ops::Range;

use range_action_map::memory_set::{
    Access, ByFrame, FaultError, FrameAllocator, MemoryAttr, MemoryHandler, MemorySet, PageContext,
    PageTable, PagingError, Shared, PAGE_SIZE,
};
use range_action_map_testkit::{mmu, CountingFrameAllocator, SoftPageTable};

type Set = MemorySet<SoftPageTable, CountingFrameAllocator>;

const A: usize = 0x10000;

fn setup(frames: usize) -> (CountingFrameAllocator, Set) {
    let fa = CountingFrameAllocator::new(frames);
    let set = MemorySet::new(SoftPageTable::new(fa.memory()), fa.clone());
    (fa, set)
}

fn rw() -> MemoryAttr {
    MemoryAttr::new().set_user()
}

#[test]
fn a_munmap_of_512_pages_flushes_once_then_frees_their_frames() {
    // Fewer pages under Miri, which runs every access.
    let pages = if cfg!(miri) { 32 } else { 512 };
    let (fa, mut set) = setup(600);
    set.push(A, A + pages * PAGE_SIZE, rw(), ByFrame::new())
        .unwrap();
    for va in (A..A + pages * PAGE_SIZE).step_by(PAGE_SIZE) {
        mmu::read::<4, _>(&mut set, va);
    }
    assert_eq!(set.page_table().tlb_entries(), pages);
    let flushes = set.page_table().flushes();
    set.unmap(A, A + pages * PAGE_SIZE).unwrap();
    assert_eq!(
        set.page_table().flushes(),
        flushes + 1,
        "one flush, not one per page"
    );
    assert_eq!(set.page_table().tlb_entries(), 0);
    assert_eq!(fa.live(), set.page_table().table_frames());
}

#[test]
fn operations_that_take_nothing_away_do_not_flush() {
    let (_fa, mut set) = setup(64);
    set.push(A, A + 4 * PAGE_SIZE, rw().set_readonly(), ByFrame::new())
        .unwrap();
    mmu::read::<4, _>(&mut set, A);
    set.protect(A, A + 4 * PAGE_SIZE, rw()).unwrap();
    set.protect(A, A + 4 * PAGE_SIZE, rw().set_execute())
        .unwrap();
    mmu::store(&mut set, A, b"fine").unwrap();
    set.unmap(A + 8 * PAGE_SIZE, A + 9 * PAGE_SIZE).unwrap();
    assert_eq!(set.page_table().flushes(), 0);
}

#[test]
fn a_write_after_mprotect_read_only_faults_through_a_warm_tlb() {
    let (_fa, mut set) = setup(64);
    set.push(A, A + 2 * PAGE_SIZE, rw(), ByFrame::new())
        .unwrap();
    mmu::store(&mut set, A, b"warm").unwrap();
    set.protect(A, A + 2 * PAGE_SIZE, rw().set_readonly())
        .unwrap();
    assert_eq!(set.page_table().flushes(), 1);
    let attr = rw().set_readonly();
    assert_eq!(
        mmu::store(&mut set, A, b"cold"),
        Err(FaultError::AccessViolation {
            addr: A,
            access: Access::Write,
            attr
        })
    );
    assert_eq!(mmu::read::<4, _>(&mut set, A), *b"warm");
}

#[test]
fn a_fork_flushes_the_parents_writable_translations() {
    let (fa, mut parent) = setup(64);
    parent.push(A, A + PAGE_SIZE, rw(), ByFrame::new()).unwrap();
    mmu::store(&mut parent, A, b"old!").unwrap();
    let mut child = parent
        .clone_for_fork(SoftPageTable::new(fa.memory()))
        .unwrap();
    assert_eq!(parent.page_table().flushes(), 1);
    // Through a stale writable entry the parent would write into the shared frame.
    mmu::store(&mut parent, A, b"mine").unwrap();
    assert_eq!(mmu::read::<4, _>(&mut child, A), *b"old!");
    assert_eq!(mmu::read::<4, _>(&mut parent, A), *b"mine");
}

#[test]
fn a_copy_on_write_copy_flushes_the_old_translation_and_an_in_place_break_does_not() {
    let (fa, mut parent) = setup(64);
    parent.push(A, A + PAGE_SIZE, rw(), ByFrame::new()).unwrap();
    mmu::store(&mut parent, A, b"old!").unwrap();
    let mut child = parent
        .clone_for_fork(SoftPageTable::new(fa.memory()))
        .unwrap();
    mmu::read::<4, _>(&mut child, A);
    mmu::store(&mut child, A, b"copy").unwrap();
    assert_eq!((fa.copies(), child.page_table().flushes()), (1, 1));
    mmu::store(&mut parent, A, b"last").unwrap();
    assert_eq!(
        (fa.copies(), parent.page_table().flushes()),
        (1, 1),
        "the fork's flush only"
    );
}

#[test]
fn shared_memory_flushes_when_unmapped_and_keeps_the_frame_for_the_other_side() {
    let (fa, mut one) = setup(64);
    one.push(A, A + PAGE_SIZE, rw(), Shared::new()).unwrap();
    let mut two = one.clone_for_fork(SoftPageTable::new(fa.memory())).unwrap();
    mmu::store(&mut one, A, b"both").unwrap();
    assert_eq!(mmu::read::<4, _>(&mut two, A), *b"both");
    one.unmap(A, A + PAGE_SIZE).unwrap();
    assert_eq!(one.page_table().tlb_entries(), 0);
    assert_eq!(mmu::read::<4, _>(&mut two, A), *b"both");
    drop(two);
    assert_eq!(fa.live(), one.page_table().table_frames());
}

/// Private anonymous memory that, wrongly, frees a frame right after unmapping it.
#[derive(Clone, Debug)]
struct FreesBeforeTheFlush;

impl std::fmt::Display for FreesBeforeTheFlush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[eager free]")
    }
}

impl<PT: PageTable, FA: FrameAllocator> MemoryHandler<PT, FA> for FreesBeforeTheFlush {
    fn box_clone(&self) -> Box<dyn MemoryHandler<PT, FA>> {
        Box::new(self.clone())
    }

    fn map(
        &self,
        cx: &mut PageContext<PT, FA>,
        range: Range<usize>,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        cx.map_new_frames(range, attr)
    }

    fn unmap(&self, cx: &mut PageContext<PT, FA>, range: Range<usize>) {
        for va in range.step_by(PAGE_SIZE) {
            if let Ok(leaf) = cx.pt.unmap(va) {
                cx.fa.dealloc(leaf.pa);
            }
        }
    }

    fn fork(
        &self,
        _: &PT,
        _: &mut PageContext<PT, FA>,
        _: Range<usize>,
        _: MemoryAttr,
    ) -> Result<(), PagingError> {
        Ok(())
    }
}

#[test]
#[should_panic(expected = "freed while a TLB entry still maps it: a TLB flush is missing")]
fn a_frame_freed_before_its_flush_is_caught() {
    let (_fa, mut set) = setup(64);
    set.push(A, A + PAGE_SIZE, rw(), FreesBeforeTheFlush)
        .unwrap();
    mmu::read::<4, _>(&mut set, A);
    let _ = set.unmap(A, A + PAGE_SIZE);
}
