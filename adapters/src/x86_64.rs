//! [`PageTable`] over the `x86_64` crate's [`OffsetPageTable`] (0.15): [`OffsetTable`].
//!
//! An `OffsetPageTable` reaches its tables through a window onto all of physical memory at a
//! fixed virtual offset, and takes a frame allocator per call, as [`PageTable::map`] does:
//! the adapter hands it a thin wrapper over the set's [`FrameAllocator`], so every table,
//! the root included, comes from and goes back to the set's allocator.
//!
//! # How the adapter uses the crate
//!
//! - [`map`](PageTable::map) is the crate's `map_to_with_table_flags` for 4 KiB, 2 MiB and
//!   1 GiB pages (1 GiB pages need a CPU with `pdpe1gb`), with parent flags
//!   `PRESENT | WRITABLE`, plus `USER_ACCESSIBLE` for a user page: x86 checks the user bit
//!   at every level, and the crate adds the flags to parent entries that lack them. The leaf
//!   decides: a kernel page under a user-accessible parent stays kernel-only.
//! - [`unmap`](PageTable::unmap) and [`protect`](PageTable::protect) are the crate's `unmap`
//!   and `update_flags` for the leaf's size.
//! - Attributes are the crate's [`PageTableFlags`]: `!WRITABLE` read-only, `NO_EXECUTE`
//!   (which needs `EFER.NXE`) unless executable, `USER_ACCESSIBLE`, `NO_CACHE |
//!   WRITE_THROUGH` for device memory, `GLOBAL`. All of [`MemoryAttr`] is expressible.
//!
//! # What the crate cannot express
//!
//! - **Split** and **remap**: `Mapper` has neither. The adapter writes the entries itself
//!   through the crate's [`PageTableEntry`]: a split fills a new table with the 512 smaller
//!   leaves and swaps it for the huge leaf in one store (unmapping it and mapping 512 leaves
//!   would leave the range unmapped in between, fatal for a kernel's own linear map), and a
//!   remap rewrites the entry's frame and flags in one store.
//! - **A 4 KiB map under a huge page**: the crate adds the parent flags to the huge entry
//!   before it notices that it is one (`create_next_table`), which would make a kernel huge
//!   page writable and user-accessible. The adapter refuses such a map before calling it.
//! - **Finding mapped pages**: the crate's `translate` looks at one address. The adapter's
//!   [`next_mapped`](PageTable::next_mapped) walks the raw entries of the range, skipping an
//!   absent entry with everything below it: *O*(entries read).
//! - **Freeing tables**: `CleanUp` frees only the tables that map nothing, and never the
//!   root. [`destroy`](PageTable::destroy) frees them all, root included.
//! - **Flushing global pages**: `tlb::flush_all` reloads `CR3`, which keeps global
//!   translations. The adapter's whole-TLB flush toggles `CR4.PGE` instead, which drops them
//!   too.
//!
//! [`PageTableEntry`]: ::x86_64::structures::paging::page_table::PageTableEntry
//! [`PageTableFlags`]: ::x86_64::structures::paging::PageTableFlags

use core::fmt;
use core::ops::Range;

use ::x86_64::structures::paging::mapper::{
    FlagUpdateError, MapToError, Mapper, OffsetPageTable, UnmapError,
};
use ::x86_64::structures::paging::{
    FrameAllocator as X86FrameAllocator, Page, PageSize as X86PageSize, PageTable as X86Table,
    PageTableFlags as Flags, PhysFrame, Size1GiB, Size2MiB, Size4KiB,
};
use ::x86_64::{PhysAddr, VirtAddr};

use crate::raw::{
    check_map, free_below_root, is_canonical, leaf_covering, leaf_starting_at, level_of, make_room,
    size_at, span, Node, RawTables, Slot, SIZES,
};
use range_action_map::memory_set::{
    FrameAllocator, Leaf, MemoryAttr, PageSize, PageTable, PagingError,
};

/// The `x86_64` crate's four-level [`OffsetPageTable`] as a [`PageTable`]: 4 KiB, 2 MiB and
/// 1 GiB leaves, every table (the root included) from the set's [`FrameAllocator`], the root
/// allocated by the first [`map`](PageTable::map).
///
/// # Invariants
///
/// Every table frame reachable from the root can be read and written at `phys_offset` plus
/// its physical address, and nothing else in the program holds a reference to it: the
/// promise of [`new`](Self::new)'s caller.
///
/// # Examples
///
/// ```no_run
/// use range_action_map_adapters::x86_64::OffsetTable;
/// use range_action_map::memory_set::{ByFrame, MemoryAttr, MemorySet};
/// # use range_action_map::memory_set::FrameAllocator;
/// # #[derive(Clone)] struct Frames;
/// # impl FrameAllocator for Frames {
/// #     fn alloc(&mut self) -> Option<usize> { None }
/// #     fn dealloc(&mut self, _: usize) {}
/// #     fn add_ref(&mut self, _: usize) {}
/// #     fn ref_count(&self, _: usize) -> usize { 1 }
/// #     fn copy_frame(&mut self, _: usize, _: usize) {}
/// # }
/// # let frames = Frames;
///
/// // SAFETY: the bootloader mapped all physical memory at this offset, and the frames
/// // `frames` hands out are referenced by nothing else.
/// let table = unsafe { OffsetTable::new(0xffff_8000_0000_0000) }?;
/// let mut set = MemorySet::new(table, frames);
/// set.push(0x40_0000, 0x40_4000, MemoryAttr::new().set_user(), ByFrame::new())?;
/// let cr3 = set.page_table().root_paddr(); // for Cr3::write when the process runs
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct OffsetTable {
    /// Where physical memory is mapped.
    phys_offset: VirtAddr,
    /// The level-4 table, once the first `map` made it.
    root: Option<PhysFrame>,
    /// Table frames held, the root included.
    tables: usize,
    /// Calls to [`flush_tlb`](PageTable::flush_tlb).
    flushes: usize,
}

impl OffsetTable {
    /// An empty table, over physical memory mapped at `phys_offset`; it owns no frame until
    /// the first [`map`](PageTable::map).
    ///
    /// # Errors
    ///
    /// [`PagingError::OutOfRange`] if `phys_offset` is not a canonical address.
    ///
    /// # Safety
    ///
    /// For as long as the table lives, every frame that the [`FrameAllocator`]s passed to
    /// [`map`](PageTable::map) and [`split`](PageTable::split) hand out must be readable and
    /// writable at `phys_offset` plus its physical address, and nothing else may access those
    /// frames while the table holds them: `OffsetPageTable::new`'s contract, for every table.
    pub unsafe fn new(phys_offset: usize) -> Result<Self, PagingError> {
        let offset = VirtAddr::try_new(phys_offset as u64);
        let phys_offset = offset.map_err(|_| PagingError::OutOfRange { addr: phys_offset })?;
        // INVARIANT: no table yet; the caller vouches for those to come.
        Ok(OffsetTable {
            phys_offset,
            root: None,
            tables: 0,
            flushes: 0,
        })
    }

    /// The physical address of the level-4 table, for `CR3` (`None` before the first
    /// [`map`](PageTable::map), and after [`destroy`](PageTable::destroy)).
    pub fn root_paddr(&self) -> Option<usize> {
        self.root.map(|root| root.start_address().as_u64() as usize)
    }

    /// How many table frames the table holds, the root included.
    pub fn table_frames(&self) -> usize {
        self.tables
    }

    /// How many times [`flush_tlb`](PageTable::flush_tlb) was called.
    pub fn flushes(&self) -> usize {
        self.flushes
    }

    /// The crate's view of the table, to use its own API (`translate`, ...), or `None`
    /// before the first [`map`](PageTable::map). Tables it allocates through another
    /// allocator are given to the set's by [`destroy`](PageTable::destroy).
    pub fn mapper(&mut self) -> Option<OffsetPageTable<'_>> {
        let root = self.root?;
        // SAFETY: the root is a table frame mapped at the offset by the type's invariants;
        // `&mut self` makes this the only reference to it for the mapper's lifetime.
        let level_4 = unsafe { &mut *self.table_ptr(root.start_address().as_u64() as usize) };
        // SAFETY: every table below is mapped at the offset too (the type's invariants).
        Some(unsafe { OffsetPageTable::new(level_4, self.phys_offset) })
    }

    /// Where the table frame `pa` is mapped.
    fn table_ptr(&self, pa: usize) -> *mut X86Table {
        let virt = self.phys_offset.as_u64().wrapping_add(pa as u64);
        core::ptr::with_exposed_provenance_mut(virt as usize)
    }

    /// The table frame `pa`, to read.
    fn table(&self, pa: usize) -> &X86Table {
        // SAFETY: a table frame reachable from the root, mapped at the offset by the type's
        // invariants; `&self` excludes the mapper's and this type's `&mut` accesses.
        unsafe { &*self.table_ptr(pa) }
    }

    /// The table frame `pa`, to write.
    fn table_mut(&mut self, pa: usize) -> &mut X86Table {
        // SAFETY: as in `table`; `&mut self` makes the reference the only one.
        unsafe { &mut *self.table_ptr(pa) }
    }

    /// The leaf at `slot` (of a leaf entry), which covers `va`.
    fn leaf(&self, slot: Slot, va: usize) -> Leaf {
        let entry = &self.table(slot.table)[slot.index];
        let size = span(slot.level);
        Leaf {
            va: va - va % size,
            pa: entry.addr().as_u64() as usize,
            size: size_at(slot.level),
            attr: attr_of(entry.flags()),
        }
    }

    /// The level-4 table, made from `frames` if there is none yet.
    fn root_or_alloc(&mut self, frames: &mut impl FrameAllocator) -> Result<(), PagingError> {
        if self.root.is_none() {
            let mut bridge = Bridge { frames, taken: 0 };
            let root = bridge.allocate_frame().ok_or(PagingError::OutOfFrames)?;
            // INVARIANT: a fresh frame from `frames`, which the caller of `new` vouched for.
            self.root = Some(root);
            self.tables += 1;
        }
        Ok(())
    }
}

impl RawTables for OffsetTable {
    const ROOT_LEVEL: u32 = 3;
    const VA_BITS: u32 = 48;

    fn root(&self) -> Option<usize> {
        self.root_paddr()
    }

    fn node(&self, table: usize, level: u32, index: usize) -> Node {
        let entry = &self.table(table)[index];
        let flags = entry.flags();
        if !flags.contains(Flags::PRESENT) {
            Node::Absent
        } else if level == 0 || flags.contains(Flags::HUGE_PAGE) {
            Node::Leaf
        } else {
            Node::Table(entry.addr().as_u64() as usize)
        }
    }

    fn clear(&mut self, slot: Slot) {
        self.table_mut(slot.table)[slot.index].set_unused();
    }

    fn table_freed(&mut self) {
        self.tables -= 1;
    }
}

impl PageTable for OffsetTable {
    fn page_sizes(&self) -> &'static [PageSize] {
        SIZES
    }

    /// Maps through the crate's `map_to_with_table_flags`, which allocates the missing tables
    /// from `frames`; an empty table where a huge leaf goes is given back first.
    ///
    /// # Errors
    ///
    /// As [`PageTable::map`]; tables made before an [`PagingError::OutOfFrames`] stay, empty.
    fn map(
        &mut self,
        va: usize,
        pa: usize,
        size: PageSize,
        attr: MemoryAttr,
        frames: &mut impl FrameAllocator,
    ) -> Result<(), PagingError> {
        check_map::<Self>(va, pa, size, |last| PhysAddr::try_new(last as u64).is_ok())?;
        make_room(self, va, level_of(size), frames)?;
        self.root_or_alloc(frames)?;
        let (flags, mut bridge) = (flags_of(attr), Bridge { frames, taken: 0 });
        let parent = Flags::PRESENT | Flags::WRITABLE | (flags & Flags::USER_ACCESSIBLE);
        let mut mapper = self.mapper().expect("a root");
        let mapped = match size {
            PageSize::Size4K => map_to::<Size4KiB>(&mut mapper, va, pa, flags, parent, &mut bridge),
            PageSize::Size2M => map_to::<Size2MiB>(&mut mapper, va, pa, flags, parent, &mut bridge),
            PageSize::Size1G => map_to::<Size1GiB>(&mut mapper, va, pa, flags, parent, &mut bridge),
        };
        self.tables += bridge.taken;
        mapped
    }

    fn unmap(&mut self, va: usize) -> Result<Leaf, PagingError> {
        let slot = leaf_starting_at(self, va)?;
        let leaf = self.leaf(slot, va);
        let mut mapper = self.mapper().expect("a leaf, so a root");
        let unmapped = match leaf.size {
            PageSize::Size4K => unmap::<Size4KiB>(&mut mapper, va),
            PageSize::Size2M => unmap::<Size2MiB>(&mut mapper, va),
            PageSize::Size1G => unmap::<Size1GiB>(&mut mapper, va),
        };
        unmapped.map(|()| leaf)
    }

    fn protect(&mut self, va: usize, attr: MemoryAttr) -> Result<MemoryAttr, PagingError> {
        let slot = leaf_starting_at(self, va)?;
        let old = self.leaf(slot, va);
        let (flags, mut mapper) = (flags_of(attr), self.mapper().expect("a leaf, so a root"));
        match old.size {
            PageSize::Size4K => update_flags::<Size4KiB>(&mut mapper, va, flags),
            PageSize::Size2M => update_flags::<Size2MiB>(&mut mapper, va, flags),
            PageSize::Size1G => update_flags::<Size1GiB>(&mut mapper, va, flags),
        }?;
        Ok(old.attr)
    }

    /// Rewrites the entry's frame and flags in one store (the crate's `Mapper` has no remap).
    fn remap(&mut self, va: usize, pa: usize, attr: MemoryAttr) -> Result<usize, PagingError> {
        let slot = leaf_starting_at(self, va)?;
        if slot.level != 0 {
            return Err(PagingError::HugePage { va });
        }
        check_map::<Self>(va, pa, PageSize::Size4K, |last| {
            PhysAddr::try_new(last as u64).is_ok()
        })?;
        let old = self.leaf(slot, va);
        let entry = &mut self.table_mut(slot.table)[slot.index];
        entry.set_addr(PhysAddr::new(pa as u64), flags_of(attr));
        Ok(old.pa)
    }

    /// Fills a new table from `frames` with the 512 smaller leaves, then swaps it for the huge
    /// leaf in one store (the crate's `Mapper` has no split).
    fn split(&mut self, va: usize, frames: &mut impl FrameAllocator) -> Result<(), PagingError> {
        let slot = match leaf_starting_at(self, va) {
            Ok(slot) if slot.level > 0 => slot,
            _ => return Err(PagingError::NotMapped { va }),
        };
        let huge = self.table(slot.table)[slot.index].clone();
        let mut bridge = Bridge { frames, taken: 0 };
        let table = bridge.allocate_frame().ok_or(PagingError::OutOfFrames)?;
        self.tables += 1;
        let level = slot.level - 1;
        let mut flags = huge.flags();
        // At level 0, bit 7 is PAT, not a page size.
        flags.set(Flags::HUGE_PAGE, level > 0);
        let new = self.table_mut(table.start_address().as_u64() as usize);
        for (index, entry) in new.iter_mut().enumerate() {
            entry.set_addr(huge.addr() + (index * span(level)) as u64, flags);
        }
        let parent = Flags::PRESENT | Flags::WRITABLE | (flags & Flags::USER_ACCESSIBLE);
        self.table_mut(slot.table)[slot.index].set_frame(table, parent);
        Ok(())
    }

    fn query(&self, va: usize) -> Option<Leaf> {
        if !is_canonical(va, Self::VA_BITS) {
            return None;
        }
        let slot = leaf_covering(self, va)?;
        Some(self.leaf(slot, va))
    }

    /// Walks the raw entries of the range: *O*(entries read), at most 512 per table visited.
    fn next_mapped(&self, start: usize, end: usize) -> Option<usize> {
        crate::raw::next_mapped(self, start, end)
    }

    /// Flushes the local CPU's TLB with `invlpg` page by page, or whole by toggling
    /// `CR4.PGE`, which drops global translations too (bare-metal x86-64 only, where the
    /// instructions are allowed: elsewhere it only counts).
    fn flush_tlb(&mut self, range: Range<usize>) {
        self.flushes += 1;
        #[cfg(all(target_arch = "x86_64", target_os = "none"))]
        crate::raw::flush_range(
            range,
            |va| ::x86_64::instructions::tlb::flush(VirtAddr::new_truncate(va as u64)),
            flush_all_with_globals,
        );
        #[cfg(not(all(target_arch = "x86_64", target_os = "none")))]
        let _ = range;
    }

    /// Gives every table, the root included, back to `frames`: the table is empty and usable.
    fn destroy(&mut self, frames: &mut impl FrameAllocator) {
        free_below_root(self, frames);
        if let Some(root) = self.root.take() {
            frames.dealloc(root.start_address().as_u64() as usize);
            self.tables -= 1;
        }
    }
}

impl fmt::Debug for OffsetTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OffsetTable")
            .field("phys_offset", &self.phys_offset)
            .field("root", &self.root.map(|root| root.start_address()))
            .field("table_frames", &self.tables)
            .field("flushes", &self.flushes)
            .finish()
    }
}

/// Invalidates every TLB entry of this CPU, global ones included: clearing `CR4.PGE` does
/// (a `CR3` reload keeps them), and setting it again turns global pages back on.
#[cfg(all(target_arch = "x86_64", target_os = "none"))]
fn flush_all_with_globals() {
    use ::x86_64::registers::control::{Cr4, Cr4Flags};
    let flags = Cr4::read();
    if flags.contains(Cr4Flags::PAGE_GLOBAL) {
        // SAFETY: only the global-page bit changes, and it is back as it was on return; with
        // interrupts possibly taken in between, the CPU merely runs without global pages.
        unsafe {
            Cr4::write(flags - Cr4Flags::PAGE_GLOBAL);
            Cr4::write(flags);
        }
    } else {
        ::x86_64::instructions::tlb::flush_all();
    }
}

/// The set's [`FrameAllocator`] as the crate's: the frames of the tables the crate makes.
struct Bridge<'a, F> {
    frames: &'a mut F,
    /// Frames handed out.
    taken: usize,
}

// SAFETY: every frame handed out is a fresh one `frames` allocated for it (a
// `FrameAllocator` hands out each free frame once), so it is unused, as the crate requires.
unsafe impl<F: FrameAllocator> X86FrameAllocator<Size4KiB> for Bridge<'_, F> {
    fn allocate_frame(&mut self) -> Option<PhysFrame> {
        let pa = self.frames.alloc()?;
        let addr = PhysAddr::try_new(pa as u64).ok();
        match addr.and_then(|addr| PhysFrame::from_start_address(addr).ok()) {
            Some(frame) => {
                self.taken += 1;
                Some(frame)
            }
            None => {
                // A frame the entries cannot hold is as good as none.
                self.frames.dealloc(pa);
                None
            }
        }
    }
}

/// The page of size `S` at `va`, which is a multiple of it (checked by the caller).
fn page<S: X86PageSize>(va: usize) -> Page<S> {
    Page::containing_address(VirtAddr::new(va as u64))
}

/// `map_to_with_table_flags` for a page of size `S`; `va` and `pa` are checked.
fn map_to<S: X86PageSize>(
    mapper: &mut OffsetPageTable<'_>,
    va: usize,
    pa: usize,
    flags: Flags,
    parent: Flags,
    frames: &mut impl X86FrameAllocator<Size4KiB>,
) -> Result<(), PagingError>
where
    for<'a> OffsetPageTable<'a>: Mapper<S>,
{
    let frame = PhysFrame::<S>::containing_address(PhysAddr::new(pa as u64));
    // SAFETY: the page is unmapped (the caller made room, and the crate refuses otherwise),
    // so no value the program holds there changes; what the new mapping lets a program
    // reach is the contract of `OffsetTable::new`'s caller and of the set's handlers.
    let flush = unsafe { mapper.map_to_with_table_flags(page(va), frame, flags, parent, frames) };
    // Nothing to flush: an absent translation is never cached.
    flush
        .map(|flush| flush.ignore())
        .map_err(|error| match error {
            MapToError::FrameAllocationFailed => PagingError::OutOfFrames,
            MapToError::ParentEntryHugePage | MapToError::PageAlreadyMapped(_) => {
                PagingError::AlreadyMapped { va }
            }
        })
}

/// The crate's `unmap` of the page of size `S` at `va`; the flush is the set's, later.
fn unmap<S: X86PageSize>(mapper: &mut OffsetPageTable<'_>, va: usize) -> Result<(), PagingError>
where
    for<'a> OffsetPageTable<'a>: Mapper<S>,
{
    let unmapped = Mapper::<S>::unmap(mapper, page(va));
    unmapped
        .map(|(_, flush)| flush.ignore())
        .map_err(|error| match error {
            UnmapError::ParentEntryHugePage => PagingError::HugePage { va },
            UnmapError::PageNotMapped => PagingError::NotMapped { va },
            UnmapError::InvalidFrameAddress(addr) => PagingError::Misaligned {
                addr: addr.as_u64() as usize,
            },
        })
}

/// The crate's `update_flags` of the page of size `S` at `va`; the flush is the set's, later.
fn update_flags<S: X86PageSize>(
    mapper: &mut OffsetPageTable<'_>,
    va: usize,
    flags: Flags,
) -> Result<(), PagingError>
where
    for<'a> OffsetPageTable<'a>: Mapper<S>,
{
    // SAFETY: the flags keep the page present and mapping the same frame; what the new
    // permissions allow is the set's to decide, and it flushes the TLB before any frame goes.
    let updated = unsafe { Mapper::<S>::update_flags(mapper, page(va), flags) };
    updated
        .map(|flush| flush.ignore())
        .map_err(|error| match error {
            FlagUpdateError::PageNotMapped => PagingError::NotMapped { va },
            FlagUpdateError::ParentEntryHugePage => PagingError::HugePage { va },
        })
}

/// The leaf flags for `attr`.
fn flags_of(attr: MemoryAttr) -> Flags {
    let mut flags = Flags::PRESENT;
    for (set, flag) in [
        (!attr.is_readonly(), Flags::WRITABLE),
        (!attr.is_execute(), Flags::NO_EXECUTE),
        (attr.is_user(), Flags::USER_ACCESSIBLE),
        (attr.is_device(), Flags::NO_CACHE | Flags::WRITE_THROUGH),
        (attr.is_global(), Flags::GLOBAL),
    ] {
        flags.set(flag, set);
    }
    flags
}

/// The attributes of a leaf with `flags`: the inverse of [`flags_of`].
fn attr_of(flags: Flags) -> MemoryAttr {
    let mut attr = MemoryAttr::new();
    for (set, with) in [
        (
            !flags.contains(Flags::WRITABLE),
            MemoryAttr::set_readonly as fn(_) -> _,
        ),
        (!flags.contains(Flags::NO_EXECUTE), MemoryAttr::set_execute),
        (flags.contains(Flags::USER_ACCESSIBLE), MemoryAttr::set_user),
        (flags.contains(Flags::NO_CACHE), MemoryAttr::set_device),
        (flags.contains(Flags::GLOBAL), MemoryAttr::set_global),
    ] {
        if set {
            attr = with(attr);
        }
    }
    attr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip_through_page_table_flags() {
        for bits in 0..32 {
            let attr = MemoryAttr::try_from(bits).expect("five flag bits");
            let flags = flags_of(attr);
            assert!(flags.contains(Flags::PRESENT));
            assert!(!flags.contains(Flags::HUGE_PAGE));
            assert_eq!(attr_of(flags), attr);
            // A huge leaf's size bit is no attribute.
            assert_eq!(attr_of(flags | Flags::HUGE_PAGE), attr);
        }
    }

    #[test]
    fn a_non_canonical_offset_is_refused() {
        let addr = 0x0000_8000_0000_0000;
        // SAFETY: the table is never used.
        let made = unsafe { OffsetTable::new(addr) };
        assert_eq!(made.err(), Some(PagingError::OutOfRange { addr }));
    }
}
