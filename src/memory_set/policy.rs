//! Where [`MemorySet::map_anywhere`](super::MemorySet::map_anywhere) puts
//! an area: the [`PlacementPolicy`] a set is built with, the seed's
//! [`FirstFit`] or Linux's [`LinuxLayout`].

use super::page_table::PAGE_SIZE;
use crate::linux::{GrowsDown, LinuxLayout};
use crate::range::checked_end;
use crate::{Hint, MapError, MapResult, Placement, RangeActionMap, RangeAdapter, SegmentOf};

/// How a [`MemorySet`](super::MemorySet) chooses the address of an area
/// that is not mapped at a fixed place: its type parameter `P`, given at
/// construction ([`MemorySet::with_policy`](super::MemorySet::with_policy)).
///
/// | policy | where a `len`-byte area goes |
/// | --- | --- |
/// | [`FirstFit`] (the default) | the lowest free start at or above the hint (the seed's rule) |
/// | [`LinuxLayout`] | where Linux's `mmap` puts it: the free hint, else top-down below `mmap_base`, guard gaps, huge-page alignment |
///
/// # Implementing this trait
///
/// Answer from the map alone, in *O*(log n) if you can: a
/// [`RangeActionMap`] offers [`find_free_area`](RangeActionMap::find_free_area)
/// with a [`Placement`], cursors, and each area's
/// [`GrowsDown`] bit. A policy only proposes: the set checks the answer and
/// refuses, with a [`MapError`] and nothing mapped, a range that is not free,
/// not inside its window or not aligned. It never maps over an area because a
/// policy was wrong.
///
/// # Examples
///
/// A policy that puts every area as high as it can below a ceiling:
///
/// ```
/// # #[cfg(feature = "mock")] {
/// use range_action_map::linux::GrowsDown;
/// use range_action_map::memory_set::{MemoryAttr, MemoryHandler, MemorySet, PlacementPolicy};
/// use range_action_map::mock::{CountingFrameAllocator, SoftPageTable};
/// use range_action_map::{MapResult, Placement, RangeActionMap, RangeAdapter, SegmentOf, Window};
///
/// struct Highest(usize);
///
/// impl PlacementPolicy for Highest {
///     fn place<A>(&self, map: &RangeActionMap<A>, _hint: usize, len: usize, align: usize) -> MapResult<usize>
///     where
///         A: RangeAdapter,
///         SegmentOf<A>: GrowsDown,
///     {
///         map.find_free_area(&Placement::new(len).align(align).window(0, self.0).top_down())
///     }
/// }
///
/// let frames = CountingFrameAllocator::new(16);
/// let mut set = MemorySet::with_policy(
///     Highest(0x10_0000),
///     Window::DEFAULT,
///     SoftPageTable::new(frames.memory()),
///     frames.clone(),
/// );
/// let rw = MemoryAttr::new().set_user();
/// assert_eq!(set.map_anywhere(0, 0x2000, 0x1000, rw, MemoryHandler::Lazy), Ok(0xf_e000));
/// # }
/// ```
pub trait PlacementPolicy {
    /// Where a `len`-byte area whose start is a multiple of `align` goes in
    /// `map`, given the caller's `hint`. Nothing is mapped.
    ///
    /// A [`MemorySet`](super::MemorySet) asks with `len` a non-zero multiple
    /// of [`PAGE_SIZE`] and `align` a power of two no smaller than
    /// `PAGE_SIZE`. Other values must not make a policy panic.
    ///
    /// # Returns
    ///
    /// The start of a free range `[start, start + len)` inside the map's
    /// window, a multiple of `align`.
    ///
    /// # Errors
    ///
    /// [`MapError::NoSpace`] when nothing fits, or any other [`MapError`]
    /// for a request the policy refuses.
    fn place<A>(
        &self,
        map: &RangeActionMap<A>,
        hint: usize,
        len: usize,
        align: usize,
    ) -> MapResult<usize>
    where
        A: RangeAdapter,
        SegmentOf<A>: GrowsDown;
}

/// The seed's placement: the lowest free start at or above the hint (the
/// hint rounded up to a page), in *O*(log n). Grows-down areas get no guard
/// gap.
///
/// With `align <= PAGE_SIZE` the start is the lowest one that fits. A larger
/// alignment takes the lowest hole of `len + align - PAGE_SIZE` bytes, which
/// always holds an aligned placement, as Linux does. A map window whose
/// ends are not page aligned is rounded inward to whole pages: the partial
/// pages at its ends are never placed in.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "mock")] {
/// use range_action_map::memory_set::{MemoryAttr, MemoryHandler, MemorySet};
/// use range_action_map::mock::{CountingFrameAllocator, SoftPageTable};
///
/// let frames = CountingFrameAllocator::new(16);
/// // `new` and `with_window` build sets with `FirstFit`.
/// let mut set = MemorySet::new(SoftPageTable::new(frames.memory()), frames.clone());
/// let rw = MemoryAttr::new().set_user();
/// set.push(0x10000, 0x12000, rw, MemoryHandler::Lazy)?;
/// assert_eq!(set.map_anywhere(0x10000, 0x1000, 0x1000, rw, MemoryHandler::Lazy)?, 0x12000);
/// assert_eq!(set.map_anywhere(0x10000, 0x1000, 0x4000, rw, MemoryHandler::Lazy)?, 0x14000);
/// # }
/// # Ok::<(), range_action_map::memory_set::MemoryError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FirstFit;

impl PlacementPolicy for FirstFit {
    /// # Errors
    ///
    /// [`MapError::ZeroLength`], [`MapError::Overflow`] when the padded
    /// length does, [`MapError::NoSpace`] (with the padded length).
    fn place<A>(
        &self,
        map: &RangeActionMap<A>,
        hint: usize,
        len: usize,
        align: usize,
    ) -> MapResult<usize>
    where
        A: RangeAdapter,
        SegmentOf<A>: GrowsDown,
    {
        // Every hole starts and ends on a page boundary, so page alignment
        // comes free; a larger one is had, as in Linux's `unmapped_area`, by
        // asking for `align - PAGE_SIZE` more bytes and rounding up.
        let align = align.max(PAGE_SIZE);
        let search = len
            .checked_add(align - PAGE_SIZE)
            .ok_or(MapError::Overflow { start: hint, len })?;
        let floor = hint
            .checked_next_multiple_of(PAGE_SIZE)
            .ok_or(MapError::NoSpace { len })?;
        // The map's window rounded inward to whole pages, so that every hole
        // the search sees starts on a page boundary; less than a page is no
        // space.
        let window = map
            .window()
            .align_inward(PAGE_SIZE)
            .map_err(|_| MapError::NoSpace { len: search })?;
        let placement = Placement::new(search)
            .window(window.low(), window.high())
            .hint(Hint::AtOrAbove(floor));
        let hole = map.find_free_area(&placement)?;
        // `[hole, hole + search)` is free and in the window, and holds
        // `[start, start + len)` when segments end on page boundaries, as a
        // `MemorySet`'s do; for other maps the check below refuses a hole
        // that does not.
        let start = hole
            .checked_next_multiple_of(align)
            .ok_or(MapError::NoSpace { len })?;
        if checked_end(start, len)? > hole + search {
            return Err(MapError::NoSpace { len });
        }
        Ok(start)
    }
}

impl PlacementPolicy for LinuxLayout {
    /// [`LinuxLayout::get_unmapped_area_aligned`]: with `align ==
    /// PAGE_SIZE`, exactly where Linux's anonymous `mmap(hint, len)` goes
    /// (the free hint, else top-down below `mmap_base` keeping the guard gap
    /// below grows-down areas, else bottom-up; 2 MiB multiples huge-page
    /// aligned); with a larger `align`, as Linux places a hugetlbfs mapping.
    ///
    /// # Errors
    ///
    /// As [`LinuxLayout::get_unmapped_area_aligned`].
    fn place<A>(
        &self,
        map: &RangeActionMap<A>,
        hint: usize,
        len: usize,
        align: usize,
    ) -> MapResult<usize>
    where
        A: RangeAdapter,
        SegmentOf<A>: GrowsDown,
    {
        self.get_unmapped_area_aligned(map, hint, len, align)
    }
}

#[cfg(all(test, feature = "mock"))]
mod tests {
    use alloc::vec::Vec;

    use super::*;
    use crate::linux::{GrowsDown, StackRlimit};
    use crate::memory_set::{MemoryAttr, MemoryError, MemoryHandler, MemorySet, PageTable};
    use crate::mock::{CountingFrameAllocator, SoftPageTable};
    use crate::Window;

    /// An Sv39 process laid out by Linux's rules: a `ByFrame` stack that
    /// grows down below `mmap_base`, then an area placed below its guard
    /// gap; a split keeps the bit on both sides, and a merge only joins
    /// equal bits.
    #[test]
    fn linux_policy_keeps_the_guard_gap_through_splits_and_merges() {
        let layout = LinuxLayout::for_task_size(1 << 38, StackRlimit::DEFAULT);
        let window = Window::new(layout.mmap_min_addr(), layout.task_size()).unwrap();
        let fa = CountingFrameAllocator::new(32);
        let mut set =
            MemorySet::with_policy(layout, window, SoftPageTable::new(fa.memory()), fa.clone());
        let (rw, base, guard) = (
            MemoryAttr::new().set_user(),
            layout.mmap_base(),
            layout.guard_gap(),
        );

        let stack = set
            .map_anywhere_grows_down(0, 4 * PAGE_SIZE, PAGE_SIZE, rw, MemoryHandler::ByFrame)
            .unwrap();
        assert_eq!(stack, base - 4 * PAGE_SIZE);
        let below = set.map_anywhere(0, PAGE_SIZE, PAGE_SIZE, rw, MemoryHandler::Lazy);
        assert_eq!(below, Ok(stack - guard - PAGE_SIZE));

        // An ordinary neighbour does not merge with the stack; a grows-down
        // one does.
        set.push(base, base + PAGE_SIZE, rw, MemoryHandler::ByFrame)
            .unwrap();
        set.push_grows_down(stack - PAGE_SIZE, stack, rw, MemoryHandler::ByFrame)
            .unwrap();
        assert_eq!(set.len(), 3);
        assert_eq!(set.find(stack).unwrap().range(), stack - PAGE_SIZE..base);

        set.protect(stack, stack + PAGE_SIZE, rw.set_readonly())
            .unwrap();
        assert_eq!(set.len(), 5);
        let bits: Vec<_> = set.iter().map(GrowsDown::grows_down).collect();
        assert_eq!(bits, [false, true, true, true, false]);
        assert_eq!(
            set.page_table().translate(stack).map(|(_, attr)| attr),
            Some(rw.set_readonly())
        );
        // The five stack pages and the neighbour, plus the tables.
        assert_eq!(fa.live(), 6 + set.page_table().table_frames());
        drop(set);
        assert_eq!(fa.live(), 0);
    }

    /// `FirstFit` pads a large alignment and rounds up; an overflowing pad
    /// or hint is an error, not a panic.
    #[test]
    fn first_fit_aligns_and_refuses_overflow() {
        let fa = CountingFrameAllocator::new(8);
        let mut set = MemorySet::new(SoftPageTable::new(fa.memory()), fa.clone());
        let rw = MemoryAttr::new().set_user();
        let lazy = MemoryHandler::Lazy;
        assert_eq!(
            set.map_anywhere(0x1000, 0x1000, 0x10000, rw, lazy),
            Ok(0x10000)
        );
        let huge = usize::MAX & !(PAGE_SIZE - 1);
        assert!(matches!(
            set.map_anywhere(0, huge, 1 << 20, rw, lazy),
            Err(MemoryError::Map(MapError::Overflow { .. }))
        ));
        assert!(matches!(
            set.map_anywhere(usize::MAX, 0x1000, PAGE_SIZE, rw, lazy),
            Err(MemoryError::Map(MapError::NoSpace { .. }))
        ));
        assert_eq!(set.len(), 1);
    }
}
