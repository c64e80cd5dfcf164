//! A counting global allocator: every bench binary installs it, so
//! allocations per operation and bytes per segment are measured, not
//! estimated:
//!
//! ```
//! use range_action_map_testkit::bench::alloc::{Counting, Snapshot};
//!
//! #[global_allocator]
//! static GLOBAL: Counting = Counting;
//!
//! let before = Snapshot::now();
//! let bytes = vec![0u8; 4096];
//! assert!(before.allocs_since() >= 1 && before.live_since() >= 4096);
//! # drop(bytes);
//! ```
//!
//! A library cannot install it for its users; in a binary that does not,
//! [`Snapshot`]s read zero.
//!
//! The counters are updated with a relaxed load and store instead of an
//! atomic read-modify-write: the benches are single-threaded, so the
//! counts are exact, and the bookkeeping costs a plain increment (no
//! `lock` prefix) on every peer alike.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Number of `alloc`/`realloc` calls so far.
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
/// Bytes currently allocated.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting.
pub struct Counting;

/// Adds `delta` to a counter without a locked instruction (see the module
/// docs for why that is exact here).
#[inline]
fn bump(counter: &AtomicUsize, delta: usize) {
    counter.store(counter.load(Relaxed).wrapping_add(delta), Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over; the counters have no
// influence on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCS, 1);
        bump(&LIVE, layout.size());
        // SAFETY: forwarded as is; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        bump(&LIVE, layout.size().wrapping_neg());
        // SAFETY: forwarded as is; `ptr` came from `System` through `alloc`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump(&ALLOCS, 1);
        bump(&LIVE, new_size.wrapping_sub(layout.size()));
        // SAFETY: forwarded as is; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// A snapshot of the counters; subtract two to measure a region.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    /// Allocation calls so far.
    allocs: usize,
    /// Bytes live then.
    live: usize,
}

impl Snapshot {
    /// The counters now.
    pub fn now() -> Self {
        Snapshot {
            allocs: ALLOCS.load(Relaxed),
            live: LIVE.load(Relaxed),
        }
    }

    /// Allocation calls made since `self`.
    pub fn allocs_since(&self) -> usize {
        ALLOCS.load(Relaxed) - self.allocs
    }

    /// Bytes that became live since `self` (negative if freed).
    pub fn live_since(&self) -> isize {
        LIVE.load(Relaxed).wrapping_sub(self.live) as isize
    }
}
