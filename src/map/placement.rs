//! Free-area search: `mmap_anywhere` and its general form.

use super::ops::insert_and_merge;
use super::{OwnedOf, RangeActionMap, RangeAdapter};
use crate::range::{check_align, check_aligned, checked_end};
use crate::tree::gap::{Direction, HoleQuery};
use crate::tree::handle::forget_linked;
use crate::{MapError, MapResult};

/// How a search treats the caller's address hint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Hint {
    /// No hint: search the whole window.
    #[default]
    None,
    /// The seed's rule: the placement starts at or above this address (the
    /// window's low end is raised to it).
    AtOrAbove(usize),
    /// Linux's rule: this exact address when `[hint, hint + len)` is free,
    /// aligned and inside the window; otherwise a normal search.
    IfFree(usize),
}

/// A free-area request: length, alignment, window, direction and hint.
///
/// # Examples
///
/// ```
/// use range_action_map::{Hint, Placement};
///
/// // 2 MiB, 2 MiB-aligned, top-down below 0x7fff_0000_0000.
/// let p = Placement::new(0x20_0000)
///     .align(0x20_0000)
///     .window(0x1_0000, 0x7fff_0000_0000)
///     .top_down()
///     .hint(Hint::IfFree(0x5000_0000));
/// # let _ = p;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Placement {
    len: usize,
    align: usize,
    low: usize,
    high: usize,
    direction: Direction,
    hint: Hint,
}

impl Placement {
    /// `len` bytes anywhere in the map's window, lowest first, no alignment.
    #[must_use]
    pub const fn new(len: usize) -> Self {
        Placement {
            len,
            align: 1,
            low: 0,
            high: usize::MAX,
            direction: Direction::BottomUp,
            hint: Hint::None,
        }
    }

    /// The placement's start must be a multiple of `align`, a power of two.
    /// As in Linux, the search then wants a hole of `len + align - 1` bytes.
    #[must_use]
    pub const fn align(mut self, align: usize) -> Self {
        self.align = align;
        self
    }

    /// Restricts the placement to `[low, high)` (cut to the map's window).
    #[must_use]
    pub const fn window(mut self, low: usize, high: usize) -> Self {
        self.low = low;
        self.high = high;
        self
    }

    /// Searches from the top: the highest hole that fits.
    #[must_use]
    pub const fn top_down(self) -> Self {
        self.direction(Direction::TopDown)
    }

    /// Which end of the window to prefer.
    #[must_use]
    pub const fn direction(mut self, direction: Direction) -> Self {
        self.direction = direction;
        self
    }

    /// How to treat an address hint.
    #[must_use]
    pub const fn hint(mut self, hint: Hint) -> Self {
        self.hint = hint;
        self
    }
}

impl<A: RangeAdapter> RangeActionMap<A> {
    /// Maps a `len`-byte segment at the lowest free address at or above
    /// `hint` (the seed's rule) and returns its start. `f(start)` builds the
    /// node and is called only on success. *O*(log n), also when it fails.
    ///
    /// # Examples
    ///
    /// ```
    /// # use range_action_map_testkit::doc::{area, AreaAdapter};
    /// # use range_action_map::RangeActionMap;
    /// let mut map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// assert_eq!(map.mmap_anywhere(10123, 10, |_| area(0)), Ok(10123));
    /// assert_eq!(map.mmap_anywhere(10140, 10, |_| area(0)), Ok(10140));
    /// // [10120, 10123) and [10133, 10140) are too small.
    /// assert_eq!(map.mmap_anywhere(10120, 10, |_| area(0)), Ok(10150));
    /// ```
    ///
    /// # Errors
    ///
    /// [`MapError::ZeroLength`]; [`MapError::NoSpace`] when no hole in the
    /// window at or above `hint` holds `len` bytes.
    pub fn mmap_anywhere(
        &mut self,
        hint: usize,
        len: usize,
        f: impl FnOnce(usize) -> OwnedOf<A>,
    ) -> MapResult<usize> {
        self.mmap_placed(&Placement::new(len).hint(Hint::AtOrAbove(hint)), f)
    }

    /// Maps a segment where `placement` says and returns its start; `f(start)`
    /// is called only on success. The new segment is offered to
    /// [`Segment::try_merge`](crate::Segment::try_merge) with its neighbours.
    /// *O*(log n).
    ///
    /// # Errors
    ///
    /// As [`find_free_area`](Self::find_free_area), and
    /// [`MapError::AlreadyLinked`] if `f` returns a node that is in a map
    /// (forgotten, never dropped; the map is unchanged).
    pub fn mmap_placed(
        &mut self,
        placement: &Placement,
        f: impl FnOnce(usize) -> OwnedOf<A>,
    ) -> MapResult<usize> {
        let (at, query) = self.plan(placement)?;
        let len = placement.len;
        let (start, mut cursor) = self
            .tree
            .place_mut(at, &query)
            .ok_or(MapError::NoSpace { len })?;
        let node = cursor.pin(f(start)).map_err(forget_linked)?;
        insert_and_merge(cursor, node, start, start + len, &mut self.args);
        Ok(start)
    }

    /// Where `placement` would put its segment, without mapping anything.
    /// *O*(log n) through the subtree-gap field, including on failure; no
    /// allocation.
    ///
    /// # Errors
    ///
    /// [`MapError::ZeroLength`], [`MapError::BadAlignment`],
    /// [`MapError::BadWindow`] (the window misses the map's window),
    /// [`MapError::NoSpace`].
    pub fn find_free_area(&self, placement: &Placement) -> MapResult<usize> {
        let (at, query) = self.plan(placement)?;
        self.tree
            .place(at, &query)
            .ok_or(MapError::NoSpace { len: placement.len })
    }

    /// What `placement` asks of the tree: an address to take if it is free
    /// (a Linux hint that is aligned and in the window), and the search to
    /// make otherwise.
    fn plan(&self, placement: &Placement) -> MapResult<(Option<usize>, HoleQuery)> {
        let &Placement {
            len,
            align,
            low,
            high,
            direction,
            hint,
        } = placement;
        if len == 0 {
            return Err(MapError::ZeroLength);
        }
        check_align(align)?;
        let mut window = self.window.intersect(low, high)?;
        let mut at = None;
        match hint {
            Hint::None => {}
            Hint::AtOrAbove(floor) => {
                window = window
                    .intersect(floor, usize::MAX)
                    .map_err(|_| MapError::NoSpace { len })?;
            }
            Hint::IfFree(addr) => {
                let fits = checked_end(addr, len).is_ok_and(|end| {
                    check_aligned(addr, align).is_ok() && window.check(addr, end).is_ok()
                });
                at = fits.then_some(addr);
            }
        }
        let query = HoleQuery {
            len,
            align,
            low: window.low(),
            high: window.high(),
            direction,
        };
        Ok((at, query))
    }
}
