//! [`MemoryArea`]: one area of an address space, and what the map's actions do to its pages.

use alloc::boxed::Box;
use core::fmt;
use core::ops::Range;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use intrusive_collections::intrusive_adapter;
use spin::RwLock;

use super::attr::MemoryAttr;
use super::context::PageContext;
use super::fault::{Access, FaultError};
use super::handler::MemoryHandler;
use super::page_table::{FrameAllocator, PageTable, PAGE_SIZE};
use crate::linux::GrowsDown;
use crate::{RangeLink, Segment};

/// One area `[start, end)` of an address space: its [`MemoryHandler`], [`MemoryAttr`], and
/// whether it grows down ([`GrowsDown`], set once when the area is made). The map owns its
/// range (in the [`RangeLink`]).
///
/// As a [`Segment`] it keeps the page table exact through its handler: `remove` unmaps its
/// pages ([`MemoryHandler::unmap`]), `shrink` does so for the cut pages only, `split` gives the
/// right half a copy of the handler (each frame stays mapped, so it belongs to the half that
/// covers it; both halves keep the grows-down bit), `modify` gives the mapped pages the new
/// permissions ([`MemoryHandler::protect`]), and two adjacent areas with equal attributes and
/// grows-down bits merge when the first handler [agrees](MemoryHandler::can_merge).
pub struct MemoryArea<PT: PageTable, FA: FrameAllocator> {
    link: RangeLink,
    handler: Box<dyn MemoryHandler<PT, FA>>,
    /// The [`MemoryAttr`] flags: an atomic, so that areas can be shared between CPUs that
    /// look them up at once (only the map, under `&mut`, changes it).
    attr: AtomicUsize,
    grows_down: bool,
}

intrusive_adapter!(pub(super) AreaAdapter<PT, FA> = Box<MemoryArea<PT, FA>>: MemoryArea<PT, FA> { link: RangeLink } where PT: PageTable, FA: FrameAllocator);

impl<PT: PageTable, FA: FrameAllocator> MemoryArea<PT, FA> {
    /// An unlinked area; `grows_down` for a stack (Linux's `VM_GROWSDOWN`).
    pub(super) fn new(
        handler: Box<dyn MemoryHandler<PT, FA>>,
        attr: MemoryAttr,
        grows_down: bool,
    ) -> Self {
        MemoryArea {
            link: RangeLink::new(),
            handler,
            attr: AtomicUsize::new(attr.into()),
            grows_down,
        }
    }

    /// An unlinked area with this one's handler, attributes and grows-down bit: the right
    /// half of a split, or the child's copy in a fork.
    pub(super) fn duplicate(&self) -> Self {
        Self::new(self.handler.box_clone(), self.attr(), self.grows_down)
    }

    /// The area's range `[start, end)`.
    pub fn range(&self) -> Range<usize> {
        self.link.range()
    }

    /// The area's permissions.
    pub fn attr(&self) -> MemoryAttr {
        MemoryAttr::from_stored(self.attr.load(Relaxed))
    }

    /// How the area's pages are backed.
    pub fn handler(&self) -> &dyn MemoryHandler<PT, FA> {
        &*self.handler
    }

    /// Tells the handler of an area about to be added where it goes.
    pub(super) fn place_at(&mut self, start: usize) {
        self.handler.placed_at(start);
    }

    /// Resolves a fault at `addr`, in this area, by an `access`: refused if the area forbids
    /// it, spurious (nothing to do) if the page's entry already allows it, and otherwise the
    /// handler's ([`MemoryHandler::handle_fault`]). The caller flushes what `cx` gathered.
    pub(super) fn fault(
        &self,
        cx: &mut PageContext<PT, FA>,
        addr: usize,
        access: Access,
    ) -> Result<(), FaultError> {
        let attr = self.attr();
        if !access.is_allowed_by(attr) {
            return Err(FaultError::AccessViolation { addr, access, attr });
        }
        let va = addr & !(PAGE_SIZE - 1);
        if cx
            .pt
            .translate(va)
            .is_some_and(|(_, now)| access.is_allowed_by(now))
        {
            return Ok(());
        }
        self.handler
            .handle_fault(cx, va, access, attr)
            .map_err(FaultError::Paging)
    }
}

impl<PT: PageTable, FA: FrameAllocator> Segment for MemoryArea<PT, FA> {
    /// Locked, for the faults taken through `&MemorySet`; the map's own actions, under
    /// `&mut`, reach it without locking.
    type Args = RwLock<PageContext<PT, FA>>;
    type Flags = MemoryAttr;
    type Pointer = Box<Self>;

    fn remove(&self, cx: &mut RwLock<PageContext<PT, FA>>) {
        self.handler.unmap(cx.get_mut(), self.link.range());
    }

    fn shrink(&self, start: usize, end: usize, cx: &mut RwLock<PageContext<PT, FA>>) {
        let (cx, old) = (cx.get_mut(), self.link.range());
        self.handler.unmap(cx, old.start..start);
        self.handler.unmap(cx, end..old.end);
    }

    fn split(&self, _pos: usize, _cx: &mut RwLock<PageContext<PT, FA>>) -> Box<Self> {
        // The page table already records which frame backs which page, so
        // the right half owns its frames by covering them.
        Box::new(self.duplicate())
    }

    fn modify(&self, attr: MemoryAttr, cx: &mut RwLock<PageContext<PT, FA>>) {
        self.attr.store(attr.into(), Relaxed);
        // A page not faulted in yet gets `attr` when it is.
        self.handler.protect(cx.get_mut(), self.link.range(), attr);
    }

    fn try_merge(&self, next: &Self, _cx: &mut RwLock<PageContext<PT, FA>>) -> bool {
        // A stack merged into an ordinary area would lose its guard gap.
        self.attr() == next.attr()
            && self.grows_down == next.grows_down
            && self.handler.can_merge(&*next.handler)
    }
}

impl<PT: PageTable, FA: FrameAllocator> GrowsDown for MemoryArea<PT, FA> {
    /// Whether the area was made by
    /// [`push_grows_down`](super::MemorySet::push_grows_down) or
    /// [`map_anywhere_grows_down`](super::MemorySet::map_anywhere_grows_down)
    /// (or split from one): a [`LinuxLayout`](crate::linux::LinuxLayout)
    /// placement keeps its guard gap free.
    fn grows_down(&self) -> bool {
        self.grows_down
    }
}

impl<PT: PageTable, FA: FrameAllocator> fmt::Display for MemoryArea<PT, FA> {
    /// The `/proc/<pid>/maps` columns after the range: permissions, offset (the physical
    /// address of a `Linear` area, else 0), device, inode and the handler's name, e.g.
    /// `r-xp 80200000 00:00 0 [linear]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.attr().fmt_maps(f, self.handler.is_shared())?;
        let offset = self.handler.offset_of(self.link.start());
        write!(f, " {offset:08x} 00:00 0 {}", self.handler)
    }
}

impl<PT: PageTable, FA: FrameAllocator> fmt::Debug for MemoryArea<PT, FA> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryArea")
            .field("range", &self.link.range())
            .field("handler", &self.handler)
            .field("attr", &self.attr())
            .field("grows_down", &self.grows_down)
            .finish()
    }
}
