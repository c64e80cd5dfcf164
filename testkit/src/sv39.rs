//! A software RISC-V Sv39 page table in simulated memory, and its entry.
//!
//! The table is its own oracle: it refuses to map a mapped page or unmap an unmapped one, so a
//! test over it checks the caller's bookkeeping page by page.

use std::cell::{Cell, Ref, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use range_action_map::memory_set::{
    Access, FrameAllocator, MemoryAttr, PageEntry, PageTable, PagingError, PAGE_SIZE,
};

use crate::memory::PhysMemory;

// === impl Sv39Entry ===

/// A leaf entry of a [`SoftPageTable`]: a handle onto one 8-byte Sv39 PTE in simulated memory.
///
/// Every setter writes straight through to memory and every getter reads from it, so
/// `attr.apply(pt.map(va, pa, frames)?)` changes the table itself. The PTE layout is Sv39's:
/// [`VALID`](Self::VALID), [`READ`](Self::READ), [`WRITE`](Self::WRITE),
/// [`EXECUTE`](Self::EXECUTE), [`USER`](Self::USER), [`GLOBAL`](Self::GLOBAL) in bits 0–5, the
/// physical page number from bit [`PPN_SHIFT`](Self::PPN_SHIFT), and Svpbmt's memory type in
/// bits 61–62 ([`PBMT_IO`](Self::PBMT_IO) for device memory). `present` is `VALID`; the table
/// sets `READ` on every leaf and nothing here clears it, as pages are always readable.
pub struct Sv39Entry {
    memory: PhysMemory,
    /// The physical address of the PTE.
    pte: usize,
}

impl Sv39Entry {
    /// PTE bit 0: the entry is valid.
    pub const VALID: u64 = 1 << 0;
    /// PTE bit 1: the page is readable.
    pub const READ: u64 = 1 << 1;
    /// PTE bit 2: the page is writable.
    pub const WRITE: u64 = 1 << 2;
    /// PTE bit 3: the page is executable.
    pub const EXECUTE: u64 = 1 << 3;
    /// PTE bit 4: the page is accessible from user mode.
    pub const USER: u64 = 1 << 4;
    /// PTE bit 5: the translation is global (in every address space).
    pub const GLOBAL: u64 = 1 << 5;
    /// PTE bits 61–62 (Svpbmt's `PBMT`) set to `IO`: non-cacheable, strongly ordered device
    /// memory.
    pub const PBMT_IO: u64 = 2 << 61;
    /// The physical page number starts at this bit.
    pub const PPN_SHIFT: u32 = 10;

    /// The raw 64-bit PTE as stored in simulated memory.
    pub fn bits(&self) -> u64 {
        self.memory.read_u64(self.pte)
    }

    fn set_bit(&mut self, bit: u64, value: bool) {
        let bits = self.bits();
        let bits = if value { bits | bit } else { bits & !bit };
        self.memory.write_u64(self.pte, bits);
    }
}

impl PageEntry for Sv39Entry {
    fn set_present(&mut self, value: bool) {
        self.set_bit(Self::VALID, value);
    }
    fn set_user(&mut self, value: bool) {
        self.set_bit(Self::USER, value);
    }
    fn set_writable(&mut self, value: bool) {
        self.set_bit(Self::WRITE, value);
    }
    fn set_execute(&mut self, value: bool) {
        self.set_bit(Self::EXECUTE, value);
    }
    fn is_present(&self) -> bool {
        self.bits() & Self::VALID != 0
    }
    fn is_user(&self) -> bool {
        self.bits() & Self::USER != 0
    }
    fn is_writable(&self) -> bool {
        self.bits() & Self::WRITE != 0
    }
    fn is_execute(&self) -> bool {
        self.bits() & Self::EXECUTE != 0
    }
    fn set_device(&mut self, value: bool) {
        self.set_bit(Self::PBMT_IO, value);
    }
    fn is_device(&self) -> bool {
        self.bits() & Self::PBMT_IO != 0
    }
    fn set_global(&mut self, value: bool) {
        self.set_bit(Self::GLOBAL, value);
    }
    fn is_global(&self) -> bool {
        self.bits() & Self::GLOBAL != 0
    }
    fn frame(&self) -> usize {
        frame_of(self.bits())
    }
    fn set_frame(&mut self, pa: usize) {
        let bits = self.bits() & !PPN_MASK;
        self.memory.write_u64(self.pte, bits | ppn_bits(pa));
    }
}

impl fmt::Debug for Sv39Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sv39Entry")
            .field("pte", &format_args!("{:#x}", self.pte))
            .field("bits", &format_args!("{:#x}", self.bits()))
            .finish_non_exhaustive()
    }
}

// === impl SoftPageTable ===

/// Entries per table: 4 KiB of 8-byte PTEs.
const ENTRIES: usize = PAGE_SIZE / 8;
/// Bits of virtual address an Sv39 table translates.
const VA_BITS: u32 = 39;
/// Bits of physical address a PTE's 44-bit PPN can express.
const PA_BITS: u32 = 56;
/// The PPN field of a PTE.
const PPN_MASK: u64 = ((1 << (PA_BITS - 12)) - 1) << Sv39Entry::PPN_SHIFT;

/// A software RISC-V Sv39 page table: three levels of 512-entry tables in simulated memory.
///
/// Table frames come from the [`FrameAllocator`] passed to [`map`](PageTable::map) and must
/// lie in the table's [`PhysMemory`]; mapped frames may be anywhere below 2^56 (a linear
/// mapping of the kernel need not point into simulated memory). Virtual addresses must be
/// canonical Sv39 addresses (bits 63–39 copies of bit 38), else [`PagingError::OutOfRange`].
///
/// The root table is allocated by the first `map`, so an empty table owns no frame;
/// [`destroy`](PageTable::destroy) frees every table frame, root included, and leaves the
/// table empty and usable. It only creates 4 KiB leaves (no superpages).
///
/// # Panics
///
/// Every operation that walks the table panics if a table frame is not in its memory, which
/// means `map` was given an allocator of another memory.
pub struct SoftPageTable {
    memory: PhysMemory,
    /// This table's identity among the tables of its memory, for [`SoftPageTable::is_active`].
    id: u64,
    root: Option<usize>,
    table_frames: usize,
    activations: Cell<usize>,
    /// The simulated TLB: translations [`access`](SoftPageTable::access) cached, by page,
    /// until [`flush_tlb`](PageTable::flush_tlb) drops them.
    tlb: RefCell<BTreeMap<usize, (usize, MemoryAttr)>>,
    flushes: Cell<usize>,
    /// The handle `map` and `entry_mut` return, pointed at the leaf PTE they found.
    entry: Sv39Entry,
}

impl SoftPageTable {
    /// An empty page table over `memory`; it owns no frame until the first `map`.
    pub fn new(memory: PhysMemory) -> Self {
        let id = memory.new_table_id();
        SoftPageTable {
            // `map` and `entry_mut` point the handle at a real PTE before handing it out.
            entry: Sv39Entry {
                memory: memory.clone(),
                pte: PhysMemory::BASE,
            },
            memory,
            id,
            root: None,
            table_frames: 0,
            activations: Cell::new(0),
            tlb: RefCell::new(BTreeMap::new()),
            flushes: Cell::new(0),
        }
    }

    /// How many table frames (root, middle and leaf tables) the table holds.
    pub fn table_frames(&self) -> usize {
        self.table_frames
    }

    /// How many times [`activate`](SoftPageTable::activate) was called on this table.
    pub fn activations(&self) -> usize {
        self.activations.get()
    }

    /// Whether this is the table most recently activated among those over its memory.
    pub fn is_active(&self) -> bool {
        self.memory.active_table() == Some(self.id)
    }

    /// Makes this the table the simulated CPU translates through: records
    /// the activation (see [`activations`](Self::activations) and
    /// [`is_active`](Self::is_active)). Safe, unlike a real table's: the
    /// simulated CPU runs no code.
    pub fn activate(&self) {
        self.activations.set(self.activations.get() + 1);
        self.memory.set_active_table(self.id);
    }

    /// The frame address a CPU running on this table reaches at `va` for `access`, as an MMU
    /// finds it: from the simulated TLB if it holds a translation that allows the access
    /// (even one the table no longer has: a stale entry), else by walking the table, caching
    /// what it finds. `None` is a page fault.
    pub fn access(&self, va: usize, access: Access) -> Option<usize> {
        let (page, offset) = (va - va % PAGE_SIZE, va % PAGE_SIZE);
        let cached = self.tlb.borrow().get(&page).copied();
        if let Some((pa, attr)) = cached {
            if access.is_allowed_by(attr) {
                return Some(pa + offset);
            }
            // A fault on a cached entry makes the CPU walk again (a spurious fault).
            self.evict(page);
        }
        let (pa, attr) = self.translate(page)?;
        if !access.is_allowed_by(attr) {
            return None;
        }
        self.tlb.borrow_mut().insert(page, (pa, attr));
        self.memory.tlb_cache(pa);
        Some(pa + offset)
    }

    /// How many times [`flush_tlb`](PageTable::flush_tlb) was called.
    pub fn flushes(&self) -> usize {
        self.flushes.get()
    }

    /// How many translations the simulated TLB holds.
    pub fn tlb_entries(&self) -> usize {
        self.tlb.borrow().len()
    }

    /// Drops the TLB entry of `page`, if any.
    fn evict(&self, page: usize) {
        if let Some((pa, _)) = self.tlb.borrow_mut().remove(&page) {
            self.memory.tlb_flush(pa);
        }
    }

    /// Every mapped page as `(va, pa, attr)`, in increasing `va` order.
    ///
    /// It walks the whole table, so it costs *O*(mapped tables × 512).
    pub fn mapped_pages(&self) -> impl Iterator<Item = (usize, usize, MemoryAttr)> + use<> {
        let mut pages = Vec::new();
        if let Some(root) = self.root {
            for (l2, root_pte) in self.table_entries(root) {
                for (l1, middle_pte) in self.table_entries(frame_of(root_pte)) {
                    let leaf_table = frame_of(middle_pte);
                    for (l0, leaf_pte) in self.table_entries(leaf_table) {
                        let va = sign_extend(l2 << 30 | l1 << 21 | l0 << 12);
                        let attr = MemoryAttr::from_entry(&self.entry_at(leaf_table + l0 * 8));
                        pages.push((va, frame_of(leaf_pte), attr));
                    }
                }
            }
        }
        pages.into_iter()
    }

    /// A handle onto the PTE at physical address `pte`.
    fn entry_at(&self, pte: usize) -> Sv39Entry {
        Sv39Entry {
            memory: self.memory.clone(),
            pte,
        }
    }

    /// The bytes of the table at `table`, borrowed in place so that a scan reads its PTEs
    /// without a lookup each.
    fn ptes(&self, table: usize) -> Ref<'_, [u8]> {
        self.memory.frame(table)
    }

    /// The valid entries of the table at `table`, with their indices.
    fn table_entries(&self, table: usize) -> Vec<(usize, u64)> {
        let ptes = self.ptes(table);
        (0..ENTRIES)
            .map(|index| (index, pte_at(&ptes, index)))
            .filter(|&(_, pte)| pte & Sv39Entry::VALID != 0)
            .collect()
    }

    /// The physical address of `va`'s leaf PTE, if the tables leading to it exist.
    fn leaf_pte(&self, va: usize) -> Option<usize> {
        let mut table = self.root?;
        for level in [2, 1] {
            table = next_table(self.memory.read_u64(pte_addr(table, va, level)))?;
        }
        Some(pte_addr(table, va, 0))
    }

    /// The physical address of `va`'s leaf PTE if that PTE is valid.
    fn mapped_leaf(&self, va: usize) -> Result<usize, PagingError> {
        check_va(va)?;
        self.leaf_pte(va)
            .filter(|&pte| self.memory.read_u64(pte) & Sv39Entry::VALID != 0)
            .ok_or(PagingError::NotMapped { va })
    }

    /// The raw address of the lowest valid leaf under the level-`level` table at `table`
    /// (which translates the raw addresses from `base`) that lies in the raw range
    /// `[start, end)`: a depth-first walk that skips an invalid entry with every page below
    /// it and stops at the first entry beyond `end`.
    fn first_leaf(
        &self,
        table: usize,
        level: u32,
        base: usize,
        start: usize,
        end: usize,
    ) -> Option<usize> {
        let span = PAGE_SIZE << (9 * level);
        let first = start.saturating_sub(base) / span;
        let ptes = self.ptes(table);
        (first..ENTRIES)
            .map(|index| (index, base + index * span))
            .take_while(|&(_, va)| va < end)
            .find_map(|(index, va)| {
                let pte = pte_at(&ptes, index);
                if pte & Sv39Entry::VALID == 0 {
                    None
                } else if level == 0 {
                    Some(va)
                } else {
                    self.first_leaf(frame_of(pte), level - 1, va, start, end)
                }
            })
    }

    /// A table frame from `frames`, counted as this table's.
    fn alloc_table(&mut self, frames: &mut impl FrameAllocator) -> Result<usize, PagingError> {
        let table = frames.alloc().ok_or(PagingError::OutOfFrames)?;
        self.table_frames += 1;
        Ok(table)
    }
}

impl PageTable for SoftPageTable {
    type Entry = Sv39Entry;

    /// Maps `va` to `pa` with a `V|R|W|X` kernel-only leaf, allocating missing tables.
    ///
    /// # Errors
    ///
    /// [`PagingError::Misaligned`] for an unaligned `va` or `pa`, [`PagingError::OutOfRange`]
    /// for a non-canonical `va` or a `pa` of 2^56 or more, [`PagingError::AlreadyMapped`],
    /// and [`PagingError::OutOfFrames`] (tables allocated before the failure stay, empty).
    fn map(
        &mut self,
        va: usize,
        pa: usize,
        frames: &mut impl FrameAllocator,
    ) -> Result<&mut Sv39Entry, PagingError> {
        check_va(va)?;
        if pa % PAGE_SIZE != 0 {
            return Err(PagingError::Misaligned { addr: pa });
        }
        if pa >> PA_BITS != 0 {
            return Err(PagingError::OutOfRange { addr: pa });
        }
        let mut table = if let Some(root) = self.root {
            root
        } else {
            let root = self.alloc_table(frames)?;
            self.root = Some(root);
            root
        };
        for level in [2, 1] {
            let pte = pte_addr(table, va, level);
            table = if let Some(next) = next_table(self.memory.read_u64(pte)) {
                next
            } else {
                let next = self.alloc_table(frames)?;
                self.memory
                    .write_u64(pte, ppn_bits(next) | Sv39Entry::VALID);
                next
            };
        }
        let leaf = pte_addr(table, va, 0);
        // The tables leading to a mapped page exist, so refusing it here,
        // after one walk, allocated nothing.
        if self.memory.read_u64(leaf) & Sv39Entry::VALID != 0 {
            return Err(PagingError::AlreadyMapped { va });
        }
        let rwx = Sv39Entry::READ | Sv39Entry::WRITE | Sv39Entry::EXECUTE;
        self.memory
            .write_u64(leaf, ppn_bits(pa) | rwx | Sv39Entry::VALID);
        self.entry.pte = leaf;
        Ok(&mut self.entry)
    }

    fn unmap(&mut self, va: usize) -> Result<usize, PagingError> {
        let leaf = self.mapped_leaf(va)?;
        let pa = frame_of(self.memory.read_u64(leaf));
        self.memory.write_u64(leaf, 0);
        Ok(pa)
    }

    fn entry_mut(&mut self, va: usize) -> Result<&mut Sv39Entry, PagingError> {
        self.entry.pte = self.mapped_leaf(va)?;
        Ok(&mut self.entry)
    }

    fn translate(&self, va: usize) -> Option<(usize, MemoryAttr)> {
        let offset = va % PAGE_SIZE;
        let leaf = self.mapped_leaf(va - offset).ok()?;
        let entry = self.entry_at(leaf);
        Some((
            frame_of(entry.bits()) + offset,
            MemoryAttr::from_entry(&entry),
        ))
    }

    /// Walks down from the root, skipping every invalid root or middle entry with the 1 GiB or
    /// 2 MiB below it, and the non-canonical hole between the two halves: *O*(entries read),
    /// at most 512 per table visited, however large the range.
    fn next_mapped(&self, start: usize, end: usize) -> Option<usize> {
        let start = start.checked_next_multiple_of(PAGE_SIZE)?;
        let raw = self.first_leaf(self.root?, 2, 0, to_raw(start), to_raw(end))?;
        Some(sign_extend(raw))
    }

    /// Drops the simulated TLB's entries for `range`, and counts the flush.
    fn flush_tlb(&mut self, range: Range<usize>) {
        self.flushes.set(self.flushes.get() + 1);
        let pages: Vec<usize> = self.tlb.borrow().range(range).map(|(&va, _)| va).collect();
        for page in pages {
            self.evict(page);
        }
    }

    fn destroy(&mut self, frames: &mut impl FrameAllocator) {
        let Some(root) = self.root.take() else {
            return;
        };
        // Read each table before freeing it: a freed frame is poisoned.
        for (_, root_pte) in self.table_entries(root) {
            let middle = frame_of(root_pte);
            for (_, middle_pte) in self.table_entries(middle) {
                frames.dealloc(frame_of(middle_pte));
            }
            frames.dealloc(middle);
        }
        frames.dealloc(root);
        self.table_frames = 0;
    }
}

impl Drop for SoftPageTable {
    /// The table goes away, and with it what its TLB cached.
    fn drop(&mut self) {
        let pages: Vec<usize> = self.tlb.borrow().keys().copied().collect();
        for page in pages {
            self.evict(page);
        }
    }
}

impl fmt::Debug for SoftPageTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftPageTable")
            .field("root", &self.root.map(|root| format!("{root:#x}")))
            .field("table_frames", &self.table_frames)
            .field("activations", &self.activations())
            .finish_non_exhaustive()
    }
}

/// Checks that `va` is a page-aligned canonical Sv39 address.
fn check_va(va: usize) -> Result<(), PagingError> {
    if va % PAGE_SIZE != 0 {
        return Err(PagingError::Misaligned { addr: va });
    }
    if sign_extend(va) != va {
        return Err(PagingError::OutOfRange { addr: va });
    }
    Ok(())
}

/// Where `va` falls in the 39 bits an Sv39 table indexes (its raw address), in the same
/// order: a canonical address loses its sign extension, and a non-canonical one, which no
/// table maps, moves to the start of the upper half. [`sign_extend`] reverses it.
fn to_raw(va: usize) -> usize {
    const UPPER_HALF: usize = 1 << (VA_BITS - 1);
    if va < UPPER_HALF {
        va
    } else {
        va.max(sign_extend(UPPER_HALF)) & ((1 << VA_BITS) - 1)
    }
}

/// Copies bit 38 of `va` into bits 63–39.
fn sign_extend(va: usize) -> usize {
    let unused = usize::BITS - VA_BITS;
    ((va << unused) as isize >> unused) as usize
}

/// The physical address of the entry for `va` in the level-`level` table at `table`.
fn pte_addr(table: usize, va: usize, level: u32) -> usize {
    let index = (va >> (12 + 9 * level)) % ENTRIES;
    table + index * 8
}

/// The PTE at `index` in the bytes `ptes` of a table (0, invalid, past its end).
fn pte_at(ptes: &[u8], index: usize) -> u64 {
    ptes.get(index * 8..)
        .and_then(<[u8]>::first_chunk)
        .map_or(0, |bytes| u64::from_le_bytes(*bytes))
}

/// The table a valid non-leaf PTE points to.
fn next_table(pte: u64) -> Option<usize> {
    (pte & Sv39Entry::VALID != 0).then(|| frame_of(pte))
}

/// The physical address a PTE's PPN names.
fn frame_of(pte: u64) -> usize {
    ((pte & PPN_MASK) >> Sv39Entry::PPN_SHIFT) as usize * PAGE_SIZE
}

/// The PPN field for frame `pa`.
fn ppn_bits(pa: usize) -> u64 {
    ((pa / PAGE_SIZE) as u64) << Sv39Entry::PPN_SHIFT
}

#[cfg(test)]
mod tests {
    use std::collections::btree_map::{BTreeMap, Entry};

    use super::*;
    use crate::{CountingFrameAllocator, Rng};

    const BASE: usize = PhysMemory::BASE;
    /// 1 GiB: the span of one root entry.
    const GIB: usize = 1 << 30;
    /// 2 MiB: the span of one middle entry.
    const MIB2: usize = 1 << 21;

    /// Maps through the traits only, the way `MemorySet` will.
    fn map_with(
        pt: &mut impl PageTable,
        va: usize,
        pa: usize,
        attr: MemoryAttr,
        frames: &mut impl FrameAllocator,
    ) -> Result<(), PagingError> {
        attr.apply(pt.map(va, pa, frames)?);
        Ok(())
    }

    fn setup(frames: usize) -> (CountingFrameAllocator, SoftPageTable) {
        let fa = CountingFrameAllocator::new(frames);
        let pt = SoftPageTable::new(fa.memory());
        (fa, pt)
    }

    #[test]
    fn map_writes_an_sv39_rwx_kernel_leaf_and_three_tables() {
        let (mut fa, mut pt) = setup(8);
        assert_eq!(pt.table_frames(), 0);
        let entry = pt.map(0x1000, 0x4000_0000, &mut fa).expect("map");
        let rwx = Sv39Entry::READ | Sv39Entry::WRITE | Sv39Entry::EXECUTE;
        assert_eq!(
            entry.bits(),
            (0x4000_0000 >> 12) << 10 | rwx | Sv39Entry::VALID
        );
        assert!(entry.is_present() && entry.is_writable() && entry.is_execute());
        assert!(!entry.is_user());
        assert_eq!(pt.table_frames(), 3);
        assert_eq!(fa.live(), 3);
        assert_eq!(
            pt.translate(0x1fff),
            Some((0x4000_0fff, MemoryAttr::new().set_execute()))
        );
    }

    #[test]
    fn root_table_entry_points_to_the_next_level() {
        let (mut fa, mut pt) = setup(8);
        pt.map(0x1000, 0x5000, &mut fa).expect("map");
        // Tables are allocated root first, lowest frame first.
        let (root, middle, leaf) = (BASE, BASE + PAGE_SIZE, BASE + 2 * PAGE_SIZE);
        let pte = |table: usize, index: usize| fa.memory().read_u64(table + index * 8);
        assert_eq!(pte(root, 0), (middle as u64 >> 12) << 10 | Sv39Entry::VALID);
        assert_eq!(pte(middle, 0), (leaf as u64 >> 12) << 10 | Sv39Entry::VALID);
        assert_eq!(pte(leaf, 1) >> 10, 5);
    }

    #[test]
    fn applied_attr_lands_in_simulated_memory() {
        let (mut fa, mut pt) = setup(8);
        let attr = MemoryAttr::new().set_user().set_readonly();
        map_with(&mut pt, 0x2000, 0x9000, attr, &mut fa).expect("map");
        assert_eq!(pt.translate(0x2000), Some((0x9000, attr)));
        let entry = pt.entry_mut(0x2000).expect("mapped");
        assert!(entry.is_user() && !entry.is_writable() && !entry.is_execute());
        assert_eq!(entry.bits() & Sv39Entry::READ, Sv39Entry::READ);
        let text = MemoryAttr::new().set_readonly().set_execute();
        text.apply(entry);
        assert_eq!(pt.translate(0x2abc), Some((0x9abc, text)));
    }

    #[test]
    fn double_map_is_refused_and_changes_nothing() {
        let (mut fa, mut pt) = setup(8);
        let attr = MemoryAttr::new().set_user();
        map_with(&mut pt, 0x1000, 0x8000, attr, &mut fa).expect("map");
        assert_eq!(
            pt.map(0x1000, 0x9000, &mut fa).map(|_| ()),
            Err(PagingError::AlreadyMapped { va: 0x1000 })
        );
        assert_eq!(pt.translate(0x1000), Some((0x8000, attr)));
        assert_eq!(fa.live(), 3);
    }

    #[test]
    fn unmap_returns_the_frame_and_refuses_a_second_time() {
        let (mut fa, mut pt) = setup(8);
        pt.map(0x3000, 0xa000, &mut fa).expect("map");
        assert_eq!(pt.unmap(0x3000), Ok(0xa000));
        assert_eq!(pt.translate(0x3000), None);
        assert_eq!(pt.unmap(0x3000), Err(PagingError::NotMapped { va: 0x3000 }));
        assert_eq!(
            pt.entry_mut(0x3000).map(|_| ()),
            Err(PagingError::NotMapped { va: 0x3000 })
        );
        // The tables stay; the page can be mapped again without new frames.
        pt.map(0x3000, 0xb000, &mut fa).expect("map again");
        assert_eq!(fa.live(), 3);
    }

    #[test]
    fn operations_on_an_empty_table_find_nothing() {
        let (mut fa, mut pt) = setup(1);
        assert_eq!(pt.translate(0x1000), None);
        assert_eq!(pt.unmap(0x1000), Err(PagingError::NotMapped { va: 0x1000 }));
        assert_eq!(pt.mapped_pages().count(), 0);
        pt.destroy(&mut fa);
        assert_eq!(fa.allocated(), 0);
    }

    #[test]
    fn misaligned_addresses_are_refused() {
        let (mut fa, mut pt) = setup(8);
        let misaligned = |addr| Err(PagingError::Misaligned { addr });
        assert_eq!(
            pt.map(0x1001, 0x2000, &mut fa).map(|_| ()),
            misaligned(0x1001)
        );
        assert_eq!(
            pt.map(0x1000, 0x2008, &mut fa).map(|_| ()),
            misaligned(0x2008)
        );
        assert_eq!(pt.unmap(0x1800).map(|_| ()), misaligned(0x1800));
        assert_eq!(pt.entry_mut(0x10).map(|_| ()), misaligned(0x10));
        assert_eq!(fa.allocated(), 0);
    }

    #[test]
    fn non_canonical_and_too_wide_addresses_are_out_of_range() {
        let (mut fa, mut pt) = setup(8);
        for va in [1 << 38, 1 << 39, 0xffff_ff80_0000_0000 - PAGE_SIZE, 1 << 63] {
            let out = Err(PagingError::OutOfRange { addr: va });
            assert_eq!(pt.map(va, 0x1000, &mut fa).map(|_| ()), out);
            assert_eq!(pt.unmap(va).map(|_| ()), out);
            assert_eq!(pt.translate(va), None);
        }
        assert_eq!(
            pt.map(0x1000, 1 << 56, &mut fa).map(|_| ()),
            Err(PagingError::OutOfRange { addr: 1 << 56 })
        );
        assert_eq!(fa.allocated(), 0);
        // The widest physical page still fits.
        let top_pa = (1 << 56) - PAGE_SIZE;
        pt.map(0x1000, top_pa, &mut fa).expect("widest pa");
        assert_eq!(pt.translate(0x1000).map(|(pa, _)| pa), Some(top_pa));
    }

    #[test]
    fn canonical_edges_map_and_list_in_va_order() {
        let (mut fa, mut pt) = setup(16);
        let low_top = (1 << 38) - PAGE_SIZE;
        let high_bottom = 0xffff_ffc0_0000_0000;
        let top = usize::MAX - (PAGE_SIZE - 1);
        let user = MemoryAttr::new().set_user();
        for (va, pa) in [
            (top, 0x3000),
            (0, 0x1000),
            (high_bottom, 0x4000),
            (low_top, 0x2000),
        ] {
            map_with(&mut pt, va, pa, user, &mut fa).expect("map");
        }
        assert_eq!(pt.translate(usize::MAX), Some((0x3fff, user)));
        let pages: Vec<_> = pt.mapped_pages().collect();
        assert_eq!(
            pages,
            vec![
                (0, 0x1000, user),
                (low_top, 0x2000, user),
                (high_bottom, 0x4000, user),
                (top, 0x3000, user),
            ]
        );
    }

    #[test]
    fn tables_are_shared_within_their_span() {
        let (mut fa, mut pt) = setup(16);
        pt.map(0, 0x1000, &mut fa).expect("first page");
        assert_eq!(pt.table_frames(), 3);
        pt.map(MIB2 - PAGE_SIZE, 0x1000, &mut fa)
            .expect("same leaf table");
        assert_eq!(pt.table_frames(), 3);
        pt.map(MIB2, 0x1000, &mut fa).expect("next leaf table");
        assert_eq!(pt.table_frames(), 4);
        pt.map(GIB, 0x1000, &mut fa).expect("next middle table");
        assert_eq!(pt.table_frames(), 6);
        assert_eq!(fa.live(), pt.table_frames());
    }

    #[test]
    fn out_of_frames_maps_nothing_and_destroy_reclaims_partial_tables() {
        let (mut fa, mut pt) = setup(2);
        assert_eq!(
            pt.map(0x1000, 0x1000, &mut fa).map(|_| ()),
            Err(PagingError::OutOfFrames)
        );
        assert_eq!(pt.translate(0x1000), None);
        assert_eq!(pt.table_frames(), 2);
        pt.destroy(&mut fa);
        assert_eq!((fa.live(), pt.table_frames()), (0, 0));
    }

    #[test]
    fn destroy_frees_every_table_and_leaves_a_usable_empty_table() {
        let (mut fa, mut pt) = setup(16);
        for va in [0x1000, 0x2000, MIB2, GIB, usize::MAX - (PAGE_SIZE - 1)] {
            pt.map(va, 0x1000, &mut fa).expect("map");
        }
        let tables = pt.table_frames();
        assert_eq!(tables, 8);
        pt.destroy(&mut fa);
        assert_eq!((fa.live(), fa.freed()), (0, tables));
        assert_eq!(pt.table_frames(), 0);
        assert_eq!(pt.mapped_pages().count(), 0);
        assert_eq!(pt.translate(0x1000), None);
        pt.destroy(&mut fa);
        assert_eq!(fa.freed(), tables);
        pt.map(0x1000, 0x1000, &mut fa).expect("map after destroy");
        assert_eq!(pt.table_frames(), 3);
    }

    #[test]
    fn destroy_keeps_mapped_frames_alive() {
        let (mut fa, mut pt) = setup(8);
        let page = fa.alloc().expect("a page");
        pt.map(0x1000, page, &mut fa).expect("map");
        pt.destroy(&mut fa);
        assert_eq!(fa.live_frames(), vec![page]);
    }

    /// The lowest page of `[start, end)` in `pages` (sorted), by brute force.
    fn lowest_in(pages: &[usize], start: usize, end: usize) -> Option<usize> {
        pages.iter().copied().find(|&va| start <= va && va < end)
    }

    #[test]
    fn next_mapped_finds_the_lowest_mapped_page_across_tables_and_halves() {
        let (mut fa, mut pt) = setup(32);
        assert_eq!(pt.next_mapped(0, usize::MAX & !(PAGE_SIZE - 1)), None);
        let low_top = (1 << 38) - PAGE_SIZE;
        let high_bottom = 0xffff_ffc0_0000_0000;
        let top = usize::MAX - (PAGE_SIZE - 1);
        let pages = [
            0,
            0x5000,
            MIB2 - PAGE_SIZE,
            MIB2 + 0x3000,
            7 * GIB + 0x1000,
            low_top,
            high_bottom,
            high_bottom + 3 * GIB,
            top,
        ];
        for va in pages {
            pt.map(va, 0x1000, &mut fa).expect("map");
        }
        // An emptied leaf table and an emptied middle table must be skipped too.
        for va in [4 * MIB2, 9 * GIB] {
            pt.map(va, 0x1000, &mut fa).expect("map");
            pt.unmap(va).expect("unmap");
        }
        let walked: Vec<_> = pt.mapped_pages().map(|(va, _, _)| va).collect();
        assert_eq!(walked, pages);
        // Every bound next to a mapped page, next to a table boundary, or in the hole.
        let mut bounds = vec![0, 1 << 38, 1 << 39, high_bottom - PAGE_SIZE, 1 << 63];
        for va in pages.into_iter().chain([MIB2, GIB, 4 * MIB2, 9 * GIB]) {
            bounds.extend([va, va.wrapping_sub(PAGE_SIZE), va.wrapping_add(PAGE_SIZE)]);
        }
        bounds.retain(|&va| va <= top);
        // Miri interprets every PTE read of these scans: a sample keeps it well under a minute.
        let sample = if cfg!(miri) { 13 } else { 1 };
        let ranges = bounds
            .iter()
            .flat_map(|&start| bounds.iter().map(move |&end| (start, end)));
        for (start, end) in ranges.step_by(sample) {
            assert_eq!(
                pt.next_mapped(start, end),
                lowest_in(&pages, start, end),
                "[{start:#x}, {end:#x})"
            );
        }
        // A page at `top` is found, though `end` cannot be above it.
        assert_eq!(
            pt.next_mapped(high_bottom + PAGE_SIZE, top),
            Some(high_bottom + 3 * GIB)
        );
        assert_eq!(pt.next_mapped(top, usize::MAX & !(PAGE_SIZE - 1)), None);
        // An unaligned start rounds up, to a page that starts in the range.
        assert_eq!(pt.next_mapped(1, GIB), Some(0x5000));
    }

    #[test]
    fn activate_records_which_table_is_current() {
        let (fa, pt) = setup(1);
        let other = SoftPageTable::new(fa.memory());
        assert!(!pt.is_active() && !other.is_active());
        pt.activate();
        assert!(pt.is_active() && !other.is_active());
        other.activate();
        other.activate();
        assert!(!pt.is_active() && other.is_active());
        assert_eq!((pt.activations(), other.activations()), (1, 2));
        assert!(std::format!("{pt:?}").contains("activations: 1"));
    }

    #[test]
    fn fork_maps_copies_over_the_same_memory() {
        let mut fa = CountingFrameAllocator::new(16);
        let mut parent = SoftPageTable::new(fa.memory());
        let mut child_frames = fa.clone();
        let mut child = SoftPageTable::new(child_frames.memory());
        let user = MemoryAttr::new().set_user();

        let page = fa.alloc().expect("parent page");
        fa.write(page, 100, b"hello");
        map_with(&mut parent, 0x1000, page, user, &mut fa).expect("parent map");

        for (va, pa, attr) in parent.mapped_pages() {
            let copy = child_frames.alloc().expect("child page");
            child_frames.copy_frame(pa, copy);
            map_with(&mut child, va, copy, attr, &mut child_frames).expect("child map");
        }
        let (child_pa, attr) = child.translate(0x1000).expect("child mapping");
        assert_ne!(child_pa, page);
        assert_eq!(attr, user);
        fa.write(page, 100, b"HELLO");
        let mut buf = [0; 5];
        fa.read(child_pa, 100, &mut buf);
        assert_eq!(&buf, b"hello");

        for pt in [&mut parent, &mut child] {
            let pa = pt.unmap(0x1000).expect("unmap");
            fa.dealloc(pa);
            pt.destroy(&mut fa);
        }
        assert_eq!(fa.live(), 0);
        assert_eq!(fa.allocated(), fa.freed());
    }

    #[test]
    #[should_panic(expected = "is not a frame of the simulated memory")]
    fn tables_from_another_memory_are_detected() {
        let mut elsewhere = CountingFrameAllocator::new(4);
        let mut pt = SoftPageTable::new(CountingFrameAllocator::new(0).memory());
        let _ = pt.map(0x1000, 0x1000, &mut elsewhere);
    }

    #[test]
    fn random_ops_match_a_map_model() {
        // Miri interprets every PTE access; a shorter run keeps it well under a minute.
        let steps = if cfg!(miri) { 150 } else { 3000 };
        // Pages spread over shared and separate leaf, middle and root tables, both halves.
        let vas = [
            0x0,
            0x1000,
            0x1f_f000,
            0x20_0000,
            0x4000_0000,
            (1 << 38) - PAGE_SIZE,
            0xffff_ffc0_0000_0000,
            usize::MAX - (PAGE_SIZE - 1),
        ];
        let (mut fa, mut pt) = setup(32);
        let mut model: BTreeMap<usize, (usize, MemoryAttr)> = BTreeMap::new();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for step in 0..steps {
            let va = vas[rng.below(vas.len())];
            let attr = MemoryAttr::try_from(rng.below(8)).expect("three flag bits");
            match rng.below(3) {
                0 => {
                    let pa = rng.below(1 << 20) * PAGE_SIZE;
                    let result = map_with(&mut pt, va, pa, attr, &mut fa);
                    match model.entry(va) {
                        Entry::Occupied(_) => {
                            assert_eq!(result, Err(PagingError::AlreadyMapped { va }));
                        }
                        Entry::Vacant(slot) => {
                            assert_eq!(result, Ok(()));
                            slot.insert((pa, attr));
                        }
                    }
                }
                1 => {
                    let expected = model.remove(&va).map(|(pa, _)| pa);
                    assert_eq!(pt.unmap(va).ok(), expected);
                }
                _ => match pt.entry_mut(va) {
                    Ok(entry) => {
                        attr.apply(entry);
                        model.get_mut(&va).expect("mapped in the model").1 = attr;
                    }
                    Err(error) => {
                        assert_eq!(error, PagingError::NotMapped { va });
                        assert!(!model.contains_key(&va));
                    }
                },
            }
            assert_eq!(pt.translate(va), model.get(&va).copied(), "step {step}");
            if step % 50 == 0 {
                let expected: Vec<_> = model.iter().map(|(&va, &(pa, a))| (va, pa, a)).collect();
                assert_eq!(pt.mapped_pages().collect::<Vec<_>>(), expected);
                assert_eq!(fa.live(), pt.table_frames());
                let mapped: Vec<_> = model.keys().copied().collect();
                for _ in 0..8 {
                    let (start, end) = (vas[rng.below(vas.len())], vas[rng.below(vas.len())]);
                    let expected = lowest_in(&mapped, start, end);
                    assert_eq!(pt.next_mapped(start, end), expected, "step {step}");
                }
            }
        }
        pt.destroy(&mut fa);
        assert_eq!(fa.live(), 0);
    }
}
