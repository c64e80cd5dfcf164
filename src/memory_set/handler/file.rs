//! [`FileMapping`]: pages of a file, through the kernel's page cache ([`PageCache`]).

use alloc::boxed::Box;
use core::fmt;
use core::ops::Range;

use super::{Access, MemoryAttr, MemoryHandler, PageContext};
use crate::memory_set::page_table::{FrameAllocator, PageTable, PagingError, PAGE_SIZE};

/// One file's pages in memory: the kernel's page cache, as a [`FileMapping`] sees it.
///
/// The cache holds its own reference to the frame of every page it caches (taken from the same
/// [`FrameAllocator`] the address spaces use), and the mappings take one more each. A clone is
/// a handle onto the same file (an `Arc` of the kernel's inode, shared between CPUs), and two
/// handles are equal exactly when they name the same file (compare pointers, not contents):
/// that is what lets two adjacent mappings of it merge.
///
/// The test kit's `MemFile` is an in-memory implementation that counts page reads and
/// writebacks (about 150 lines with its accessors).
pub trait PageCache<FA: FrameAllocator>: Clone + PartialEq + Send + Sync + 'static {
    /// The frame holding page `pgoff` of the file, read in first (into a frame of `frames`)
    /// if it is not cached. The cache keeps its reference; the caller takes its own with
    /// [`FrameAllocator::add_ref`] for each mapping.
    ///
    /// # Errors
    ///
    /// [`PagingError::NoPage`] for a page beyond the end of the file (Linux's `SIGBUS`),
    /// [`PagingError::OutOfFrames`] when no frame is left to read it into.
    fn page(&self, pgoff: usize, frames: &mut FA) -> Result<usize, PagingError>;

    /// Page `pgoff` is written through a shared mapping, or may have been (a mapping that was
    /// writable goes away): it is dirty from now on, until [`writeback`](Self::writeback).
    fn set_dirty(&self, pgoff: usize);

    /// Writes the dirty pages among `pgoffs` back to the file and marks them clean; how many
    /// it wrote. `frames` is the allocator of the cached frames.
    fn writeback(&self, pgoffs: Range<usize>, frames: &mut FA) -> usize;
}

/// Pages of a file, `mmap`ed: page `va` of the area maps page `pgoff + (va - start) / 4096`
/// of the file, through the kernel's [`PageCache`], on its first fault.
///
/// - [`FileMapping::private`] (`MAP_PRIVATE`): copy-on-write over the page cache. A read maps
///   the cached frame read-only; the first write copies it into a frame of the address
///   space's own, which later forks share copy-on-write as anonymous memory.
/// - [`FileMapping::shared`] (`MAP_SHARED`): writes go to the cached frame itself, seen by
///   every process that maps the page and written back by
///   [`MemorySet::msync`](crate::memory_set::MemorySet::msync). A page is mapped read-only
///   until its first write, which marks it dirty in the cache; `msync` makes it read-only
///   again, and unmapping a page that is writable marks it dirty, so no write is lost when
///   the cache later drops the page. A fork maps nothing: the child faults the pages in from
///   the cache, as Linux's `fork` leaves shared file pages to be refaulted.
///
///   Unlike Linux, which finds every mapping of a page through its reverse map, `msync`
///   write-protects this address space's mappings only: a page another address space still
///   maps writable is written back again only when that one calls `msync`, or unmaps it.
///
/// Two adjacent mappings merge when they map the same file at contiguous offsets, both
/// private or both shared.
#[derive(Clone, Debug, PartialEq)]
pub struct FileMapping<C> {
    cache: C,
    shared: bool,
    /// The address file page 0 would have (modulo 2^64): page `va` maps page
    /// `(va - origin) / PAGE_SIZE`, which a split or a cut does not change.
    origin: usize,
}

impl<C> FileMapping<C> {
    /// A private (`MAP_PRIVATE`) mapping of `cache`'s file from page `pgoff` on.
    pub fn private(cache: C, pgoff: usize) -> Self {
        Self::new(cache, pgoff, false)
    }

    /// A shared (`MAP_SHARED`) mapping of `cache`'s file from page `pgoff` on.
    pub fn shared(cache: C, pgoff: usize) -> Self {
        Self::new(cache, pgoff, true)
    }

    fn new(cache: C, pgoff: usize, shared: bool) -> Self {
        // Until the area is placed, `origin` is relative to address 0.
        let origin = pgoff.wrapping_mul(PAGE_SIZE).wrapping_neg();
        FileMapping {
            cache,
            shared,
            origin,
        }
    }

    /// The file's page cache.
    pub fn cache(&self) -> &C {
        &self.cache
    }

    /// The file page that page `va` maps.
    pub fn pgoff_of(&self, va: usize) -> usize {
        va.wrapping_sub(self.origin) / PAGE_SIZE
    }

    /// Maps the cached frame of page `va` with `attr`, taking a reference to it.
    fn map_cached<PT: PageTable, FA: FrameAllocator>(
        &self,
        cx: &mut PageContext<PT, FA>,
        va: usize,
        attr: MemoryAttr,
    ) -> Result<(), PagingError>
    where
        C: PageCache<FA>,
    {
        let pa = self.cache.page(self.pgoff_of(va), &mut cx.fa)?;
        cx.map_frame(va, pa, attr)?;
        cx.fa.add_ref(pa);
        Ok(())
    }

    /// The fault of a private mapping: a read maps the cached page read-only, a write maps a
    /// private copy of it, or breaks copy-on-write of a page already mapped.
    fn private_fault<PT: PageTable, FA: FrameAllocator>(
        &self,
        cx: &mut PageContext<PT, FA>,
        va: usize,
        access: Access,
        attr: MemoryAttr,
    ) -> Result<(), PagingError>
    where
        C: PageCache<FA>,
    {
        match (cx.pt.translate(va), access) {
            (None, Access::Write) => {
                let cached = self.cache.page(self.pgoff_of(va), &mut cx.fa)?;
                cx.map_new_frame(va, attr, Some(cached)).map(drop)
            }
            (None, _) => self.map_cached(cx, va, attr.set_readonly()),
            (Some(_), Access::Write) => cx.break_cow(va, attr),
            (Some(_), _) => Ok(()),
        }
    }

    /// Marks dirty the pages of `range` this address space maps writable (each may have been
    /// written since it was last clean) and, with `clean`, write-protects them.
    fn note_dirty<PT: PageTable, FA: FrameAllocator>(
        &self,
        cx: &mut PageContext<PT, FA>,
        range: Range<usize>,
        clean: bool,
    ) where
        C: PageCache<FA>,
    {
        cx.for_each_mapped(range, |cx, leaf| {
            if !leaf.attr.is_readonly() {
                self.cache.set_dirty(self.pgoff_of(leaf.va));
                if clean {
                    let set = cx.set_attr(leaf, leaf.attr.set_readonly());
                    debug_assert!(set.is_ok(), "inconsistent state: {set:?}");
                }
            }
        });
    }

    /// The fault of a shared mapping: the cached page, read-only until a write marks it dirty.
    fn shared_fault<PT: PageTable, FA: FrameAllocator>(
        &self,
        cx: &mut PageContext<PT, FA>,
        va: usize,
        access: Access,
        attr: MemoryAttr,
    ) -> Result<(), PagingError>
    where
        C: PageCache<FA>,
    {
        let write = access == Access::Write;
        let mapped = cx.pt.translate(va).is_some();
        if !mapped {
            let clean = if write { attr } else { attr.set_readonly() };
            self.map_cached(cx, va, clean)?;
        }
        if write {
            self.cache.set_dirty(self.pgoff_of(va));
            if let (true, Some(leaf)) = (mapped, cx.pt.query(va)) {
                cx.set_attr(leaf, attr)?;
            }
        }
        Ok(())
    }
}

impl<PT: PageTable, FA: FrameAllocator, C: PageCache<FA> + fmt::Debug> MemoryHandler<PT, FA>
    for FileMapping<C>
{
    fn box_clone(&self) -> Box<dyn MemoryHandler<PT, FA>> {
        Box::new(self.clone())
    }

    fn placed_at(&mut self, start: usize) {
        self.origin = self.origin.wrapping_add(start);
    }

    fn handle_fault(
        &self,
        cx: &mut PageContext<PT, FA>,
        va: usize,
        access: Access,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        if self.shared {
            self.shared_fault(cx, va, access, attr)
        } else {
            self.private_fault(cx, va, access, attr)
        }
    }

    fn unmap(&self, cx: &mut PageContext<PT, FA>, range: Range<usize>) {
        if self.shared {
            self.note_dirty(cx, range.clone(), false);
        }
        cx.unmap_pages(range, true);
    }

    /// Private pages stay read-only while their frame is shared (with the cache or a fork);
    /// shared pages become writable only once dirty, so a page that is writable now stays so,
    /// and one made read-only is marked dirty (it may have been written since it was clean).
    fn protect(&self, cx: &mut PageContext<PT, FA>, range: Range<usize>, attr: MemoryAttr) {
        if !self.shared {
            return cx.protect_pages(range, attr, true);
        }
        cx.for_each_mapped(range, |cx, leaf| {
            let attr = if leaf.attr.is_readonly() {
                attr.set_readonly()
            } else {
                // A writable page may have been written since it was last clean; once it is
                // read-only, no write fault will say so.
                if attr.is_readonly() {
                    self.cache.set_dirty(self.pgoff_of(leaf.va));
                }
                attr
            };
            let set = cx.set_attr(leaf, attr);
            debug_assert!(set.is_ok(), "inconsistent state: {set:?}");
        });
    }

    fn fork(
        &self,
        parent: &PT,
        child: &mut PageContext<PT, FA>,
        range: Range<usize>,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        if self.shared {
            return Ok(());
        }
        child.map_pages_of(parent, range, attr.set_readonly(), true)
    }

    /// Writes back the dirty pages of the file behind `range` of a shared mapping, and
    /// write-protects this address space's mappings of them, so that the next write marks
    /// them dirty again.
    fn sync(&self, cx: &mut PageContext<PT, FA>, range: Range<usize>) -> usize {
        if !self.shared || range.is_empty() {
            return 0;
        }
        self.note_dirty(cx, range.clone(), true);
        let last = self.pgoff_of(range.end - PAGE_SIZE);
        (self.cache).writeback(self.pgoff_of(range.start)..last + 1, &mut cx.fa)
    }

    fn can_merge(&self, next: &dyn MemoryHandler<PT, FA>) -> bool {
        super::same(self, next)
    }

    fn is_shared(&self) -> bool {
        self.shared
    }

    fn offset_of(&self, start: usize) -> usize {
        start.wrapping_sub(self.origin)
    }
}

impl<C> fmt::Display for FileMapping<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[file]")
    }
}
