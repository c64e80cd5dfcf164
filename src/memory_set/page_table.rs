//! The hardware interface a kernel implements for `MemorySet`: page tables and physical frame
//! allocation.
//!
//! `MemorySet` never touches hardware itself. It asks a [`PageTable`] to map, unmap and
//! re-protect leaves (4 KiB pages, and 2 MiB or 1 GiB huge pages where the table has them and
//! the alignment allows), to split a huge leaf before a change to part of it, to find the
//! mapped leaves of a range, and to flush the TLB (once per operation, before the frames it
//! freed go back: see [`TlbGather`](super::TlbGather)); attributes go in and come out by value
//! ([`MemoryAttr`]). It takes frames for page contents and intermediate tables from a
//! [`FrameAllocator`]. The page table and the allocator are passed per call, so one allocator
//! can serve many address spaces (a forked address space maps its own table over the same
//! physical memory).
//!
//! The workspace's test kit (`range-action-map-testkit`) provides software implementations of
//! both traits for tests: a RISC-V Sv39 table with huge pages and a simulated TLB.

use core::fmt;
use core::ops::Range;

use super::attr::MemoryAttr;

/// The size of a page and of a physical frame, in bytes.
pub const PAGE_SIZE: usize = 4096;

/// The size of a leaf of a page table: 4 KiB, or a 2 MiB or 1 GiB huge page (the sizes x86-64,
/// RISC-V Sv39/Sv48 and AArch64 with a 4 KiB granule share).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PageSize {
    /// 4 KiB.
    Size4K,
    /// 2 MiB.
    Size2M,
    /// 1 GiB.
    Size1G,
}

impl PageSize {
    /// Every size, largest first.
    pub const ALL: [PageSize; 3] = [PageSize::Size1G, PageSize::Size2M, PageSize::Size4K];

    /// The size in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            PageSize::Size4K => PAGE_SIZE,
            PageSize::Size2M => 512 * PAGE_SIZE,
            PageSize::Size1G => 512 * 512 * PAGE_SIZE,
        }
    }

    /// The next smaller size, which a split of a leaf of this size makes 512 of.
    pub const fn smaller(self) -> Option<PageSize> {
        match self {
            PageSize::Size4K => None,
            PageSize::Size2M => Some(PageSize::Size4K),
            PageSize::Size1G => Some(PageSize::Size2M),
        }
    }

    /// Whether `addr` is a multiple of the size.
    pub const fn is_aligned(self, addr: usize) -> bool {
        addr % self.bytes() == 0
    }
}

impl fmt::Display for PageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PageSize::Size4K => "4 KiB",
            PageSize::Size2M => "2 MiB",
            PageSize::Size1G => "1 GiB",
        })
    }
}

/// One leaf of a page table, as [`PageTable::query`] finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Leaf {
    /// The virtual address the leaf starts at (a multiple of its size).
    pub va: usize,
    /// The physical address it maps `va` to.
    pub pa: usize,
    /// Its size.
    pub size: PageSize,
    /// Its attributes.
    pub attr: MemoryAttr,
}

impl Leaf {
    /// The virtual range the leaf maps.
    pub const fn range(&self) -> Range<usize> {
        self.va..self.va + self.size.bytes()
    }
}

/// Errors of page-table operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PagingError {
    /// The page at `va` is already mapped; the table is unchanged.
    AlreadyMapped {
        /// The page's virtual address.
        va: usize,
    },
    /// The page at `va` is not mapped; the table is unchanged.
    NotMapped {
        /// The page's virtual address.
        va: usize,
    },
    /// No frame was left for an intermediate table; nothing was mapped.
    OutOfFrames,
    /// A virtual or physical address is not a multiple of the page size it is used with.
    Misaligned {
        /// The offending address.
        addr: usize,
    },
    /// The object behind the page has no page `pgoff`: a file mapping beyond the end of its
    /// file (Linux's `SIGBUS`).
    NoPage {
        /// The page's index in its object.
        pgoff: usize,
    },
    /// An address the table cannot express: a non-canonical virtual address, or a physical
    /// address wider than the entry's frame-number field.
    OutOfRange {
        /// The offending address.
        addr: usize,
    },
    /// A huge page covers `va`, and the operation needs a 4 KiB one there: split it first
    /// ([`PageTable::split`]).
    HugePage {
        /// The address inside the huge page.
        va: usize,
    },
    /// The table cannot map a leaf of this size.
    UnsupportedSize {
        /// The leaf size asked for.
        size: PageSize,
    },
}

impl fmt::Display for PagingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PagingError::AlreadyMapped { va } => write!(f, "page {va:#x} is already mapped"),
            PagingError::NotMapped { va } => write!(f, "page {va:#x} is not mapped"),
            PagingError::OutOfFrames => f.write_str("out of physical frames for page tables"),
            PagingError::Misaligned { addr } => {
                write!(f, "address {addr:#x} is not aligned to its page size")
            }
            PagingError::NoPage { pgoff } => {
                write!(f, "page {pgoff} is beyond the end of its object")
            }
            PagingError::OutOfRange { addr } => {
                write!(
                    f,
                    "address {addr:#x} is outside what the page table can map"
                )
            }
            PagingError::HugePage { va } => write!(f, "a huge page covers {va:#x}"),
            PagingError::UnsupportedSize { size } => {
                write!(f, "the page table has no {size} pages")
            }
        }
    }
}

impl core::error::Error for PagingError {}

/// Physical frames, 4 KiB each, identified by their physical address, with reference counts.
///
/// A frame mapped by several page-table entries (shared after a copy-on-write fork, a shared
/// mapping, a page-cache page) holds one reference per entry, plus whatever the kernel's own
/// structures hold (a page cache keeps one for each cached page). It is freed exactly when the
/// last reference goes: Linux's `get_page` / `put_page`. The reference count is also what a
/// copy-on-write fault reads: a page whose frame has one reference left is made writable in
/// place, any other one is copied.
///
/// Clones of an allocator given to the address spaces of a fork must share frames and counts.
/// An allocator borrows nothing (`'static`): address spaces hold it, or a handle to it, for
/// as long as they live.
pub trait FrameAllocator: 'static {
    /// A fresh zero-filled frame with one reference, or `None` when memory is exhausted.
    fn alloc(&mut self) -> Option<usize>;
    /// Drops one reference to an allocated frame, and frees the frame with its last one.
    /// Releasing a frame that is not allocated is a bug the implementation may report by
    /// panicking.
    fn dealloc(&mut self, pa: usize);
    /// Adds a reference to an allocated frame (it is now mapped once more, or held by a cache).
    fn add_ref(&mut self, pa: usize);
    /// The number of references to the allocated frame `pa`.
    fn ref_count(&self, pa: usize) -> usize;
    /// Copies the 4 KiB contents of frame `src` into frame `dst` (a copy-on-write fault).
    fn copy_frame(&mut self, src: usize, dst: usize);
}

/// A hardware page table (one address space).
///
/// It maps leaves of the [`PageSize`]s it lists in [`page_sizes`](Self::page_sizes): 4 KiB
/// pages always, huge pages if it has them. Attributes are passed and returned by value, and
/// [`map`](Self::map) knows from them whether a page is a user page (so that a table whose
/// upper levels carry a user bit, as x86's do, sets it where it must). It owns the frames of
/// its intermediate tables (given back by [`destroy`](Self::destroy)) but not the frames it
/// maps: whoever mapped a frame frees it after [`unmap`](Self::unmap) returned it (and after
/// the TLB flush).
///
/// The range-shaped operations ([`map_range`](Self::map_range), [`split_at`](Self::split_at))
/// are provided in terms of the single-leaf ones; a table that can do better (batch a run of
/// entries in one walk) overrides them.
///
/// # Implementing this trait
///
/// The test kit's page table is its own oracle, and a kernel's should be too: `map` over a
/// mapped page and `unmap` of an unmapped one must fail rather than silently overwrite or
/// succeed, because `MemorySet` relies on those errors to prove it never double-maps.
///
/// [`next_mapped`](Self::next_mapped) must skip what is absent a whole table at a time, as
/// Linux's page-table walkers skip an empty upper-level entry. `MemorySet` finds the pages
/// of a [`Lazy`](super::Lazy::new()) area only through it, when it forks,
/// re-protects or unmaps the area, and a lazy area may span terabytes (a runtime's address
/// reservation, an `mmap(PROT_NONE)` guard). The obvious implementation is the wrong one:
///
/// ```text
/// fn next_mapped(&self, start: usize, end: usize) -> Option<usize> {
///     // Wrong: 2^28 lookups for an empty 1 TiB area, under a system call.
///     (start..end).step_by(PAGE_SIZE).find(|&va| self.query(va).is_some())
/// }
/// ```
///
/// It is correct and a denial of service: it makes every operation on a lazy area cost
/// *O*(its size) instead of *O*(pages mapped + tables visited).
///
/// A page table borrows nothing (`'static`; a table over a kernel's window onto physical
/// memory borrows it for `'static`, as `x86_64`'s `OffsetPageTable<'static>` does), because
/// its address space hands it to [`MemoryHandler`](super::MemoryHandler) trait objects.
pub trait PageTable: 'static {
    /// The leaf sizes the table can map. The default is 4 KiB only.
    fn page_sizes(&self) -> &'static [PageSize] {
        &[PageSize::Size4K]
    }

    /// Maps the leaf of `size` at `va` to the frames at `pa` with `attr`, allocating
    /// intermediate tables from `frames`.
    ///
    /// # Errors
    ///
    /// - [`PagingError::Misaligned`] if `va` or `pa` is not a multiple of `size`;
    /// - [`PagingError::UnsupportedSize`] for a size not in [`page_sizes`](Self::page_sizes);
    /// - [`PagingError::AlreadyMapped`] if any page of the leaf is mapped already;
    /// - [`PagingError::OutOfFrames`] if `frames` ran dry for an intermediate table
    ///   (tables allocated before the failure may stay, empty, until
    ///   [`destroy`](Self::destroy));
    /// - [`PagingError::OutOfRange`] for addresses the hardware cannot express.
    ///
    /// On error no mapping has changed.
    fn map(
        &mut self,
        va: usize,
        pa: usize,
        size: PageSize,
        attr: MemoryAttr,
        frames: &mut impl FrameAllocator,
    ) -> Result<(), PagingError>;

    /// Removes the leaf that starts at `va` and returns it (intermediate tables may be kept).
    ///
    /// # Errors
    ///
    /// [`PagingError::NotMapped`] if no leaf covers `va`, [`PagingError::HugePage`] if one
    /// does that does not start there (split it first), [`PagingError::Misaligned`] for an
    /// unaligned `va`; the table is unchanged.
    fn unmap(&mut self, va: usize) -> Result<Leaf, PagingError>;

    /// Gives the leaf that starts at `va` the attributes `attr`, and returns the ones it had.
    ///
    /// # Errors
    ///
    /// As [`unmap`](Self::unmap).
    fn protect(&mut self, va: usize, attr: MemoryAttr) -> Result<MemoryAttr, PagingError>;

    /// Points the 4 KiB leaf at `va` to the frame `pa` with `attr` (a copy-on-write fault
    /// replacing a shared frame by a copy), and returns the frame it mapped.
    ///
    /// # Errors
    ///
    /// As [`unmap`](Self::unmap), and [`PagingError::Misaligned`] or
    /// [`PagingError::OutOfRange`] for a `pa` the entry cannot hold.
    fn remap(&mut self, va: usize, pa: usize, attr: MemoryAttr) -> Result<usize, PagingError>;

    /// Replaces the huge leaf that starts at `va` by a table of 512 leaves of the next smaller
    /// size that map the same frames with the same attributes. No translation changes.
    ///
    /// # Errors
    ///
    /// [`PagingError::OutOfFrames`] when `frames` has no frame for the new table,
    /// [`PagingError::NotMapped`] when no huge leaf starts at `va`; the table is unchanged.
    fn split(&mut self, va: usize, frames: &mut impl FrameAllocator) -> Result<(), PagingError>;

    /// The leaf that covers `va` (any address in it), if one does.
    fn query(&self, va: usize) -> Option<Leaf>;

    /// The physical address `va` translates to (its page offset included) and the
    /// attributes of its leaf, if it is mapped.
    fn translate(&self, va: usize) -> Option<(usize, MemoryAttr)> {
        let leaf = self.query(va)?;
        Some((leaf.pa + (va - leaf.va), leaf.attr))
    }

    /// The lowest address in `[start, end)` (a multiple of [`PAGE_SIZE`]) that a leaf maps, or
    /// `None` if none is mapped (or `start >= end`). `start` and `end` are page aligned;
    /// addresses the table cannot express are simply not mapped.
    ///
    /// It must cost *O*(tables visited + levels), never *O*(pages in the range): an absent
    /// entry of an upper-level table is skipped with every page below it, and an entry only
    /// beyond `end` ends the walk. Walking a range page by page is the denial of service
    /// described under [Implementing this trait](PageTable#implementing-this-trait).
    ///
    /// # Examples
    ///
    /// Visiting the mapped leaves of a range, as `MemorySet` does for a lazy area (through
    /// [`next_leaf`](Self::next_leaf)):
    ///
    /// ```
    /// use range_action_map::memory_set::{MemoryAttr, PageSize, PageTable, PAGE_SIZE};
    /// use range_action_map_testkit::{CountingFrameAllocator, SoftPageTable};
    ///
    /// let mut frames = CountingFrameAllocator::new(8);
    /// let mut pt = SoftPageTable::new(frames.memory());
    /// let rw = MemoryAttr::new();
    /// pt.map(0x7000, 0x1000, PageSize::Size4K, rw, &mut frames)?;
    /// pt.map(1 << 30, 0x20_0000, PageSize::Size2M, rw, &mut frames)?;
    /// let (mut from, end, mut found) = (0, 1 << 38, Vec::new());
    /// while let Some(va) = pt.next_mapped(from, end) {
    ///     let leaf = pt.query(va).unwrap();
    ///     found.push((va, leaf.size));
    ///     from = leaf.range().end;
    /// }
    /// assert_eq!(found, [(0x7000, PageSize::Size4K), (1 << 30, PageSize::Size2M)]);
    /// # Ok::<(), range_action_map::memory_set::PagingError>(())
    /// ```
    fn next_mapped(&self, start: usize, end: usize) -> Option<usize>;

    /// The leaf that maps the address [`next_mapped`](Self::next_mapped) finds. The default
    /// asks [`query`](Self::query) for it, a second walk; a table whose walk ends at the leaf
    /// returns it at once (the set calls this for every leaf it unmaps, protects or forks).
    fn next_leaf(&self, start: usize, end: usize) -> Option<Leaf> {
        self.query(self.next_mapped(start, end)?)
    }

    /// Invalidates the TLB entries of the pages of `range` on every CPU that may have used
    /// this table (RISC-V `sfence.vma` per page or for the whole address space, x86 `invlpg`
    /// or a `CR3` reload, with shootdowns to other CPUs), whichever is cheaper.
    ///
    /// `MemorySet` calls it once per operation that unmapped pages or took permissions away
    /// from them, after changing the table and before any frame those pages mapped goes back
    /// to the allocator ([`TlbGather`](super::TlbGather)). `map` needs no flush: a missing
    /// translation is never cached.
    fn flush_tlb(&mut self, range: Range<usize>);

    /// Gives every intermediate table frame back to `frames` (on address-space teardown); leaves no mapping.
    ///
    /// Frames that leaves still map are not freed: unmap them first.
    fn destroy(&mut self, frames: &mut impl FrameAllocator);

    /// Maps `[va, va + len)` to the physical run from `pa` with `attr`, with the largest leaves
    /// the table has where `va`, `pa` and the rest of the run allow: a linear map of 1 GiB
    /// aligned on both sides takes one 1 GiB leaf instead of 262 144 4 KiB ones.
    ///
    /// # Errors
    ///
    /// As [`map`](Self::map), for the first leaf that fails; the leaves mapped before it stay
    /// mapped, for the caller to unmap.
    fn map_range(
        &mut self,
        va: usize,
        pa: usize,
        len: usize,
        attr: MemoryAttr,
        frames: &mut impl FrameAllocator,
    ) -> Result<(), PagingError> {
        let mut done = 0;
        // Loop invariant: `[va, va + done)` is mapped.
        while done < len {
            let (at, to, left) = (va + done, pa.wrapping_add(done), len - done);
            let size = (self.page_sizes().iter().copied())
                .filter(|s| s.is_aligned(at) && s.is_aligned(to) && s.bytes() <= left)
                .max()
                .unwrap_or(PageSize::Size4K);
            self.map(at, to, size, attr, frames)?;
            done += size.bytes();
        }
        Ok(())
    }

    /// Splits the huge leaves that cover `addr` until one starts there, so that a change to
    /// the range that starts or ends at `addr` touches whole leaves only. Nothing to do if
    /// `addr` is not mapped or a leaf already starts there. No translation changes.
    ///
    /// # Errors
    ///
    /// [`PagingError::OutOfFrames`] when `frames` has no frame for a new table; the leaves
    /// split before the failure stay split (which changes no translation).
    fn split_at(
        &mut self,
        addr: usize,
        frames: &mut impl FrameAllocator,
    ) -> Result<(), PagingError> {
        while let Some(leaf) = self.query(addr).filter(|leaf| leaf.va != addr) {
            self.split(leaf.va, frames)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::string::ToString;

    use super::*;

    #[test]
    fn page_size_is_a_power_of_two() {
        assert!(PAGE_SIZE.is_power_of_two());
        assert_eq!(PAGE_SIZE, 1 << 12);
    }

    #[test]
    fn paging_errors_display_their_address() {
        let cases = [
            (
                PagingError::AlreadyMapped { va: 0x1000 },
                "page 0x1000 is already mapped",
            ),
            (
                PagingError::NotMapped { va: 0x2000 },
                "page 0x2000 is not mapped",
            ),
            (
                PagingError::OutOfFrames,
                "out of physical frames for page tables",
            ),
            (
                PagingError::Misaligned { addr: 0x1234 },
                "address 0x1234 is not aligned to its page size",
            ),
            (
                PagingError::HugePage { va: 0x20_0000 },
                "a huge page covers 0x200000",
            ),
            (
                PagingError::UnsupportedSize {
                    size: PageSize::Size1G,
                },
                "the page table has no 1 GiB pages",
            ),
            (
                PagingError::NoPage { pgoff: 7 },
                "page 7 is beyond the end of its object",
            ),
            (
                PagingError::OutOfRange { addr: 1 << 40 },
                "address 0x10000000000 is outside what the page table can map",
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(error.to_string(), expected);
        }
    }

    #[test]
    fn paging_errors_compare_by_variant_and_address() {
        assert_eq!(
            PagingError::NotMapped { va: 0x1000 },
            PagingError::NotMapped { va: 0x1000 }
        );
        assert_ne!(
            PagingError::NotMapped { va: 0x1000 },
            PagingError::AlreadyMapped { va: 0x1000 }
        );
        assert_ne!(
            PagingError::Misaligned { addr: 1 },
            PagingError::Misaligned { addr: 2 }
        );
    }
}
