//! How an area's pages find their frames: [`MemoryHandler`].

use core::fmt;

use super::area::PageContext;
use super::attr::MemoryAttr;
use super::page_table::{FrameAllocator, PageTable, PagingError, PAGE_SIZE};

/// How the pages of a [`MemoryArea`](super::MemoryArea) are backed: the
/// seed's `MemoryHandler`, as a `Copy` enum instead of a boxed trait object
/// with `box_clone`.
///
/// | variant  | frame of page `va`             | mapped          | freed on unmap |
/// |----------|--------------------------------|-----------------|----------------|
/// | `Linear` | `va - offset` (not allocated)  | when pushed     | no             |
/// | `ByFrame`| a fresh zeroed frame per page  | when pushed     | yes            |
/// | `Lazy`   | a fresh zeroed frame per page  | on first fault  | yes, if mapped |
///
/// Two areas with equal handlers (same variant, and for `Linear` the same
/// offset) and equal attributes merge when they become adjacent.
///
/// # Examples
///
/// ```
/// use range_action_map::memory_set::MemoryHandler;
///
/// let kernel = MemoryHandler::Linear { offset: 0xffff_ffff_4000_0000 };
/// assert_eq!(kernel.frame_of(0xffff_ffff_c020_0000), Some(0x8020_0000));
/// assert_eq!(MemoryHandler::ByFrame.frame_of(0x1000), None);
/// assert!(MemoryHandler::Lazy.owns_frames() && !kernel.owns_frames());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemoryHandler {
    /// Page `va` maps the frame at `va - offset` (a kernel's linear map of
    /// physical memory). The frames belong to no one: nothing is freed.
    Linear {
        /// Subtracted from a virtual address to get its physical address.
        offset: usize,
    },
    /// Every page gets its own fresh frame when the area is mapped; the
    /// frame is freed when the page is unmapped.
    ByFrame,
    /// As [`ByFrame`](Self::ByFrame), but a page gets its frame on its first
    /// page fault ([`MemorySet::handle_page_fault`](super::MemorySet::handle_page_fault)).
    Lazy,
}

impl MemoryHandler {
    /// The physical address a `Linear` handler maps `va` to; `None` for the
    /// other handlers (their frames are allocated) and when `va < offset`.
    pub const fn frame_of(&self, va: usize) -> Option<usize> {
        match *self {
            MemoryHandler::Linear { offset } => va.checked_sub(offset),
            MemoryHandler::ByFrame | MemoryHandler::Lazy => None,
        }
    }

    /// Whether the handler allocates (and so frees) the frames it maps.
    pub const fn owns_frames(&self) -> bool {
        !matches!(self, MemoryHandler::Linear { .. })
    }

    /// Whether every page is mapped as soon as the area is (not `Lazy`).
    pub const fn is_eager(&self) -> bool {
        !matches!(self, MemoryHandler::Lazy)
    }

    /// Maps the page at `va` with `attr`. Its frame is `Linear`'s `va -
    /// offset`, or a fresh one; with `copy_from`, a fresh frame receives the
    /// contents of that frame (fork), and a `Linear` page ignores it.
    ///
    /// # Errors
    ///
    /// The page table's [`PagingError`], [`PagingError::OutOfFrames`] when
    /// no frame is left, [`PagingError::OutOfRange`] when `va < offset`. On
    /// error nothing is mapped and no frame is kept.
    pub(super) fn map_page<PT: PageTable, FA: FrameAllocator>(
        &self,
        cx: &mut PageContext<PT, FA>,
        va: usize,
        attr: MemoryAttr,
        copy_from: Option<usize>,
    ) -> Result<(), PagingError> {
        let pa = match *self {
            MemoryHandler::Linear { offset } => va
                .checked_sub(offset)
                .ok_or(PagingError::OutOfRange { addr: va })?,
            MemoryHandler::ByFrame | MemoryHandler::Lazy => {
                let frame = cx.fa.alloc().ok_or(PagingError::OutOfFrames)?;
                if let Some(src) = copy_from {
                    cx.fa.copy_frame(src, frame);
                }
                frame
            }
        };
        match cx.pt.map(va, pa, &mut cx.fa) {
            Ok(entry) => {
                attr.apply(entry);
                Ok(())
            }
            Err(error) => {
                if self.owns_frames() {
                    cx.fa.dealloc(pa);
                }
                Err(error)
            }
        }
    }

    /// The lowest page of `[from, end)` that an area with this handler has
    /// mapped in `pt`: `from` itself for an eager handler, all of whose
    /// pages are mapped; for `Lazy`, the one [`PageTable::next_mapped`]
    /// finds, and none without a table.
    ///
    /// Stepping through an area with it costs *O*(pages) for an eager area
    /// and *O*(pages mapped + tables visited) for a lazy one, however large.
    pub(super) fn next_page<PT: PageTable>(
        &self,
        pt: Option<&PT>,
        from: usize,
        end: usize,
    ) -> Option<usize> {
        if self.is_eager() {
            return (from < end).then_some(from);
        }
        let va = pt?.next_mapped(from, end)?;
        // A page outside the range would make the caller's walk go back or
        // overflow: the table is wrong, and its answer is dropped.
        let in_range = (from..end).contains(&va) && va % PAGE_SIZE == 0;
        debug_assert!(
            in_range,
            "inconsistent state: next_mapped({from:#x}, {end:#x}) returned {va:#x}"
        );
        in_range.then_some(va)
    }

    /// Calls `f` on each page of `[start, end)` that an area with this
    /// handler has mapped, in address order (see
    /// [`next_page`](Self::next_page)). `f` fails only if the page table
    /// does not map such a page, which is a bug.
    pub(super) fn for_each_mapped<PT: PageTable, FA: FrameAllocator>(
        &self,
        cx: &mut PageContext<PT, FA>,
        start: usize,
        end: usize,
        mut f: impl FnMut(&mut PageContext<PT, FA>, usize) -> Result<(), PagingError>,
    ) {
        let mut from = start;
        // Loop invariant: `f` has seen every mapped page of `[start, from)`.
        while let Some(va) = self.next_page(Some(&cx.pt), from, end) {
            if let Err(error) = f(cx, va) {
                debug_assert!(
                    false,
                    "inconsistent state: page {va:#x} of a {self} area is not mapped: {error}"
                );
            }
            from = va + PAGE_SIZE;
        }
    }

    /// Unmaps the mapped pages of `[start, end)` and frees their frames if
    /// the handler owns them. `Lazy` pages that were never faulted in are
    /// skipped without being looked at one by one.
    pub(super) fn unmap_pages<PT: PageTable, FA: FrameAllocator>(
        &self,
        cx: &mut PageContext<PT, FA>,
        start: usize,
        end: usize,
    ) {
        self.for_each_mapped(cx, start, end, |cx, va| {
            let pa = cx.pt.unmap(va)?;
            if self.owns_frames() {
                cx.fa.dealloc(pa);
            }
            Ok(())
        });
    }
}

impl fmt::Display for MemoryHandler {
    /// The name shown in the last column of `/proc/<pid>/maps`-style lines:
    /// `[linear]`, `[frame]` or `[lazy]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemoryHandler::Linear { .. } => "[linear]",
            MemoryHandler::ByFrame => "[frame]",
            MemoryHandler::Lazy => "[lazy]",
        })
    }
}
