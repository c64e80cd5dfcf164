//! `MemorySet` over lazy areas far larger than what is mapped in them (a
//! runtime's address-space reservation, an `mmap(PROT_NONE)` guard): every
//! operation must cost the pages mapped and the tables visited, never the
//! area's size, or a system call on such an area is a denial of service.
//!
//! A wrapper page table counts the calls `MemorySet` makes and panics past a
//! budget, so a page-by-page walk fails at its first operation; a walk that
//! makes no call at all (a loop that skips every page) is caught by a
//! deadline instead. After every step the software Sv39 table is walked in
//! full and the frame allocator's books are balanced.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::panic;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use range_action_map::memory_set::{
    Access, FaultError, FrameAllocator, Lazy, Leaf, MemoryAttr, MemoryError, MemorySet, PageSize,
    PageTable, PagingError, PAGE_SIZE,
};
use range_action_map_testkit::{CountingFrameAllocator, SoftPageTable};

/// 1 GiB.
const GIB: usize = 1 << 30;
/// The first address of Sv39's upper half.
const HIGH_BOTTOM: usize = 0xffff_ffc0_0000_0000;
/// The highest page-aligned end an area can have.
const TOP_END: usize = usize::MAX & !(PAGE_SIZE - 1);

// === a page table that counts its calls ===

/// Page-table calls one operation may make before [`Counted`] fails the test.
/// The smallest area here has 2^26 pages: a page-by-page walk of it makes
/// millions.
const BUDGET: usize = 10_000;

/// The software Sv39 table, with every [`PageTable`] call counted.
struct Counted {
    inner: SoftPageTable,
    calls: Cell<usize>,
}

impl Counted {
    fn new(frames: &CountingFrameAllocator) -> Self {
        Counted {
            inner: SoftPageTable::new(frames.memory()),
            calls: Cell::new(0),
        }
    }

    /// Counts one call, and fails the test past the budget (unless it is
    /// unwinding already: a second panic would abort every test).
    fn tick(&self) {
        let calls = self.calls.get() + 1;
        self.calls.set(calls);
        assert!(
            calls <= BUDGET || thread::panicking(),
            "{calls} page-table calls in one operation: a lazy area is walked page by page"
        );
    }

    /// The calls made since the last `take_calls`.
    fn take_calls(&self) -> usize {
        self.calls.replace(0)
    }
}

impl PageTable for Counted {
    fn page_sizes(&self) -> &'static [PageSize] {
        self.inner.page_sizes()
    }

    fn map(
        &mut self,
        va: usize,
        pa: usize,
        size: PageSize,
        attr: MemoryAttr,
        frames: &mut impl FrameAllocator,
    ) -> Result<(), PagingError> {
        self.tick();
        self.inner.map(va, pa, size, attr, frames)
    }

    fn unmap(&mut self, va: usize) -> Result<Leaf, PagingError> {
        self.tick();
        self.inner.unmap(va)
    }

    fn protect(&mut self, va: usize, attr: MemoryAttr) -> Result<MemoryAttr, PagingError> {
        self.tick();
        self.inner.protect(va, attr)
    }

    fn remap(&mut self, va: usize, pa: usize, attr: MemoryAttr) -> Result<usize, PagingError> {
        self.tick();
        self.inner.remap(va, pa, attr)
    }

    fn split(&mut self, va: usize, frames: &mut impl FrameAllocator) -> Result<(), PagingError> {
        self.tick();
        self.inner.split(va, frames)
    }

    fn query(&self, va: usize) -> Option<Leaf> {
        self.tick();
        self.inner.query(va)
    }

    fn next_mapped(&self, start: usize, end: usize) -> Option<usize> {
        self.tick();
        self.inner.next_mapped(start, end)
    }

    fn flush_tlb(&mut self, range: std::ops::Range<usize>) {
        self.tick();
        self.inner.flush_tlb(range);
    }

    fn destroy(&mut self, frames: &mut impl FrameAllocator) {
        self.tick();
        self.inner.destroy(frames);
    }
}

type Set = MemorySet<Counted, CountingFrameAllocator>;

fn setup(frames: usize) -> (CountingFrameAllocator, Set) {
    let fa = CountingFrameAllocator::new(frames);
    let set = MemorySet::new(Counted::new(&fa), fa.clone());
    (fa, set)
}

fn rw() -> MemoryAttr {
    MemoryAttr::new().set_user()
}

fn ro() -> MemoryAttr {
    rw().set_readonly()
}

fn rx() -> MemoryAttr {
    ro().set_execute()
}

// === oracles ===

/// Asserts that the operations since the last check made *O*(`pages`)
/// page-table calls: at most 4 per page concerned, plus 8 for the operation
/// (the huge-page splits at its bounds and its TLB flush).
#[track_caller]
fn assert_cost(set: &Set, pages: usize) {
    let calls = set.page_table().take_calls();
    assert!(
        calls <= 4 * pages + 8,
        "{calls} page-table calls for {pages} mapped pages"
    );
}

/// Asserts that `set` maps exactly `expected` (by a full walk of its table),
/// each page to its own live frame.
#[track_caller]
fn assert_mapped(set: &Set, fa: &CountingFrameAllocator, expected: &[(usize, MemoryAttr)]) {
    let pages: Vec<_> = set.page_table().inner.mapped_pages().collect();
    let mapped: Vec<_> = pages.iter().map(|&(va, _, attr)| (va, attr)).collect();
    assert_eq!(mapped, expected);
    let mut frames: Vec<_> = pages.iter().map(|&(_, pa, _)| pa).collect();
    assert!(frames.iter().all(|&pa| fa.is_live(pa)));
    frames.sort_unstable();
    frames.dedup();
    assert_eq!(frames.len(), pages.len(), "a frame is mapped twice");
}

/// The frames `sets` hold: their table frames and the frames their pages map (once each,
/// however many of the sets map it).
fn frames_held(sets: &[&Set]) -> usize {
    let tables: usize = sets
        .iter()
        .map(|s| s.page_table().inner.table_frames())
        .sum();
    let frames: BTreeSet<usize> = (sets.iter())
        .flat_map(|s| s.page_table().inner.mapped_pages().map(|(_, pa, _)| pa))
        .collect();
    tables + frames.len()
}

/// The first byte of the frame `va` maps in `set`.
fn first_byte(set: &Set, fa: &CountingFrameAllocator, va: usize) -> u8 {
    let (pa, _) = set.page_table().inner.translate(va).expect("mapped");
    let mut byte = [0];
    fa.read(pa, 0, &mut byte);
    byte[0]
}

/// Runs `scenario` on a thread and fails if it has not finished in 30 s: a
/// loop over every page of these areas never finishes, and the test must
/// fail rather than hang.
fn within_deadline(scenario: fn()) {
    let (done, finished) = mpsc::channel();
    let worker = thread::spawn(move || {
        scenario();
        // The receiver is gone only if the deadline passed.
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(30)) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => {
            if let Err(payload) = worker.join() {
                panic::resume_unwind(payload);
            }
        }
        Err(RecvTimeoutError::Timeout) => {
            panic!("not finished in 30 s: an operation walks a lazy area page by page")
        }
    }
}

// === tests ===

#[test]
fn lazy_area_of_the_whole_lower_half_costs_what_is_mapped() {
    within_deadline(lower_half_scenario);
}

/// A lazy area of 256 GiB (2^26 pages) with three pages faulted in: pushed,
/// protected whole and in part, forked and unmapped.
fn lower_half_scenario() {
    let (mut fa, mut set) = setup(64);
    let area = 0x1000..1 << 38;
    let pages = [area.start, 1 << 37, area.end - PAGE_SIZE];

    set.push(area.start, area.end, rw(), Lazy::new()).unwrap();
    assert_eq!(set.page_table().take_calls(), 0);
    assert_eq!(fa.live(), 0);

    for (byte, va) in (1..).zip(pages) {
        set.handle_page_fault(va + 8, Access::Write).unwrap();
        assert_cost(&set, 1);
        let (pa, _) = set.page_table().inner.translate(va).expect("faulted in");
        fa.write(pa, 0, &[byte]);
    }
    assert_mapped(&set, &fa, &pages.map(|va| (va, rw())));
    assert_eq!(fa.live(), frames_held(&[&set]));

    set.protect(area.start, area.end, ro()).unwrap();
    assert_cost(&set, 3);
    assert_mapped(&set, &fa, &pages.map(|va| (va, ro())));

    // Split in three; only the middle piece's one page changes.
    set.protect(GIB, area.end - GIB, rx()).unwrap();
    assert_cost(&set, 1);
    assert_eq!(set.len(), 3);
    let split = [(pages[0], ro()), (pages[1], rx()), (pages[2], ro())];
    assert_mapped(&set, &fa, &split);

    let child = set.clone_for_fork(Counted::new(&fa)).unwrap();
    // The parent's pages are visited twice: shared with the child, then write-protected.
    assert_cost(&set, 2 * 3);
    assert_cost(&child, 3);
    assert_eq!(child.to_string(), set.to_string());
    assert_mapped(&child, &fa, &split);
    for (byte, va) in (1..).zip(pages) {
        assert_eq!(first_byte(&child, &fa, va), byte);
        assert_eq!(
            child.page_table().inner.translate(va),
            set.page_table().inner.translate(va)
        );
    }
    assert_eq!(fa.live(), frames_held(&[&set, &child]));

    // Remove the first piece and cut the middle one: one page goes.
    set.unmap(area.start, pages[1]).unwrap();
    assert_cost(&set, 1);
    assert_mapped(&set, &fa, &split[1..]);
    assert_eq!(fa.live(), frames_held(&[&set, &child]));

    let mut child = child;
    child.unmap(area.start, area.end).unwrap();
    assert_cost(&child, 3);
    assert!(child.is_empty());
    assert_mapped(&child, &fa, &[]);
    assert_eq!(fa.live(), frames_held(&[&set, &child]));

    drop(child);
    drop(set);
    assert_eq!(fa.live(), 0);
}

#[test]
fn lazy_area_up_to_the_top_of_the_address_space_costs_what_is_mapped() {
    within_deadline(upper_half_scenario);
}

/// The lazy area `[0x40_0000_1000, usize::MAX & !0xfff)`, 2^64 bytes less a
/// few pages, across Sv39's non-canonical hole and its whole upper half.
fn upper_half_scenario() {
    let (fa, mut set) = setup(64);
    let start = 0x40_0000_1000;
    let pages = [HIGH_BOTTOM, HIGH_BOTTOM + 0x1234_5000, TOP_END - PAGE_SIZE];

    set.push(start, TOP_END, rw(), Lazy::new()).unwrap();
    assert_eq!(set.page_table().take_calls(), 0);

    // The hole is in the area, but the table cannot map it.
    assert_eq!(
        set.handle_page_fault(start, Access::Read),
        Err(FaultError::Paging(PagingError::OutOfRange { addr: start }))
    );
    assert_cost(&set, 1);
    assert_eq!(fa.live(), 0);
    for va in pages {
        set.handle_page_fault(va, Access::Execute).unwrap_err();
        set.handle_page_fault(va, Access::Read).unwrap();
        assert_cost(&set, 1);
    }
    assert_mapped(&set, &fa, &pages.map(|va| (va, rw())));

    set.protect(start, TOP_END, rx()).unwrap();
    assert_cost(&set, 3);
    assert_mapped(&set, &fa, &pages.map(|va| (va, rx())));
    assert_eq!(fa.live(), frames_held(&[&set]));

    let mut child = set.clone_for_fork(Counted::new(&fa)).unwrap();
    assert_cost(&set, 2 * 3);
    assert_cost(&child, 3);
    assert_mapped(&child, &fa, &pages.map(|va| (va, rx())));
    assert_eq!(fa.live(), frames_held(&[&set, &child]));

    // Unmap everything but the last page, then the rest.
    set.unmap(start, TOP_END - PAGE_SIZE).unwrap();
    assert_cost(&set, 2);
    assert_mapped(&set, &fa, &[(pages[2], rx())]);
    set.unmap(start, TOP_END).unwrap();
    assert_cost(&set, 1);
    child.unmap(start, TOP_END).unwrap();
    assert_cost(&child, 3);
    assert_mapped(&set, &fa, &[]);
    assert_mapped(&child, &fa, &[]);
    assert_eq!(fa.live(), frames_held(&[&set, &child]));

    drop((set, child));
    assert_eq!(fa.live(), 0);
}

#[test]
fn lazy_fork_out_of_frames_rolls_back_the_child() {
    within_deadline(fork_out_of_frames_scenario);
}

/// A fork that runs out of frames on the second of three lazy pages tears its
/// partial child down; the parent is unchanged.
fn fork_out_of_frames_scenario() {
    let (mut fa, mut set) = setup(64);
    let pages = [0x1000, 1 << 37, (1 << 38) - PAGE_SIZE];
    set.push(0x1000, 1 << 38, rw(), Lazy::new()).unwrap();
    for va in pages {
        set.handle_page_fault(va, Access::Write).unwrap();
    }
    set.page_table().take_calls();
    // The child's first page needs 3 tables and a frame; leave one more.
    let before = fa.live();
    let hog: Vec<_> = std::iter::from_fn(|| {
        (fa.capacity() - fa.live() > 5).then(|| fa.alloc().expect("a free frame"))
    })
    .collect();

    let child = Counted::new(&fa);
    assert!(matches!(
        set.clone_for_fork(child),
        Err(MemoryError::Paging(PagingError::OutOfFrames))
    ));
    assert_cost(&set, 3);
    assert_mapped(&set, &fa, &pages.map(|va| (va, rw())));
    for pa in hog {
        fa.dealloc(pa);
    }
    assert_eq!(fa.live(), before);
    drop(set);
    assert_eq!(fa.live(), 0);
}
