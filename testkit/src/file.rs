//! [`MemFile`]: an in-memory file with a page cache, for file mappings.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

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
/// Clones are handles onto the same file (`Send` and `Sync`, as a kernel's inode handles are);
/// handles are equal iff they are of the same file.
#[derive(Clone)]
pub struct MemFile {
    state: Arc<Mutex<FileState>>,
}

struct FileState {
    id: u64,
    pages: usize,
    /// The cached pages: frame and dirty bit.
    cache: BTreeMap<usize, (usize, bool)>,
    /// Pages written back, as they were written.
    disk: BTreeMap<usize, Vec<u8>>,
    reads: usize,
    writebacks: usize,
}

impl FileState {
    /// The first `buf.len()` bytes of page `pgoff` as the disk holds them.
    fn read_disk(&self, pgoff: usize, buf: &mut [u8]) {
        match self.disk.get(&pgoff) {
            Some(page) => buf.copy_from_slice(&page[..buf.len()]),
            None => {
                let initial = MemFile::initial(self.id, pgoff);
                buf.fill(0);
                let n = buf.len().min(initial.len());
                buf[..n].copy_from_slice(&initial[..n]);
            }
        }
    }
}

impl MemFile {
    /// A file numbered `id` of `pages` pages, nothing cached.
    pub fn new(id: u64, pages: usize) -> Self {
        MemFile {
            state: Arc::new(Mutex::new(FileState {
                id,
                pages,
                cache: BTreeMap::new(),
                disk: BTreeMap::new(),
                reads: 0,
                writebacks: 0,
            })),
        }
    }

    fn state(&self) -> MutexGuard<'_, FileState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The first 8 bytes of page `pgoff` of file `id` before anything is written back:
    /// `id << 32 | pgoff`, little-endian.
    pub fn initial(id: u64, pgoff: usize) -> [u8; 8] {
        (id << 32 | pgoff as u64).to_le_bytes()
    }

    /// The file's length in pages.
    pub fn pages(&self) -> usize {
        self.state().pages
    }

    /// How many pages were read from the disk into the cache.
    pub fn reads(&self) -> usize {
        self.state().reads
    }

    /// How many dirty pages were written back.
    pub fn writebacks(&self) -> usize {
        self.state().writebacks
    }

    /// The cached pages and their frames, in page order.
    pub fn cached(&self) -> Vec<(usize, usize)> {
        let state = self.state();
        state
            .cache
            .iter()
            .map(|(&pgoff, &(pa, _))| (pgoff, pa))
            .collect()
    }

    /// Whether page `pgoff` is cached and dirty.
    pub fn is_dirty(&self, pgoff: usize) -> bool {
        self.state().cache.get(&pgoff).is_some_and(|p| p.1)
    }

    /// The first `buf.len()` bytes of page `pgoff` as the disk holds them.
    pub fn read_disk(&self, pgoff: usize, buf: &mut [u8]) {
        self.state().read_disk(pgoff, buf);
    }

    /// Drops the cache's reference to every page no mapping uses (its frame, of `fa`, is
    /// freed), after writing it back if it is dirty; how many it dropped.
    pub fn evict(&self, fa: &mut CountingFrameAllocator) -> usize {
        let unused: Vec<usize> = (self.state().cache.iter())
            .filter(|&(_, &(pa, _))| fa.ref_count(pa) == 1)
            .map(|(&pgoff, _)| pgoff)
            .collect();
        for &pgoff in &unused {
            self.writeback(pgoff..pgoff + 1, fa);
        }
        let mut state = self.state();
        for pgoff in &unused {
            if let Some((pa, _)) = state.cache.remove(pgoff) {
                fa.dealloc(pa);
            }
        }
        unused.len()
    }
}

impl PageCache<CountingFrameAllocator> for MemFile {
    fn page(&self, pgoff: usize, fa: &mut CountingFrameAllocator) -> Result<usize, PagingError> {
        let mut state = self.state();
        if pgoff >= state.pages {
            return Err(PagingError::NoPage { pgoff });
        }
        if let Some(&(pa, _)) = state.cache.get(&pgoff) {
            return Ok(pa);
        }
        let pa = fa.alloc().ok_or(PagingError::OutOfFrames)?;
        let mut contents = vec![0; PAGE_SIZE];
        state.read_disk(pgoff, &mut contents);
        fa.write(pa, 0, &contents);
        state.cache.insert(pgoff, (pa, false));
        state.reads += 1;
        Ok(pa)
    }

    /// # Panics
    ///
    /// If page `pgoff` is not cached: only a mapped page can be dirtied.
    fn set_dirty(&self, pgoff: usize) {
        let mut state = self.state();
        let page = state.cache.get_mut(&pgoff);
        page.unwrap_or_else(|| panic!("set_dirty of page {pgoff}, which is not cached"))
            .1 = true;
    }

    fn writeback(&self, pgoffs: Range<usize>, fa: &mut CountingFrameAllocator) -> usize {
        let mut state = self.state();
        let FileState {
            cache,
            disk,
            writebacks,
            ..
        } = &mut *state;
        let mut written = 0;
        for (&pgoff, (pa, dirty)) in cache.range_mut(pgoffs).filter(|(_, page)| page.1) {
            *dirty = false;
            let mut contents = vec![0; PAGE_SIZE];
            fa.read(*pa, 0, &mut contents);
            disk.insert(pgoff, contents);
            written += 1;
        }
        *writebacks += written;
        written
    }
}

impl PartialEq for MemFile {
    /// The same file.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.state, &other.state)
    }
}

impl fmt::Debug for MemFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("MemFile")
            .field("id", &state.id)
            .field("pages", &state.pages)
            .field("cached", &state.cache.len())
            .finish_non_exhaustive()
    }
}
