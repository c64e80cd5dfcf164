//! The hardware interface a kernel implements for `MemorySet`: page-table entries, page tables
//! and physical frame allocation.
//!
//! `MemorySet` never touches hardware itself. It asks a [`PageTable`] to map, unmap and
//! re-protect single 4 KiB pages, to find the mapped pages of a range and to flush the TLB
//! (once per operation, before the frames it freed go back: see
//! [`TlbGather`](super::TlbGather)), takes frames for page contents and intermediate tables
//! from a [`FrameAllocator`], and writes permissions through [`PageEntry`]. The page table and the allocator are passed per call, so one
//! allocator can serve many address spaces (a forked address space maps its own table over
//! the same physical memory).
//!
//! The workspace's test kit (`range-action-map-testkit`) provides software implementations of
//! all three traits for tests.

use core::fmt;

use super::attr::MemoryAttr;

/// The size of a page and of a physical frame, in bytes.
pub const PAGE_SIZE: usize = 4096;

/// One page-table entry, as the kernel's hardware defines it.
///
/// Only the bits `MemorySet` manages are exposed: validity, the five attribute bits of
/// [`MemoryAttr`], and the frame (which a copy-on-write fault replaces). Any other architecture
/// bits belong to the [`PageTable`] that hands the entry out.
pub trait PageEntry {
    /// Marks the entry valid (`true`) or invalid (`false`).
    fn set_present(&mut self, value: bool);
    /// Allows (`true`) or forbids (`false`) access from user mode.
    fn set_user(&mut self, value: bool);
    /// Allows (`true`) or forbids (`false`) writes.
    fn set_writable(&mut self, value: bool);
    /// Allows (`true`) or forbids (`false`) instruction fetches.
    fn set_execute(&mut self, value: bool);
    /// Whether the entry is valid.
    fn is_present(&self) -> bool;
    /// Whether user mode may access the page.
    fn is_user(&self) -> bool;
    /// Whether the page may be written.
    fn is_writable(&self) -> bool;
    /// Whether instructions may be fetched from the page.
    fn is_execute(&self) -> bool;
    /// Makes the page device memory (`true`: uncached, strongly ordered; RISC-V Svpbmt's `IO`,
    /// x86's `PCD`/`PWT`) or normal cached memory (`false`).
    fn set_device(&mut self, value: bool);
    /// Whether the page is device memory.
    fn is_device(&self) -> bool;
    /// Marks the translation global (`true`: kept across address-space switches) or not.
    fn set_global(&mut self, value: bool);
    /// Whether the translation is global.
    fn is_global(&self) -> bool;
    /// The physical address of the frame the entry maps.
    fn frame(&self) -> usize;
    /// Points the entry at another frame (page aligned, and expressible by the table, as
    /// [`PageTable::map`] checked for the first one), keeping every other bit.
    fn set_frame(&mut self, pa: usize);
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
    /// A virtual or physical address is not a multiple of [`PAGE_SIZE`].
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
}

impl fmt::Display for PagingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PagingError::AlreadyMapped { va } => write!(f, "page {va:#x} is already mapped"),
            PagingError::NotMapped { va } => write!(f, "page {va:#x} is not mapped"),
            PagingError::OutOfFrames => f.write_str("out of physical frames for page tables"),
            PagingError::Misaligned { addr } => {
                write!(f, "address {addr:#x} is not page aligned")
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
/// It maps single pages of [`PAGE_SIZE`] bytes; virtual and physical addresses passed to it
/// are page aligned. It owns the frames of its intermediate tables (given back by
/// [`destroy`](Self::destroy)) but not the frames it maps: whoever mapped a frame frees it
/// after [`unmap`](Self::unmap) returned it.
///
/// # Implementing this trait
///
/// The test kit's page table is its own oracle, and a kernel's should be too: `map` of a mapped
/// page and `unmap` of an unmapped one must fail rather than silently overwrite or succeed,
/// because `MemorySet` relies on those errors to prove it never double-maps.
///
/// [`next_mapped`](Self::next_mapped) must skip what is absent a whole table at a time, as
/// Linux's page-table walkers skip an empty upper-level entry. `MemorySet` finds the pages
/// of a [`Lazy`](super::Lazy::new()) area only through it, when it forks,
/// re-protects or unmaps the area, and a lazy area may span terabytes (a runtime's address
/// reservation, an `mmap(PROT_NONE)` guard). The obvious implementation is the wrong one:
///
/// ```text
/// fn next_mapped(&self, start: usize, end: usize) -> Option<usize> {
///     // Wrong: 2^28 translations for an empty 1 TiB area, under a system call.
///     (start..end).step_by(PAGE_SIZE).find(|&va| self.translate(va).is_some())
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
    /// The leaf entry type, through which permissions are applied.
    type Entry: PageEntry;

    /// Maps the page at `va` to the frame at `pa` with a present, R|W|X, kernel-only entry (like the seed's `pt.map(va, pa)`), allocating intermediate tables from `frames`; returns the leaf entry so that the caller applies its `MemoryAttr`.
    ///
    /// # Errors
    ///
    /// - [`PagingError::Misaligned`] if `va` or `pa` is not page aligned;
    /// - [`PagingError::AlreadyMapped`] if `va` is mapped already;
    /// - [`PagingError::OutOfFrames`] if `frames` ran dry for an intermediate table
    ///   (tables allocated before the failure may stay, empty, until
    ///   [`destroy`](Self::destroy));
    /// - an implementation-specific error such as [`PagingError::OutOfRange`] for addresses the
    ///   hardware cannot express.
    ///
    /// On error no mapping has changed.
    fn map(
        &mut self,
        va: usize,
        pa: usize,
        frames: &mut impl FrameAllocator,
    ) -> Result<&mut Self::Entry, PagingError>;

    /// Removes the mapping of the page at `va` and returns the frame it mapped (intermediate tables may be kept).
    ///
    /// # Errors
    ///
    /// [`PagingError::NotMapped`] if `va` is not mapped, [`PagingError::Misaligned`] if it is
    /// not page aligned (or an implementation-specific error for an address the hardware cannot
    /// express); the table is unchanged.
    fn unmap(&mut self, va: usize) -> Result<usize, PagingError>;

    /// The leaf entry of a mapped page, to change its flags.
    ///
    /// # Errors
    ///
    /// As [`unmap`](Self::unmap).
    fn entry_mut(&mut self, va: usize) -> Result<&mut Self::Entry, PagingError>;

    /// The frame (`pa` of the page, plus page offset) and permissions of `va`, if mapped.
    ///
    /// `va` need not be aligned; its page offset is added to the frame's address.
    fn translate(&self, va: usize) -> Option<(usize, MemoryAttr)>;

    /// The lowest mapped page in `[start, end)`, or `None` if none is mapped (or `start >=
    /// end`). `start` and `end` are page aligned; addresses the table cannot express are
    /// simply not mapped.
    ///
    /// It must cost *O*(tables visited + levels), never *O*(pages in the range): an absent
    /// entry of an upper-level table is skipped with every page below it, and an entry only
    /// beyond `end` ends the walk. Walking a range page by page through `translate` is the
    /// denial of service described under
    /// [Implementing this trait](PageTable#implementing-this-trait).
    ///
    /// # Examples
    ///
    /// Visiting the mapped pages of a range, as `MemorySet` does for a lazy area:
    ///
    /// ```
    /// use range_action_map::memory_set::{PageTable, PAGE_SIZE};
    /// use range_action_map_testkit::{CountingFrameAllocator, SoftPageTable};
    ///
    /// let mut frames = CountingFrameAllocator::new(8);
    /// let mut pt = SoftPageTable::new(frames.memory());
    /// pt.map(0x7000, 0x1000, &mut frames)?;
    /// pt.map(1 << 30, 0x2000, &mut frames)?;
    /// let (mut from, end, mut found) = (0, 1 << 38, Vec::new());
    /// while let Some(va) = pt.next_mapped(from, end) {
    ///     found.push(va);
    ///     from = va + PAGE_SIZE;
    /// }
    /// assert_eq!(found, [0x7000, 1 << 30]);
    /// # Ok::<(), range_action_map::memory_set::PagingError>(())
    /// ```
    fn next_mapped(&self, start: usize, end: usize) -> Option<usize>;

    /// Invalidates the TLB entries of the pages of `range` on every CPU that may have used
    /// this table (RISC-V `sfence.vma` per page or for the whole address space, x86 `invlpg`
    /// or a `CR3` reload, with shootdowns to other CPUs), whichever is cheaper.
    ///
    /// `MemorySet` calls it once per operation that unmapped pages or took permissions away
    /// from them, after changing the table and before any frame those pages mapped goes back
    /// to the allocator ([`TlbGather`](super::TlbGather)). `map` needs no flush: a missing
    /// translation is never cached.
    fn flush_tlb(&mut self, range: core::ops::Range<usize>);

    /// Gives every intermediate table frame back to `frames` (on address-space teardown); leaves no mapping.
    ///
    /// Frames that leaf entries still map are not freed: unmap them first.
    fn destroy(&mut self, frames: &mut impl FrameAllocator);
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
                "address 0x1234 is not page aligned",
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
