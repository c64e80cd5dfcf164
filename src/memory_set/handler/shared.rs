//! [`Shared`]: shared anonymous memory, the same frames in every process that maps it.

use alloc::boxed::Box;
use core::fmt;
use core::ops::Range;

use super::{MemoryAttr, MemoryHandler, PageContext};
use crate::memory_set::page_table::{FrameAllocator, PageTable, PagingError};

/// Shared anonymous memory (Linux's `MAP_SHARED | MAP_ANONYMOUS`): after a fork, parent and
/// child map the same frames, writable, and a write by one is seen by the other. A frame is
/// freed with its last mapping.
///
/// Every page gets its frame when the area is added: a page first touched after a fork must
/// be the same frame on both sides, and that needs an object both sides can find it in (what
/// Linux's shmem file is). A kernel that wants shared memory populated on demand maps such an
/// object with its own handler. Two shared areas never merge: they are different objects, as
/// two Linux shmem files are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Shared;

impl Shared {
    /// The handler.
    pub const fn new() -> Self {
        Shared
    }
}

impl<PT: PageTable, FA: FrameAllocator> MemoryHandler<PT, FA> for Shared {
    fn box_clone(&self) -> Box<dyn MemoryHandler<PT, FA>> {
        Box::new(*self)
    }

    fn map(
        &self,
        cx: &mut PageContext<PT, FA>,
        range: Range<usize>,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        cx.map_new_frames(range, attr)
    }

    fn unmap(&self, cx: &mut PageContext<PT, FA>, range: Range<usize>) {
        cx.unmap_pages(range, true);
    }

    fn fork(
        &self,
        parent: &PT,
        child: &mut PageContext<PT, FA>,
        range: Range<usize>,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        child.map_pages_of(parent, range, attr, true)
    }

    fn is_shared(&self) -> bool {
        true
    }
}

impl fmt::Display for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[shared]")
    }
}
