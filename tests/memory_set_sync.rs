//! Page faults on many CPUs: an address space behind a reader-writer lock takes faults under
//! its read side ([`MemorySet::handle_page_fault_shared`]) on several threads at once, and
//! every page ends up mapped once, every frame with the references its mappings hold. Run
//! under Miri, which reports any data race.
//!
//! The test kit's page table and frame allocator belong to one thread; the ones here are
//! plain maps behind a mutex, which threads can share.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier, Mutex, RwLock};
use std::thread;

use range_action_map::memory_set::{
    Access, FaultError, FrameAllocator, Lazy, Leaf, MemoryAttr, MemorySet, PageSize, PageTable,
    PagingError, PAGE_SIZE,
};

/// A page table as a sorted map from page to frame and attributes: 4 KiB pages only.
#[derive(Default)]
struct MapTable {
    pages: BTreeMap<usize, (usize, MemoryAttr)>,
}

impl MapTable {
    fn leaf(&self, va: usize) -> Result<Leaf, PagingError> {
        let &(pa, attr) = self.pages.get(&va).ok_or(PagingError::NotMapped { va })?;
        Ok(Leaf {
            va,
            pa,
            size: PageSize::Size4K,
            attr,
        })
    }
}

impl PageTable for MapTable {
    fn map(
        &mut self,
        va: usize,
        pa: usize,
        size: PageSize,
        attr: MemoryAttr,
        _: &mut impl FrameAllocator,
    ) -> Result<(), PagingError> {
        if size != PageSize::Size4K {
            return Err(PagingError::UnsupportedSize { size });
        }
        if self.pages.contains_key(&va) {
            return Err(PagingError::AlreadyMapped { va });
        }
        self.pages.insert(va, (pa, attr));
        Ok(())
    }

    fn unmap(&mut self, va: usize) -> Result<Leaf, PagingError> {
        let leaf = self.leaf(va)?;
        self.pages.remove(&va);
        Ok(leaf)
    }

    fn protect(&mut self, va: usize, attr: MemoryAttr) -> Result<MemoryAttr, PagingError> {
        let old = self.leaf(va)?.attr;
        self.pages.insert(va, (self.leaf(va)?.pa, attr));
        Ok(old)
    }

    fn remap(&mut self, va: usize, pa: usize, attr: MemoryAttr) -> Result<usize, PagingError> {
        let old = self.leaf(va)?.pa;
        self.pages.insert(va, (pa, attr));
        Ok(old)
    }

    fn split(&mut self, va: usize, _: &mut impl FrameAllocator) -> Result<(), PagingError> {
        // No huge leaf starts anywhere.
        Err(PagingError::NotMapped { va })
    }

    fn query(&self, va: usize) -> Option<Leaf> {
        self.leaf(va & !(PAGE_SIZE - 1)).ok()
    }

    fn next_mapped(&self, start: usize, end: usize) -> Option<usize> {
        self.pages.range(start..end).next().map(|(&va, _)| va)
    }

    fn flush_tlb(&mut self, _: core::ops::Range<usize>) {}

    fn destroy(&mut self, _: &mut impl FrameAllocator) {
        self.pages.clear();
    }
}

/// What the frame allocator's clones share: each live frame's reference count, and the
/// number of pages copied.
#[derive(Default)]
struct Books {
    refs: BTreeMap<usize, usize>,
    next: usize,
    copies: usize,
}

/// A frame allocator whose clones share their books behind a mutex.
#[derive(Clone, Default)]
struct Frames(Arc<Mutex<Books>>);

impl Frames {
    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.0.lock().unwrap()
    }
}

impl FrameAllocator for Frames {
    fn alloc(&mut self) -> Option<usize> {
        let mut books = self.books();
        books.next += 1;
        let pa = 0x8000_0000 + books.next * PAGE_SIZE;
        books.refs.insert(pa, 1);
        Some(pa)
    }

    fn dealloc(&mut self, pa: usize) {
        let mut books = self.books();
        let refs = books.refs.get_mut(&pa).expect("a live frame");
        *refs -= 1;
        if *refs == 0 {
            books.refs.remove(&pa);
        }
    }

    fn add_ref(&mut self, pa: usize) {
        *self.books().refs.get_mut(&pa).expect("a live frame") += 1;
    }

    fn ref_count(&self, pa: usize) -> usize {
        self.books().refs[&pa]
    }

    fn copy_frame(&mut self, src: usize, dst: usize) {
        let mut books = self.books();
        assert!(books.refs.contains_key(&src) && books.refs.contains_key(&dst));
        books.copies += 1;
    }
}

type Space = RwLock<MemorySet<MapTable, Frames>>;

const fn assert_sync<T: Send + Sync>() {}
const _: () = assert_sync::<Space>();

const PAGES: usize = if cfg!(miri) { 8 } else { 256 };
const START: usize = 0x10_0000;
const END: usize = START + PAGES * PAGE_SIZE;

fn rw() -> MemoryAttr {
    MemoryAttr::default().set_user()
}

/// A fault handler on one CPU: the read lock, and the write lock for a stack to grow.
fn fault(space: &Space, addr: usize, access: Access) -> Result<(), FaultError> {
    let shared = space.read().unwrap().handle_page_fault_shared(addr, access);
    match shared {
        Err(FaultError::WouldGrowStack { .. }) => {
            space.write().unwrap().handle_page_fault(addr, access)
        }
        resolved => resolved,
    }
}

/// Each of `threads` faults every page of `[START, END)` with `access`, all starting at
/// once, each in its own order (ascending, descending, from the middle...).
fn fault_everywhere(spaces: &[&Space], threads: usize, access: Access) {
    let barrier = Barrier::new(spaces.len() * threads);
    thread::scope(|s| {
        for (i, space) in spaces.iter().enumerate() {
            for t in 0..threads {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    for k in 0..PAGES {
                        let page = match t % 2 {
                            0 => (k + t * PAGES / threads) % PAGES,
                            _ => PAGES - 1 - k,
                        };
                        let addr = START + page * PAGE_SIZE + 8 * (i + t);
                        fault(space, addr, access).unwrap();
                    }
                });
            }
        }
    });
}

/// The frame every page of `[START, END)` maps, checking that each allows `access`.
fn frames_of(space: &Space, access: Access) -> Vec<usize> {
    let space = space.read().unwrap();
    let pt = space.page_table();
    (START..END)
        .step_by(PAGE_SIZE)
        .map(|va| {
            let (pa, attr) = pt.translate(va).expect("mapped");
            assert!(access.is_allowed_by(attr), "{va:#x} {attr}");
            pa
        })
        .collect()
}

#[test]
fn faults_on_several_threads_map_each_page_once() {
    let frames = Frames::default();
    let space = RwLock::new(MemorySet::new(MapTable::default(), frames.clone()));
    space
        .write()
        .unwrap()
        .push(START, END, rw(), Lazy::new())
        .unwrap();
    fault_everywhere(&[&space], 4, Access::Write);
    let mapped = frames_of(&space, Access::Write);
    let books = frames.books();
    // One frame per page: a page two threads faulted on at once was mapped by the first, and
    // the second found it mapped.
    assert_eq!(books.next, PAGES);
    assert_eq!(books.refs.len(), PAGES);
    assert!(mapped.iter().all(|pa| books.refs[pa] == 1));
    drop(books);
    drop(space);
    assert!(frames.books().refs.is_empty(), "every frame freed");
}

#[test]
fn copy_on_write_breaks_on_several_threads_in_both_processes() {
    let frames = Frames::default();
    let mut parent = MemorySet::new(MapTable::default(), frames.clone());
    parent.push(START, END, rw(), Lazy::new()).unwrap();
    for va in (START..END).step_by(PAGE_SIZE) {
        parent.handle_page_fault(va, Access::Write).unwrap();
    }
    let child = parent.clone_for_fork(MapTable::default()).unwrap();
    let (parent, child) = (RwLock::new(parent), RwLock::new(child));
    // Reads on both sides first: nothing to do, the pages are shared read-only.
    fault_everywhere(&[&parent, &child], 2, Access::Read);
    assert_eq!(
        frames_of(&parent, Access::Read),
        frames_of(&child, Access::Read)
    );
    fault_everywhere(&[&parent, &child], 2, Access::Write);
    let (mine, theirs) = (
        frames_of(&parent, Access::Write),
        frames_of(&child, Access::Write),
    );
    let books = frames.books();
    // Every page is now private on each side: 2 frames per page, one reference each. The
    // first side to break a page copies it; the other copies too if it looked at the count
    // before the first dropped its reference, and otherwise takes the frame back.
    assert_eq!(books.refs.len(), 2 * PAGES);
    assert!(mine.iter().chain(&theirs).all(|pa| books.refs[pa] == 1));
    assert!(
        (PAGES..=2 * PAGES).contains(&books.copies),
        "{}",
        books.copies
    );
}

#[test]
fn a_stack_grows_under_the_write_lock() {
    let frames = Frames::default();
    let space = RwLock::new(MemorySet::new(MapTable::default(), frames.clone()));
    space
        .write()
        .unwrap()
        .push_grows_down(END - PAGE_SIZE, END, rw(), Lazy::new())
        .unwrap();
    let below = START + 8;
    let shared = space
        .read()
        .unwrap()
        .handle_page_fault_shared(below, Access::Write);
    assert_eq!(shared, Err(FaultError::WouldGrowStack { addr: below }));
    assert_eq!(space.read().unwrap().len(), 1, "nothing grew");
    fault(&space, below, Access::Write).unwrap();
    let space = space.read().unwrap();
    assert_eq!(space.find(below).unwrap().range(), START..END);
    assert!(space.page_table().translate(START).is_some());
}

#[test]
fn refused_faults_answer_alike_through_both_paths() {
    let mut set = MemorySet::new(MapTable::default(), Frames::default());
    set.push(START, END, rw().set_readonly(), Lazy::new())
        .unwrap();
    for (addr, access) in [
        (START, Access::Write),
        (START + PAGE_SIZE, Access::Execute),
        (END, Access::Read),
        (START - 1, Access::Read),
    ] {
        let shared = set.handle_page_fault_shared(addr, access);
        assert!(shared.is_err());
        assert_eq!(shared, set.handle_page_fault(addr, access));
    }
    assert_eq!(set.page_table().next_mapped(0, usize::MAX), None);
}
