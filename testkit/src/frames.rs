//! A frame allocator over simulated memory that counts every allocation, copy and reference,
//! and catches double frees.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::rc::Rc;

use range_action_map::memory_set::{FrameAllocator, PAGE_SIZE};

use crate::memory::PhysMemory;

/// A [`FrameAllocator`] over a [`PhysMemory`] that counts and checks every allocation.
///
/// It hands out the lowest free frame, zero-filled, and fails with `None` once all its frames
/// are live, or once the [allocation budget](Self::set_budget) is spent. Each live frame
/// carries a reference count; a frame is freed when its last reference is dropped. Freed frames are filled with [`CountingFrameAllocator::POISON`] so that a stale
/// page-table walk or a read of a freed page shows garbage instead of old data.
///
/// Clones share the same frames and counters: give one to each address space of a fork and
/// check the totals on any of them.
#[derive(Clone)]
pub struct CountingFrameAllocator {
    memory: PhysMemory,
    state: Rc<RefCell<AllocState>>,
}

/// The bookkeeping shared by the clones of one allocator.
struct AllocState {
    /// The life cycle of each frame, by index.
    frames: Vec<FrameState>,
    /// The indices of the frames that are not live.
    free: BTreeSet<usize>,
    allocated: usize,
    freed: usize,
    copies: usize,
    /// How many more frames `alloc` may hand out; `None` for no limit.
    budget: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FrameState {
    NeverAllocated,
    /// Allocated, with this many references (at least one).
    Live(usize),
    Freed,
}

impl CountingFrameAllocator {
    /// The byte every freed frame is filled with.
    pub const POISON: u8 = 0xa5;

    /// An allocator over a new [`PhysMemory`] of `frames` frames, all free.
    ///
    /// # Panics
    ///
    /// If `frames` frames of 4 KiB do not fit in `usize`.
    pub fn new(frames: usize) -> Self {
        CountingFrameAllocator {
            memory: PhysMemory::new(frames),
            state: Rc::new(RefCell::new(AllocState {
                frames: vec![FrameState::NeverAllocated; frames],
                free: (0..frames).collect(),
                allocated: 0,
                freed: 0,
                copies: 0,
                budget: None,
            })),
        }
    }

    /// A handle to the memory the frames live in, to build a [`SoftPageTable`](crate::SoftPageTable) over it.
    pub fn memory(&self) -> PhysMemory {
        self.memory.clone()
    }

    /// The number of frames, live or not.
    pub fn capacity(&self) -> usize {
        self.memory.frames()
    }

    /// How many frames were allocated so far.
    pub fn allocated(&self) -> usize {
        self.state.borrow().allocated
    }

    /// How many frames were freed so far.
    pub fn freed(&self) -> usize {
        self.state.borrow().freed
    }

    /// How many frame copies ([`FrameAllocator::copy_frame`]: copy-on-write breaks) were made.
    pub fn copies(&self) -> usize {
        self.state.borrow().copies
    }

    /// Lets `alloc` hand out only `frames` more frames (then it fails as if memory were
    /// exhausted), or any number with `None`: frames running out at a chosen point.
    pub fn set_budget(&self, frames: Option<usize>) {
        self.state.borrow_mut().budget = frames;
    }

    /// The reference count of every live frame, in address order.
    pub fn ref_counts(&self) -> Vec<(usize, usize)> {
        let state = self.state.borrow();
        (0..state.frames.len())
            .filter_map(|index| match state.frames[index] {
                FrameState::Live(count) => Some((PhysMemory::BASE + index * PAGE_SIZE, count)),
                _ => None,
            })
            .collect()
    }

    /// How many frames are allocated and not freed.
    pub fn live(&self) -> usize {
        let state = self.state.borrow();
        state.allocated - state.freed
    }

    /// Whether `pa` is a frame that is allocated and not freed.
    pub fn is_live(&self, pa: usize) -> bool {
        self.memory
            .frame_index(pa)
            .is_some_and(|index| matches!(self.state.borrow().frames[index], FrameState::Live(_)))
    }

    /// The live frames, in address order.
    pub fn live_frames(&self) -> Vec<usize> {
        let state = self.state.borrow();
        (0..state.frames.len())
            .filter(|&index| matches!(state.frames[index], FrameState::Live(_)))
            .map(|index| PhysMemory::BASE + index * PAGE_SIZE)
            .collect()
    }

    /// Copies `buf.len()` bytes at `offset` in the live frame `pa` into `buf`.
    ///
    /// # Panics
    ///
    /// If `pa` is not live or the bytes cross the end of the frame.
    pub fn read(&self, pa: usize, offset: usize, buf: &mut [u8]) {
        self.expect_live(pa, "read of");
        self.memory.read(pa, offset, buf);
    }

    /// Copies `data` to `offset` in the live frame `pa`.
    ///
    /// # Panics
    ///
    /// If `pa` is not live or the bytes cross the end of the frame.
    pub fn write(&mut self, pa: usize, offset: usize, data: &[u8]) {
        self.expect_live(pa, "write of");
        self.memory.write(pa, offset, data);
    }

    /// The index of frame `pa`, which must be live.
    ///
    /// # Panics
    ///
    /// Naming `what` was done to it: on a frame freed (a double free), never allocated, or not
    /// of this allocator.
    #[track_caller]
    fn live_index(&self, pa: usize, what: &str) -> usize {
        let Some(index) = self.memory.frame_index(pa) else {
            panic!("{what} {pa:#x}, which is not a frame of this allocator");
        };
        match self.state.borrow().frames[index] {
            FrameState::Live(_) => index,
            FrameState::Freed => panic!("{what} frame {pa:#x}, which is freed (double free)"),
            FrameState::NeverAllocated => {
                panic!("{what} frame {pa:#x}, which was never allocated")
            }
        }
    }

    #[track_caller]
    fn expect_live(&self, pa: usize, what: &str) {
        assert!(self.is_live(pa), "{what} frame {pa:#x}, which is not live");
    }
}

impl FrameAllocator for CountingFrameAllocator {
    /// The lowest free frame, zero-filled, with one reference, or `None` when every frame is
    /// live or the budget is spent.
    fn alloc(&mut self) -> Option<usize> {
        let pa = {
            let mut state = self.state.borrow_mut();
            if state.budget == Some(0) {
                return None;
            }
            let index = state.free.pop_first()?;
            state.budget = state.budget.map(|budget| budget - 1);
            state.frames[index] = FrameState::Live(1);
            state.allocated += 1;
            PhysMemory::BASE + index * PAGE_SIZE
        };
        self.memory.fill(pa, 0);
        Some(pa)
    }

    /// Drops a reference to a live frame; with the last one, frees the frame and poisons its
    /// contents.
    ///
    /// # Panics
    ///
    /// On a double free, on freeing a frame that was never allocated, on an address that
    /// is not a frame of this allocator, and on freeing a frame that a simulated TLB still
    /// maps (a [`SoftPageTable`](crate::SoftPageTable) whose flush has not come yet).
    fn dealloc(&mut self, pa: usize) {
        let index = self.live_index(pa, "dealloc of");
        {
            let mut state = self.state.borrow_mut();
            let FrameState::Live(count) = state.frames[index] else {
                unreachable!("live_index checked it")
            };
            if count > 1 {
                state.frames[index] = FrameState::Live(count - 1);
                return;
            }
            assert!(
                !self.memory.tlb_reaches(pa),
                "frame {pa:#x} freed while a TLB entry still maps it: a TLB flush is missing"
            );
            state.frames[index] = FrameState::Freed;
            state.free.insert(index);
            state.freed += 1;
        }
        self.memory.fill(pa, Self::POISON);
    }

    /// Adds a reference to a live frame.
    ///
    /// # Panics
    ///
    /// If `pa` is not live.
    fn add_ref(&mut self, pa: usize) {
        let index = self.live_index(pa, "add_ref of");
        let mut state = self.state.borrow_mut();
        if let FrameState::Live(count) = &mut state.frames[index] {
            *count += 1;
        }
    }

    /// The reference count of a live frame.
    ///
    /// # Panics
    ///
    /// If `pa` is not live.
    fn ref_count(&self, pa: usize) -> usize {
        let index = self.live_index(pa, "ref_count of");
        match self.state.borrow().frames[index] {
            FrameState::Live(count) => count,
            _ => unreachable!("live_index checked it"),
        }
    }

    /// Copies the contents of live frame `src` into live frame `dst`.
    ///
    /// # Panics
    ///
    /// If either frame is not live.
    fn copy_frame(&mut self, src: usize, dst: usize) {
        self.expect_live(src, "copy_frame from");
        self.expect_live(dst, "copy_frame to");
        self.memory.copy(src, dst);
        self.state.borrow_mut().copies += 1;
    }
}

impl fmt::Debug for CountingFrameAllocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingFrameAllocator")
            .field("capacity", &self.capacity())
            .field("allocated", &self.allocated())
            .field("freed", &self.freed())
            .field("live", &self.live())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: usize = PhysMemory::BASE;

    #[test]
    fn alloc_hands_out_lowest_free_frames_and_counts() {
        let mut fa = CountingFrameAllocator::new(3);
        assert_eq!(fa.capacity(), 3);
        assert_eq!(fa.alloc(), Some(BASE));
        assert_eq!(fa.alloc(), Some(BASE + PAGE_SIZE));
        fa.dealloc(BASE);
        assert_eq!(fa.alloc(), Some(BASE));
        assert_eq!(fa.alloc(), Some(BASE + 2 * PAGE_SIZE));
        assert_eq!((fa.allocated(), fa.freed(), fa.live()), (4, 1, 3));
        assert_eq!(
            fa.live_frames(),
            vec![BASE, BASE + PAGE_SIZE, BASE + 2 * PAGE_SIZE]
        );
    }

    #[test]
    fn alloc_fails_when_exhausted_without_counting() {
        let mut fa = CountingFrameAllocator::new(2);
        let a = fa.alloc().expect("first frame");
        fa.alloc().expect("second frame");
        assert_eq!(fa.alloc(), None);
        assert_eq!((fa.allocated(), fa.live()), (2, 2));
        fa.dealloc(a);
        assert_eq!(fa.alloc(), Some(a));
        assert_eq!(CountingFrameAllocator::new(0).alloc(), None);
    }

    #[test]
    fn is_live_follows_the_life_cycle_and_rejects_non_frames() {
        let mut fa = CountingFrameAllocator::new(2);
        assert!(!fa.is_live(BASE));
        let pa = fa.alloc().expect("a frame");
        assert!(fa.is_live(pa));
        for not_a_frame in [
            0,
            pa + 8,
            BASE - PAGE_SIZE,
            BASE + 2 * PAGE_SIZE,
            usize::MAX,
        ] {
            assert!(!fa.is_live(not_a_frame), "{not_a_frame:#x}");
        }
        fa.dealloc(pa);
        assert!(!fa.is_live(pa));
        assert!(fa.live_frames().is_empty());
    }

    #[test]
    fn frames_are_zeroed_on_alloc_and_poisoned_on_free() {
        let mut fa = CountingFrameAllocator::new(1);
        let memory = fa.memory();
        let pa = fa.alloc().expect("a frame");
        fa.write(pa, PAGE_SIZE - 3, b"abc");
        let mut tail = [0; 3];
        fa.read(pa, PAGE_SIZE - 3, &mut tail);
        assert_eq!(&tail, b"abc");
        fa.dealloc(pa);
        memory.read(pa, PAGE_SIZE - 3, &mut tail);
        assert_eq!(tail, [CountingFrameAllocator::POISON; 3]);
        let pa = fa.alloc().expect("the frame again");
        fa.read(pa, PAGE_SIZE - 3, &mut tail);
        assert_eq!(tail, [0; 3]);
    }

    #[test]
    fn copy_frame_copies_all_bytes() {
        let mut fa = CountingFrameAllocator::new(2);
        let (src, dst) = (fa.alloc().expect("src"), fa.alloc().expect("dst"));
        fa.write(src, 0, b"first");
        fa.write(src, PAGE_SIZE - 4, b"last");
        fa.copy_frame(src, dst);
        let mut page = vec![0; PAGE_SIZE];
        let mut copy = vec![0; PAGE_SIZE];
        fa.read(src, 0, &mut page);
        fa.read(dst, 0, &mut copy);
        assert_eq!(page, copy);
        assert_eq!(&copy[..5], b"first");
    }

    #[test]
    fn clones_share_frames_and_counters() {
        let mut parent = CountingFrameAllocator::new(4);
        let mut child = parent.clone();
        let a = parent.alloc().expect("a frame");
        let b = child.alloc().expect("another frame");
        assert_ne!(a, b);
        child.write(a, 0, b"shared");
        let mut buf = [0; 6];
        parent.read(a, 0, &mut buf);
        assert_eq!(&buf, b"shared");
        child.dealloc(a);
        assert_eq!(
            (parent.allocated(), parent.freed(), parent.live()),
            (2, 1, 1)
        );
        assert!(!parent.is_live(a));
    }

    #[test]
    #[should_panic(expected = "dealloc of frame 0x80000000, which is freed (double free)")]
    fn double_free_panics() {
        let mut fa = CountingFrameAllocator::new(1);
        let pa = fa.alloc().expect("a frame");
        fa.dealloc(pa);
        fa.dealloc(pa);
    }

    #[test]
    #[should_panic(expected = "dealloc of frame 0x80001000, which was never allocated")]
    fn free_of_never_allocated_frame_panics() {
        CountingFrameAllocator::new(2).dealloc(BASE + PAGE_SIZE);
    }

    #[test]
    #[should_panic(expected = "dealloc of 0x80000008, which is not a frame of this allocator")]
    fn free_of_unaligned_address_panics() {
        let mut fa = CountingFrameAllocator::new(1);
        fa.alloc().expect("a frame");
        fa.dealloc(BASE + 8);
    }

    #[test]
    #[should_panic(expected = "read of frame 0x80000000, which is not live")]
    fn read_of_freed_frame_panics() {
        let mut fa = CountingFrameAllocator::new(1);
        let pa = fa.alloc().expect("a frame");
        fa.dealloc(pa);
        fa.read(pa, 0, &mut [0; 1]);
    }

    #[test]
    #[should_panic(expected = "copy_frame to frame 0x80001000, which is not live")]
    fn copy_to_free_frame_panics() {
        let mut fa = CountingFrameAllocator::new(2);
        let pa = fa.alloc().expect("a frame");
        fa.copy_frame(pa, pa + PAGE_SIZE);
    }

    #[test]
    #[should_panic(expected = "2 bytes at offset 0xfff cross the end of frame 0x80000000")]
    fn access_across_the_frame_end_panics() {
        let mut fa = CountingFrameAllocator::new(2);
        let pa = fa.alloc().expect("a frame");
        fa.write(pa, PAGE_SIZE - 1, b"xy");
    }

    #[test]
    #[should_panic(expected = "0x1000 is not a frame of the simulated memory")]
    fn memory_access_outside_memory_panics() {
        CountingFrameAllocator::new(1)
            .memory()
            .read(0x1000, 0, &mut [0; 1]);
    }

    #[test]
    fn phys_memory_reports_its_frames() {
        let memory = CountingFrameAllocator::new(2).memory();
        assert_eq!(memory.frames(), 2);
        assert!(memory.contains(BASE + PAGE_SIZE));
        assert!(!memory.contains(BASE + 2 * PAGE_SIZE));
        assert!(!memory.contains(BASE + 1));
        assert!(std::format!("{memory:?}").contains("frames: 2"));
    }
}
