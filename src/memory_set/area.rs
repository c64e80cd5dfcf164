//! [`MemoryArea`]: one area of an address space, and what the map's actions
//! do to its pages.

use alloc::boxed::Box;
use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::ops::Range;

use intrusive_collections::intrusive_adapter;

use super::attr::MemoryAttr;
use super::handler::MemoryHandler;
use super::page_table::{FrameAllocator, PageEntry, PageTable};
use crate::linux::GrowsDown;
use crate::{RangeLink, Segment};

/// The page table and frame allocator of one address space: the `Args` the
/// map hands to every [`MemoryArea`] callback.
pub struct PageContext<PT, FA> {
    pub(super) pt: PT,
    pub(super) fa: FA,
}

impl<PT, FA> PageContext<PT, FA> {
    /// The page table.
    pub fn page_table(&self) -> &PT {
        &self.pt
    }

    /// The frame allocator.
    pub fn frame_allocator(&self) -> &FA {
        &self.fa
    }
}

/// One area `[start, end)` of an address space: its [`MemoryHandler`],
/// [`MemoryAttr`], and whether it grows down ([`GrowsDown`], set once when
/// the area is made). The map owns its range (in the [`RangeLink`]).
///
/// As a [`Segment`] it keeps the page table exact: `remove` unmaps its pages
/// and frees the frames its handler owns, `shrink` does so for the cut pages
/// only, `split` divides bookkeeping only (each frame stays mapped, so it
/// belongs to the half that covers it; both halves keep the grows-down bit),
/// `modify` rewrites the flags of its mapped pages, and two adjacent areas
/// with equal attributes, handlers and grows-down bits merge.
pub struct MemoryArea<PT, FA> {
    link: RangeLink,
    handler: MemoryHandler,
    attr: Cell<MemoryAttr>,
    grows_down: bool,
    _context: PhantomData<fn(&mut PageContext<PT, FA>)>,
}

intrusive_adapter!(pub(super) AreaAdapter<PT, FA> = Box<MemoryArea<PT, FA>>: MemoryArea<PT, FA> { link: RangeLink } where PT: PageTable, FA: FrameAllocator);

impl<PT, FA> MemoryArea<PT, FA> {
    /// An unlinked area; `grows_down` for a stack (Linux's `VM_GROWSDOWN`).
    pub(super) fn new(handler: MemoryHandler, attr: MemoryAttr, grows_down: bool) -> Self {
        MemoryArea {
            link: RangeLink::new(),
            handler,
            attr: Cell::new(attr),
            grows_down,
            _context: PhantomData,
        }
    }

    /// An unlinked area with this one's handler, attributes and grows-down
    /// bit: the right half of a split, or the child's copy in a fork.
    pub(super) fn duplicate(&self) -> Self {
        Self::new(self.handler, self.attr.get(), self.grows_down)
    }

    /// The area's range `[start, end)`.
    pub fn range(&self) -> Range<usize> {
        self.link.range()
    }

    /// The area's permissions.
    pub fn attr(&self) -> MemoryAttr {
        self.attr.get()
    }

    /// How the area's pages are backed.
    pub fn handler(&self) -> MemoryHandler {
        self.handler
    }
}

impl<PT: PageTable, FA: FrameAllocator> Segment for MemoryArea<PT, FA> {
    type Args = PageContext<PT, FA>;
    type Flags = MemoryAttr;
    type Pointer = Box<Self>;

    fn remove(&self, cx: &mut PageContext<PT, FA>) {
        let range = self.link.range();
        self.handler.unmap_pages(cx, range.start, range.end);
    }

    fn shrink(&self, start: usize, end: usize, cx: &mut PageContext<PT, FA>) {
        let old = self.link.range();
        self.handler.unmap_pages(cx, old.start, start);
        self.handler.unmap_pages(cx, end, old.end);
    }

    fn split(&self, _pos: usize, _cx: &mut PageContext<PT, FA>) -> Box<Self> {
        // The page table already records which frame backs which page, so
        // the right half owns its frames by covering them.
        Box::new(self.duplicate())
    }

    fn modify(&self, attr: MemoryAttr, cx: &mut PageContext<PT, FA>) {
        self.attr.set(attr);
        let range = self.link.range();
        // A lazy page not faulted in yet gets `attr` when it is.
        self.handler
            .for_each_mapped(cx, range.start, range.end, |cx, va| {
                let entry = cx.pt.entry_mut(va)?;
                debug_assert!(entry.is_present());
                attr.apply(entry);
                Ok(())
            });
    }

    fn try_merge(&self, next: &Self, _cx: &mut PageContext<PT, FA>) -> bool {
        // A stack merged into an ordinary area would lose its guard gap.
        self.attr.get() == next.attr.get()
            && self.handler == next.handler
            && self.grows_down == next.grows_down
    }
}

impl<PT, FA> GrowsDown for MemoryArea<PT, FA> {
    /// Whether the area was made by
    /// [`push_grows_down`](super::MemorySet::push_grows_down) or
    /// [`map_anywhere_grows_down`](super::MemorySet::map_anywhere_grows_down)
    /// (or split from one): a [`LinuxLayout`](crate::linux::LinuxLayout)
    /// placement keeps its guard gap free.
    fn grows_down(&self) -> bool {
        self.grows_down
    }
}

impl<PT, FA> fmt::Display for MemoryArea<PT, FA> {
    /// The `/proc/<pid>/maps` columns after the range: permissions, offset
    /// (the physical address of a `Linear` area, else 0), device, inode and
    /// the handler's name, e.g. `r-xp 80200000 00:00 0 [linear]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let offset = self.handler.frame_of(self.link.start()).unwrap_or(0);
        write!(
            f,
            "{} {offset:08x} 00:00 0 {}",
            self.attr.get(),
            self.handler
        )
    }
}

impl<PT, FA> fmt::Debug for MemoryArea<PT, FA> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryArea")
            .field("range", &self.link.range())
            .field("handler", &self.handler)
            .field("attr", &self.attr.get())
            .field("grows_down", &self.grows_down)
            .finish()
    }
}
