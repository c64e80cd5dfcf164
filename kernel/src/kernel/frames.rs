//! Physical frames: the crate's [`FrameAllocator`] over the machine's free RAM, from the end
//! of the kernel image to the end of RAM, with a reference count per frame; the kernel
//! image's frames are counted too (the user programs' pages are mapped from there).
//!
//! The books are one global, behind a spin lock: every address space, and the page-table
//! crate's handler (which gives a table its root), take frames from the same pool. Free frames
//! are handed out by a bump pointer first, then from a list threaded through the free frames
//! themselves (each holds the address of the next). Frames are reached at
//! `pa + PHYS_OFFSET`, which the boot table and every kernel address space map.

use memory_addr::{PhysAddr, VirtAddr};
use page_table_multiarch::PagingHandler;
use range_action_map::memory_set::{FrameAllocator, PAGE_SIZE};

use super::boot::PHYS_OFFSET;

/// The frames of `[base, base + frames * PAGE_SIZE)` and their reference counts: the kernel
/// image's and the books' own first, below `pool`, which are never handed out nor freed (the
/// kernel holds one reference to each, so that the page cache over the image can count the
/// mappings of its frames), then the pool.
///
/// # Invariants
///
/// `refs[i]` is the reference count of frame `i`, at least 1 below `pool`; frames
/// `next..frames` were never handed out; the list from `free` holds exactly the frames of
/// `pool..next` whose count is 0.
struct Books {
    base: usize,
    frames: usize,
    pool: usize,
    next: usize,
    free: Option<usize>,
    refs: &'static mut [u32],
    live: usize,
}

static BOOKS: spin::Mutex<Option<Books>> = spin::Mutex::new(None);

/// The kernel's pointer to the frame at `pa`.
fn frame_ptr(pa: usize) -> *mut u8 {
    core::ptr::with_exposed_provenance_mut(pa + PHYS_OFFSET)
}

/// Makes the frames of `[start, end)` (physical, page aligned) the pool, and counts the
/// references to those of the kernel image, `[image, start)`, too; the reference counts take
/// the first frames of the pool.
///
/// # Safety
///
/// `[start, end)` is RAM that nothing else uses from now on, mapped at `pa + PHYS_OFFSET`
/// in every address space the kernel runs on; `[image, start)` is the kernel image.
pub unsafe fn init(image: usize, start: usize, end: usize) {
    let total = (end - image) / PAGE_SIZE;
    let count_pages = (total * size_of::<u32>()).div_ceil(PAGE_SIZE);
    let pool = (start - image) / PAGE_SIZE + count_pages;
    let refs = frame_ptr(start).cast::<u32>();
    // SAFETY: the first `count_pages` frames of the pool are free RAM (the caller's promise),
    // mapped at `refs`, aligned (a page), and this is the only reference to them.
    let refs = unsafe {
        refs.write_bytes(0, total);
        core::slice::from_raw_parts_mut(refs, total)
    };
    refs[..pool].fill(1);
    // INVARIANT: no frame of the pool was handed out; the kernel holds those below it.
    *BOOKS.lock() = Some(Books {
        base: image,
        frames: total,
        pool,
        next: pool,
        free: None,
        refs,
        live: 0,
    });
}

impl Books {
    /// The index of the allocated frame `pa`.
    #[track_caller]
    fn index(&self, pa: usize) -> usize {
        let index = pa.wrapping_sub(self.base) / PAGE_SIZE;
        assert!(
            pa.is_multiple_of(PAGE_SIZE) && index < self.next && self.refs[index] > 0,
            "frame {pa:#x} is not allocated"
        );
        index
    }
}

/// The number of frames allocated now (tables and pages of every address space).
pub fn live() -> usize {
    with(|books| books.live)
}

/// The number of frames in the pool.
pub fn capacity() -> usize {
    with(|books| books.frames - books.pool)
}

#[track_caller]
fn with<R>(f: impl FnOnce(&mut Books) -> R) -> R {
    f(BOOKS.lock().as_mut().expect("frames::init ran"))
}

/// A handle to the global frame pool: the crate's [`FrameAllocator`], and the page-table
/// crate's [`PagingHandler`] (for the root tables it allocates itself).
#[derive(Clone, Copy, Debug, Default)]
pub struct Frames;

impl FrameAllocator for Frames {
    fn alloc(&mut self) -> Option<usize> {
        with(|books| {
            let pa = match books.free {
                Some(pa) => {
                    // SAFETY: a free frame holds the address of the next one in its first word.
                    let next = unsafe { frame_ptr(pa).cast::<usize>().read() };
                    books.free = (next != 0).then_some(next);
                    pa
                }
                None if books.next < books.frames => {
                    books.next += 1;
                    books.base + (books.next - 1) * PAGE_SIZE
                }
                None => return None,
            };
            // SAFETY: the frame is ours (count 0, just taken off the books) and mapped at
            // `frame_ptr`.
            unsafe { frame_ptr(pa).write_bytes(0, PAGE_SIZE) };
            let index = (pa - books.base) / PAGE_SIZE;
            books.refs[index] = 1;
            books.live += 1;
            Some(pa)
        })
    }

    fn dealloc(&mut self, pa: usize) {
        with(|books| {
            let index = books.index(pa);
            books.refs[index] -= 1;
            assert!(
                index >= books.pool || books.refs[index] > 0,
                "the kernel's reference to its frame {pa:#x} went"
            );
            if books.refs[index] == 0 {
                // SAFETY: the last reference went: the frame is the books' again.
                unsafe { frame_ptr(pa).cast::<usize>().write(books.free.unwrap_or(0)) };
                books.free = Some(pa);
                books.live -= 1;
            }
        });
    }

    fn add_ref(&mut self, pa: usize) {
        with(|books| {
            let index = books.index(pa);
            books.refs[index] += 1;
        });
    }

    fn ref_count(&self, pa: usize) -> usize {
        with(|books| {
            let index = pa.wrapping_sub(books.base) / PAGE_SIZE;
            books.refs.get(index).map_or(0, |&count| count as usize)
        })
    }

    fn copy_frame(&mut self, src: usize, dst: usize) {
        with(|books| {
            books.index(src);
            books.index(dst);
        });
        // SAFETY: both frames are allocated (checked), distinct pages mapped at `frame_ptr`.
        unsafe { core::ptr::copy_nonoverlapping(frame_ptr(src), frame_ptr(dst), PAGE_SIZE) };
    }
}

impl PagingHandler for Frames {
    fn alloc_frames(num: usize, align: usize) -> Option<PhysAddr> {
        // The crate asks for one frame: a root table.
        (num == 1 && align <= PAGE_SIZE)
            .then(|| Frames.alloc())
            .flatten()
            .map(PhysAddr::from)
    }

    fn dealloc_frames(paddr: PhysAddr, num: usize) {
        assert_eq!(
            num, 1,
            "the kernel gives page_table_multiarch one frame at a time"
        );
        Frames.dealloc(paddr.as_usize());
    }

    fn phys_to_virt(paddr: PhysAddr) -> VirtAddr {
        VirtAddr::from(paddr.as_usize() + PHYS_OFFSET)
    }
}
