//! Kernel address spaces on top of the map: [`MemorySet`] (feature `alloc`).
//!
//! This is the tutorial's `MemorySet` / `MemoryArea` / `MemoryHandler` /
//! `MemoryAttr`, with the hardware behind two traits the kernel implements,
//! [`PageTable`] and [`FrameAllocator`] (whose frames carry reference
//! counts). A [`MemorySet`] owns one page table and one allocator handle,
//! keeps its [`MemoryArea`]s in a [`RangeActionMap`], and keeps the page
//! table exactly in step with them. How each area's pages get their frames
//! is its [`MemoryHandler`], an open trait: the crate provides [`Linear`],
//! [`Device`], [`ByFrame`], [`Lazy`] and [`Shared`], and a kernel adds its
//! own.
//!
//! - [`push`](MemorySet::push) and [`map_anywhere`](MemorySet::map_anywhere)
//!   map what the handler maps up front (every page but a [`Lazy`] area's);
//!   where `map_anywhere` puts an area is the set's [`PlacementPolicy`],
//!   chosen when the set is built: the seed's [`FirstFit`] (the default), or
//!   Linux's [`LinuxLayout`], which also keeps a guard gap below the areas
//!   that [grow down](MemorySet::push_grows_down) (stacks);
//! - [`unmap`](MemorySet::unmap) unmaps exactly the pages of the range and
//!   frees exactly the frames the areas own;
//! - [`protect`](MemorySet::protect) rewrites the flags of exactly the
//!   mapped pages whose permissions change, and leaves other areas whole;
//! - [`handle_page_fault`](MemorySet::handle_page_fault) maps lazy pages
//!   and breaks copy-on-write sharing;
//!   [`handle_page_fault_shared`](MemorySet::handle_page_fault_shared) does
//!   the same through `&self`, for a kernel that faults on several CPUs at
//!   once under the read side of a reader-writer lock;
//! - [`clone_for_fork`](MemorySet::clone_for_fork) makes the child's address
//!   space: private memory shared copy-on-write, shared memory shared, no
//!   page copied;
//! - [`clear`](MemorySet::clear) and `Drop` unmap everything (`Drop` also
//!   gives the page table's own frames back).
//!
//! Every operation that unmaps pages or takes permissions away flushes the
//! TLB once at its end ([`PageTable::flush_tlb`]), and only then lets the
//! frames it unmapped go ([`TlbGather`], Linux's `mmu_gather`): a frame is
//! never reused while a stale translation may still reach it.
//!
//! Every operation costs *O*(log n + pages touched). The pages touched are
//! all those of an area mapped up front, but only the mapped ones of a
//! [`Lazy`] area, found through [`PageTable::next_mapped`], which skips absent
//! tables whole: a 1 TiB lazy reservation costs what is mapped in it, not its
//! size. All addresses and lengths are multiples of [`PAGE_SIZE`].
//!
//! # Examples
//!
//! With the software page table of the test kit (`range-action-map-testkit`,
//! a dev-dependency):
//!
//! ```
//! use range_action_map::memory_set::{Access, MemoryAttr, ByFrame, Lazy, Linear, MemorySet, PageTable};
//! use range_action_map_testkit::{CountingFrameAllocator, SoftPageTable};
//!
//! let frames = CountingFrameAllocator::new(64);
//! let mut set = MemorySet::new(SoftPageTable::new(frames.memory()), frames.clone());
//! let rw = MemoryAttr::new().set_user();
//! set.push(0x10000, 0x14000, rw, ByFrame::new())?;
//! let heap = set.map_anywhere(0x20000, 0x2000, 0x1000, rw, Lazy::new())?;
//! assert_eq!(heap, 0x20000);
//! assert!(set.page_table().translate(heap).is_none()); // not faulted in yet
//! set.handle_page_fault(heap + 8, Access::Write)?;
//! assert!(set.page_table().translate(heap).is_some());
//!
//! set.protect(0x10000, 0x12000, rw.set_readonly())?;
//! assert_eq!(set.len(), 3);
//! set.protect(0x10000, 0x12000, rw)?; // merges back
//! assert_eq!(set.len(), 2);
//! print!("{set}");
//! drop(set);
//! assert_eq!(frames.live(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A user address space laid out as Linux lays out a process:
//!
//! ```
//! use range_action_map::linux::LinuxLayout;
//! use range_action_map::memory_set::{MemoryAttr, ByFrame, Lazy, Linear, MemorySet};
//! use range_action_map::Window;
//! use range_action_map_testkit::{CountingFrameAllocator, SoftPageTable};
//!
//! let layout = LinuxLayout::new();
//! let frames = CountingFrameAllocator::new(64);
//! let window = Window::new(layout.mmap_min_addr(), layout.task_size())?;
//! let mut set =
//!     MemorySet::with_policy(layout, window, SoftPageTable::new(frames.memory()), frames.clone());
//! let (rw, lazy) = (MemoryAttr::new().set_user(), Lazy::new());
//! // A stack right below mmap_base, then a mapping below its 1 MiB guard gap.
//! let stack = set.map_anywhere_grows_down(0, 0x10000, 0x1000, rw, lazy)?;
//! assert_eq!(stack, layout.mmap_base() - 0x10000);
//! assert_eq!(set.map_anywhere(0, 0x1000, 0x1000, rw, lazy)?, stack - (1 << 20) - 0x1000);
//! # Ok::<(), range_action_map::memory_set::MemoryError>(())
//! ```

pub mod attr;
pub mod page_table;

mod area;
mod context;
mod fault;
mod handler;
mod policy;
mod tlb;

use alloc::boxed::Box;
use core::fmt;
use core::ops::{Deref, Range};

use spin::RwLock;

use crate::linux::{GrowsDown, StackRlimit};
use crate::range::{check_align, check_aligned, checked_end};
use crate::{Coverage, MapError, MapResult, RangeActionMap, Window};

use area::AreaAdapter;
use context::Locked;

pub use area::MemoryArea;
pub use attr::{InvalidAttrBits, MemoryAttr};
pub use context::PageContext;
pub use fault::{Access, FaultError};
pub use handler::{
    Anonymous, ByFrame, Device, FileMapping, Lazy, Linear, MemoryHandler, PageCache, Shared,
};
pub use page_table::{FrameAllocator, Leaf, PageSize, PageTable, PagingError, PAGE_SIZE};
pub use policy::{FirstFit, PlacementPolicy};
pub use tlb::TlbGather;

#[cfg(doc)]
use crate::linux::LinuxLayout;

// === errors ===

/// Why a [`MemorySet`] operation failed. The address space is then as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemoryError {
    /// The range was refused: misaligned, empty, overlapping, no room...
    Map(MapError),
    /// The page table refused a mapping, or frames ran out.
    Paging(PagingError),
}

/// The result of a [`MemorySet`] operation.
pub type MemoryResult<T> = Result<T, MemoryError>;

impl From<MapError> for MemoryError {
    fn from(error: MapError) -> Self {
        MemoryError::Map(error)
    }
}

impl From<PagingError> for MemoryError {
    fn from(error: PagingError) -> Self {
        MemoryError::Paging(error)
    }
}

impl fmt::Display for MemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemoryError::Map(error) => fmt::Display::fmt(error, f),
            MemoryError::Paging(error) => fmt::Display::fmt(error, f),
        }
    }
}

impl core::error::Error for MemoryError {}

// === impl KernelLayout ===

/// The sections of a kernel image and its window onto physical memory, as
/// virtual address ranges, with the offset of the kernel's linear mapping:
/// what the tutorial read from linker symbols, passed in as data.
///
/// Every range must be page aligned (a linker script aligns the sections);
/// an empty range is skipped.
///
/// # Examples
///
/// ```
/// use range_action_map::memory_set::KernelLayout;
///
/// let layout = KernelLayout::new(0xffff_ffff_4000_0000)
///     .text(0xffff_ffff_c020_0000..0xffff_ffff_c021_0000)
///     .rodata(0xffff_ffff_c021_0000..0xffff_ffff_c021_4000)
///     .data(0xffff_ffff_c021_4000..0xffff_ffff_c021_6000)
///     .bss(0xffff_ffff_c021_6000..0xffff_ffff_c022_0000)
///     .physical_memory(0xffff_ffff_c022_0000..0xffff_ffff_c080_0000);
/// let names: Vec<_> = layout.sections().iter().map(|s| s.0).collect();
/// assert_eq!(names, [".text", ".rodata", ".data", ".bss", "physical memory"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelLayout {
    offset: usize,
    text: Range<usize>,
    rodata: Range<usize>,
    data: Range<usize>,
    bss: Range<usize>,
    physical_memory: Range<usize>,
}

impl KernelLayout {
    /// A layout with every section empty, whose linear mapping sends `va` to
    /// `va - offset` (the tutorial's `PHYSICAL_MEMORY_OFFSET`).
    pub const fn new(offset: usize) -> Self {
        KernelLayout {
            offset,
            text: 0..0,
            rodata: 0..0,
            data: 0..0,
            bss: 0..0,
            physical_memory: 0..0,
        }
    }

    /// Sets `.text` (mapped `r-x`).
    #[must_use]
    pub fn text(mut self, range: Range<usize>) -> Self {
        self.text = range;
        self
    }

    /// Sets `.rodata` (mapped `r--`).
    #[must_use]
    pub fn rodata(mut self, range: Range<usize>) -> Self {
        self.rodata = range;
        self
    }

    /// Sets `.data` (mapped `rw-`).
    #[must_use]
    pub fn data(mut self, range: Range<usize>) -> Self {
        self.data = range;
        self
    }

    /// Sets `.bss` (mapped `rw-`).
    #[must_use]
    pub fn bss(mut self, range: Range<usize>) -> Self {
        self.bss = range;
        self
    }

    /// Sets the window onto the rest of physical memory, from the end of the
    /// kernel image (mapped `rw-`).
    #[must_use]
    pub fn physical_memory(mut self, range: Range<usize>) -> Self {
        self.physical_memory = range;
        self
    }

    /// The linear-mapping offset.
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// The five sections in address order of the usual linker script: name,
    /// range and permissions.
    pub fn sections(&self) -> [(&'static str, Range<usize>, MemoryAttr); 5] {
        let ro = MemoryAttr::new().set_readonly();
        [
            (".text", self.text.clone(), ro.set_execute()),
            (".rodata", self.rodata.clone(), ro),
            (".data", self.data.clone(), MemoryAttr::new()),
            (".bss", self.bss.clone(), MemoryAttr::new()),
            (
                "physical memory",
                self.physical_memory.clone(),
                MemoryAttr::new(),
            ),
        ]
    }
}

// === impl MemorySet ===

/// An address space: [`MemoryArea`]s over a page table `PT`, with frames
/// from `FA`, placed by the [`PlacementPolicy`] `P` where the caller does not
/// say where. See the [module docs](self).
///
/// # Invariants
///
/// The page table maps exactly what the areas' handlers mapped (with the
/// provided handlers: every page of a [`Linear`], [`Device`], [`ByFrame`] or
/// [`Shared`] area, the faulted-in pages of a [`Lazy`] area) and nothing
/// else, with the area's attributes, except that a private page whose frame
/// is shared stays read-only until its first write. A frame of `FA` holds
/// one reference per page-table entry that maps it, across every address
/// space of a fork tree.
pub struct MemorySet<PT: PageTable, FA: FrameAllocator, P = FirstFit> {
    map: RangeActionMap<AreaAdapter<PT, FA>>,
    policy: P,
    stack_rlimit: StackRlimit,
}

impl<PT: PageTable, FA: FrameAllocator> MemorySet<PT, FA> {
    /// An empty address space over the empty page table `pt`, whose areas
    /// may lie in `[0x1000, usize::MAX)`, placed [`FirstFit`].
    pub fn new(pt: PT, fa: FA) -> Self {
        Self::with_window(Window::DEFAULT, pt, fa)
    }

    /// An empty address space whose areas must lie in `window` (a user
    /// address space: the lower half), placed [`FirstFit`]. Its bounds
    /// should be page aligned, or [`map_anywhere`](Self::map_anywhere) may
    /// not use the pages next to them.
    pub fn with_window(window: Window, pt: PT, fa: FA) -> Self {
        Self::with_policy(FirstFit, window, pt, fa)
    }

    /// A kernel address space: every non-empty section of `layout` mapped
    /// linearly with its permissions (`.text` `r-x`, `.rodata` `r--`,
    /// `.data`, `.bss` and physical memory `rw-`), kernel-only. Adjacent
    /// sections with equal permissions (`.data` and `.bss`) merge into one
    /// area.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push), for the first section that fails; what was
    /// mapped is then unmapped and the page table destroyed.
    pub fn new_kernel(layout: &KernelLayout, pt: PT, fa: FA) -> MemoryResult<Self> {
        let mut set = Self::new(pt, fa);
        let handler = Linear::new(layout.offset());
        for (_, range, attr) in layout.sections() {
            if !range.is_empty() {
                set.push(range.start, range.end, attr, handler)?;
            }
        }
        Ok(set)
    }
}

impl<PT: PageTable, FA: FrameAllocator, P> MemorySet<PT, FA, P> {
    /// An empty address space whose areas must lie in `window` (page
    /// aligned), and whose [`map_anywhere`](Self::map_anywhere) places as
    /// `policy` says: [`FirstFit`], or a [`LinuxLayout`] for a process laid
    /// out as on Linux (whose window is then typically
    /// `[mmap_min_addr, task_size)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use range_action_map::linux::{LinuxLayout, StackRlimit};
    /// use range_action_map::memory_set::{MemoryAttr, ByFrame, Lazy, Linear, MemorySet};
    /// use range_action_map::Window;
    /// use range_action_map_testkit::{CountingFrameAllocator, SoftPageTable};
    ///
    /// // Sv39: a 256 GiB user half.
    /// let layout = LinuxLayout::for_task_size(1 << 38, StackRlimit::DEFAULT);
    /// let window = Window::new(layout.mmap_min_addr(), layout.task_size())?;
    /// let frames = CountingFrameAllocator::new(16);
    /// let mut set =
    ///     MemorySet::with_policy(layout, window, SoftPageTable::new(frames.memory()), frames.clone());
    /// let rw = MemoryAttr::new().set_user();
    /// let at = set.map_anywhere(0, 0x3000, 0x1000, rw, ByFrame::new())?;
    /// assert_eq!(at, layout.mmap_base() - 0x3000);
    /// # Ok::<(), range_action_map::memory_set::MemoryError>(())
    /// ```
    pub fn with_policy(policy: P, window: Window, pt: PT, fa: FA) -> Self {
        MemorySet {
            map: RangeActionMap::with_window(window, RwLock::new(PageContext::new(pt, fa))),
            policy,
            stack_rlimit: StackRlimit::DEFAULT,
        }
    }

    /// The placement policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// How far a stack may grow: the size [`handle_page_fault`](Self::handle_page_fault)
    /// lets an area that grows down reach (`RLIMIT_STACK`). 8 MiB unless set.
    pub fn stack_rlimit(&self) -> StackRlimit {
        self.stack_rlimit
    }

    /// Sets the [stack rlimit](Self::stack_rlimit) (`setrlimit(RLIMIT_STACK)`); a fork
    /// inherits it.
    pub fn set_stack_rlimit(&mut self, rlimit: StackRlimit) {
        self.stack_rlimit = rlimit;
    }

    /// Number of areas, in *O*(1).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the address space has no area.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The areas in address order.
    pub fn iter(&self) -> impl Iterator<Item = &MemoryArea<PT, FA>> + '_ {
        self.map.iter()
    }

    /// The area containing `addr`, in *O*(log n).
    pub fn find(&self, addr: usize) -> Option<&MemoryArea<PT, FA>> {
        self.map.find(addr)
    }

    /// The page table.
    ///
    /// Switching the CPU to this address space (the seed's `activate`) is
    /// a call on it: writing the table's root to `satp` or `CR3` is your
    /// kernel's own unsafe code, whose conditions (the kernel's code, stack
    /// and data mapped here; the set outliving its activation) only the
    /// kernel can check.
    ///
    /// It is borrowed under the read side of the lock whose write side
    /// [`handle_page_fault_shared`](Self::handle_page_fault_shared) takes: borrows of the page
    /// table and the frame allocator may be held together, and a fault taken through this
    /// set while one lasts waits for it to end (on the same thread: forever).
    pub fn page_table(&self) -> impl Deref<Target = PT> + '_ {
        Locked::new(self.map.args().read(), |cx| &cx.pt)
    }

    /// The frame allocator, borrowed under the same lock (read side) as
    /// [`page_table`](Self::page_table).
    pub fn frame_allocator(&self) -> impl Deref<Target = FA> + '_ {
        Locked::new(self.map.args().read(), |cx| &cx.fa)
    }

    /// Adds an area `[start, end)` with `handler` and maps what the handler
    /// maps up front ([`MemoryHandler::map`]: every page, except for a
    /// [`Lazy`] area). It merges with an adjacent area of equal attributes
    /// whose handler [agrees](MemoryHandler::can_merge). *O*(log n + pages
    /// mapped): a lazy area costs *O*(log n), however large.
    ///
    /// A handler chosen at run time is passed boxed
    /// (`Box<dyn MemoryHandler<PT, FA>>`), and kept as it is.
    ///
    /// # Errors
    ///
    /// - [`MapError::Misaligned`] or [`MapError::EmptyRange`] for a bad range,
    ///   [`MapError::OutOfWindow`] outside the window;
    /// - [`MapError::Overlap`] if an area overlaps it (the tutorial's
    ///   assertion, as an error);
    /// - [`PagingError::OutOfFrames`] and other page-table errors; pages
    ///   mapped before the failure are unmapped again.
    pub fn push(
        &mut self,
        start: usize,
        end: usize,
        attr: MemoryAttr,
        handler: impl MemoryHandler<PT, FA>,
    ) -> MemoryResult<()> {
        self.push_area(
            start,
            end,
            MemoryArea::new(handler.into_boxed(), attr, false),
        )
    }

    /// Adds an area `[start, end)` that grows down, as a stack does (Linux's
    /// `MAP_GROWSDOWN`, `VM_GROWSDOWN`), and maps its pages as
    /// [`push`](Self::push) does. A [`LinuxLayout`] policy keeps its
    /// [guard gap](LinuxLayout::guard_gap) free of later placements. It
    /// merges only with adjacent grows-down areas of equal attributes and
    /// handler, and its pieces keep the bit when it is split.
    /// *O*(log n + pages).
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    pub fn push_grows_down(
        &mut self,
        start: usize,
        end: usize,
        attr: MemoryAttr,
        handler: impl MemoryHandler<PT, FA>,
    ) -> MemoryResult<()> {
        self.push_area(
            start,
            end,
            MemoryArea::new(handler.into_boxed(), attr, true),
        )
    }

    /// Adds a `len`-byte area at a free address that is a multiple of
    /// `align` (at least [`PAGE_SIZE`]), chosen from `hint` by the set's
    /// [`PlacementPolicy`], maps it as [`push`](Self::push) does, and
    /// returns its start. *O*(log n + pages) with [`FirstFit`] and
    /// [`LinuxLayout`].
    ///
    /// - [`FirstFit`] (sets built by [`new`](MemorySet::new) and
    ///   [`with_window`](MemorySet::with_window)): the lowest start at or
    ///   above `hint`.
    /// - [`LinuxLayout`]: where Linux's anonymous `mmap(hint, len)` goes
    ///   (see [`LinuxLayout::get_unmapped_area_aligned`] for an `align`
    ///   above a page).
    ///
    /// # Errors
    ///
    /// - [`MapError::Misaligned`] if `len` is not a multiple of
    ///   [`PAGE_SIZE`], [`MapError::ZeroLength`], [`MapError::BadAlignment`];
    /// - [`MapError::NoSpace`] or another error of the policy;
    /// - [`MapError::Misaligned`], [`MapError::OutOfWindow`] or
    ///   [`MapError::Overlap`] if the policy proposed a range that is not
    ///   aligned, not in the window or not free (nothing is then mapped);
    /// - paging errors as for `push`.
    pub fn map_anywhere(
        &mut self,
        hint: usize,
        len: usize,
        align: usize,
        attr: MemoryAttr,
        handler: impl MemoryHandler<PT, FA>,
    ) -> MemoryResult<usize>
    where
        P: PlacementPolicy,
    {
        self.map_area(
            hint,
            len,
            align,
            MemoryArea::new(handler.into_boxed(), attr, false),
        )
    }

    /// [`map_anywhere`](Self::map_anywhere) for an area that grows down, as
    /// [`push_grows_down`](Self::push_grows_down) makes one: a
    /// `MAP_GROWSDOWN` mapping. The placement itself is the same.
    ///
    /// # Errors
    ///
    /// As [`map_anywhere`](Self::map_anywhere).
    pub fn map_anywhere_grows_down(
        &mut self,
        hint: usize,
        len: usize,
        align: usize,
        attr: MemoryAttr,
        handler: impl MemoryHandler<PT, FA>,
    ) -> MemoryResult<usize>
    where
        P: PlacementPolicy,
    {
        self.map_area(
            hint,
            len,
            align,
            MemoryArea::new(handler.into_boxed(), attr, true),
        )
    }

    /// Unmaps `[start, end)`: areas inside go, areas across a bound are cut;
    /// exactly the range's mapped pages are unmapped and the frames their
    /// areas own freed. Holes in the range are fine. *O*(log n + pages
    /// mapped + tables visited).
    ///
    /// # Returns
    ///
    /// What the range covered.
    ///
    /// # Errors
    ///
    /// [`MapError::Misaligned`], [`MapError::EmptyRange`],
    /// [`MapError::OutOfWindow`]; [`PagingError::OutOfFrames`] when a huge
    /// page across a bound of the range cannot be split. Nothing changed.
    pub fn unmap(&mut self, start: usize, end: usize) -> MemoryResult<Coverage> {
        self.check_pages(start, end)?;
        self.split_huge_pages_at(start, end)?;
        let coverage = self.map.unmap(start, end);
        self.flush_tlb();
        Ok(coverage?)
    }

    /// Gives the areas in `[start, end)` the permissions `attr`, rewriting
    /// the flags of their mapped pages (lazy pages get `attr` when faulted
    /// in). Areas that already have `attr` are left whole (not split, no
    /// page touched), and changed pieces merge with equal neighbours, so
    /// toggling permissions back and forth does not fragment the set. Holes
    /// in the range stay holes. *O*(log n · r + pages changed + tables
    /// visited) for r runs of areas to change; it allocates only nodes for
    /// the splits at the range's bounds.
    ///
    /// # Errors
    ///
    /// [`MapError::Misaligned`], [`MapError::EmptyRange`],
    /// [`MapError::OutOfWindow`]; [`PagingError::OutOfFrames`] when a huge
    /// page across a bound of the range cannot be split. Nothing changed.
    pub fn protect(&mut self, start: usize, end: usize, attr: MemoryAttr) -> MemoryResult<()> {
        self.check_pages(start, end)?;
        let mut from = start;
        // Loop invariant: every area part in `[start, from)` has `attr`.
        // Leaves never cross an area's bounds: splitting at the range's bounds
        // is enough for every run.
        self.split_huge_pages_at(start, end)?;
        while let Some(run) = self.next_run_to_change(from, end, attr) {
            let changed = self.map.mprotect(run.start, run.end, attr);
            if let Err(error) = changed {
                self.flush_tlb();
                return Err(error.into());
            }
            from = run.end;
        }
        self.flush_tlb();
        Ok(())
    }

    /// The first maximal run inside `[from, end)` of areas (holes between
    /// them allowed) whose permissions differ from `attr`.
    fn next_run_to_change(
        &self,
        from: usize,
        end: usize,
        attr: MemoryAttr,
    ) -> Option<Range<usize>> {
        let mut areas = self
            .map
            .overlapping(from, end)
            .skip_while(|area| area.attr() == attr);
        let first = areas.next()?.range();
        let last_end = areas
            .take_while(|area| area.attr() != attr)
            .last()
            .map_or(first.end, |area| area.range().end);
        Some(first.start.max(from)..last_end.min(end))
    }

    /// Writes the modified pages of `[start, end)` back to their files
    /// (`msync(MS_SYNC)`) through each area's handler
    /// ([`MemoryHandler::sync`]): the dirty pages of [shared file
    /// mappings](FileMapping::shared), which become clean and read-only
    /// until their next write. Holes in the range are fine. Returns how many
    /// pages were written. *O*(log n + areas + pages mapped in the range).
    ///
    /// # Errors
    ///
    /// [`MapError::Misaligned`], [`MapError::EmptyRange`],
    /// [`MapError::OutOfWindow`]; nothing written.
    pub fn msync(&mut self, start: usize, end: usize) -> MemoryResult<usize> {
        self.check_pages(start, end)?;
        let (areas, cx) = self.map.overlapping_with_args_mut(start, end);
        let cx = cx.get_mut();
        let written = areas
            .map(|area| {
                let range = area.range();
                (area.handler()).sync(cx, range.start.max(start)..range.end.min(end))
            })
            .sum();
        self.flush_tlb();
        Ok(written)
    }

    /// Resolves a page fault at `addr` by an `access` the area allows,
    /// through the area's handler ([`MemoryHandler::handle_fault`]): the
    /// first access to a [`Lazy`] page maps a fresh zeroed frame; the first
    /// write to a private page shared by a fork copies it, or makes it
    /// writable if this address space holds the frame's last reference.
    /// *O*(log n).
    ///
    /// A fault on a page whose entry already allows the access is spurious
    /// (another CPU resolved it first, or the TLB was stale) and returns
    /// `Ok(())` with nothing changed.
    ///
    /// # Errors
    ///
    /// - [`FaultError::Unmapped`] when no area contains `addr`;
    /// - [`FaultError::AccessViolation`] when the area forbids `access`
    ///   (a write to a read-only area, an instruction fetch from a
    ///   non-executable one);
    /// - [`FaultError::Paging`] when no frame is left for the page (or its
    ///   copy); nothing is then changed.
    pub fn handle_page_fault(&mut self, addr: usize, access: Access) -> Result<(), FaultError>
    where
        P: PlacementPolicy,
    {
        let resolved = match self.fault_in_area(addr, access) {
            Err(FaultError::Unmapped { .. }) => self.grow_stack(addr).and_then(|grown| {
                let resolved = self.fault_in_area(addr, access);
                if resolved.is_err() {
                    // Nothing is left behind: the stack shrinks back.
                    let unmapped = self.map.unmap(grown.start, grown.end);
                    debug_assert!(unmapped.is_ok(), "inconsistent state: {unmapped:?}");
                }
                resolved
            }),
            resolved => resolved,
        };
        self.flush_tlb();
        resolved
    }

    /// [`handle_page_fault`](Self::handle_page_fault) at `addr`, which an
    /// area contains.
    fn fault_in_area(&mut self, addr: usize, access: Access) -> Result<(), FaultError> {
        let (area, cx) = self.map.find_with_args_mut(addr);
        let area = area.ok_or(FaultError::Unmapped { addr })?;
        area.fault(cx.get_mut(), addr, access)
    }

    /// [`handle_page_fault`](Self::handle_page_fault) through a shared reference: for a kernel
    /// that keeps the address space behind a reader-writer lock and takes page faults under
    /// its read side, on several CPUs at once (as Linux faults under the read side of
    /// `mmap_lock`). *O*(log n).
    ///
    /// The areas are looked up without a lock, in parallel; the page-table work of the fault
    /// (mapping the page, breaking copy-on-write, the TLB flush, the frames it frees) runs
    /// under one spin lock per address space, as Linux's `page_table_lock`. A fault that another
    /// CPU resolved while this one waited for the lock finds the page mapped and returns
    /// `Ok(())` with nothing changed, so two CPUs faulting on one page map it once.
    ///
    /// A fault below a stack would change the areas (the stack grows), which this does not
    /// do: it answers [`FaultError::WouldGrowStack`], and the kernel retries with
    /// [`handle_page_fault`](Self::handle_page_fault) under the write lock.
    ///
    /// # Errors
    ///
    /// As [`handle_page_fault`](Self::handle_page_fault), and
    /// [`FaultError::WouldGrowStack`] where that would grow a stack.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::RwLock;
    /// use range_action_map::memory_set::{
    ///     Access, FaultError, Lazy, MemoryAttr, MemorySet, PageTable,
    /// };
    /// # use range_action_map_testkit::{CountingFrameAllocator, SoftPageTable};
    /// # let fa = CountingFrameAllocator::new(64);
    /// # let pt = SoftPageTable::new(fa.memory());
    /// let space = RwLock::new(MemorySet::new(pt, fa));
    /// let rw = MemoryAttr::new().set_user();
    /// space.write().unwrap().push(0x10000, 0x20000, rw, Lazy::new())?;
    ///
    /// // A fault handler, on any CPU: the read lock first.
    /// let fault = |addr| match space.read().unwrap().handle_page_fault_shared(addr, Access::Write) {
    ///     Err(FaultError::WouldGrowStack { .. }) => {
    ///         space.write().unwrap().handle_page_fault(addr, Access::Write)
    ///     }
    ///     resolved => resolved,
    /// };
    /// fault(0x10008)?;
    /// assert!(space.read().unwrap().page_table().translate(0x10000).is_some());
    /// assert_eq!(fault(0x30000), Err(FaultError::Unmapped { addr: 0x30000 }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_page_fault_shared(&self, addr: usize, access: Access) -> Result<(), FaultError> {
        let Some(area) = self.map.find(addr) else {
            let above = self.map.lower_bound(addr);
            return Err(if above.get().is_some_and(|area| area.grows_down()) {
                FaultError::WouldGrowStack { addr }
            } else {
                FaultError::Unmapped { addr }
            });
        };
        let mut cx = self.map.args().write();
        let resolved = area.fault(&mut cx, addr, access);
        cx.flush_tlb();
        resolved
    }

    /// Grows the area that grows down right above `addr` (in no area)
    /// down to `addr`'s page, as Linux's `expand_stack` does, and returns
    /// the range it grew by.
    ///
    /// # Errors
    ///
    /// [`FaultError::Unmapped`] when the area above does not grow down (or
    /// there is none); [`FaultError::StackLimit`] when it would outgrow the
    /// stack rlimit or the window, or come closer than the policy's guard
    /// gap to an area below that does not grow down;
    /// [`FaultError::Paging`] if the handler cannot map the new pages.
    fn grow_stack(&mut self, addr: usize) -> Result<Range<usize>, FaultError>
    where
        P: PlacementPolicy,
    {
        let unmapped = FaultError::Unmapped { addr };
        let limit = FaultError::StackLimit { addr };
        let above = self.map.lower_bound(addr);
        let stack = above.get().filter(|a| a.grows_down()).ok_or(unmapped)?;
        let (start, end) = (addr & !(PAGE_SIZE - 1), stack.range().start);
        if start < self.map.window().low() || !self.stack_rlimit.allows(stack.range().end - start) {
            return Err(limit);
        }
        if let Some(below) = above.peek_prev().filter(|a| !a.grows_down()) {
            if start - below.range().end < self.policy.guard_gap() {
                return Err(limit);
            }
        }
        // The new piece merges into the stack (or, for a handler that never
        // merges, lies right under it and grows down too).
        let piece = stack.duplicate();
        self.insert(start, end, piece, None)
            .map_err(|error| match error {
                MemoryError::Paging(error) => FaultError::Paging(error),
                MemoryError::Map(_) => limit,
            })?;
        Ok(start..end)
    }

    /// Unmaps every area (the page table keeps its own table frames until
    /// the set is dropped). *O*(n + pages mapped + tables visited).
    pub fn clear(&mut self) {
        self.map.clear();
        self.flush_tlb();
    }

    /// Splits the huge pages that cross `start` or `end`, so that a change to
    /// `[start, end)` touches whole pages only. A split changes no
    /// translation: on error, the address space is as it was.
    fn split_huge_pages_at(&mut self, start: usize, end: usize) -> MemoryResult<()> {
        let cx = self.map.args_mut().get_mut();
        cx.split_at(start)?;
        cx.split_at(end)?;
        Ok(())
    }

    /// Ends an operation: flushes what it gathered from the TLB, once, then
    /// drops the frame references that waited for the flush.
    fn flush_tlb(&mut self) {
        self.map.args_mut().get_mut().flush_tlb();
    }

    /// Checks `[start, end)` for [`push`](Self::push) and adds `area` over
    /// it.
    fn push_area(
        &mut self,
        start: usize,
        end: usize,
        mut area: MemoryArea<PT, FA>,
    ) -> MemoryResult<()> {
        self.check_pages(start, end)?;
        self.map.check_free(start, end)?;
        area.place_at(start);
        let inserted = self.insert(start, end, area, None);
        self.flush_tlb();
        inserted
    }

    /// Checks the request for [`map_anywhere`](Self::map_anywhere), asks the
    /// policy, and adds `area` where it says, if that is a valid place.
    fn map_area(
        &mut self,
        hint: usize,
        len: usize,
        align: usize,
        area: MemoryArea<PT, FA>,
    ) -> MemoryResult<usize>
    where
        P: PlacementPolicy,
    {
        check_aligned(len, PAGE_SIZE)?;
        check_align(align)?;
        checked_end(0, len)?;
        let align = align.max(PAGE_SIZE);
        let start = self.policy.place(&self.map, hint, len, align)?;
        // The policy only proposes: `push_area` checks window and overlap.
        check_aligned(start, align)?;
        self.push_area(start, checked_end(start, len)?, area)?;
        Ok(start)
    }

    /// Maps the pages of `[start, end)` (free, checked) and adds `area` over it: what its
    /// handler maps when an area is added ([`MemoryHandler::map`]) or, with `parent`, the
    /// address space being forked, what it maps in a fork's child ([`MemoryHandler::fork`]).
    /// If that fails, the handler unmaps the range again. *O*(log n + pages mapped).
    fn insert(
        &mut self,
        start: usize,
        end: usize,
        area: MemoryArea<PT, FA>,
        parent: Option<&PT>,
    ) -> MemoryResult<()> {
        let (attr, handler) = (area.attr(), area.handler());
        let cx = self.map.args_mut().get_mut();
        let mapped = match parent {
            None => handler.map(cx, start..end, attr),
            Some(parent) => handler.fork(parent, cx, start..end, attr),
        };
        if let Err(error) = mapped {
            handler.unmap(cx, start..end);
            return Err(error.into());
        }
        if let Err(refused) = self.map.mmap_fixed_noreplace(start, end, Box::new(area)) {
            debug_assert!(false, "inconsistent state: checked range refused");
            refused
                .node
                .handler()
                .unmap(self.map.args_mut().get_mut(), start..end);
            return Err(refused.error.into());
        }
        Ok(())
    }

    /// Checks that `[start, end)` is a non-empty range of whole pages inside
    /// the window.
    fn check_pages(&self, start: usize, end: usize) -> MapResult<()> {
        check_aligned(start, PAGE_SIZE)?;
        check_aligned(end, PAGE_SIZE)?;
        self.map.window().check(start, end)
    }
}

impl<PT: PageTable, FA: FrameAllocator + Clone, P: Clone> MemorySet<PT, FA, P> {
    /// The address space of a forked process, over the empty page table `child_pt`, with
    /// clones of the frame allocator and the placement policy: every area with its range,
    /// attributes, handler and grows-down bit, and in the child's table what each handler's
    /// [`fork`](MemoryHandler::fork) maps. For the provided handlers: private memory
    /// ([`ByFrame`], [`Lazy`]) is shared copy-on-write (both sides map the same frames
    /// read-only, and the first write on either side copies the page, or makes it writable
    /// if that side holds the last reference), [`Shared`] memory is shared writable, and
    /// [`Linear`] and [`Device`] areas map the same physical range. No page is copied.
    /// *O*(n log n + pages mapped + tables visited).
    ///
    /// # Errors
    ///
    /// [`PagingError::OutOfFrames`] (or another page-table error); the partial child is then
    /// torn down, every reference it took dropped, and the parent is unchanged.
    pub fn clone_for_fork(&mut self, child_pt: PT) -> MemoryResult<Self> {
        let window = self.map.window();
        let (areas, cx) = self.map.iter_with_args_mut();
        let cx = cx.get_mut();
        let mut child = Self::with_policy(self.policy.clone(), window, child_pt, cx.fa.clone());
        child.stack_rlimit = self.stack_rlimit;
        for area in areas {
            let range = area.range();
            child.insert(range.start, range.end, area.duplicate(), Some(&cx.pt))?;
        }
        // Only now that the child exists: what became shared turns read-only here too.
        let (areas, cx) = self.map.iter_with_args_mut();
        let cx = cx.get_mut();
        for area in areas {
            area.handler().protect(cx, area.range(), area.attr());
        }
        self.flush_tlb();
        Ok(child)
    }
}

impl<PT: PageTable, FA: FrameAllocator, P> Drop for MemorySet<PT, FA, P> {
    /// Unmaps every area, then gives the page table's frames back.
    fn drop(&mut self) {
        self.map.clear();
        let cx = self.map.args_mut().get_mut();
        cx.flush_tlb();
        cx.pt.destroy(&mut cx.fa);
    }
}

impl<PT: PageTable, FA: FrameAllocator, P> fmt::Display for MemorySet<PT, FA, P> {
    /// One `/proc/<pid>/maps`-style line per area, e.g.
    /// `00010000-00014000 rw-p 00000000 00:00 0 [frame]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.map, f)
    }
}

impl<PT: PageTable, FA: FrameAllocator, P> fmt::Debug for MemorySet<PT, FA, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
