//! The trait a segment type implements: what the map asks of it when ranges
//! are unmapped, split, re-protected or merged.

/// Returned by [`Segment::try_split`] when no node could be allocated for the
/// right half; the map then reports [`MapError::SplitFailed`](crate::MapError::SplitFailed)
/// and nothing observable has changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AllocError;

impl core::fmt::Display for AllocError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("no memory for a new segment node")
    }
}

impl core::error::Error for AllocError {}

/// A virtual-memory area kept in a [`RangeActionMap`](crate::RangeActionMap):
/// the actions the map delivers to it.
///
/// The map owns the range of each segment (in its [`RangeLink`](crate::RangeLink));
/// a callback that needs it reads `self.link.range()`. When a callback runs,
/// the link already shows the range the callback is about, as listed per
/// method. Every callback receives the map's `args` (the seed's `ArgsType`:
/// for a kernel, typically the page table and frame allocator).
///
/// # Implementing this trait
///
/// Callbacks take `&self`: nodes can be owned by `&'static` references and
/// [`UnsafeRef`](intrusive_collections::UnsafeRef)s, which never grant
/// exclusive access, so per-segment state that changes lives in a
/// [`Cell`](core::cell::Cell) (or the user's own lock). Do **not** cast
/// `&self` to `&mut Self` through a raw pointer to avoid that: other `&Self`
/// exist (the map's iterators, `&'static` owners), so writing through the
/// cast is undefined behaviour, and no safety argument can make it sound.
///
/// A callback may panic: the map stays valid (see each operation's
/// "Panics" section for what the caller then observes).
///
/// # Examples
///
/// ```
/// use core::cell::Cell;
/// use intrusive_collections::intrusive_adapter;
/// use range_action_map::{RangeActionMap, RangeLink, Segment};
///
/// struct Area {
///     link: RangeLink,
///     prot: Cell<usize>,
/// }
/// intrusive_adapter!(AreaAdapter = Box<Area>: Area { link: RangeLink });
///
/// impl Segment for Area {
///     type Args = Vec<String>; // a log; a kernel would pass its page table
///     type Flags = usize;
///     type Pointer = Box<Area>;
///     fn remove(&self, log: &mut Vec<String>) {
///         log.push(format!("unmap {:#x?}", self.link.range()));
///     }
///     fn shrink(&self, start: usize, end: usize, log: &mut Vec<String>) {
///         log.push(format!("{:#x?} keeps {start:#x}..{end:#x}", self.link.range()));
///     }
///     fn split(&self, _pos: usize, _log: &mut Vec<String>) -> Box<Area> {
///         Box::new(Area { link: RangeLink::new(), prot: self.prot.clone() })
///     }
///     fn modify(&self, prot: usize, _log: &mut Vec<String>) {
///         self.prot.set(prot);
///     }
/// }
///
/// let mut map = RangeActionMap::<AreaAdapter>::new(Vec::new());
/// map.mmap_fixed(0x10000, 0x20000, || Box::new(Area { link: RangeLink::new(), prot: Cell::new(3) }))
///     .unwrap();
/// map.unmap(0x18000, 0x20000).unwrap();
/// assert_eq!(map.args(), &["0x10000..0x20000 keeps 0x10000..0x18000"]);
/// ```
pub trait Segment {
    /// The per-map value handed to every callback (the seed's `ArgsType`).
    type Args;
    /// The attribute [`mprotect`](crate::RangeActionMap::mprotect) carries
    /// (the seed's `IdentType`; for a kernel, page-table flags).
    type Flags: Copy;
    /// The owning pointer of a new node: the adapter's pointer type, such as
    /// `Box<Self>`, `UnsafeRef<Self>` or `&'static Self`.
    type Pointer;

    /// The whole segment is being unmapped: release what backs it (unmap its
    /// pages, free its frames). The link shows the segment's range; the node
    /// is already unlinked and goes to [`release`](Self::release) next.
    fn remove(&self, args: &mut Self::Args);

    /// The segment is being cut down in place to `[start, end)`, which shares
    /// one bound with its current range (`self.link.range()`, still the old
    /// one): release what backs the part that goes. No node is allocated.
    fn shrink(&self, start: usize, end: usize, args: &mut Self::Args);

    /// Splits at the absolute address `pos` (strictly inside the segment):
    /// `self` keeps `[start, pos)` and the returned fresh, unlinked node
    /// becomes `[pos, end)`. The link still shows the whole range during the
    /// call. A split changes no mapping: it only divides the bookkeeping.
    fn split(&self, pos: usize, args: &mut Self::Args) -> Self::Pointer;

    /// Fallible [`split`](Self::split), for kernels whose node allocation can
    /// fail. The map always calls this one; the default calls `split`.
    ///
    /// # Errors
    ///
    /// [`AllocError`] when no node could be had. `self` must then be as it
    /// was: the map reports the failure with nothing changed.
    fn try_split(&self, pos: usize, args: &mut Self::Args) -> Result<Self::Pointer, AllocError> {
        Ok(self.split(pos, args))
    }

    /// Applies new flags to the whole segment (the link shows its range).
    fn modify(&self, flags: Self::Flags, args: &mut Self::Args);

    /// The merge hook: `next` directly follows `self` (`self.end ==
    /// next.start`). Return `true` to absorb it: the map then extends `self`
    /// over `next`'s range and hands `next`'s node to
    /// [`release`](Self::release) without calling `remove` on it. Return `false` (the default: never merge) to keep both.
    ///
    /// The map asks after [`mmap_fixed`](crate::RangeActionMap::mmap_fixed)
    /// (the new segment with its neighbours) and after
    /// [`mprotect`](crate::RangeActionMap::mprotect) (each modified piece
    /// with its neighbours), as Linux merges VMAs.
    fn try_merge(&self, next: &Self, args: &mut Self::Args) -> bool {
        let _ = (next, args);
        false
    }

    /// The map is done with `node`: it was unmapped (after its
    /// [`remove`](Self::remove), also in [`clear`](crate::RangeActionMap::clear)),
    /// absorbed by a merge, or the map is being dropped. The default drops
    /// it. A kernel that allocates nodes from its own slab takes them back
    /// here, with no unsafe code:
    ///
    /// ```text
    /// fn release(node: UnsafeRef<Vma>, slab: &mut Slab) {
    ///     slab.free.push(node);
    /// }
    /// ```
    ///
    /// Nodes the map hands back to the caller (from
    /// [`CursorMut::remove_current`](crate::CursorMut::remove_current) or in an
    /// [`InsertError`](crate::InsertError)) do not come here; nor does a node
    /// whose `remove` panicked: it is dropped.
    fn release(node: Self::Pointer, args: &mut Self::Args) {
        let _ = args;
        drop(node);
    }
}
