//! [`PageTable`] over ArceOS's `page_table_multiarch` (0.6): [`MultiarchTable`], with
//! `Sv39Table` and `Sv48Table` on RISC-V targets and `X64Table` on x86-64 ones.
//!
//! The crate's [`PageTable64`] is generic over the architecture's metadata
//! ([`PagingMetaData`]: levels, address widths, TLB flush), its entry format
//! ([`GenericPTE`]) and the kernel's [`PagingHandler`] (frames for tables, and where
//! physical memory is mapped). It compiles each architecture's metadata and entries only for
//! that architecture, so `Sv39Table` exists on RISC-V targets and `X64Table` on x86-64
//! ones (the documentation shows those of the target it was built for); [`MultiarchTable`] takes any metadata whose virtual addresses are sign extended and
//! any entry type that says where its global and device bits are ([`Entry`]).
//!
//! # How the adapter uses the crate
//!
//! - **Frames for tables.** The handler's functions are static and cannot see the `frames`
//!   a [`map`](PageTable::map) is given. The adapter installs the tables a leaf needs itself,
//!   with frames from `frames`, as the crate's own [`GenericPTE::new_table`] entries, then
//!   lets the crate map into them: the crate never allocates below the root. The root comes
//!   from the handler when the table is made ([`MultiarchTable::try_new`]; the crate has no
//!   constructor that takes one) and goes back to it when the table is dropped;
//!   [`destroy`](PageTable::destroy) gives every other table back to `frames`.
//! - **Leaves** are written by the crate's cursor ([`map`](PageTable::map),
//!   [`protect`](PageTable::protect), [`remap`](PageTable::remap),
//!   [`unmap`](PageTable::unmap)) whenever [`MappingFlags`] can express the attributes.
//! - **TLB.** On bare metal the crate flushes the pages a cursor touched when the cursor
//!   drops, once per call. The table runs it over [`Deferred`] metadata, whose flush does
//!   nothing, and flushes with the real metadata in [`flush_tlb`](PageTable::flush_tlb),
//!   once per `MemorySet` operation, as the set's TLB gather expects. It flushes the local
//!   CPU only, as the crate does: a kernel with several CPUs that share the table sends the
//!   shootdowns.
//!
//! # What the crate cannot express
//!
//! - **Global pages**: [`MappingFlags`] has no global bit. The adapter writes the entry's `G`
//!   bit ([`Entry::GLOBAL`]) itself.
//! - **Device memory on RISC-V**: the crate drops [`MappingFlags::DEVICE`] and
//!   [`MappingFlags::UNCACHED`] from an Sv39/Sv48 entry (except on XuanTie C9xx cores). The
//!   adapter writes Svpbmt's `PBMT = IO` ([`Entry::DEVICE`]) itself.
//!
//!   An entry with such a bit is written by the adapter in one store, with the bits the
//!   crate's [`GenericPTE::new_page`] makes plus its own, never by the crate first and
//!   patched after: in between, a device page would be mapped cacheable.
//! - **Unmap and protect of part of a huge page**: the crate's cursor acts on the leaf that
//!   covers the address, wherever it starts; the trait refuses with
//!   [`PagingError::HugePage`], so the adapter checks first. Likewise its `remap` rewrites an
//!   absent entry, and its `map` neither checks alignment nor canonical addresses: the
//!   adapter checks them as the test kit's table does.
//! - **Split**: the crate has none. The adapter splits in place: it fills a new table with
//!   the 512 smaller leaves and swaps it for the huge leaf in one store, so no translation
//!   disappears on the way (unmapping and mapping 512 leaves would leave the range unmapped
//!   in between, fatal for a kernel's own linear map), and a missing frame changes nothing.
//! - **Finding mapped pages**: the crate's `walk` visits every entry of the whole table, and
//!   has no range. [`next_mapped`](PageTable::next_mapped) walks the raw entries of the range
//!   only, skipping absent entries with all below them: *O*(entries read).
//! - **Global pages on x86-64, again**: the crate's whole-TLB flush reloads `CR3`, which
//!   keeps global translations; the adapter toggles `CR4.PGE` first
//!   ([`Entry::WHOLE_FLUSH_KEEPS_GLOBAL`]).
//! - **Errors**: the crate's [`PagingError`](::page_table_multiarch::PagingError) carries no
//!   address; the adapter adds the one it was working on.

use core::fmt;
use core::marker::PhantomData;
use core::ops::Range;

use ::page_table_multiarch::{
    GenericPTE, MappingFlags, PageTable64, PagingHandler, PagingMetaData,
};
use memory_addr::PhysAddr;

use crate::raw::{
    check_map, free_below_root, index_of, is_canonical, leaf_covering, leaf_starting_at, level_of,
    make_room, size_at, span, Node, RawTables, Slot, ENTRIES, SIZES,
};
use range_action_map::memory_set::{
    FrameAllocator, Leaf, MemoryAttr, PageSize, PageTable, PagingError,
};

/// An entry format of `page_table_multiarch`, with the bits [`MappingFlags`] cannot name.
///
/// # Implementing this trait
///
/// The entry must be the 64-bit word the hardware reads (as the crate's are: it views a
/// table frame as 512 of them), and the two constants bits of it that the crate's
/// [`GenericPTE`] methods never set on their own, or 0.
pub trait Entry: GenericPTE + 'static {
    /// The bit that makes a leaf global (in every address space).
    const GLOBAL: u64;
    /// The bits that make a leaf device memory where [`MappingFlags::DEVICE`] does not (0
    /// where it does).
    const DEVICE: u64;
    /// Whether the metadata's whole-TLB flush keeps global translations (x86's `CR3` reload
    /// does, RISC-V's `sfence.vma` does not): the table then drops them itself first.
    const WHOLE_FLUSH_KEEPS_GLOBAL: bool;
}

/// RISC-V Sv39/Sv48 entries: `G` is bit 5, and device memory is Svpbmt's `PBMT = IO`
/// (bits 61–62 = `0b10`).
#[cfg(any(target_arch = "riscv32", target_arch = "riscv64"))]
impl Entry for page_table_entry::riscv::Rv64PTE {
    const GLOBAL: u64 = 1 << 5;
    const DEVICE: u64 = 2 << 61;
    const WHOLE_FLUSH_KEEPS_GLOBAL: bool = false;
}

/// x86-64 entries: `G` is bit 8; device memory is the crate's uncached `PCD | PWT`.
#[cfg(target_arch = "x86_64")]
impl Entry for page_table_entry::x86_64::X64PTE {
    const GLOBAL: u64 = 1 << 8;
    const DEVICE: u64 = 0;
    const WHOLE_FLUSH_KEEPS_GLOBAL: bool = true;
}

/// The architecture metadata `M`, with the crate's TLB flush turned off: the table's cursor
/// flushes nothing, and [`MultiarchTable`] flushes with `M` in
/// [`flush_tlb`](PageTable::flush_tlb), once per `MemorySet` operation.
pub struct Deferred<M>(PhantomData<fn() -> M>);

impl<M: PagingMetaData> PagingMetaData for Deferred<M> {
    const LEVELS: usize = M::LEVELS;
    const PA_MAX_BITS: usize = M::PA_MAX_BITS;
    const VA_MAX_BITS: usize = M::VA_MAX_BITS;
    const PA_MAX_ADDR: usize = M::PA_MAX_ADDR;
    type VirtAddr = M::VirtAddr;

    fn paddr_is_valid(paddr: usize) -> bool {
        M::paddr_is_valid(paddr)
    }

    fn vaddr_is_valid(vaddr: usize) -> bool {
        M::vaddr_is_valid(vaddr)
    }

    /// Does nothing: see [`Deferred`].
    fn flush_tlb(_vaddr: Option<Self::VirtAddr>) {}
}

/// `page_table_multiarch`'s RISC-V Sv39 table (three levels, 39-bit virtual and 56-bit
/// physical addresses) as a [`PageTable`].
#[cfg(target_arch = "riscv64")]
pub type Sv39Table<H> = MultiarchTable<
    ::page_table_multiarch::riscv::Sv39MetaData<memory_addr::VirtAddr>,
    page_table_entry::riscv::Rv64PTE,
    H,
>;

/// `page_table_multiarch`'s RISC-V Sv48 table (four levels, 48-bit virtual addresses) as a
/// [`PageTable`].
#[cfg(target_arch = "riscv64")]
pub type Sv48Table<H> = MultiarchTable<
    ::page_table_multiarch::riscv::Sv48MetaData<memory_addr::VirtAddr>,
    page_table_entry::riscv::Rv64PTE,
    H,
>;

/// `page_table_multiarch`'s x86-64 table (four levels, 48-bit virtual and 52-bit physical
/// addresses) as a [`PageTable`].
#[cfg(target_arch = "x86_64")]
pub type X64Table<H> = MultiarchTable<
    ::page_table_multiarch::x86_64::X64PagingMetaData,
    page_table_entry::x86_64::X64PTE,
    H,
>;

/// A [`PageTable64`] of `page_table_multiarch` as a [`PageTable`]: 4 KiB, 2 MiB and 1 GiB
/// leaves, tables from the set's [`FrameAllocator`] (the root from the handler `H`).
///
/// `M` must have three or four levels and sign-extended (canonical) virtual addresses, as
/// Sv39, Sv48 and x86-64 have.
///
/// # Invariants
///
/// Every table frame reachable from the root (the root from `H`, the others from the
/// allocators passed to [`map`](PageTable::map) and [`split`](PageTable::split)) can be
/// read and written at `H::phys_to_virt` of its physical address, and nothing else in the
/// program holds a reference to it: the promise of [`try_new`](Self::try_new)'s caller.
///
/// # Examples
///
/// On x86-64, over a kernel's handler:
///
/// ```no_run
/// # #[cfg(target_arch = "x86_64")] {
/// use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
///
/// use memory_addr::{PhysAddr, VirtAddr};
/// use page_table_multiarch::PagingHandler;
/// use range_action_map_adapters::page_table_multiarch::X64Table;
///
/// /// The frames the kernel set aside for root tables, handed out by a bump pointer.
/// static NEXT_ROOT: AtomicUsize = AtomicUsize::new(0x10_0000);
/// const ROOTS_END: usize = 0x20_0000;
///
/// struct Kernel;
/// impl PagingHandler for Kernel {
///     fn alloc_frames(num: usize, align: usize) -> Option<PhysAddr> {
///         let (len, align) = (num.checked_mul(0x1000)?, align.max(0x1000));
///         let mut next = NEXT_ROOT.load(Relaxed);
///         loop {
///             let start = next.checked_next_multiple_of(align)?;
///             let end = start.checked_add(len).filter(|&end| end <= ROOTS_END)?;
///             match NEXT_ROOT.compare_exchange_weak(next, end, Relaxed, Relaxed) {
///                 Ok(_) => return Some(PhysAddr::from(start)),
///                 Err(now) => next = now,
///             }
///         }
///     }
///     // A bump pointer takes nothing back; a kernel's real allocator would.
///     fn dealloc_frames(_: PhysAddr, _: usize) {}
///     fn phys_to_virt(paddr: PhysAddr) -> VirtAddr {
///         VirtAddr::from(paddr.as_usize() + 0xffff_8000_0000_0000)
///     }
/// }
///
/// // SAFETY: all physical memory is mapped at `phys_to_virt`, and the frames the kernel's
/// // allocators hand out are not otherwise referenced.
/// let table = unsafe { X64Table::<Kernel>::try_new() }?;
/// let cr3 = table.root_paddr(); // for the CPU when the address space runs
/// # let _ = cr3; }
/// # Ok::<(), range_action_map::memory_set::PagingError>(())
/// ```
pub struct MultiarchTable<M: PagingMetaData, PTE: Entry, H: PagingHandler> {
    /// The crate's table, root from `H`, tables below it installed by the adapter.
    table: PageTable64<Deferred<M>, PTE, H>,
    /// Tables below the root, all from the allocators passed in.
    tables: usize,
    /// Calls to [`flush_tlb`](PageTable::flush_tlb).
    flushes: usize,
}

impl<M: PagingMetaData, PTE: Entry, H: PagingHandler> MultiarchTable<M, PTE, H> {
    /// An empty table, whose root frame comes from `H` (through the crate's `try_new`).
    ///
    /// # Errors
    ///
    /// [`PagingError::OutOfFrames`] if `H` has no frame for the root.
    ///
    /// # Safety
    ///
    /// For as long as the table lives, `H::phys_to_virt` must give a pointer valid for reads
    /// and writes of the whole 4 KiB frame for the root and for every frame that the
    /// [`FrameAllocator`]s passed to [`map`](PageTable::map) and [`split`](PageTable::split)
    /// hand out, and nothing else may access those frames while the table holds them (the
    /// crate dereferences them as the same promise from its handler; its `try_new` asks
    /// nothing of its caller, this one does).
    pub unsafe fn try_new() -> Result<Self, PagingError> {
        const {
            assert!(M::LEVELS == 3 || M::LEVELS == 4, "three or four levels");
            assert!(
                size_of::<PTE>() == 8 && align_of::<PTE>() == 8,
                "64-bit entries"
            );
        }
        // INVARIANT: the caller vouches for `H`; the root is the only table.
        let table = PageTable64::try_new().map_err(|error| paging_error(error, 0))?;
        Ok(MultiarchTable {
            table,
            tables: 0,
            flushes: 0,
        })
    }

    /// The physical address of the root table: what the CPU is given to use this table (RISC-V
    /// `satp`, x86 `CR3`).
    pub fn root_paddr(&self) -> usize {
        self.table.root_paddr().as_usize()
    }

    /// How many tables below the root the table holds (all from the allocators passed in).
    pub fn table_frames(&self) -> usize {
        self.tables
    }

    /// How many times [`flush_tlb`](PageTable::flush_tlb) was called.
    pub fn flushes(&self) -> usize {
        self.flushes
    }

    /// The crate's table, to read it with the crate's own API (`query`, `walk`).
    pub fn inner(&self) -> &PageTable64<Deferred<M>, PTE, H> {
        &self.table
    }

    /// The entries of the table at `table`.
    fn entries(table: usize) -> *mut PTE {
        let virt = H::phys_to_virt(PhysAddr::from(table)).as_usize();
        core::ptr::with_exposed_provenance_mut(virt)
    }

    /// The entry at `slot`.
    fn read(&self, slot: Slot) -> PTE {
        debug_assert!(slot.index < ENTRIES);
        // SAFETY: `slot.table` is a table frame reachable from the root, valid for reads at
        // `phys_to_virt` by the type's invariants, and `index < 512` stays inside it.
        unsafe { Self::entries(slot.table).add(slot.index).read() }
    }

    /// Stores `bits` in the entry at `slot`, in one write.
    fn store(&mut self, slot: Slot, bits: u64) {
        debug_assert!(slot.index < ENTRIES);
        // SAFETY: as in `read`, for writes, and `&mut self` excludes every other access
        // through this table; entries are 64-bit words (asserted in `try_new`).
        unsafe {
            Self::entries(slot.table)
                .add(slot.index)
                .cast::<u64>()
                .write(bits)
        }
    }

    /// The leaf at `slot` (of a leaf entry), which covers `va`.
    fn leaf(&self, slot: Slot, va: usize) -> Leaf {
        let entry = self.read(slot);
        let size = span(slot.level);
        Leaf {
            va: va - va % size,
            pa: entry.paddr().as_usize(),
            size: size_at(slot.level),
            attr: attr_of::<PTE>(entry.flags(), entry.bits() as u64),
        }
    }

    /// Installs the tables missing on `va`'s path down to level `target` with frames from
    /// `frames`, and returns the slot of `va`'s level-`target` entry. No leaf above it may
    /// cover `va` ([`make_room`]).
    fn install_tables(
        &mut self,
        va: usize,
        target: u32,
        frames: &mut impl FrameAllocator,
    ) -> Result<Slot, PagingError> {
        let mut table = self.table.root_paddr().as_usize();
        // Loop invariant: `table` is the level-`level` table on `va`'s path.
        for level in (target + 1..=Self::ROOT_LEVEL).rev() {
            let slot = Slot {
                table,
                index: index_of(va, level),
                level,
            };
            table = match self.node(table, level, slot.index) {
                Node::Table(next) => next,
                Node::Absent => {
                    // A fresh frame is zero-filled: an empty table.
                    let next = frames.alloc().ok_or(PagingError::OutOfFrames)?;
                    self.tables += 1;
                    self.store(slot, PTE::new_table(PhysAddr::from(next)).bits() as u64);
                    next
                }
                Node::Leaf => return Err(PagingError::AlreadyMapped { va }),
            };
        }
        Ok(Slot {
            table,
            index: index_of(va, target),
            level: target,
        })
    }
}

impl<M: PagingMetaData, PTE: Entry, H: PagingHandler> RawTables for MultiarchTable<M, PTE, H> {
    const ROOT_LEVEL: u32 = M::LEVELS as u32 - 1;
    const VA_BITS: u32 = M::VA_MAX_BITS as u32;

    fn root(&self) -> Option<usize> {
        Some(self.table.root_paddr().as_usize())
    }

    fn node(&self, table: usize, level: u32, index: usize) -> Node {
        let entry = self.read(Slot {
            table,
            index,
            level,
        });
        if !entry.is_present() {
            Node::Absent
        } else if level == 0 || entry.is_huge() {
            Node::Leaf
        } else {
            Node::Table(entry.paddr().as_usize())
        }
    }

    fn clear(&mut self, slot: Slot) {
        self.store(slot, 0);
    }

    fn table_freed(&mut self) {
        self.tables -= 1;
    }
}

impl<M, PTE, H> PageTable for MultiarchTable<M, PTE, H>
where
    M: PagingMetaData + 'static,
    PTE: Entry,
    H: PagingHandler + 'static,
{
    fn page_sizes(&self) -> &'static [PageSize] {
        SIZES
    }

    /// Installs the missing tables from `frames`, then maps the leaf through the crate's
    /// cursor (or writes it, with the bits [`MappingFlags`] lacks); an empty table where a
    /// huge leaf goes is given back first.
    ///
    /// # Errors
    ///
    /// As [`PageTable::map`]; tables installed before an [`PagingError::OutOfFrames`] stay,
    /// empty.
    fn map(
        &mut self,
        va: usize,
        pa: usize,
        size: PageSize,
        attr: MemoryAttr,
        frames: &mut impl FrameAllocator,
    ) -> Result<(), PagingError> {
        check_map::<Self>(va, pa, size, M::paddr_is_valid)?;
        let target = level_of(size);
        make_room(self, va, target, frames)?;
        let slot = self.install_tables(va, target, frames)?;
        let (flags, extra) = flags_of::<PTE>(attr);
        if extra == 0 {
            let (at, to) = (M::VirtAddr::from(va), PhysAddr::from(pa));
            let mapped = self.table.cursor().map(at, to, crate_size(size), flags);
            return mapped.map_err(|error| paging_error(error, va));
        }
        let entry = PTE::new_page(PhysAddr::from(pa), flags, target > 0);
        self.store(slot, entry.bits() as u64 | extra);
        Ok(())
    }

    fn unmap(&mut self, va: usize) -> Result<Leaf, PagingError> {
        let slot = leaf_starting_at(self, va)?;
        let leaf = self.leaf(slot, va);
        let unmapped = self.table.cursor().unmap(M::VirtAddr::from(va));
        unmapped.map_err(|error| paging_error(error, va))?;
        Ok(leaf)
    }

    fn protect(&mut self, va: usize, attr: MemoryAttr) -> Result<MemoryAttr, PagingError> {
        let slot = leaf_starting_at(self, va)?;
        let old = self.leaf(slot, va);
        let (flags, extra) = flags_of::<PTE>(attr);
        if extra == 0 {
            let protected = self.table.cursor().protect(M::VirtAddr::from(va), flags);
            protected.map_err(|error| paging_error(error, va))?;
        } else {
            let entry = PTE::new_page(PhysAddr::from(old.pa), flags, slot.level > 0);
            self.store(slot, entry.bits() as u64 | extra);
        }
        Ok(old.attr)
    }

    fn remap(&mut self, va: usize, pa: usize, attr: MemoryAttr) -> Result<usize, PagingError> {
        let slot = leaf_starting_at(self, va)?;
        if slot.level != 0 {
            return Err(PagingError::HugePage { va });
        }
        check_map::<Self>(va, pa, PageSize::Size4K, M::paddr_is_valid)?;
        let old = self.leaf(slot, va);
        let (flags, extra) = flags_of::<PTE>(attr);
        if extra == 0 {
            let (at, to) = (M::VirtAddr::from(va), PhysAddr::from(pa));
            let remapped = self.table.cursor().remap(at, to, flags);
            remapped.map_err(|error| paging_error(error, va))?;
        } else {
            let entry = PTE::new_page(PhysAddr::from(pa), flags, false);
            self.store(slot, entry.bits() as u64 | extra);
        }
        Ok(old.pa)
    }

    /// Fills a new table from `frames` with the 512 smaller leaves, then swaps it for the huge
    /// leaf in one store.
    fn split(&mut self, va: usize, frames: &mut impl FrameAllocator) -> Result<(), PagingError> {
        let slot = match leaf_starting_at(self, va) {
            Ok(slot) if slot.level > 0 => slot,
            _ => return Err(PagingError::NotMapped { va }),
        };
        let huge = self.read(slot);
        let table = frames.alloc().ok_or(PagingError::OutOfFrames)?;
        self.tables += 1;
        let (pa, flags) = (huge.paddr().as_usize(), huge.flags());
        let extra = huge.bits() as u64 & (PTE::GLOBAL | PTE::DEVICE);
        let level = slot.level - 1;
        for index in 0..ENTRIES {
            let part = PhysAddr::from(pa + index * span(level));
            let entry = PTE::new_page(part, flags, level > 0).bits() as u64 | extra;
            self.store(
                Slot {
                    table,
                    index,
                    level,
                },
                entry,
            );
        }
        self.store(slot, PTE::new_table(PhysAddr::from(table)).bits() as u64);
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

    /// Flushes the local CPU's TLB with `M`'s flush, page by page or whole (bare-metal
    /// targets only, where the instructions exist: elsewhere it only counts, as the crate's
    /// cursor does).
    fn flush_tlb(&mut self, range: Range<usize>) {
        self.flushes += 1;
        #[cfg(target_os = "none")]
        crate::raw::flush_range(
            range,
            |va| M::flush_tlb(Some(M::VirtAddr::from(va))),
            || {
                if PTE::WHOLE_FLUSH_KEEPS_GLOBAL {
                    drop_global_translations();
                }
                M::flush_tlb(None)
            },
        );
        #[cfg(not(target_os = "none"))]
        let _ = range;
    }

    /// Gives every table below the root back to `frames` and clears the root; the root stays
    /// (it goes back to `H` when the table is dropped), so the table is empty and usable.
    fn destroy(&mut self, frames: &mut impl FrameAllocator) {
        free_below_root(self, frames);
    }
}

impl<M: PagingMetaData, PTE: Entry, H: PagingHandler> Drop for MultiarchTable<M, PTE, H> {
    /// Clears the root's pointers to tables before the crate's table drops: the crate would
    /// give those tables to `H`, but they are the allocators' that
    /// [`destroy`](PageTable::destroy) takes, and without it they leak.
    fn drop(&mut self) {
        let root = self.table.root_paddr().as_usize();
        for index in 0..ENTRIES {
            if let Node::Table(_) = self.node(root, Self::ROOT_LEVEL, index) {
                self.clear(Slot {
                    table: root,
                    index,
                    level: Self::ROOT_LEVEL,
                });
            }
        }
    }
}

impl<M: PagingMetaData, PTE: Entry, H: PagingHandler> fmt::Debug for MultiarchTable<M, PTE, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiarchTable")
            .field("root", &format_args!("{:#x}", self.root_paddr()))
            .field("table_frames", &self.tables)
            .field("flushes", &self.flushes)
            .finish()
    }
}

/// Drops this CPU's global translations, which the metadata's whole flush keeps
/// ([`Entry::WHOLE_FLUSH_KEEPS_GLOBAL`]): on x86-64, by clearing and setting `CR4.PGE` again.
#[cfg(target_os = "none")]
fn drop_global_translations() {
    #[cfg(target_arch = "x86_64")]
    {
        const PGE: u64 = 1 << 7;
        let cr4: u64;
        // SAFETY: reading CR4 has no side effect; the table's code runs in ring 0.
        unsafe { core::arch::asm!("mov {}, cr4", out(reg) cr4, options(nomem, nostack)) };
        if cr4 & PGE != 0 {
            // SAFETY: only PGE changes, and it is set again before the block ends; clearing
            // it invalidates every translation, global ones included (Intel SDM 4.10.4.1).
            unsafe {
                core::arch::asm!(
                    "mov cr4, {off}",
                    "mov cr4, {on}",
                    off = in(reg) cr4 & !PGE,
                    on = in(reg) cr4,
                    options(nostack),
                )
            };
        }
    }
}

/// The crate's flags for `attr`, and the entry bits it has no flag for ([`Entry`]).
fn flags_of<PTE: Entry>(attr: MemoryAttr) -> (MappingFlags, u64) {
    let mut flags = MappingFlags::READ;
    let mut extra = 0;
    for (set, flag, bits) in [
        (!attr.is_readonly(), MappingFlags::WRITE, 0),
        (attr.is_execute(), MappingFlags::EXECUTE, 0),
        (attr.is_user(), MappingFlags::USER, 0),
        (
            attr.is_device(),
            MappingFlags::DEVICE | MappingFlags::UNCACHED,
            PTE::DEVICE,
        ),
        (attr.is_global(), MappingFlags::empty(), PTE::GLOBAL),
    ] {
        if set {
            flags |= flag;
            extra |= bits;
        }
    }
    (flags, extra)
}

/// The attributes of a leaf with the crate's `flags` and raw `bits`: the inverse of
/// [`flags_of`].
fn attr_of<PTE: Entry>(flags: MappingFlags, bits: u64) -> MemoryAttr {
    let device = flags.intersects(MappingFlags::DEVICE | MappingFlags::UNCACHED)
        || (PTE::DEVICE != 0 && bits & PTE::DEVICE == PTE::DEVICE);
    let mut attr = MemoryAttr::new();
    for (set, with) in [
        (
            !flags.contains(MappingFlags::WRITE),
            MemoryAttr::set_readonly as fn(_) -> _,
        ),
        (
            flags.contains(MappingFlags::EXECUTE),
            MemoryAttr::set_execute,
        ),
        (flags.contains(MappingFlags::USER), MemoryAttr::set_user),
        (device, MemoryAttr::set_device),
        (bits & PTE::GLOBAL != 0, MemoryAttr::set_global),
    ] {
        if set {
            attr = with(attr);
        }
    }
    attr
}

/// The crate's name for `size`.
fn crate_size(size: PageSize) -> ::page_table_multiarch::PageSize {
    match size {
        PageSize::Size4K => ::page_table_multiarch::PageSize::Size4K,
        PageSize::Size2M => ::page_table_multiarch::PageSize::Size2M,
        PageSize::Size1G => ::page_table_multiarch::PageSize::Size1G,
    }
}

/// The crate's `error`, met while working on `va`, as a [`PagingError`].
fn paging_error(error: ::page_table_multiarch::PagingError, va: usize) -> PagingError {
    use ::page_table_multiarch::PagingError as Crate;
    match error {
        Crate::NoMemory => PagingError::OutOfFrames,
        Crate::NotAligned => PagingError::Misaligned { addr: va },
        Crate::NotMapped => PagingError::NotMapped { va },
        Crate::AlreadyMapped => PagingError::AlreadyMapped { va },
        Crate::MappedToHugePage => PagingError::HugePage { va },
    }
}

#[cfg(test)]
mod tests {
    use ::page_table_multiarch::PagingError as Crate;

    use super::*;

    #[test]
    fn every_crate_error_has_its_own_variant_with_the_address() {
        let va = 0x20_1000;
        let cases = [
            (Crate::NoMemory, PagingError::OutOfFrames),
            (Crate::NotAligned, PagingError::Misaligned { addr: va }),
            (Crate::NotMapped, PagingError::NotMapped { va }),
            (Crate::AlreadyMapped, PagingError::AlreadyMapped { va }),
            (Crate::MappedToHugePage, PagingError::HugePage { va }),
        ];
        for (error, expected) in cases {
            assert_eq!(paging_error(error, va), expected);
        }
    }

    #[test]
    fn page_sizes_are_the_crates() {
        for size in SIZES.iter().copied() {
            assert_eq!(crate_size(size) as usize, size.bytes());
        }
    }

    /// An entry whose global and device bits are distinct high bits, to test the flag
    /// conversion apart from any architecture.
    #[derive(Clone, Copy, Debug)]
    struct Bits(u64);

    impl GenericPTE for Bits {
        fn new_page(paddr: PhysAddr, flags: MappingFlags, _: bool) -> Self {
            Bits(paddr.as_usize() as u64 | flags.bits() as u64)
        }
        fn new_table(paddr: PhysAddr) -> Self {
            Bits(paddr.as_usize() as u64)
        }
        fn paddr(&self) -> PhysAddr {
            PhysAddr::from(self.0 as usize & !0xfff)
        }
        fn flags(&self) -> MappingFlags {
            MappingFlags::from_bits_truncate(self.0 as usize & 0xfff)
        }
        fn set_paddr(&mut self, _: PhysAddr) {}
        fn set_flags(&mut self, _: MappingFlags, _: bool) {}
        fn bits(self) -> usize {
            self.0 as usize
        }
        fn is_unused(&self) -> bool {
            self.0 == 0
        }
        fn is_present(&self) -> bool {
            self.0 != 0
        }
        fn is_huge(&self) -> bool {
            false
        }
        fn clear(&mut self) {
            self.0 = 0;
        }
    }

    impl Entry for Bits {
        const GLOBAL: u64 = 1 << 62;
        const DEVICE: u64 = 1 << 61;
        const WHOLE_FLUSH_KEEPS_GLOBAL: bool = false;
    }

    #[test]
    fn attributes_round_trip_through_flags_and_extra_bits() {
        for flags in 0..32 {
            let attr = MemoryAttr::try_from(flags).expect("five flag bits");
            let (mapping, extra) = flags_of::<Bits>(attr);
            assert!(mapping.contains(MappingFlags::READ), "pages are readable");
            assert_eq!(extra & Bits::GLOBAL != 0, attr.is_global());
            assert_eq!(extra & Bits::DEVICE != 0, attr.is_device());
            let entry = Bits::new_page(PhysAddr::from(0x1000), mapping, false);
            assert_eq!(attr_of::<Bits>(entry.flags(), entry.0 | extra), attr);
        }
    }
}
