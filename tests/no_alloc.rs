//! No map operation allocates: nodes come from a caller-owned pool as
//! `UnsafeRef`s, and a counting global allocator sees zero allocations while
//! the operations run. Every node goes back to the pool through
//! `Segment::release`, exactly once.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use range_action_map::intrusive_collections::{intrusive_adapter, UnsafeRef};
use range_action_map::{AllocError, Hint, Placement, RangeActionMap, RangeLink, Segment};

/// Counts every allocation made by the thread that runs the test: the test
/// harness's own threads allocate whenever they like, and a count of them
/// would make the test fail at random under load.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this thread's allocations are counted.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

/// Nodes handed to `Segment::release`.
static RELEASED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTED.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A node of the kernel's own slab.
struct Vma {
    link: RangeLink,
    prot: Cell<u8>,
}

intrusive_adapter!(VmaAdapter = UnsafeRef<Vma>: Vma { link: RangeLink });

/// The map's args: the free list of the slab (preallocated, fixed size).
struct Slab {
    free: Vec<UnsafeRef<Vma>>,
}

impl Slab {
    fn take(&mut self) -> Result<UnsafeRef<Vma>, AllocError> {
        self.free.pop().ok_or(AllocError)
    }
}

impl Segment for Vma {
    type Args = Slab;
    type Flags = u8;
    type Pointer = UnsafeRef<Vma>;

    fn remove(&self, _slab: &mut Slab) {}

    fn shrink(&self, _start: usize, _end: usize, _slab: &mut Slab) {}

    fn split(&self, pos: usize, slab: &mut Slab) -> UnsafeRef<Vma> {
        self.try_split(pos, slab).expect("slab exhausted")
    }

    fn try_split(&self, _pos: usize, slab: &mut Slab) -> Result<UnsafeRef<Vma>, AllocError> {
        let node = slab.take()?;
        node.prot.set(self.prot.get());
        Ok(node)
    }

    fn modify(&self, prot: u8, _slab: &mut Slab) {
        self.prot.set(prot);
    }

    fn try_merge(&self, next: &Vma, _slab: &mut Slab) -> bool {
        self.prot.get() == next.prot.get()
    }

    fn release(node: UnsafeRef<Vma>, slab: &mut Slab) {
        RELEASED.fetch_add(1, Ordering::Relaxed);
        // Never reallocates while each node comes back once: the free list
        // was built with room for every node.
        slab.free.push(node);
    }
}

#[test]
fn map_operations_do_not_allocate() {
    COUNTED.with(|counted| counted.set(true));
    const NODES: usize = if cfg!(miri) { 64 } else { 4096 };
    const PAGE: usize = 0x1000;
    // The slab, declared before the map so that it outlives it (a kernel's
    // static pool).
    let pool: Vec<Vma> = (0..NODES)
        .map(|_| Vma {
            link: RangeLink::new(),
            prot: Cell::new(0),
        })
        .collect();
    let mut free = Vec::with_capacity(NODES);
    free.extend(pool.iter().map(|v| {
        // SAFETY: the pool outlives the map and is never resized; each node is
        // handed out once and only accessed through shared references.
        unsafe { UnsafeRef::from_raw(v as *const Vma) }
    }));
    let mut map = RangeActionMap::<VmaAdapter>::new(Slab { free });
    let take = |map: &mut RangeActionMap<VmaAdapter>| map.args_mut().take().expect("pool");

    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for i in 0..NODES / 4 {
        let node = take(&mut map);
        node.prot.set((i % 2) as u8);
        map.mmap_fixed_noreplace(PAGE * (2 * i + 1), PAGE * (2 * i + 2), node)
            .expect("free");
    }
    for i in 0..NODES / 16 {
        let a = PAGE * (8 * i + 1);
        map.mprotect(a, a + 3 * PAGE, 3).unwrap();
        map.unmap(a + PAGE, a + 2 * PAGE).unwrap();
        // Fills the hole at `a + PAGE` with the protection of both
        // neighbours: they merge, and two nodes go back to the slab.
        let node = take(&mut map);
        node.prot.set(3);
        map.mmap_anywhere(a, PAGE, |_| node).unwrap();
        let placement = Placement::new(PAGE)
            .align(PAGE)
            .top_down()
            .hint(Hint::IfFree(a));
        assert!(map.find_free_area(&placement).is_ok());
        assert!(map.find(a).is_some());
        assert!(map.gaps(a, a + 16 * PAGE).count() > 0);
    }
    let count = map.iter().count();
    // Only merges gave nodes back so far.
    assert!(
        RELEASED.load(Ordering::Relaxed) > 0,
        "merges released nodes"
    );
    map.clear();
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert!(count > 0);
    assert_eq!(after - before, 0, "map operations allocated");
    assert_eq!(map.args().free.len(), NODES, "every node back in the slab");

    // Dropping the map releases the nodes still in it.
    for i in 0..NODES / 2 {
        let node = take(&mut map);
        map.mmap_fixed_noreplace(PAGE * (2 * i + 1), PAGE * (2 * i + 2), node)
            .expect("free");
    }
    let released = RELEASED.load(Ordering::Relaxed);
    drop(map);
    assert_eq!(RELEASED.load(Ordering::Relaxed) - released, NODES / 2);
}
