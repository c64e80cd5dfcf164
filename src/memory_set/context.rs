//! [`PageContext`]: the page table and frame allocator of one address space, and the page-level
//! steps every [`MemoryHandler`](super::MemoryHandler) is made of.

use core::ops::{Deref, Range};

use spin::RwLockReadGuard;

use super::attr::MemoryAttr;
use super::page_table::{FrameAllocator, Leaf, PageSize, PageTable, PagingError, PAGE_SIZE};
use super::tlb::TlbGather;

/// The page table and frame allocator of one address space: the `Args` the map hands to every
/// [`MemoryArea`](super::MemoryArea) callback, and what a
/// [`MemoryHandler`](super::MemoryHandler) works on.
///
/// Its methods are the steps handlers are made of, each keeping the frame books (a page maps a
/// frame and, if the frame is the allocator's, holds one reference to it) and the TLB's: a
/// leaf they unmap or take a permission from goes into the [`TlbGather`], and the reference
/// its frame loses waits there for the flush at the end of the set's operation. A handler
/// that changes [`pt`](Self::pt) itself must do the same through [`tlb`](Self::tlb).
pub struct PageContext<PT, FA> {
    /// The address space's page table.
    pub pt: PT,
    /// The frame allocator, shared (by cloning) with the address space's forks.
    pub fa: FA,
    /// What the current operation must flush, and the frames waiting for it.
    pub tlb: TlbGather,
}

impl<PT: PageTable, FA: FrameAllocator> PageContext<PT, FA> {
    /// A context over `pt` and `fa`, with nothing gathered.
    pub(super) fn new(pt: PT, fa: FA) -> Self {
        PageContext {
            pt,
            fa,
            tlb: TlbGather::new(),
        }
    }

    /// Ends an operation: flushes the gathered pages from the TLB, once, then drops the
    /// references that waited for it.
    pub(super) fn flush_tlb(&mut self) {
        if let Some(range) = self.tlb.take_range() {
            self.pt.flush_tlb(range);
        }
        for pa in self.tlb.drain_frames() {
            self.fa.dealloc(pa);
        }
    }

    /// Splits the huge leaves that cover `addr` so that one starts there
    /// ([`PageTable::split_at`]): before a change to a range that starts or ends at `addr`.
    ///
    /// # Errors
    ///
    /// [`PagingError::OutOfFrames`] when a new table finds no frame; no translation changed.
    pub(super) fn split_at(&mut self, addr: usize) -> Result<(), PagingError> {
        self.pt.split_at(addr, &mut self.fa)
    }

    /// Maps page `va` to the frame `pa` with `attr`. Who holds the frame's references is the
    /// caller's business.
    ///
    /// # Errors
    ///
    /// The page table's (see [`PageTable::map`]); nothing is then mapped.
    pub fn map_frame(&mut self, va: usize, pa: usize, attr: MemoryAttr) -> Result<(), PagingError> {
        self.pt.map(va, pa, PageSize::Size4K, attr, &mut self.fa)
    }

    /// Maps `range` to the physical run from `pa` with `attr`, with huge pages where the table
    /// has them and the alignment allows ([`PageTable::map_range`]): a linear map. The frames
    /// are no one's: no reference is taken.
    ///
    /// # Errors
    ///
    /// As [`PageTable::map_range`]; the leaves mapped before the failure stay mapped, for the
    /// caller to unmap.
    pub fn map_linear(
        &mut self,
        range: Range<usize>,
        pa: usize,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        let len = range.end - range.start;
        self.pt.map_range(range.start, pa, len, attr, &mut self.fa)
    }

    /// Maps page `va` to a fresh frame with `attr`, zeroed or, with `copy_from`, a copy of that
    /// frame; the mapping holds the frame's one reference. Returns the frame.
    ///
    /// # Errors
    ///
    /// [`PagingError::OutOfFrames`] when no frame is left, or the page table's error; no frame
    /// is then kept and nothing is mapped.
    pub fn map_new_frame(
        &mut self,
        va: usize,
        attr: MemoryAttr,
        copy_from: Option<usize>,
    ) -> Result<usize, PagingError> {
        let pa = self.fa.alloc().ok_or(PagingError::OutOfFrames)?;
        if let Some(src) = copy_from {
            self.fa.copy_frame(src, pa);
        }
        match self.map_frame(va, pa, attr) {
            Ok(()) => Ok(pa),
            Err(error) => {
                self.fa.dealloc(pa);
                Err(error)
            }
        }
    }

    /// Maps every page of `range` to a fresh zeroed frame with `attr`.
    ///
    /// # Errors
    ///
    /// As [`map_new_frame`](Self::map_new_frame); the pages mapped before the failure stay
    /// mapped, for the caller to unmap.
    pub fn map_new_frames(
        &mut self,
        range: Range<usize>,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        range
            .step_by(PAGE_SIZE)
            .try_for_each(|va| self.map_new_frame(va, attr, None).map(drop))
    }

    /// Calls `f(self, leaf)` on each mapped leaf of `range`, in address order. Leaves are
    /// found through [`PageTable::next_mapped`], so absent tables are skipped whole:
    /// *O*(leaves mapped + tables visited), however large the range. The set splits huge
    /// leaves at the bounds of every range it changes, so each leaf lies inside `range`.
    pub fn for_each_mapped(&mut self, range: Range<usize>, mut f: impl FnMut(&mut Self, Leaf)) {
        let mut from = range.start;
        // Loop invariant: `f` has seen every mapped leaf of `[range.start, from)`.
        while let Some(leaf) = next_leaf(&self.pt, from, range.end) {
            from = leaf.range().end;
            f(self, leaf);
        }
    }

    /// Unmaps every mapped leaf of `range`; with `release`, drops the reference each of them
    /// held on its frame, once the TLB is flushed.
    pub fn unmap_pages(&mut self, range: Range<usize>, release: bool) {
        self.for_each_mapped(range, |cx, leaf| {
            let unmapped = cx.pt.unmap(leaf.va);
            debug_assert!(unmapped.is_ok(), "inconsistent state: {unmapped:?}");
            if unmapped.is_ok() {
                cx.tlb.add_range(leaf.range());
                if release {
                    cx.tlb.release_after_flush(leaf.pa);
                }
            }
        });
    }

    /// Gives the mapped `leaf` the attributes `attr`, gathering it for a TLB flush if that
    /// takes a permission away.
    ///
    /// # Errors
    ///
    /// [`PagingError::NotMapped`] if the leaf is not mapped.
    pub fn set_attr(&mut self, leaf: Leaf, attr: MemoryAttr) -> Result<(), PagingError> {
        let old = self.pt.protect(leaf.va, attr)?;
        if !attr.only_adds_to(old) {
            self.tlb.add_range(leaf.range());
        }
        Ok(())
    }

    /// Writes `attr` into every mapped leaf of `range`. With `copy_on_write`, a page whose
    /// frame has other references (a fork's other side, a page cache) stays read-only, so that
    /// its first write faults and copies it.
    pub fn protect_pages(&mut self, range: Range<usize>, attr: MemoryAttr, copy_on_write: bool) {
        self.for_each_mapped(range, |cx, leaf| {
            let shared = copy_on_write && cx.fa.ref_count(leaf.pa) > 1;
            let attr = if shared { attr.set_readonly() } else { attr };
            let set = cx.set_attr(leaf, attr);
            debug_assert!(set.is_ok(), "inconsistent state: {set:?}");
        });
    }

    /// Maps into this (a fork child's) table every leaf of `range` that `parent` maps, to the
    /// same frames, with `attr`; with `add_ref`, each new mapping takes a reference to its
    /// frame. The parent is not changed.
    ///
    /// # Errors
    ///
    /// The page table's; the leaves mapped before the failure stay mapped (and counted), for
    /// the caller to unmap.
    pub fn map_pages_of(
        &mut self,
        parent: &PT,
        range: Range<usize>,
        attr: MemoryAttr,
        add_ref: bool,
    ) -> Result<(), PagingError> {
        let mut from = range.start;
        // Loop invariant: every leaf of `[range.start, from)` that the parent maps, this maps.
        while let Some(leaf) = next_leaf(parent, from, range.end) {
            self.pt
                .map(leaf.va, leaf.pa, leaf.size, attr, &mut self.fa)?;
            if add_ref {
                self.fa.add_ref(leaf.pa);
            }
            from = leaf.range().end;
        }
        Ok(())
    }

    /// Makes the mapped page `va` of a private area writable with `attr` after a write fault:
    /// in place if its mapping holds the frame's only reference, otherwise by pointing the page
    /// at a fresh copy of the frame and dropping its reference to the old one once the old
    /// translation is flushed (copy-on-write).
    ///
    /// # Errors
    ///
    /// [`PagingError::OutOfFrames`] when the copy finds no frame, [`PagingError::NotMapped`]
    /// if `va` is not mapped; nothing is then changed.
    pub fn break_cow(&mut self, va: usize, attr: MemoryAttr) -> Result<(), PagingError> {
        let leaf = self.pt.query(va).ok_or(PagingError::NotMapped { va })?;
        if self.fa.ref_count(leaf.pa) == 1 {
            return self.set_attr(leaf, attr);
        }
        let copy = self.fa.alloc().ok_or(PagingError::OutOfFrames)?;
        self.fa.copy_frame(leaf.pa, copy);
        if let Err(error) = self.pt.remap(va, copy, attr) {
            self.fa.dealloc(copy);
            return Err(error);
        }
        self.tlb.add_range(leaf.range());
        self.tlb.release_after_flush(leaf.pa);
        Ok(())
    }
}

/// The lowest mapped leaf of `[from, end)` in `pt`.
fn next_leaf<PT: PageTable>(pt: &PT, from: usize, end: usize) -> Option<Leaf> {
    let leaf = pt.next_leaf(from, end)?;
    // The set splits huge leaves at the bounds of every range it changes, so
    // the leaf lies inside; one outside the range would make the caller's walk
    // go back or overflow: the table is wrong, and its answer is dropped.
    let inside = leaf.va >= from && leaf.va % PAGE_SIZE == 0 && leaf.range().end <= end;
    debug_assert!(
        inside,
        "inconsistent state: next_leaf({from:#x}, {end:#x}) returned {leaf:?}"
    );
    let crosses = leaf.va < end && leaf.range().end > from;
    crosses.then_some(leaf)
}

/// A part of a locked [`PageContext`] (its page table, its frame allocator), borrowed for as
/// long as the lock is held.
pub(super) struct Locked<'a, C, T> {
    guard: RwLockReadGuard<'a, C>,
    part: fn(&C) -> &T,
}

impl<'a, C, T> Locked<'a, C, T> {
    /// The `part` of what `guard` locks.
    pub(super) fn new(guard: RwLockReadGuard<'a, C>, part: fn(&C) -> &T) -> Self {
        Locked { guard, part }
    }
}

impl<C, T> Deref for Locked<'_, C, T> {
    type Target = T;

    fn deref(&self) -> &T {
        (self.part)(&self.guard)
    }
}
