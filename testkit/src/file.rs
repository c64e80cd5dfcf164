//! [`MemFile`]: an in-memory file with a page cache, for file mappings.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::rc::Rc;

use range_action_map::memory_set::{FrameAllocator, PageCache, PagingError, PAGE_SIZE};

use crate::CountingFrameAllocator;

/// An in-memory file of a fixed number of pages and its page cache: what a kernel's
/// filesystem and page cache give a [`FileMapping`](range_action_map::memory_set::FileMapping).
///
/// The "disk" starts with page `pgoff` holding [`MemFile::initial`]`(id, pgoff)` in its
/// first 8 bytes and zeros after them. A page is read into a frame of the allocator on its
/// first use (counted by [`reads`](Self::reads)); the cache holds one reference to it until
/// [`evict`](Self::evict) drops the pages no mapping uses. [`writeback`](PageCache::writeback)
/// copies dirty pages to the disk (counted by [`writebacks`](Self::writebacks)).
///
/// Clones are handles onto the same file; handles are equal iff they are of the same file.
#[derive(Clone)]
pub struct MemFile {
    state: Rc<FileState>,
    fa: CountingFrameAllocator,
}

struct FileState {
    id: u64,
    pages: usize,
    /// The cached pages: frame and dirty bit.
    cache: RefCell<BTreeMap<usize, (usize, bool)>>,
    /// Pages written back, as they were written.
    disk: RefCell<BTreeMap<usize, Vec<u8>>>,
    reads: Cell<usize>,
    writebacks: Cell<usize>,
}

impl MemFile {
    /// A file numbered `id` of `pages` pages, cached in frames of `fa`.
    pub fn new(id: u64, pages: usize, fa: &CountingFrameAllocator) -> Self {
        MemFile {
            state: Rc::new(FileState {
                id,
                pages,
                cache: RefCell::new(BTreeMap::new()),
                disk: RefCell::new(BTreeMap::new()),
                reads: Cell::new(0),
                writebacks: Cell::new(0),
            }),
            fa: fa.clone(),
        }
    }

    /// The first 8 bytes of page `pgoff` of file `id` before anything is written back:
    /// `id << 32 | pgoff`, little-endian.
    pub fn initial(id: u64, pgoff: usize) -> [u8; 8] {
        (id << 32 | pgoff as u64).to_le_bytes()
    }

    /// The file's length in pages.
    pub fn pages(&self) -> usize {
        self.state.pages
    }

    /// How many pages were read from the disk into the cache.
    pub fn reads(&self) -> usize {
        self.state.reads.get()
    }

    /// How many dirty pages were written back.
    pub fn writebacks(&self) -> usize {
        self.state.writebacks.get()
    }

    /// The cached pages and their frames, in page order.
    pub fn cached(&self) -> Vec<(usize, usize)> {
        let cache = self.state.cache.borrow();
        cache.iter().map(|(&pgoff, &(pa, _))| (pgoff, pa)).collect()
    }

    /// Whether page `pgoff` is cached and dirty.
    pub fn is_dirty(&self, pgoff: usize) -> bool {
        self.state.cache.borrow().get(&pgoff).is_some_and(|p| p.1)
    }

    /// The first `buf.len()` bytes of page `pgoff` as the disk holds them.
    pub fn read_disk(&self, pgoff: usize, buf: &mut [u8]) {
        match self.state.disk.borrow().get(&pgoff) {
            Some(page) => buf.copy_from_slice(&page[..buf.len()]),
            None => {
                let initial = Self::initial(self.state.id, pgoff);
                buf.fill(0);
                let n = buf.len().min(initial.len());
                buf[..n].copy_from_slice(&initial[..n]);
            }
        }
    }

    /// Drops the cache's reference to every page no mapping uses (its frame is freed), after
    /// writing it back if it is dirty; how many it dropped.
    pub fn evict(&self) -> usize {
        let mut fa = self.fa.clone();
        let unused: Vec<usize> = (self.state.cache.borrow().iter())
            .filter(|&(_, &(pa, _))| fa.ref_count(pa) == 1)
            .map(|(&pgoff, _)| pgoff)
            .collect();
        for &pgoff in &unused {
            self.writeback(pgoff..pgoff + 1);
        }
        let mut cache = self.state.cache.borrow_mut();
        for pgoff in &unused {
            if let Some((pa, _)) = cache.remove(pgoff) {
                fa.dealloc(pa);
            }
        }
        unused.len()
    }
}

impl PageCache for MemFile {
    fn page(&self, pgoff: usize) -> Result<usize, PagingError> {
        if pgoff >= self.state.pages {
            return Err(PagingError::NoPage { pgoff });
        }
        if let Some(&(pa, _)) = self.state.cache.borrow().get(&pgoff) {
            return Ok(pa);
        }
        let pa = self.fa.clone().alloc().ok_or(PagingError::OutOfFrames)?;
        let mut contents = vec![0; PAGE_SIZE];
        self.read_disk(pgoff, &mut contents);
        self.fa.memory().write(pa, 0, &contents);
        self.state.cache.borrow_mut().insert(pgoff, (pa, false));
        self.state.reads.set(self.state.reads.get() + 1);
        Ok(pa)
    }

    /// # Panics
    ///
    /// If page `pgoff` is not cached: only a mapped page can be dirtied.
    fn set_dirty(&self, pgoff: usize) {
        let mut cache = self.state.cache.borrow_mut();
        let page = cache.get_mut(&pgoff);
        page.unwrap_or_else(|| panic!("set_dirty of page {pgoff}, which is not cached"))
            .1 = true;
    }

    fn writeback(&self, pgoffs: Range<usize>) -> usize {
        let mut cache = self.state.cache.borrow_mut();
        let mut written = 0;
        for (&pgoff, (pa, dirty)) in cache.range_mut(pgoffs).filter(|(_, page)| page.1) {
            *dirty = false;
            let mut contents = vec![0; PAGE_SIZE];
            self.fa.memory().read(*pa, 0, &mut contents);
            self.state.disk.borrow_mut().insert(pgoff, contents);
            written += 1;
        }
        self.state
            .writebacks
            .set(self.state.writebacks.get() + written);
        written
    }
}

impl PartialEq for MemFile {
    /// The same file.
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.state, &other.state)
    }
}

impl fmt::Debug for MemFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemFile")
            .field("id", &self.state.id)
            .field("pages", &self.state.pages)
            .field("cached", &self.state.cache.borrow().len())
            .finish_non_exhaustive()
    }
}
