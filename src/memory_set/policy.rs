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
/// use range_action_map::linux::GrowsDown;
/// use range_action_map::memory_set::{MemoryAttr, ByFrame, Lazy, Linear, MemorySet, PlacementPolicy};
/// use range_action_map::{MapResult, Placement, RangeActionMap, RangeAdapter, SegmentOf, Window};
/// use range_action_map_testkit::{CountingFrameAllocator, SoftPageTable};
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
/// assert_eq!(set.map_anywhere(0, 0x2000, 0x1000, rw, Lazy::new()), Ok(0xf_e000));
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

    /// The gap kept free below an area that grows down (a stack): placements stay out of it,
    /// and a stack stops growing before it reaches an ordinary area closer than this (Linux's
    /// `stack_guard_gap`). The default is 0.
    fn guard_gap(&self) -> usize {
        0
    }
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
/// use range_action_map::memory_set::{MemoryAttr, ByFrame, Lazy, Linear, MemorySet};
/// use range_action_map_testkit::{CountingFrameAllocator, SoftPageTable};
///
/// let frames = CountingFrameAllocator::new(16);
/// // `new` and `with_window` build sets with `FirstFit`.
/// let mut set = MemorySet::new(SoftPageTable::new(frames.memory()), frames.clone());
/// let rw = MemoryAttr::new().set_user();
/// set.push(0x10000, 0x12000, rw, Lazy::new())?;
/// assert_eq!(set.map_anywhere(0x10000, 0x1000, 0x1000, rw, Lazy::new())?, 0x12000);
/// assert_eq!(set.map_anywhere(0x10000, 0x1000, 0x4000, rw, Lazy::new())?, 0x14000);
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

    /// [`LinuxLayout::guard_gap`].
    fn guard_gap(&self) -> usize {
        LinuxLayout::guard_gap(self)
    }
}
