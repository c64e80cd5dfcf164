//! A software RISC-V Sv39 page table in simulated memory, with 2 MiB and 1 GiB pages and a
//! simulated TLB, and its entry format.
//!
//! The table is its own oracle: it refuses to map a mapped page or unmap an unmapped one, so a
//! test over it checks the caller's bookkeeping page by page.

use std::cell::{Cell, Ref, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use range_action_map::memory_set::{
    Access, FrameAllocator, Leaf, MemoryAttr, PageSize, PageTable, PagingError, PAGE_SIZE,
};

use crate::memory::PhysMemory;

// === impl Sv39Entry ===

/// One Sv39 page-table entry: the 64 bits a table holds.
///
/// The layout is Sv39's: [`VALID`](Self::VALID), [`READ`](Self::READ),
/// [`WRITE`](Self::WRITE), [`EXECUTE`](Self::EXECUTE), [`USER`](Self::USER),
/// [`GLOBAL`](Self::GLOBAL) in bits 0–5, the physical page number from bit
/// [`PPN_SHIFT`](Self::PPN_SHIFT), and Svpbmt's memory type in bits 61–62
/// ([`PBMT_IO`](Self::PBMT_IO) for device memory). A valid entry with none of `R`, `W`, `X`
/// points to the next table; any other valid entry is a leaf, at any level. Every leaf this
/// table writes has `READ`, as pages are always readable.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sv39Entry(pub u64);

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

    /// A leaf mapping `pa` with `attr`.
    pub fn leaf(pa: usize, attr: MemoryAttr) -> Self {
        let mut bits = ppn_bits(pa) | Self::VALID | Self::READ;
        for (set, bit) in [
            (!attr.is_readonly(), Self::WRITE),
            (attr.is_execute(), Self::EXECUTE),
            (attr.is_user(), Self::USER),
            (attr.is_global(), Self::GLOBAL),
            (attr.is_device(), Self::PBMT_IO),
        ] {
            if set {
                bits |= bit;
            }
        }
        Sv39Entry(bits)
    }

    /// A pointer to the next-level table at `table`.
    pub fn table(table: usize) -> Self {
        Sv39Entry(ppn_bits(table) | Self::VALID)
    }

    /// Whether the entry is valid.
    pub fn is_valid(self) -> bool {
        self.0 & Self::VALID != 0
    }

    /// Whether the entry is a valid leaf (not a pointer to a table).
    pub fn is_leaf(self) -> bool {
        self.is_valid() && self.0 & (Self::READ | Self::WRITE | Self::EXECUTE) != 0
    }

    /// The physical address the PPN names.
    pub fn pa(self) -> usize {
        frame_of(self.0)
    }

    /// The attributes of a leaf: the inverse of [`leaf`](Self::leaf).
    pub fn attr(self) -> MemoryAttr {
        let mut attr = MemoryAttr::new();
        for (set, with) in [
            (
                self.0 & Self::WRITE == 0,
                MemoryAttr::set_readonly as fn(_) -> _,
            ),
            (self.0 & Self::EXECUTE != 0, MemoryAttr::set_execute),
            (self.0 & Self::USER != 0, MemoryAttr::set_user),
            (self.0 & Self::GLOBAL != 0, MemoryAttr::set_global),
            (self.0 & Self::PBMT_IO != 0, MemoryAttr::set_device),
        ] {
            if set {
                attr = with(attr);
            }
        }
        attr
    }
}

impl fmt::Debug for Sv39Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sv39Entry({:#x})", self.0)
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
/// The root's level; leaves of level `l` map `PAGE_SIZE << 9 * l` bytes.
const ROOT_LEVEL: u32 = 2;

/// A software RISC-V Sv39 page table: three levels of 512-entry tables in simulated memory,
/// with 4 KiB leaves, 2 MiB leaves in the middle tables and 1 GiB leaves in the root (unless
/// built [without huge pages](Self::without_huge_pages)), and a simulated TLB.
///
/// Table frames come from the [`FrameAllocator`] passed to [`map`](PageTable::map) and must
/// lie in the table's [`PhysMemory`]; mapped frames may be anywhere below 2^56 (a linear
/// mapping of the kernel need not point into simulated memory). Virtual addresses must be
/// canonical Sv39 addresses (bits 63–39 copies of bit 38), else [`PagingError::OutOfRange`].
///
/// The root table is allocated by the first `map`, so an empty table owns no frame;
/// [`destroy`](PageTable::destroy) frees every table frame, root included, and leaves the
/// table empty and usable.
///
/// The TLB: [`access`](Self::access) is how a simulated CPU reaches memory; it caches each
/// translation it uses and keeps using it, stale or not, until
/// [`flush_tlb`](PageTable::flush_tlb) drops it, and while it holds a translation the frame
/// allocator refuses to free the frame.
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
    sizes: &'static [PageSize],
    activations: Cell<usize>,
    /// The simulated TLB: translations [`access`](SoftPageTable::access) cached, by page,
    /// until [`flush_tlb`](PageTable::flush_tlb) drops them.
    tlb: RefCell<BTreeMap<usize, (usize, MemoryAttr)>>,
    flushes: Cell<usize>,
}

impl SoftPageTable {
    /// An empty page table over `memory`, with 4 KiB, 2 MiB and 1 GiB leaves; it owns no frame
    /// until the first `map`.
    pub fn new(memory: PhysMemory) -> Self {
        Self::with_sizes(
            memory,
            &[PageSize::Size4K, PageSize::Size2M, PageSize::Size1G],
        )
    }

    /// An empty page table over `memory` that maps 4 KiB leaves only.
    pub fn without_huge_pages(memory: PhysMemory) -> Self {
        Self::with_sizes(memory, &[PageSize::Size4K])
    }

    fn with_sizes(memory: PhysMemory, sizes: &'static [PageSize]) -> Self {
        SoftPageTable {
            id: memory.new_table_id(),
            memory,
            root: None,
            table_frames: 0,
            sizes,
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

    /// Every leaf, in increasing `va` order.
    ///
    /// It walks the whole table, so it costs *O*(mapped tables × 512).
    pub fn leaves(&self) -> Vec<Leaf> {
        let mut leaves = Vec::new();
        if let Some(root) = self.root {
            self.collect_leaves(root, ROOT_LEVEL, 0, &mut leaves);
        }
        leaves
    }

    /// Every mapped 4 KiB page as `(va, pa, attr)`, in increasing `va` order: a huge leaf
    /// counts as the pages it maps.
    pub fn mapped_pages(&self) -> impl Iterator<Item = (usize, usize, MemoryAttr)> + use<> {
        self.leaves().into_iter().flat_map(|leaf| {
            (0..leaf.size.bytes())
                .step_by(PAGE_SIZE)
                .map(move |offset| (leaf.va + offset, leaf.pa + offset, leaf.attr))
        })
    }

    fn collect_leaves(&self, table: usize, level: u32, base: usize, leaves: &mut Vec<Leaf>) {
        for (index, pte) in self.table_entries(table) {
            let raw = base + index * span(level);
            if pte.is_leaf() {
                leaves.push(leaf_at(sign_extend(raw), pte, level));
            } else if level > 0 {
                self.collect_leaves(pte.pa(), level - 1, raw, leaves);
            }
        }
    }

    /// The bytes of the table at `table`, borrowed in place so that a scan reads its PTEs
    /// without a lookup each.
    fn ptes(&self, table: usize) -> Ref<'_, [u8]> {
        self.memory.frame(table)
    }

    /// The valid entries of the table at `table`, with their indices.
    fn table_entries(&self, table: usize) -> Vec<(usize, Sv39Entry)> {
        let ptes = self.ptes(table);
        (0..ENTRIES)
            .map(|index| (index, pte_at(&ptes, index)))
            .filter(|&(_, pte)| pte.is_valid())
            .collect()
    }

    fn read(&self, pte: usize) -> Sv39Entry {
        Sv39Entry(self.memory.read_u64(pte))
    }

    fn write(&self, pte: usize, entry: Sv39Entry) {
        self.memory.write_u64(pte, entry.0);
    }

    /// The leaf PTE that covers `va` (canonical) and its level, if one does.
    fn walk(&self, va: usize) -> Option<(usize, u32)> {
        let mut table = self.root?;
        for level in (0..=ROOT_LEVEL).rev() {
            let pte = pte_addr(table, va, level);
            let entry = self.read(pte);
            if !entry.is_valid() {
                return None;
            }
            if entry.is_leaf() {
                return Some((pte, level));
            }
            table = entry.pa();
        }
        None
    }

    /// The leaf PTE that starts at `va`, and its level.
    ///
    /// # Errors
    ///
    /// [`PagingError::OutOfRange`] for a non-canonical `va`, [`PagingError::Misaligned`] for
    /// an unaligned one, [`PagingError::NotMapped`], and [`PagingError::HugePage`] if a huge
    /// leaf covers `va` but starts before it.
    fn leaf_starting_at(&self, va: usize) -> Result<(usize, u32), PagingError> {
        check_va(va)?;
        let (pte, level) = self.walk(va).ok_or(PagingError::NotMapped { va })?;
        if va % span(level) != 0 {
            return Err(PagingError::HugePage { va });
        }
        Ok((pte, level))
    }

    /// The lowest leaf under the level-`level` table at `table` (which translates the raw
    /// addresses from `base`) that intersects the raw range `[start, end)`, as the raw address
    /// it starts at, its entry and its level: a depth-first walk that skips an invalid entry
    /// with every page below it and stops at the first entry beyond `end`.
    fn first_leaf(
        &self,
        table: usize,
        level: u32,
        base: usize,
        start: usize,
        end: usize,
    ) -> Option<(usize, Sv39Entry, u32)> {
        let first = start.saturating_sub(base) / span(level);
        let ptes = self.ptes(table);
        (first..ENTRIES)
            .map(|index| (index, base + index * span(level)))
            .take_while(|&(_, va)| va < end)
            .find_map(|(index, va)| {
                let pte = pte_at(&ptes, index);
                if !pte.is_valid() {
                    None
                } else if pte.is_leaf() {
                    Some((va, pte, level))
                } else if level > 0 {
                    self.first_leaf(pte.pa(), level - 1, va, start, end)
                } else {
                    None
                }
            })
    }

    /// Whether the table at `table` (of level `level`) maps nothing.
    fn is_empty_table(&self, table: usize, level: u32) -> bool {
        self.table_entries(table)
            .into_iter()
            .all(|(_, pte)| !pte.is_leaf() && level > 0 && self.is_empty_table(pte.pa(), level - 1))
    }

    /// Gives the table at `table` (of level `level`) and every table below it back.
    fn free_tables(&mut self, table: usize, level: u32, frames: &mut impl FrameAllocator) {
        // Read each table before freeing it: a freed frame is poisoned.
        if level > 0 {
            for (_, pte) in self.table_entries(table) {
                if !pte.is_leaf() {
                    self.free_tables(pte.pa(), level - 1, frames);
                }
            }
        }
        frames.dealloc(table);
        self.table_frames -= 1;
    }

    /// A table frame from `frames`, counted as this table's.
    fn alloc_table(&mut self, frames: &mut impl FrameAllocator) -> Result<usize, PagingError> {
        let table = frames.alloc().ok_or(PagingError::OutOfFrames)?;
        self.table_frames += 1;
        Ok(table)
    }
}

impl PageTable for SoftPageTable {
    fn page_sizes(&self) -> &'static [PageSize] {
        self.sizes
    }

    /// Maps the leaf, allocating missing tables; an empty table where a huge leaf goes is
    /// given back and replaced by the leaf.
    ///
    /// # Errors
    ///
    /// [`PagingError::Misaligned`] for a `va` or `pa` that is not a multiple of `size`,
    /// [`PagingError::OutOfRange`] for a non-canonical `va` or a `pa` of 2^56 or more,
    /// [`PagingError::UnsupportedSize`], [`PagingError::AlreadyMapped`], and
    /// [`PagingError::OutOfFrames`] (tables allocated before the failure stay, empty).
    fn map(
        &mut self,
        va: usize,
        pa: usize,
        size: PageSize,
        attr: MemoryAttr,
        frames: &mut impl FrameAllocator,
    ) -> Result<(), PagingError> {
        check_va(va)?;
        if !self.sizes.contains(&size) {
            return Err(PagingError::UnsupportedSize { size });
        }
        for addr in [va, pa] {
            if !size.is_aligned(addr) {
                return Err(PagingError::Misaligned { addr });
            }
        }
        if pa >> PA_BITS != 0 || (pa + (size.bytes() - 1)) >> PA_BITS != 0 {
            return Err(PagingError::OutOfRange { addr: pa });
        }
        let target = level_of(size);
        let mut table = match self.root {
            Some(root) => root,
            None => {
                let root = self.alloc_table(frames)?;
                self.root = Some(root);
                root
            }
        };
        for level in (target + 1..=ROOT_LEVEL).rev() {
            let pte = pte_addr(table, va, level);
            let entry = self.read(pte);
            table = if entry.is_leaf() {
                return Err(PagingError::AlreadyMapped { va });
            } else if entry.is_valid() {
                entry.pa()
            } else {
                let next = self.alloc_table(frames)?;
                self.write(pte, Sv39Entry::table(next));
                next
            };
        }
        let pte = pte_addr(table, va, target);
        let entry = self.read(pte);
        if entry.is_leaf() {
            return Err(PagingError::AlreadyMapped { va });
        }
        if entry.is_valid() {
            // A table where a huge leaf goes: fine if nothing is mapped below it.
            let below = target.checked_sub(1);
            match below.filter(|&level| self.is_empty_table(entry.pa(), level)) {
                Some(level) => self.free_tables(entry.pa(), level, frames),
                None => return Err(PagingError::AlreadyMapped { va }),
            }
        }
        self.write(pte, Sv39Entry::leaf(pa, attr));
        Ok(())
    }

    fn unmap(&mut self, va: usize) -> Result<Leaf, PagingError> {
        let (pte, level) = self.leaf_starting_at(va)?;
        let leaf = leaf_at(va, self.read(pte), level);
        self.write(pte, Sv39Entry(0));
        Ok(leaf)
    }

    fn protect(&mut self, va: usize, attr: MemoryAttr) -> Result<MemoryAttr, PagingError> {
        let (pte, _) = self.leaf_starting_at(va)?;
        let old = self.read(pte);
        self.write(pte, Sv39Entry::leaf(old.pa(), attr));
        Ok(old.attr())
    }

    fn remap(&mut self, va: usize, pa: usize, attr: MemoryAttr) -> Result<usize, PagingError> {
        let (pte, level) = self.leaf_starting_at(va)?;
        if level != 0 {
            return Err(PagingError::HugePage { va });
        }
        if pa % PAGE_SIZE != 0 {
            return Err(PagingError::Misaligned { addr: pa });
        }
        if pa >> PA_BITS != 0 {
            return Err(PagingError::OutOfRange { addr: pa });
        }
        let old = self.read(pte);
        self.write(pte, Sv39Entry::leaf(pa, attr));
        Ok(old.pa())
    }

    fn split(&mut self, va: usize, frames: &mut impl FrameAllocator) -> Result<(), PagingError> {
        let (pte, level) = match self.leaf_starting_at(va) {
            Ok((pte, level)) if level > 0 => (pte, level),
            _ => return Err(PagingError::NotMapped { va }),
        };
        let old = self.read(pte);
        let table = self.alloc_table(frames)?;
        let smaller = span(level - 1);
        for index in 0..ENTRIES {
            let entry = Sv39Entry::leaf(old.pa() + index * smaller, old.attr());
            self.write(table + index * 8, entry);
        }
        self.write(pte, Sv39Entry::table(table));
        Ok(())
    }

    fn query(&self, va: usize) -> Option<Leaf> {
        if sign_extend(va) != va {
            return None;
        }
        let (pte, level) = self.walk(va)?;
        Some(leaf_at(va - va % span(level), self.read(pte), level))
    }

    /// Walks down from the root, skipping every invalid root or middle entry with the 1 GiB or
    /// 2 MiB below it, and the non-canonical hole between the two halves: *O*(entries read),
    /// at most 512 per table visited, however large the range.
    fn next_mapped(&self, start: usize, end: usize) -> Option<usize> {
        let start = start.checked_next_multiple_of(PAGE_SIZE)?;
        let (raw, _, _) = self.first_leaf(self.root?, ROOT_LEVEL, 0, to_raw(start), to_raw(end))?;
        Some(sign_extend(raw.max(to_raw(start))))
    }

    /// [`next_mapped`](PageTable::next_mapped)'s walk, which ends at the leaf.
    fn next_leaf(&self, start: usize, end: usize) -> Option<Leaf> {
        let start = start.checked_next_multiple_of(PAGE_SIZE)?;
        let (raw, pte, level) =
            self.first_leaf(self.root?, ROOT_LEVEL, 0, to_raw(start), to_raw(end))?;
        Some(leaf_at(sign_extend(raw), pte, level))
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
        if let Some(root) = self.root.take() {
            self.free_tables(root, ROOT_LEVEL, frames);
        }
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
            .field("activations", &self.activations.get())
            .finish_non_exhaustive()
    }
}

/// The bytes a leaf of level `level` maps.
fn span(level: u32) -> usize {
    PAGE_SIZE << (9 * level)
}

/// The level whose leaves have `size`.
fn level_of(size: PageSize) -> u32 {
    match size {
        PageSize::Size4K => 0,
        PageSize::Size2M => 1,
        PageSize::Size1G => 2,
    }
}

/// The leaf of level `level` at `va` with entry `pte`.
fn leaf_at(va: usize, pte: Sv39Entry, level: u32) -> Leaf {
    let size = [PageSize::Size4K, PageSize::Size2M, PageSize::Size1G][level as usize];
    Leaf {
        va,
        pa: pte.pa(),
        size,
        attr: pte.attr(),
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
fn pte_at(ptes: &[u8], index: usize) -> Sv39Entry {
    Sv39Entry(
        ptes.get(index * 8..)
            .and_then(<[u8]>::first_chunk)
            .map_or(0, |bytes| u64::from_le_bytes(*bytes)),
    )
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

    /// Maps a 4 KiB page through the trait, the way `MemorySet` does.
    fn map_with(
        pt: &mut impl PageTable,
        va: usize,
        pa: usize,
        attr: MemoryAttr,
        frames: &mut impl FrameAllocator,
    ) -> Result<(), PagingError> {
        pt.map(va, pa, PageSize::Size4K, attr, frames)
    }

    /// Maps a kernel `rwx` 4 KiB page, as the seed's `pt.map(va, pa)` did.
    fn map_rwx(
        pt: &mut impl PageTable,
        va: usize,
        pa: usize,
        frames: &mut impl FrameAllocator,
    ) -> Result<(), PagingError> {
        map_with(pt, va, pa, MemoryAttr::new().set_execute(), frames)
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
        map_rwx(&mut pt, 0x1000, 0x4000_0000, &mut fa).expect("map");
        let rwx = Sv39Entry::READ | Sv39Entry::WRITE | Sv39Entry::EXECUTE;
        let (pte, level) = pt.walk(0x1000).expect("a leaf");
        assert_eq!(level, 0);
        assert_eq!(
            pt.read(pte).0,
            (0x4000_0000 >> 12) << 10 | rwx | Sv39Entry::VALID
        );
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
        map_rwx(&mut pt, 0x1000, 0x5000, &mut fa).expect("map");
        // Tables are allocated root first, lowest frame first.
        let (root, middle, leaf) = (BASE, BASE + PAGE_SIZE, BASE + 2 * PAGE_SIZE);
        let pte = |table: usize, index: usize| fa.memory().read_u64(table + index * 8);
        assert_eq!(pte(root, 0), (middle as u64 >> 12) << 10 | Sv39Entry::VALID);
        assert_eq!(pte(middle, 0), (leaf as u64 >> 12) << 10 | Sv39Entry::VALID);
        assert_eq!(pte(leaf, 1) >> 10, 5);
    }

    #[test]
    fn attributes_land_in_simulated_memory_and_protect_returns_the_old_ones() {
        let (mut fa, mut pt) = setup(8);
        let attr = MemoryAttr::new().set_user().set_readonly();
        map_with(&mut pt, 0x2000, 0x9000, attr, &mut fa).expect("map");
        assert_eq!(pt.translate(0x2000), Some((0x9000, attr)));
        let (pte, _) = pt.walk(0x2000).expect("a leaf");
        let bits = pt.read(pte).0;
        assert_eq!(
            bits & 0x3f,
            Sv39Entry::VALID | Sv39Entry::READ | Sv39Entry::USER
        );
        let text = MemoryAttr::new().set_readonly().set_execute();
        assert_eq!(pt.protect(0x2000, text), Ok(attr));
        assert_eq!(pt.translate(0x2abc), Some((0x9abc, text)));
    }

    #[test]
    fn every_attribute_encodes_and_decodes() {
        for flags in 0..=MemoryAttr::FLAGS_MASK {
            let attr = MemoryAttr::try_from(flags).expect("a valid value");
            let entry = Sv39Entry::leaf(0x8000_1000, attr);
            assert!(entry.is_leaf());
            assert_eq!((entry.pa(), entry.attr()), (0x8000_1000, attr));
            assert_eq!(entry.0 & Sv39Entry::PBMT_IO != 0, attr.is_device());
            assert_eq!(entry.0 & Sv39Entry::GLOBAL != 0, attr.is_global());
        }
        assert!(!Sv39Entry::table(0x8000_2000).is_leaf());
    }

    #[test]
    fn double_map_is_refused_and_changes_nothing() {
        let (mut fa, mut pt) = setup(8);
        let attr = MemoryAttr::new().set_user();
        map_with(&mut pt, 0x1000, 0x8000, attr, &mut fa).expect("map");
        assert_eq!(
            map_rwx(&mut pt, 0x1000, 0x9000, &mut fa),
            Err(PagingError::AlreadyMapped { va: 0x1000 })
        );
        assert_eq!(pt.translate(0x1000), Some((0x8000, attr)));
        assert_eq!(fa.live(), 3);
    }

    #[test]
    fn unmap_returns_the_frame_and_refuses_a_second_time() {
        let (mut fa, mut pt) = setup(8);
        map_rwx(&mut pt, 0x3000, 0xa000, &mut fa).expect("map");
        assert_eq!(pt.unmap(0x3000).map(|leaf| leaf.pa), Ok(0xa000));
        assert_eq!(pt.translate(0x3000), None);
        assert_eq!(pt.unmap(0x3000), Err(PagingError::NotMapped { va: 0x3000 }));
        assert_eq!(
            pt.protect(0x3000, MemoryAttr::new()),
            Err(PagingError::NotMapped { va: 0x3000 })
        );
        // The tables stay; the page can be mapped again without new frames.
        map_rwx(&mut pt, 0x3000, 0xb000, &mut fa).expect("map again");
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
            map_rwx(&mut pt, 0x1001, 0x2000, &mut fa),
            misaligned(0x1001)
        );
        assert_eq!(
            map_rwx(&mut pt, 0x1000, 0x2008, &mut fa),
            misaligned(0x2008)
        );
        assert_eq!(pt.unmap(0x1800).map(|_| ()), misaligned(0x1800));
        assert_eq!(
            pt.protect(0x10, MemoryAttr::new()).map(|_| ()),
            misaligned(0x10)
        );
        let huge = |va, pa, fa: &mut CountingFrameAllocator, pt: &mut SoftPageTable| {
            pt.map(va, pa, PageSize::Size2M, MemoryAttr::new(), fa)
        };
        assert_eq!(huge(0x1000, 0, &mut fa, &mut pt), misaligned(0x1000));
        assert_eq!(huge(MIB2, 0x1000, &mut fa, &mut pt), misaligned(0x1000));
        assert_eq!(fa.allocated(), 0);
    }

    #[test]
    fn non_canonical_and_too_wide_addresses_are_out_of_range() {
        let (mut fa, mut pt) = setup(8);
        for va in [1 << 38, 1 << 39, 0xffff_ff80_0000_0000 - PAGE_SIZE, 1 << 63] {
            let out = Err(PagingError::OutOfRange { addr: va });
            assert_eq!(map_rwx(&mut pt, va, 0x1000, &mut fa), out);
            assert_eq!(pt.unmap(va).map(|_| ()), out);
            assert_eq!(pt.translate(va), None);
        }
        assert_eq!(
            map_rwx(&mut pt, 0x1000, 1 << 56, &mut fa),
            Err(PagingError::OutOfRange { addr: 1 << 56 })
        );
        assert_eq!(fa.allocated(), 0);
        // The widest physical page still fits.
        let top_pa = (1 << 56) - PAGE_SIZE;
        map_rwx(&mut pt, 0x1000, top_pa, &mut fa).expect("widest pa");
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
        map_rwx(&mut pt, 0, 0x1000, &mut fa).expect("first page");
        assert_eq!(pt.table_frames(), 3);
        map_rwx(&mut pt, MIB2 - PAGE_SIZE, 0x1000, &mut fa).expect("same leaf table");
        assert_eq!(pt.table_frames(), 3);
        map_rwx(&mut pt, MIB2, 0x1000, &mut fa).expect("next leaf table");
        assert_eq!(pt.table_frames(), 4);
        map_rwx(&mut pt, GIB, 0x1000, &mut fa).expect("next middle table");
        assert_eq!(pt.table_frames(), 6);
        assert_eq!(fa.live(), pt.table_frames());
    }

    #[test]
    fn out_of_frames_maps_nothing_and_destroy_reclaims_partial_tables() {
        let (mut fa, mut pt) = setup(2);
        assert_eq!(
            map_rwx(&mut pt, 0x1000, 0x1000, &mut fa).map(|_| ()),
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
            map_rwx(&mut pt, va, 0x1000, &mut fa).expect("map");
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
        map_rwx(&mut pt, 0x1000, 0x1000, &mut fa).expect("map after destroy");
        assert_eq!(pt.table_frames(), 3);
    }

    #[test]
    fn destroy_keeps_mapped_frames_alive() {
        let (mut fa, mut pt) = setup(8);
        let page = fa.alloc().expect("a page");
        map_rwx(&mut pt, 0x1000, page, &mut fa).expect("map");
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
            map_rwx(&mut pt, va, 0x1000, &mut fa).expect("map");
        }
        // An emptied leaf table and an emptied middle table must be skipped too.
        for va in [4 * MIB2, 9 * GIB] {
            map_rwx(&mut pt, va, 0x1000, &mut fa).expect("map");
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
            let leaf = pt.unmap(0x1000).expect("unmap");
            fa.dealloc(leaf.pa);
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
        let _ = map_rwx(&mut pt, 0x1000, 0x1000, &mut elsewhere);
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
            let attr = MemoryAttr::try_from(rng.below(32)).expect("five flag bits");
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
                    assert_eq!(pt.unmap(va).ok().map(|leaf| leaf.pa), expected);
                }
                _ => match pt.protect(va, attr) {
                    Ok(old) => {
                        let page = model.get_mut(&va).expect("mapped in the model");
                        assert_eq!(old, page.1);
                        page.1 = attr;
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
                    let leaf = pt.next_mapped(start, end).and_then(|va| pt.query(va));
                    assert_eq!(pt.next_leaf(start, end), leaf, "step {step}");
                }
            }
        }
        pt.destroy(&mut fa);
        assert_eq!(fa.live(), 0);
    }

    #[test]
    fn huge_leaves_map_translate_and_list_as_their_pages() {
        let (mut fa, mut pt) = setup(8);
        let rw = MemoryAttr::new();
        pt.map(GIB, 0x4000_0000, PageSize::Size1G, rw, &mut fa)
            .expect("1 GiB");
        pt.map(2 * MIB2, 0x20_0000, PageSize::Size2M, rw, &mut fa)
            .expect("2 MiB");
        assert_eq!(pt.table_frames(), 2, "a root and one middle table");
        assert_eq!(pt.translate(GIB + 0x12_3456), Some((0x4012_3456, rw)));
        let leaf = pt.query(2 * MIB2 + 0x5000).expect("mapped");
        assert_eq!(
            (leaf.va, leaf.pa, leaf.size),
            (2 * MIB2, 0x20_0000, PageSize::Size2M)
        );
        assert_eq!(pt.leaves().len(), 2);
        if !cfg!(miri) {
            // A quarter of a million pages: natively only.
            assert_eq!(pt.mapped_pages().count(), 512 + 512 * 512);
        }
        assert_eq!(pt.next_mapped(GIB + 0x5000, 2 * GIB), Some(GIB + 0x5000));
        assert_eq!(pt.next_leaf(GIB + 0x5000, 2 * GIB), pt.query(GIB));
        assert_eq!(pt.next_mapped(0, GIB), Some(2 * MIB2));
        // A page inside a huge leaf is mapped; only the leaf's start unmaps it.
        assert_eq!(
            map_rwx(&mut pt, GIB + 0x1000, 0x1000, &mut fa),
            Err(PagingError::AlreadyMapped { va: GIB + 0x1000 })
        );
        assert_eq!(
            pt.unmap(2 * MIB2 + 0x1000),
            Err(PagingError::HugePage {
                va: 2 * MIB2 + 0x1000
            })
        );
        assert_eq!(pt.unmap(2 * MIB2).map(|l| l.size), Ok(PageSize::Size2M));
        assert_eq!(pt.translate(2 * MIB2), None);
    }

    #[test]
    fn split_keeps_every_translation_and_split_at_makes_a_boundary() {
        let (mut fa, mut pt) = setup(8);
        let ro = MemoryAttr::new().set_readonly();
        pt.map(GIB, 0x4000_0000, PageSize::Size1G, ro, &mut fa)
            .expect("1 GiB");
        let before: Vec<_> = [GIB, GIB + 0x12_3000, 2 * GIB - PAGE_SIZE]
            .map(|va| pt.translate(va))
            .to_vec();
        let addr = GIB + 3 * MIB2 + 5 * PAGE_SIZE;
        pt.split_at(addr, &mut fa).expect("two splits");
        assert_eq!(
            pt.query(addr).map(|l| (l.va, l.size)),
            Some((addr, PageSize::Size4K))
        );
        assert_eq!(pt.query(GIB).map(|l| l.size), Some(PageSize::Size2M));
        let after: Vec<_> = [GIB, GIB + 0x12_3000, 2 * GIB - PAGE_SIZE]
            .map(|va| pt.translate(va))
            .to_vec();
        assert_eq!(after, before);
        assert_eq!(pt.table_frames(), 3);
        assert_eq!(
            pt.split(addr, &mut fa),
            Err(PagingError::NotMapped { va: addr })
        );
        // An aligned address needs no split.
        pt.split_at(GIB + 4 * MIB2, &mut fa)
            .expect("already a boundary");
        assert_eq!(pt.table_frames(), 3);
    }

    #[test]
    fn a_split_without_a_frame_changes_nothing() {
        let (mut fa, mut pt) = setup(2);
        pt.map(
            GIB,
            0x4000_0000,
            PageSize::Size1G,
            MemoryAttr::new(),
            &mut fa,
        )
        .expect("1 GiB");
        fa.set_budget(Some(0));
        assert_eq!(
            pt.split_at(GIB + PAGE_SIZE, &mut fa),
            Err(PagingError::OutOfFrames)
        );
        assert_eq!(pt.query(GIB).map(|l| l.size), Some(PageSize::Size1G));
    }

    #[test]
    fn map_range_takes_the_largest_leaves_alignment_allows() {
        let (mut fa, mut pt) = setup(16);
        let rw = MemoryAttr::new();
        // 4 KiB up to 2 MiB alignment, 2 MiB leaves up to 1 GiB, one 1 GiB leaf, then back
        // down.
        let (va, pa) = (GIB - MIB2 - PAGE_SIZE, 0x8000_0000 - MIB2 - PAGE_SIZE);
        let len = PAGE_SIZE + MIB2 + GIB + MIB2 + PAGE_SIZE;
        pt.map_range(va, pa, len, rw, &mut fa).expect("mapped");
        let sizes: Vec<_> = pt.leaves().iter().map(|l| l.size).collect();
        use PageSize::*;
        assert_eq!(sizes, [Size4K, Size2M, Size1G, Size2M, Size4K]);
        assert_eq!(pt.translate(va + len - 1), Some((pa + len - 1, rw)));
        // Without huge pages: one leaf per page.
        let mut flat = SoftPageTable::without_huge_pages(fa.memory());
        assert_eq!(
            flat.map(0, 0, Size2M, rw, &mut fa),
            Err(PagingError::UnsupportedSize { size: Size2M })
        );
        flat.map_range(0, 0, 2 * MIB2, rw, &mut fa).expect("mapped");
        assert_eq!(flat.leaves().len(), 1024);
        flat.destroy(&mut fa);
        pt.destroy(&mut fa);
        assert_eq!(fa.live(), 0);
    }

    #[test]
    fn a_huge_leaf_replaces_an_emptied_table_but_not_a_used_one() {
        let (mut fa, mut pt) = setup(16);
        let rw = MemoryAttr::new();
        map_rwx(&mut pt, MIB2 + PAGE_SIZE, 0x1000, &mut fa).expect("4 KiB");
        assert_eq!(
            pt.map(MIB2, 0, PageSize::Size2M, rw, &mut fa),
            Err(PagingError::AlreadyMapped { va: MIB2 })
        );
        pt.unmap(MIB2 + PAGE_SIZE).expect("unmapped");
        let tables = pt.table_frames();
        pt.map(MIB2, 0, PageSize::Size2M, rw, &mut fa)
            .expect("the empty leaf table goes");
        assert_eq!(pt.table_frames(), tables - 1);
        assert_eq!(fa.live(), pt.table_frames());
    }

    #[test]
    fn the_tlb_serves_stale_translations_until_flushed() {
        let (mut fa, mut pt) = setup(8);
        let rw = MemoryAttr::new();
        map_with(&mut pt, 0x1000, 0x8000_5000, rw, &mut fa).expect("map");
        assert_eq!(pt.access(0x1008, Access::Write), Some(0x8000_5008));
        pt.protect(0x1000, rw.set_readonly()).expect("protect");
        assert_eq!(pt.access(0x1008, Access::Write), Some(0x8000_5008), "stale");
        pt.flush_tlb(0x1000..0x2000);
        assert_eq!(pt.access(0x1008, Access::Write), None);
        assert_eq!(pt.access(0x1008, Access::Read), Some(0x8000_5008));
        assert_eq!((pt.flushes(), pt.tlb_entries()), (1, 1));
        pt.unmap(0x1000).expect("unmap");
        assert_eq!(pt.access(0x1008, Access::Read), Some(0x8000_5008), "stale");
        pt.flush_tlb(0..usize::MAX);
        assert_eq!(pt.access(0x1008, Access::Read), None);
    }
}
