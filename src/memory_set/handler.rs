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

    /// Unmaps the pages of `[start, end)` and frees their frames if the
    /// handler owns them. `Lazy` pages that were never faulted in are
    /// skipped.
    pub(super) fn unmap_pages<PT: PageTable, FA: FrameAllocator>(
        &self,
        cx: &mut PageContext<PT, FA>,
        start: usize,
        end: usize,
    ) {
        for va in pages(start, end) {
            match cx.pt.unmap(va) {
                Ok(pa) => {
                    if self.owns_frames() {
                        cx.fa.dealloc(pa);
                    }
                }
                Err(error) => debug_assert!(
                    !self.is_eager(),
                    "inconsistent state: page {va:#x} of a {self} area is not mapped: {error}"
                ),
            }
        }
    }
}

/// The page addresses of `[start, end)` (both page aligned).
pub(super) fn pages(start: usize, end: usize) -> impl Iterator<Item = usize> {
    (start..end).step_by(PAGE_SIZE)
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
