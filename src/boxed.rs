//! The seed's API: value segments, no link in sight (feature `alloc`).
//!
//! Code written for the original `range-action-map` crate compiles against
//! this module with one import change, `range_action_map::{..}` →
//! `range_action_map::boxed::{..}`:
//!
//! ```
//! use range_action_map::boxed::{ArgsType, IdentType, RangeActionMap, Segment};
//!
//! struct Seg(usize, usize);
//! impl Segment for Seg {
//!     fn remove(&mut self, _args: ArgsType) {}
//!     fn modify(&mut self, _flags: IdentType, _args: ArgsType) {}
//!     fn split(&mut self, pos: usize, _args: ArgsType) -> Self {
//!         let end = self.1;
//!         self.1 = pos;
//!         Seg(pos, end)
//!     }
//! }
//! let mut map = RangeActionMap::<Seg>::new(0);
//! map.mmap_fixed(0x3000, 0x7000, || Seg(0x3000, 0x7000));
//! assert!(map.find(0x5678).is_some() && map.find(0x7000).is_none());
//! assert_eq!(map.mmap_anywhere(10123, 10, |s| Seg(s, s + 10)), Some(10123));
//! map.unmap(0x4000, 0x5000);
//! map.mprotect(0x3000, 0x3800, 0x7);
//! ```
//!
//! Each segment is boxed together with its link; the map underneath is the
//! intrusive [`crate::RangeActionMap`], so every operation has its costs.
//! Differences from the seed, all on inputs the seed mishandled: ranges
//! outside `[LOWER_LIMIT, UPPER_LIMIT)` or empty are refused (`None`, or a
//! no-op for `unmap`/`mprotect`) instead of corrupting the map, and
//! `UPPER_LIMIT` is `usize::MAX` (the seed's was 4 GiB).
#![forbid(unsafe_code)]

use core::fmt;

use crate::tree::value::{ValueMap, ValueNode};
use crate::Window;

/// The per-map value handed to every callback (a `usize`, as in the seed).
pub type ArgsType = usize;
/// The flags `mprotect` carries (a `usize`, as in the seed).
pub type IdentType = usize;
/// Lowest address a segment may use.
pub const LOWER_LIMIT: usize = Window::DEFAULT.low();
/// One past the highest address a segment may use.
pub const UPPER_LIMIT: usize = Window::DEFAULT.high();

/// The seed's segment trait: a value that can be removed, split and
/// modified. `self` tracks its own range if it needs it.
pub trait Segment: Sized {
    /// The whole segment is unmapped.
    fn remove(&mut self, args: ArgsType);
    /// Splits at the absolute address `pos`: `self` keeps the left part,
    /// the right part is returned.
    fn split(&mut self, pos: usize, args: ArgsType) -> Self;
    /// Applies new flags to the whole segment.
    fn modify(&mut self, new_flag: IdentType, args: ArgsType);

    /// Splits at `pos` and removes the right part: `self` keeps `[start, pos)`.
    fn shrink_to_left(&mut self, pos: usize, args: ArgsType) {
        self.split(pos, args).remove(args);
    }
    /// Splits at `pos` and removes the left part: `self` becomes `[pos, end)`.
    fn shrink_to_right(&mut self, pos: usize, args: ArgsType) {
        let right = self.split(pos, args);
        self.remove(args);
        *self = right;
    }
    /// Splits at `pos_left` and `pos_right`, removes the middle; `self`
    /// keeps the left part and the right part is returned.
    fn split_and_remove_middle(
        &mut self,
        pos_left: usize,
        pos_right: usize,
        args: ArgsType,
    ) -> Self {
        let right = self.split(pos_right, args);
        self.split(pos_left, args).remove(args);
        right
    }
    /// Splits at `pos` and modifies the left part; returns the right part.
    fn modify_left(&mut self, pos: usize, new_flag: IdentType, args: ArgsType) -> Self {
        let right = self.split(pos, args);
        self.modify(new_flag, args);
        right
    }
    /// Splits at `pos` and modifies the right part, which is returned.
    fn modify_right(&mut self, pos: usize, new_flag: IdentType, args: ArgsType) -> Self {
        let mut right = self.split(pos, args);
        right.modify(new_flag, args);
        right
    }
    /// Splits at both positions and modifies the middle; returns the middle
    /// and the right parts.
    fn modify_middle(
        &mut self,
        pos_left: usize,
        pos_right: usize,
        new_flag: IdentType,
        args: ArgsType,
    ) -> (Self, Self) {
        let right = self.split(pos_right, args);
        let mut middle = self.split(pos_left, args);
        middle.modify(new_flag, args);
        (middle, right)
    }
}

/// The seed's map of value segments over `[LOWER_LIMIT, UPPER_LIMIT)`.
pub struct RangeActionMap<S: Segment> {
    inner: ValueMap<S>,
}

impl<S: Segment> RangeActionMap<S> {
    /// An empty map; `args` is handed to every callback.
    pub fn new(args: ArgsType) -> Self {
        RangeActionMap {
            inner: ValueMap::new(args),
        }
    }

    /// Number of segments.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether there is no segment.
    pub fn is_empty(&self) -> bool {
        self.inner.len() == 0
    }

    /// The segment containing `pos`, in *O*(log n).
    pub fn find(&self, pos: usize) -> Option<&S> {
        self.inner.find(pos)
    }

    /// The segment containing `pos`, mutably.
    pub fn find_mut(&mut self, pos: usize) -> Option<&mut S> {
        self.inner.find_mut(pos)
    }

    /// The segments in address order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &S> + ExactSizeIterator + '_ {
        self.inner.iter().map(|(_, value)| value)
    }

    /// The segments in address order, mutably.
    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut S> + ExactSizeIterator + '_ {
        self.inner.iter_mut()
    }

    /// The segments with their ranges, in address order.
    pub fn ranges(&self) -> impl DoubleEndedIterator<Item = (core::ops::Range<usize>, &S)> + '_ {
        self.inner.iter()
    }

    /// Maps `len` bytes at the lowest free address at or above `hint`;
    /// `f(start)` builds the segment and is called only on success.
    ///
    /// # Returns
    ///
    /// The start, or `None` when no hole holds `len` bytes (or `len == 0`).
    pub fn mmap_anywhere(
        &mut self,
        hint: usize,
        len: usize,
        f: impl FnOnce(usize) -> S,
    ) -> Option<usize> {
        self.inner
            .map_mut()
            .mmap_anywhere(hint, len, |start| ValueNode::new(f(start)))
            .ok()
    }

    /// Unmaps `[start, end)` and maps `f()` there.
    ///
    /// # Returns
    ///
    /// `Some(start)`, or `None` (and `f` not called) when the range is empty
    /// or outside `[LOWER_LIMIT, UPPER_LIMIT)`.
    pub fn mmap_fixed(&mut self, start: usize, end: usize, f: impl FnOnce() -> S) -> Option<usize> {
        self.inner
            .map_mut()
            .mmap_fixed(start, end, || ValueNode::new(f()))
            .ok()
            .map(|_| start)
    }

    /// Unmaps `[start, end)`, shrinking or splitting straddling segments. An
    /// empty or out-of-window range does nothing.
    pub fn unmap(&mut self, start: usize, end: usize) {
        // Refused ranges are a no-op, as documented; nothing to report.
        let _ = self.inner.map_mut().unmap(start, end);
    }

    /// Applies `new_flags` to `[start, end)`, splitting straddling segments.
    /// An empty or out-of-window range does nothing.
    pub fn mprotect(&mut self, start: usize, end: usize, new_flags: IdentType) {
        // Refused ranges are a no-op, as documented; nothing to report.
        let _ = self.inner.map_mut().mprotect(start, end, new_flags);
    }

    /// The lowest free address at or above `hint` that holds `len` bytes.
    pub fn find_free_area(&self, hint: usize, len: usize) -> Option<usize> {
        self.inner
            .find_free_area(&crate::Placement::new(len).hint(crate::Hint::AtOrAbove(hint)))
            .ok()
    }

    /// Checks every invariant of the map underneath
    /// ([`crate::RangeActionMap::assert_valid`]).
    ///
    /// # Panics
    ///
    /// With a sentence naming the broken invariant; never through this API.
    #[track_caller]
    pub fn assert_valid(&self) {
        self.inner.assert_valid();
    }
}

impl<S: Segment + fmt::Debug> fmt::Debug for RangeActionMap<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// The segments as a list, without collecting them.
        struct Segments<'a, S: Segment>(&'a RangeActionMap<S>);
        impl<S: Segment + fmt::Debug> fmt::Debug for Segments<'_, S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.0.iter()).finish()
            }
        }
        f.debug_struct("RangeActionMap")
            .field("segments", &Segments(self))
            .finish()
    }
}
