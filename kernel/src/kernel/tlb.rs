//! TLB shootdowns: [`HartTable`], the Sv39 table of every address space, whose
//! [`flush_tlb`](PageTable::flush_tlb) (once per `MemorySet` operation) flushes this hart and
//! sends one SBI remote fence to the other harts that translate through the table now.
//!
//! Every address space has ASID 0, and every `satp` write is followed by a flush of the whole
//! TLB ([`load_satp`]): a hart caches the translations of the table it runs on now, and of no
//! other. [`ROOTS`] says which table that is for each hart; a process that moves to the other
//! hart, or a space the other hart ran on before, needs no shootdown, a space the other hart
//! runs on now does (the kernel's, which both harts share).

use core::ops::Range;
use core::sync::atomic::{fence, AtomicUsize, Ordering};

use range_action_map::memory_set::{
    FrameAllocator, Leaf, MemoryAttr, PageSize, PageTable, PagingError,
};
use range_action_map_adapters::page_table_multiarch::Sv39Table;

use super::frames::Frames;
use super::hart::{self, MAX_HARTS};

/// The root table each hart's `satp` points at (0: none, the hart is stopped or on the boot
/// table).
static ROOTS: [AtomicUsize; MAX_HARTS] = [const { AtomicUsize::new(0) }; MAX_HARTS];

/// Remote fences sent so far.
static REMOTE_FENCES: AtomicUsize = AtomicUsize::new(0);

/// How many remote fences were sent so far.
pub fn remote_fences() -> usize {
    REMOTE_FENCES.load(Ordering::SeqCst)
}

/// Points this hart's `satp` at the Sv39 root `root` (ASID 0) and flushes its whole TLB.
///
/// # Safety
///
/// The table maps all the kernel uses at the addresses it has now.
pub unsafe fn load_satp(root: usize) {
    // Before the switch: a change to the table from now on reaches this hart, and one before
    // is seen by its walks after the flush below.
    ROOTS[hart::id()].store(root, Ordering::SeqCst);
    // SAFETY: the code, stack and data the next instruction uses stay where they are (the
    // caller's promise); the flush drops every translation of the table before.
    unsafe {
        riscv::register::satp::set(riscv::register::satp::Mode::Sv39, 0, root >> 12);
        riscv::asm::sfence_vma_all();
    }
}

/// This hart stops using its table (it is about to stop): no shootdown needs to reach it.
pub fn leave() {
    ROOTS[hart::id()].store(0, Ordering::SeqCst);
}

/// `page_table_multiarch`'s Sv39 table over the kernel's frames, whose TLB flush reaches every
/// hart that runs on it.
pub struct HartTable(Sv39Table<Frames>);

impl HartTable {
    /// A table with an empty root.
    ///
    /// # Safety
    ///
    /// As [`Sv39Table::try_new`]: every frame of [`Frames`] is mapped at `pa + PHYS_OFFSET`
    /// (`Frames::phys_to_virt`) in every kernel address space, and is used by its holder alone.
    pub unsafe fn try_new() -> Result<Self, PagingError> {
        // SAFETY: the caller's promise.
        unsafe { Sv39Table::try_new() }.map(HartTable)
    }

    /// The root table's physical address, for `satp`.
    pub fn root_paddr(&self) -> usize {
        self.0.root_paddr()
    }

    /// How many tables below the root the table holds.
    pub fn table_frames(&self) -> usize {
        self.0.table_frames()
    }
}

impl PageTable for HartTable {
    fn page_sizes(&self) -> &'static [PageSize] {
        self.0.page_sizes()
    }

    fn map(
        &mut self,
        va: usize,
        pa: usize,
        size: PageSize,
        attr: MemoryAttr,
        frames: &mut impl FrameAllocator,
    ) -> Result<(), PagingError> {
        self.0.map(va, pa, size, attr, frames)
    }

    fn unmap(&mut self, va: usize) -> Result<Leaf, PagingError> {
        self.0.unmap(va)
    }

    fn protect(&mut self, va: usize, attr: MemoryAttr) -> Result<MemoryAttr, PagingError> {
        self.0.protect(va, attr)
    }

    fn remap(&mut self, va: usize, pa: usize, attr: MemoryAttr) -> Result<usize, PagingError> {
        self.0.remap(va, pa, attr)
    }

    fn split(&mut self, va: usize, frames: &mut impl FrameAllocator) -> Result<(), PagingError> {
        self.0.split(va, frames)
    }

    fn query(&self, va: usize) -> Option<Leaf> {
        self.0.query(va)
    }

    fn next_mapped(&self, start: usize, end: usize) -> Option<usize> {
        self.0.next_mapped(start, end)
    }

    fn next_leaf(&self, start: usize, end: usize) -> Option<Leaf> {
        self.0.next_leaf(start, end)
    }

    /// Flushes `range` on this hart, then on the other harts whose `satp` points at this
    /// table, with one SBI remote fence (which returns once they flushed).
    fn flush_tlb(&mut self, range: Range<usize>) {
        self.0.flush_tlb(range.clone());
        // The entries changed before are seen by a hart that loads this table after the
        // `ROOTS` read below (it stores its root first, then flushes).
        fence(Ordering::SeqCst);
        let (me, root) = (hart::id(), self.root_paddr());
        let others = (0..MAX_HARTS)
            .filter(|&hart| hart != me && ROOTS[hart].load(Ordering::SeqCst) == root)
            .fold(0, |mask, hart| mask | 1 << hart);
        if others != 0 {
            REMOTE_FENCES.fetch_add(1, Ordering::SeqCst);
            let mask = sbi_rt::HartMask::from_mask_base(others, 0);
            let fenced = sbi_rt::remote_sfence_vma(mask, range.start, range.len());
            assert!(
                fenced.is_ok(),
                "remote sfence.vma to harts {others:#b}: {fenced:?}"
            );
        }
    }

    fn destroy(&mut self, frames: &mut impl FrameAllocator) {
        self.0.destroy(frames)
    }
}
