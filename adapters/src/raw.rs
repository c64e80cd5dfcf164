//! The raw radix-table walks both adapters are made of: over the 512-entry tables of 64-bit
//! entries that x86-64 and RISC-V Sv39/Sv48 share, seen through [`RawTables`].

use range_action_map::memory_set::{FrameAllocator, PageSize, PagingError, PAGE_SIZE};

/// Entries per table: 4 KiB of 8-byte entries, at every level of every table served here.
pub(crate) const ENTRIES: usize = 512;

/// A TLB flush of more pages than this flushes the whole address space instead (the
/// threshold `page_table_multiarch` uses, and Linux's `tlb_single_page_flush_ceiling` is of
/// that order).
#[cfg(any(
    test,
    all(
        target_os = "none",
        any(feature = "page_table_multiarch", target_arch = "x86_64")
    )
))]
pub(crate) const FLUSH_ALL_ABOVE: usize = 32;

/// What an entry holds, as the walkers below see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    /// Nothing: the entry is not present.
    Absent,
    /// A leaf (a 4 KiB page at level 0, a huge page above).
    Leaf,
    /// The next-level table at this physical address.
    Table(usize),
}

/// Where an entry lives: the physical address of its table, its index there, and the
/// table's level (0 for the tables of 4 KiB leaves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) table: usize,
    pub(crate) index: usize,
    pub(crate) level: u32,
}

/// The raw view of a radix table of 512-entry tables that the walkers need; each adapter
/// implements it over its crate's entries.
pub(crate) trait RawTables {
    /// The level of the root table (2 for three levels, 3 for four).
    const ROOT_LEVEL: u32;
    /// Bits of virtual address the table translates; the rest are its sign extension.
    const VA_BITS: u32;

    /// The root table, if there is one.
    fn root(&self) -> Option<usize>;
    /// The entry at `index` of the level-`level` table at `table`.
    fn node(&self, table: usize, level: u32, index: usize) -> Node;
    /// Clears the entry at `slot` (nothing left in it).
    fn clear(&mut self, slot: Slot);
    /// Records that a table frame from `frames` went back.
    fn table_freed(&mut self);
}

/// The bytes a leaf of level `level` maps.
pub(crate) const fn span(level: u32) -> usize {
    PAGE_SIZE << (9 * level)
}

/// The level whose leaves have `size`.
pub(crate) const fn level_of(size: PageSize) -> u32 {
    match size {
        PageSize::Size4K => 0,
        PageSize::Size2M => 1,
        PageSize::Size1G => 2,
    }
}

/// The size of the leaves of `level` (0, 1 or 2).
pub(crate) fn size_at(level: u32) -> PageSize {
    [PageSize::Size4K, PageSize::Size2M, PageSize::Size1G][level as usize]
}

/// The index of `va`'s entry in a level-`level` table.
pub(crate) const fn index_of(va: usize, level: u32) -> usize {
    (va >> (12 + 9 * level)) % ENTRIES
}

/// The sizes every table here maps.
pub(crate) const SIZES: &[PageSize] = &[PageSize::Size4K, PageSize::Size2M, PageSize::Size1G];

/// Copies bit `bits - 1` of `va` into the bits above it.
pub(crate) const fn sign_extend(va: usize, bits: u32) -> usize {
    let unused = usize::BITS - bits;
    ((va << unused) as isize >> unused) as usize
}

/// Whether `va` is canonical for a table of `bits`-bit virtual addresses.
pub(crate) const fn is_canonical(va: usize, bits: u32) -> bool {
    sign_extend(va, bits) == va
}

/// Where `va` falls among the `bits` bits a table indexes (its raw address), in the same
/// order: a canonical address loses its sign extension, and a non-canonical one, which no
/// table maps, moves to the start of the upper half. [`sign_extend`] reverses it.
pub(crate) fn to_raw(va: usize, bits: u32) -> usize {
    let upper_half = 1 << (bits - 1);
    if va < upper_half {
        va
    } else {
        va.max(sign_extend(upper_half, bits)) & ((1 << bits) - 1)
    }
}

/// The leaf that covers the canonical `va`, if one does.
pub(crate) fn leaf_covering<T: RawTables>(t: &T, va: usize) -> Option<Slot> {
    let mut table = t.root()?;
    // Loop invariant: `table` is the level-`level` table on `va`'s path.
    for level in (0..=T::ROOT_LEVEL).rev() {
        let index = index_of(va, level);
        match t.node(table, level, index) {
            Node::Absent => return None,
            Node::Leaf => {
                return Some(Slot {
                    table,
                    index,
                    level,
                })
            }
            Node::Table(next) => table = next,
        }
    }
    None
}

/// The leaf that starts at `va`.
///
/// # Errors
///
/// [`PagingError::Misaligned`] for an unaligned `va`, [`PagingError::OutOfRange`] for a
/// non-canonical one, [`PagingError::NotMapped`], and [`PagingError::HugePage`] if a huge
/// leaf covers `va` but starts before it: the checks of the test kit's Sv39 table, in its
/// order.
pub(crate) fn leaf_starting_at<T: RawTables>(t: &T, va: usize) -> Result<Slot, PagingError> {
    check_va::<T>(va)?;
    let slot = leaf_covering(t, va).ok_or(PagingError::NotMapped { va })?;
    if va % span(slot.level) != 0 {
        return Err(PagingError::HugePage { va });
    }
    Ok(slot)
}

/// Checks that `va` is a page-aligned canonical address.
pub(crate) fn check_va<T: RawTables>(va: usize) -> Result<(), PagingError> {
    if va % PAGE_SIZE != 0 {
        return Err(PagingError::Misaligned { addr: va });
    }
    if !is_canonical(va, T::VA_BITS) {
        return Err(PagingError::OutOfRange { addr: va });
    }
    Ok(())
}

/// The checks of [`PageTable::map`](range_action_map::memory_set::PageTable::map) before the table is touched, in
/// the test kit's order: `va` page aligned and canonical, `size` supported, `va` and `pa`
/// multiples of `size`, and `[pa, pa + size)` inside what an entry can hold (`pa_ok` of its
/// last byte).
pub(crate) fn check_map<T: RawTables>(
    va: usize,
    pa: usize,
    size: PageSize,
    pa_ok: impl Fn(usize) -> bool,
) -> Result<(), PagingError> {
    check_va::<T>(va)?;
    for addr in [va, pa] {
        if !size.is_aligned(addr) {
            return Err(PagingError::Misaligned { addr });
        }
    }
    match pa.checked_add(size.bytes() - 1) {
        Some(last) if pa_ok(last) => Ok(()),
        _ => Err(PagingError::OutOfRange { addr: pa }),
    }
}

/// Makes room for a leaf of level `target` at `va`: fails if a leaf already maps any page of
/// it, and gives back to `frames` an emptied table that sits where the leaf goes (the test
/// kit's table does the same). Tables missing on the path are left for the caller to make.
///
/// # Errors
///
/// [`PagingError::AlreadyMapped`] (nothing changed).
pub(crate) fn make_room<T: RawTables>(
    t: &mut T,
    va: usize,
    target: u32,
    frames: &mut impl FrameAllocator,
) -> Result<(), PagingError> {
    let Some(mut table) = t.root() else {
        return Ok(());
    };
    // Loop invariant: `table` is the level-`level` table on `va`'s path, and no leaf above
    // it covers `va`.
    for level in (target..=T::ROOT_LEVEL).rev() {
        let slot = Slot {
            table,
            index: index_of(va, level),
            level,
        };
        match t.node(table, level, slot.index) {
            Node::Absent => return Ok(()),
            Node::Leaf => return Err(PagingError::AlreadyMapped { va }),
            Node::Table(next) if level > target => table = next,
            Node::Table(below) => {
                // A table where the leaf goes: fine if nothing is mapped below it.
                if !is_empty(t, below, level - 1) {
                    return Err(PagingError::AlreadyMapped { va });
                }
                free_tables(t, below, level - 1, frames);
                t.clear(slot);
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Whether the level-`level` table at `table` maps nothing.
pub(crate) fn is_empty<T: RawTables>(t: &T, table: usize, level: u32) -> bool {
    (0..ENTRIES).all(|index| match t.node(table, level, index) {
        Node::Absent => true,
        Node::Leaf => false,
        Node::Table(below) => level > 0 && is_empty(t, below, level - 1),
    })
}

/// Gives the level-`level` table at `table` and every table below it back to `frames`. The
/// entries pointing to it are the caller's to clear.
pub(crate) fn free_tables<T: RawTables>(
    t: &mut T,
    table: usize,
    level: u32,
    frames: &mut impl FrameAllocator,
) {
    if level > 0 {
        for index in 0..ENTRIES {
            if let Node::Table(below) = t.node(table, level, index) {
                free_tables(t, below, level - 1, frames);
            }
        }
    }
    frames.dealloc(table);
    t.table_freed();
}

/// Gives every table below the root back to `frames` and clears the root's entries: the
/// address space maps nothing afterwards.
pub(crate) fn free_below_root<T: RawTables>(t: &mut T, frames: &mut impl FrameAllocator) {
    let Some(root) = t.root() else { return };
    for index in 0..ENTRIES {
        let slot = Slot {
            table: root,
            index,
            level: T::ROOT_LEVEL,
        };
        match t.node(root, T::ROOT_LEVEL, index) {
            Node::Absent => {}
            Node::Leaf => t.clear(slot),
            Node::Table(below) => {
                free_tables(t, below, T::ROOT_LEVEL - 1, frames);
                t.clear(slot);
            }
        }
    }
}

/// [`PageTable::next_mapped`](range_action_map::memory_set::PageTable::next_mapped) over raw entries: a depth-first
/// walk that skips an absent entry with every page below it and stops at the first entry
/// beyond `end`, *O*(entries read), at most 512 per table visited.
pub(crate) fn next_mapped<T: RawTables>(t: &T, start: usize, end: usize) -> Option<usize> {
    let start = start.checked_next_multiple_of(PAGE_SIZE)?;
    let (raw_start, raw_end) = (to_raw(start, T::VA_BITS), to_raw(end, T::VA_BITS));
    let raw = first_leaf(t, t.root()?, T::ROOT_LEVEL, 0, raw_start, raw_end)?;
    Some(sign_extend(raw, T::VA_BITS))
}

/// The raw address of the lowest leaf under the level-`level` table at `table` (which
/// translates the raw addresses from `base`) that intersects the raw range `[start, end)`,
/// clamped to `start`.
pub(crate) fn first_leaf<T: RawTables>(
    t: &T,
    table: usize,
    level: u32,
    base: usize,
    start: usize,
    end: usize,
) -> Option<usize> {
    let first = start.saturating_sub(base) / span(level);
    (first..ENTRIES)
        .map(|index| (index, base + index * span(level)))
        .take_while(|&(_, va)| va < end)
        .find_map(|(index, va)| match t.node(table, level, index) {
            Node::Absent => None,
            Node::Leaf => Some(va.max(start)),
            Node::Table(below) => first_leaf(t, below, level - 1, va, start, end),
        })
}

/// Flushes `range` from the TLB by `one` page at a time, or by `all` when the range has more
/// than [`FLUSH_ALL_ABOVE`] pages: whichever is cheaper.
#[cfg(any(
    test,
    all(
        target_os = "none",
        any(feature = "page_table_multiarch", target_arch = "x86_64")
    )
))]
pub(crate) fn flush_range(
    range: core::ops::Range<usize>,
    mut one: impl FnMut(usize),
    all: impl FnOnce(),
) {
    let pages = (range.end.saturating_sub(range.start)).div_ceil(PAGE_SIZE);
    if pages > FLUSH_ALL_ABOVE {
        all();
    } else {
        (0..pages).for_each(|page| one(range.start + page * PAGE_SIZE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_addresses_keep_the_order_of_canonical_ones() {
        let bits = 39;
        let top = usize::MAX & !(PAGE_SIZE - 1);
        let low_end = 1 << 38;
        assert_eq!(to_raw(0x1000, bits), 0x1000);
        assert_eq!(to_raw(top, bits), (1 << 39) - PAGE_SIZE);
        // The non-canonical hole moves to the start of the upper half.
        assert_eq!(to_raw(low_end, bits), low_end);
        assert_eq!(to_raw(1 << 50, bits), low_end);
        assert_eq!(sign_extend(low_end, bits), low_end.wrapping_neg());
        assert!(is_canonical(top, bits) && !is_canonical(low_end, bits));
        assert!(is_canonical(low_end, 48));
    }

    #[test]
    fn levels_spans_and_sizes_agree() {
        for size in SIZES.iter().copied() {
            let level = level_of(size);
            assert_eq!(size_at(level), size);
            assert_eq!(span(level), size.bytes());
        }
        assert_eq!(index_of(0x4020_3000, 0), 3);
        assert_eq!(index_of(0x4020_3000, 1), 1);
        assert_eq!(index_of(0x4020_3000, 2), 1);
    }

    #[test]
    fn small_flushes_go_page_by_page_and_large_ones_whole() {
        let (mut pages, mut whole) = (0, 0);
        flush_range(0x1000..0x4000, |_| pages += 1, || whole += 1);
        assert_eq!((pages, whole), (3, 0));
        flush_range(0..usize::MAX, |_| pages += 1, || whole += 1);
        assert_eq!((pages, whole), (3, 1));
    }
}
