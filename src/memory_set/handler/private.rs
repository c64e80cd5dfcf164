//! [`ByFrame`] and [`Lazy`]: private anonymous memory, copy-on-write across a fork.

use alloc::boxed::Box;
use core::fmt;
use core::ops::Range;

use super::{Access, MemoryAttr, MemoryHandler, PageContext};
use crate::memory_set::page_table::{FrameAllocator, PageTable, PagingError};

/// Private anonymous memory (Linux's `MAP_PRIVATE | MAP_ANONYMOUS`), copy-on-write across a
/// fork: a fork shares each frame read-only between parent and child, and the first write on
/// either side copies the page, or makes it writable again if that side holds the frame's
/// last reference. A frame is freed with its last mapping. Every page gets a fresh zeroed
/// frame when the area is added if `POPULATE` ([`ByFrame`]), on its first fault otherwise
/// ([`Lazy`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Anonymous<const POPULATE: bool>;

/// Private anonymous memory mapped as soon as the area is added (the seed's `ByFrame`;
/// Linux's `MAP_POPULATE`).
pub type ByFrame = Anonymous<true>;

/// Private anonymous memory whose pages are mapped on their first fault: a large reservation
/// costs only what is touched.
pub type Lazy = Anonymous<false>;

impl<const POPULATE: bool> Anonymous<POPULATE> {
    /// The handler (the seed's `ByFrame::new()`).
    pub const fn new() -> Self {
        Anonymous
    }
}

impl<PT: PageTable, FA: FrameAllocator, const POPULATE: bool> MemoryHandler<PT, FA>
    for Anonymous<POPULATE>
{
    fn box_clone(&self) -> Box<dyn MemoryHandler<PT, FA>> {
        Box::new(*self)
    }

    fn map(
        &self,
        cx: &mut PageContext<PT, FA>,
        range: Range<usize>,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        if !POPULATE {
            return Ok(());
        }
        cx.map_new_frames(range, attr)
    }

    /// A fresh zeroed frame if the page is absent, a copy-on-write break if a write finds it
    /// read-only.
    fn handle_fault(
        &self,
        cx: &mut PageContext<PT, FA>,
        va: usize,
        access: Access,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        match cx.pt.translate(va) {
            None => cx.map_new_frame(va, attr, None).map(drop),
            Some(_) if access == Access::Write => cx.break_cow(va, attr),
            Some(_) => Ok(()),
        }
    }

    fn unmap(&self, cx: &mut PageContext<PT, FA>, range: Range<usize>) {
        cx.unmap_pages(range, true);
    }

    fn protect(&self, cx: &mut PageContext<PT, FA>, range: Range<usize>, attr: MemoryAttr) {
        cx.protect_pages(range, attr, true);
    }

    fn fork(
        &self,
        parent: &PT,
        child: &mut PageContext<PT, FA>,
        range: Range<usize>,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        child.map_pages_of(parent, range, attr.set_readonly(), true)
    }

    fn can_merge(&self, next: &dyn MemoryHandler<PT, FA>) -> bool {
        super::same(self, next)
    }
}

impl<const POPULATE: bool> fmt::Display for Anonymous<POPULATE> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if POPULATE { "[frame]" } else { "[lazy]" })
    }
}
