//! [`TlbGather`]: what an operation must flush from the TLB, and the frames that wait for the
//! flush (Linux's `mmu_gather`).

use alloc::vec::Vec;
use core::ops::Range;

use super::page_table::PAGE_SIZE;

/// The TLB work of one operation: the pages whose translations it removed or took
/// permissions from, and the frames whose references it dropped.
///
/// A CPU may keep using a translation from its TLB after the page table changed, so a frame
/// that a removed translation mapped must not go back to the allocator (and be reused) before
/// the TLB is flushed, and a page whose write permission was taken away is still writable
/// until then. An operation gathers both as it goes; at its end the set flushes the gathered
/// range once ([`PageTable::flush_tlb`](super::PageTable::flush_tlb)) and only then drops the
/// frame references: one flush per operation, not one per page.
///
/// # Examples
///
/// ```
/// use range_action_map::memory_set::TlbGather;
///
/// let mut tlb = TlbGather::new();
/// tlb.add_page(0x5000);
/// tlb.add_page(0x2000);
/// tlb.release_after_flush(0x8000_1000);
/// assert_eq!(tlb.range(), Some(0x2000..0x6000));
/// assert_eq!(tlb.frames(), [0x8000_1000]);
/// ```
#[derive(Debug, Default)]
pub struct TlbGather {
    /// The smallest range covering every gathered page, if any.
    range: Option<Range<usize>>,
    /// Frames whose reference goes once the TLB is flushed.
    frames: Vec<usize>,
}

impl TlbGather {
    /// Nothing gathered.
    pub const fn new() -> Self {
        TlbGather {
            range: None,
            frames: Vec::new(),
        }
    }

    /// Page `va` lost its translation or a permission: it must be flushed.
    pub fn add_page(&mut self, va: usize) {
        self.add_range(va..va.saturating_add(PAGE_SIZE));
    }

    /// The pages of `pages` (a leaf: a page or a huge page) lost their translations or a
    /// permission: they must be flushed.
    pub fn add_range(&mut self, pages: Range<usize>) {
        self.range = Some(match self.range.take() {
            Some(range) => range.start.min(pages.start)..range.end.max(pages.end),
            None => pages,
        });
    }

    /// Drops a reference to frame `pa` once the TLB is flushed.
    pub fn release_after_flush(&mut self, pa: usize) {
        self.frames.push(pa);
    }

    /// The range to flush: the smallest one covering every gathered page.
    pub fn range(&self) -> Option<Range<usize>> {
        self.range.clone()
    }

    /// The frames waiting for the flush.
    pub fn frames(&self) -> &[usize] {
        &self.frames
    }

    /// Takes the range to flush, leaving none.
    pub(super) fn take_range(&mut self) -> Option<Range<usize>> {
        self.range.take()
    }

    /// Takes the frames waiting for the flush, leaving none.
    pub(super) fn drain_frames(&mut self) -> impl Iterator<Item = usize> + '_ {
        self.frames.drain(..)
    }
}
