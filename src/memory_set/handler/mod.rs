//! How an area's pages find their frames: the [`MemoryHandler`] trait, and the handlers the
//! crate provides.
//!
//! | handler      | frame of page `va`              | mapped           | on fork                  | freed on unmap       |
//! |--------------|---------------------------------|------------------|--------------------------|----------------------|
//! | [`Linear`]   | `va - offset` (not allocated)   | when pushed      | same frame               | no                   |
//! | [`Device`]   | `va - offset`, device memory    | when pushed      | same frame               | no                   |
//! | [`ByFrame`]  | a fresh zeroed frame            | when pushed      | shared copy-on-write     | with its last mapping|
//! | [`Lazy`]     | a fresh zeroed frame            | on first fault   | shared copy-on-write     | with its last mapping|
//! | [`Shared`]   | a fresh zeroed frame            | when pushed      | same frame, writable     | with its last mapping|
//! | [`FileMapping::private`] | the page cache's, copied on write | on first fault | shared copy-on-write | with its last mapping|
//! | [`FileMapping::shared`]  | the page cache's                  | on first fault | nothing (refaulted)  | with its last mapping|
//!
//! A kernel adds its own (a file mapping over its page cache, a frame pool, a guard area) by
//! implementing the trait; [`PageContext`]'s methods are the page-level steps to build one
//! from, each keeping the frame books.

mod file;
mod linear;
mod private;
mod shared;

use alloc::boxed::Box;
use core::any::Any;
use core::fmt;
use core::ops::Range;

use super::attr::MemoryAttr;
use super::context::PageContext;
use super::fault::Access;
use super::page_table::{FrameAllocator, PageTable, PagingError};

pub use file::{FileMapping, PageCache};
pub use linear::{Device, Linear};
pub use private::{Anonymous, ByFrame, Lazy};
pub use shared::Shared;

/// How the pages of a [`MemoryArea`](super::MemoryArea) are backed: the seed's
/// `MemoryHandler`, an open trait a kernel implements for its own kinds of memory.
///
/// A handler is `Send + Sync`: an address space is shared by the CPUs that run its threads,
/// which look its areas up at once.
///
/// A handler is the area's policy, not its state: which frame each page maps is recorded in
/// the page table, and how many mappings share a frame in the [`FrameAllocator`]'s reference
/// counts. So a split gives the right half a [`box_clone`](Self::box_clone), and a handler
/// whose frame depends on the address (a linear map, a file offset) stores it relative to
/// virtual address 0, which a split or a move of the area's start does not change.
///
/// The [`MemorySet`](super::MemorySet) calls the methods with ranges of whole pages inside the
/// area, and keeps the rest of the contract: after [`map`](Self::map) or
/// [`fork`](Self::fork) fails, it calls [`unmap`](Self::unmap) on the range, so a handler need
/// not undo a partial map itself.
///
/// # Examples
///
/// A handler that maps every page to one shared, read-only zero frame (for a reservation
/// that reads as zeros), written outside the crate:
///
/// ```
/// use core::ops::Range;
/// use range_action_map::memory_set::{
///     Access, FrameAllocator, MemoryAttr, MemoryHandler, MemorySet, PageContext, PageTable,
///     PagingError,
/// };
/// use range_action_map_testkit::{CountingFrameAllocator, SoftPageTable};
///
/// #[derive(Clone, Debug)]
/// struct Zeros(usize);
///
/// impl core::fmt::Display for Zeros {
///     fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
///         f.write_str("[zeros]")
///     }
/// }
///
/// impl<PT: PageTable, FA: FrameAllocator> MemoryHandler<PT, FA> for Zeros {
///     fn box_clone(&self) -> Box<dyn MemoryHandler<PT, FA>> {
///         Box::new(self.clone())
///     }
///     fn handle_fault(
///         &self,
///         cx: &mut PageContext<PT, FA>,
///         va: usize,
///         _: Access,
///         attr: MemoryAttr,
///     ) -> Result<(), PagingError> {
///         cx.map_frame(va, self.0, attr.set_readonly())?;
///         cx.fa.add_ref(self.0);
///         Ok(())
///     }
///     fn unmap(&self, cx: &mut PageContext<PT, FA>, range: Range<usize>) {
///         cx.unmap_pages(range, true);
///     }
///     fn fork(
///         &self,
///         parent: &PT,
///         child: &mut PageContext<PT, FA>,
///         range: Range<usize>,
///         attr: MemoryAttr,
///     ) -> Result<(), PagingError> {
///         child.map_pages_of(parent, range, attr.set_readonly(), true)
///     }
/// }
///
/// let mut frames = CountingFrameAllocator::new(16);
/// let zero = frames.alloc().unwrap();
/// let mut set = MemorySet::new(SoftPageTable::new(frames.memory()), frames.clone());
/// let ro = MemoryAttr::new().set_user().set_readonly();
/// set.push(0x10000, 0x20000, ro, Zeros(zero))?;
/// set.handle_page_fault(0x12345, Access::Read)?;
/// set.handle_page_fault(0x1f000, Access::Read)?;
/// assert_eq!(set.page_table().translate(0x12000).map(|t| t.0), Some(zero));
/// assert_eq!(frames.ref_count(zero), 3);
/// drop(set);
/// assert_eq!(frames.ref_count(zero), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait MemoryHandler<PT: PageTable, FA: FrameAllocator>:
    Any + Send + Sync + fmt::Debug + fmt::Display
{
    /// A boxed copy of the handler: the right half's after a split, the child's after a fork
    /// (the seed's `box_clone`).
    fn box_clone(&self) -> Box<dyn MemoryHandler<PT, FA>>;

    /// The handler as the trait object an area keeps: `Box::new(self)`, and a boxed handler
    /// itself (so that a handler chosen at run time is not boxed twice).
    fn into_boxed(self) -> Box<dyn MemoryHandler<PT, FA>>
    where
        Self: Sized,
    {
        Box::new(self)
    }

    /// The area is about to be added at `start` (called once, before [`map`](Self::map); not
    /// for a fork's copy, which is where its original was): a handler whose frames depend on
    /// the address (a file offset) records it. The default does nothing.
    fn placed_at(&mut self, start: usize) {
        let _ = start;
    }

    /// Maps the pages of `range` that must be mapped as soon as the area is added with `attr`.
    /// The default maps none: every page comes on its first fault.
    ///
    /// # Errors
    ///
    /// [`PagingError::OutOfFrames`] or another page-table error; the set then calls
    /// [`unmap`](Self::unmap) on `range` and refuses the area.
    fn map(
        &self,
        cx: &mut PageContext<PT, FA>,
        range: Range<usize>,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        let _ = (cx, range, attr);
        Ok(())
    }

    /// Resolves a fault on page `va` by an `access` that the area's `attr` allows and the page
    /// table did not (the page is absent, or read-only for a write): maps the page, or makes
    /// it writable, or copies it.
    ///
    /// The default does nothing, which is right for a handler that maps every page in
    /// [`map`](Self::map) and [`fork`](Self::fork) with the area's permissions: a fault the
    /// area allows then only meets a stale TLB entry, and is spurious. A handler that maps
    /// pages on demand must override it, or its pages fault forever.
    ///
    /// # Errors
    ///
    /// [`PagingError::OutOfFrames`] or another page-table error, with nothing changed.
    fn handle_fault(
        &self,
        cx: &mut PageContext<PT, FA>,
        va: usize,
        access: Access,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        let _ = (cx, va, access, attr);
        Ok(())
    }

    /// Unmaps the mapped pages of `range` and drops what their mappings hold on their frames.
    fn unmap(&self, cx: &mut PageContext<PT, FA>, range: Range<usize>);

    /// Gives the mapped pages of `range` the area's new permissions `attr`. The default writes
    /// `attr` into every mapped page; a copy-on-write handler keeps shared pages read-only.
    fn protect(&self, cx: &mut PageContext<PT, FA>, range: Range<usize>, attr: MemoryAttr) {
        cx.protect_pages(range, attr, false);
    }

    /// Maps into a fork's `child` what it must map of `range`, given what `parent` maps there:
    /// the same frames (shared, device and linear memory), the same frames for copy-on-write
    /// (read-only, with one more reference each), or nothing (memory that a fork does not
    /// inherit). The set afterwards calls [`protect`](Self::protect) on the parent's range
    /// with the area's permissions, which write-protects what became shared.
    ///
    /// # Errors
    ///
    /// [`PagingError::OutOfFrames`] or another page-table error; the set then unmaps `range`
    /// in the child and drops the child, and the parent is unchanged.
    fn fork(
        &self,
        parent: &PT,
        child: &mut PageContext<PT, FA>,
        range: Range<usize>,
        attr: MemoryAttr,
    ) -> Result<(), PagingError>;

    /// Writes the modified pages of `range` back to where they came from (`msync`), and
    /// returns how many it wrote. The default writes nothing: anonymous memory has nowhere to
    /// go.
    fn sync(&self, cx: &mut PageContext<PT, FA>, range: Range<usize>) -> usize {
        let _ = (cx, range);
        0
    }

    /// Whether an area with this handler may absorb the area right after it, with handler
    /// `next` and equal permissions: only when every page keeps the frame it would have had
    /// (same offset of a linear map, same file at contiguous offsets). The default is `false`.
    fn can_merge(&self, next: &dyn MemoryHandler<PT, FA>) -> bool {
        let _ = next;
        false
    }

    /// Whether the area's frames are shared between the processes that map it: the `s` (or
    /// `p`) of `/proc/<pid>/maps`. The default is `false`.
    fn is_shared(&self) -> bool {
        false
    }

    /// The offset column of `/proc/<pid>/maps` for an area starting at `start`: the physical
    /// address of a linear map, the file offset of a file mapping. The default is 0.
    fn offset_of(&self, start: usize) -> usize {
        let _ = start;
        0
    }
}

/// A handler chosen at run time (`mmap`'s flags deciding between shared and private memory)
/// is pushed as it is boxed: the area keeps this box, not a box of it.
impl<PT: PageTable, FA: FrameAllocator> MemoryHandler<PT, FA> for Box<dyn MemoryHandler<PT, FA>> {
    fn box_clone(&self) -> Box<dyn MemoryHandler<PT, FA>> {
        (**self).box_clone()
    }

    fn into_boxed(self) -> Box<dyn MemoryHandler<PT, FA>> {
        self
    }

    fn placed_at(&mut self, start: usize) {
        (**self).placed_at(start);
    }

    fn map(
        &self,
        cx: &mut PageContext<PT, FA>,
        range: Range<usize>,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        (**self).map(cx, range, attr)
    }

    fn handle_fault(
        &self,
        cx: &mut PageContext<PT, FA>,
        va: usize,
        access: Access,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        (**self).handle_fault(cx, va, access, attr)
    }

    fn unmap(&self, cx: &mut PageContext<PT, FA>, range: Range<usize>) {
        (**self).unmap(cx, range);
    }

    fn protect(&self, cx: &mut PageContext<PT, FA>, range: Range<usize>, attr: MemoryAttr) {
        (**self).protect(cx, range, attr);
    }

    fn fork(
        &self,
        parent: &PT,
        child: &mut PageContext<PT, FA>,
        range: Range<usize>,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        (**self).fork(parent, child, range, attr)
    }

    fn sync(&self, cx: &mut PageContext<PT, FA>, range: Range<usize>) -> usize {
        (**self).sync(cx, range)
    }

    fn can_merge(&self, next: &dyn MemoryHandler<PT, FA>) -> bool {
        (**self).can_merge(next)
    }

    fn is_shared(&self) -> bool {
        (**self).is_shared()
    }

    fn offset_of(&self, start: usize) -> usize {
        (**self).offset_of(start)
    }
}

/// Whether `next` is a handler of type `H` equal to `this`: the merge rule of handlers whose
/// whole state is their value.
fn same<H: PartialEq + Any>(this: &H, next: &dyn Any) -> bool {
    next.downcast_ref::<H>() == Some(this)
}
