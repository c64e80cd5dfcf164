//! `RangeActionMap`: the safe API over the tree.

mod cursor;
mod fmt;
mod iter;
mod ops;
mod placement;

use intrusive_collections::{Adapter, LinkOps, PointerOps};

use crate::range::Window;
use crate::tree::{LinkPtr, Node, RangeLink, RangeLinkOps, RawTree};
use crate::Segment;

pub use cursor::{Cursor, CursorMut};
pub use iter::{Gaps, Iter, Overlapping};
pub use ops::Coverage;
pub use placement::{Hint, Placement};

/// An adapter whose nodes can live in a [`RangeActionMap`]: declared with
/// [`range_adapter!`](crate::range_adapter) (or
/// [`intrusive_adapter!`](intrusive_collections::intrusive_adapter), which
/// does not check the field's type) over a [`RangeLink`](crate::RangeLink)
/// field of a type implementing [`Segment`], whose `Segment::Node` is the
/// adapter's pointer type.
///
/// It is implemented for every such adapter; you never implement it.
pub trait RangeAdapter:
    Adapter<
    LinkOps = RangeLinkOps,
    PointerOps: PointerOps<
        Value: Segment<Node = <Self::PointerOps as PointerOps>::Pointer> + Sized,
    >,
>
{
}

impl<A> RangeAdapter for A where
    A: Adapter<
        LinkOps = RangeLinkOps,
        PointerOps: PointerOps<
            Value: Segment<Node = <A::PointerOps as PointerOps>::Pointer> + Sized,
        >,
    >
{
}

/// The segment type of adapter `A`.
pub type SegmentOf<A> = <<A as Adapter>::PointerOps as PointerOps>::Value;
/// The owning pointer type of adapter `A` (`Box<T>`, `UnsafeRef<T>`, `&'static T`).
pub type OwnedOf<A> = <<A as Adapter>::PointerOps as PointerOps>::Pointer;
/// The per-map callback argument of adapter `A`'s segments.
pub type ArgsOf<A> = <SegmentOf<A> as Segment>::Args;
/// The `mprotect` flags of adapter `A`'s segments.
pub type FlagsOf<A> = <SegmentOf<A> as Segment>::Flags;

/// A map of disjoint half-open ranges `[start, end)` to segments, with the
/// VM verbs: [`mmap_fixed`](Self::mmap_fixed),
/// [`mmap_anywhere`](Self::mmap_anywhere), [`unmap`](Self::unmap),
/// [`mprotect`](Self::mprotect) and [`find`](Self::find).
///
/// Segments are nodes of an intrusive red-black tree: the map owns them
/// through the adapter's pointer type and never allocates. See the
/// [crate docs](crate) for a tour.
///
/// # Invariants
///
/// `tree` holds exactly the links of the values the map owns: each was put
/// in by `acquire` (pointer turned raw, link acquired) and is taken out by
/// `take` (link released, pointer rebuilt), exactly once. Every segment lies
/// in `window`.
pub struct RangeActionMap<A: RangeAdapter> {
    tree: RawTree,
    adapter: A,
    args: ArgsOf<A>,
    window: Window,
}

// The raw pointers in the tree point only into nodes the map owns.
// SAFETY: moving the map moves its nodes (owned through `OwnedOf<A>`), its
// args and its adapter; each may be sent by the bounds below.
unsafe impl<A: RangeAdapter + Send> Send for RangeActionMap<A>
where
    OwnedOf<A>: Send,
    ArgsOf<A>: Send,
{
}

// The map is `Send` (above) and not `Sync` (its links are `Cell`s); pinned
// so that a change to either is deliberate.
#[cfg(all(test, feature = "alloc"))]
static_assertions::assert_impl_all!(RangeActionMap<crate::doc_example::AreaAdapter>: Send);
#[cfg(all(test, feature = "alloc"))]
static_assertions::assert_not_impl_any!(RangeActionMap<crate::doc_example::AreaAdapter>: Sync);

impl<A: RangeAdapter + Default> RangeActionMap<A> {
    /// An empty map over the default window `[0x1000, usize::MAX)`; `args`
    /// is handed to every [`Segment`] callback.
    ///
    /// # Examples
    ///
    /// ```
    /// # use range_action_map::doc_example::{Area, AreaAdapter};
    /// use range_action_map::RangeActionMap;
    ///
    /// let map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// assert!(map.is_empty());
    /// ```
    pub fn new(args: ArgsOf<A>) -> Self {
        Self::with_adapter(A::default(), Window::DEFAULT, args)
    }

    /// An empty map whose segments must lie in `window`.
    pub fn with_window(window: Window, args: ArgsOf<A>) -> Self {
        Self::with_adapter(A::default(), window, args)
    }
}

impl<A: RangeAdapter> RangeActionMap<A> {
    /// An empty map with an explicit adapter value.
    pub fn with_adapter(adapter: A, window: Window, args: ArgsOf<A>) -> Self {
        RangeActionMap {
            tree: RawTree::new(),
            adapter,
            args,
            window,
        }
    }

    /// Number of segments, in *O*(1).
    #[must_use]
    #[inline]
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// Whether the map holds no segment.
    #[must_use]
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.tree.len() == 0
    }

    /// The window of addresses segments may occupy.
    #[must_use]
    #[inline]
    pub fn window(&self) -> Window {
        self.window
    }

    /// The value handed to every callback.
    #[must_use]
    #[inline]
    pub fn args(&self) -> &ArgsOf<A> {
        &self.args
    }

    /// The value handed to every callback, mutably.
    #[inline]
    pub fn args_mut(&mut self) -> &mut ArgsOf<A> {
        &mut self.args
    }

    /// The segment containing `addr`, in *O*(log n); in *O*(1) when it is
    /// the segment the previous successful `find` returned (the map keeps
    /// that one-entry cache, as Linux did for page faults, which hit the
    /// same area over and over).
    ///
    /// # Examples
    ///
    /// ```
    /// # use range_action_map::doc_example::{area, AreaAdapter};
    /// # use range_action_map::RangeActionMap;
    /// let mut map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// map.mmap_fixed(0x3000, 0x7000, || area(0)).unwrap();
    /// assert!(map.find(0x2fff).is_none());
    /// assert_eq!(map.find(0x5678).map(|a| a.link.range()), Some(0x3000..0x7000));
    /// assert!(map.find(0x7000).is_none());
    /// ```
    #[must_use]
    #[inline]
    pub fn find(&self, addr: usize) -> Option<&SegmentOf<A>> {
        self.tree.find(addr).map(|n| self.value(n))
    }

    /// The range of a segment of this map, for code generic over the
    /// segment type (which does not know the name of its link field). In
    /// *O*(1): it reads the segment's own link, so for a segment in no map,
    /// or in another map, it is whatever that link holds; use
    /// [`cursor_from`](Self::cursor_from) to ask whether a segment is here.
    #[must_use]
    #[inline]
    pub fn range_of(&self, segment: &SegmentOf<A>) -> core::ops::Range<usize> {
        self.link_of(segment).range()
    }

    /// The lowest segment, in *O*(1).
    #[must_use]
    #[inline]
    pub fn first(&self) -> Option<&SegmentOf<A>> {
        self.tree.first().map(|n| self.value(n))
    }

    /// The highest segment, in *O*(1).
    #[must_use]
    #[inline]
    pub fn last(&self) -> Option<&SegmentOf<A>> {
        self.tree.last().map(|n| self.value(n))
    }

    /// Checks every tree invariant (red-black properties, order,
    /// disjointness, the window, each augmented field recomputed from
    /// scratch) in *O*(n).
    ///
    /// # Panics
    ///
    /// With a sentence naming the broken invariant. Through the safe API
    /// this never happens; tests call it after every operation.
    #[track_caller]
    pub fn assert_valid(&self) {
        if let Err(broken) = self.tree.check() {
            panic!("RangeActionMap invariant broken: {broken}");
        }
        if let (Some(first), Some(last)) = (self.tree.first(), self.tree.last()) {
            let (low, high) = (self.window.low(), self.window.high());
            assert!(
                first.start() >= low && last.end() <= high,
                "RangeActionMap invariant broken: every segment lies in the window \
                 {low:#x}..{high:#x} (segments span {:#x}..{:#x})",
                first.start(),
                last.end()
            );
        }
    }

    // === raw conversions: the map's only unsafe code ===

    /// The segment that owns a link of this tree.
    #[inline]
    fn value<'a>(&'a self, node: Node<'a>) -> &'a SegmentOf<A> {
        self.segment_at(node.ptr())
    }

    /// The link embedded in `segment`, which may be in this map, in
    /// another one or in none: only its own fields may be read, never the
    /// links it points to (whoever owns them may have freed them).
    #[inline]
    fn link_of<'a>(&self, segment: &'a SegmentOf<A>) -> &'a RangeLink {
        // SAFETY: `get_link` offsets a live value's address to its link
        // field, which lives as long as the borrow of `segment`.
        unsafe { self.adapter.get_link(segment).as_ref() }
    }

    /// The node of `segment` if it is a segment of this map, in *O*(log n)
    /// (*O*(1) when it is the last `find` hit). Membership is decided by a
    /// lookup of the segment's start in this tree and a pointer comparison,
    /// never by following the segment's own tree pointers, which another
    /// map's links may make dangle.
    pub(super) fn member<'a>(&'a self, segment: &SegmentOf<A>) -> Option<Node<'a>> {
        let link = self.link_of(segment);
        self.tree
            .find(link.start())
            .filter(|node| core::ptr::eq(node.link(), link))
    }

    /// Turns an owning pointer into a raw link ready for insertion; hands the
    /// pointer back if its link is already in a map.
    fn acquire(&mut self, owned: OwnedOf<A>) -> Result<LinkPtr, OwnedOf<A>> {
        let raw = self.adapter.pointer_ops().into_raw(owned);
        // SAFETY: `raw` comes from `into_raw`, so it points to a live value.
        let link = unsafe { self.adapter.get_link(raw) };
        // SAFETY: `link` points to the live value's link.
        if unsafe { self.adapter.link_ops_mut().acquire_link(link) } {
            Ok(link)
        } else {
            // SAFETY: `raw` came from `into_raw` just above and was not used.
            Err(unsafe { self.adapter.pointer_ops().from_raw(raw) })
        }
    }

    /// Unlinks a node of this tree and gives its owning pointer back.
    ///
    /// # Safety
    ///
    /// `link` is a link of this map's tree.
    unsafe fn take(&mut self, link: LinkPtr) -> OwnedOf<A> {
        // SAFETY: by the caller; the raw value is rebuilt exactly once, here.
        let value = unsafe { self.detach(link) };
        // SAFETY: `value` was turned raw by `into_raw` of this adapter.
        unsafe { self.adapter.pointer_ops().from_raw(value) }
    }

    /// Unlinks a node of this tree and returns its value, still raw: the
    /// caller rebuilds the owner exactly once (see [`Detached`]).
    ///
    /// # Safety
    ///
    /// `link` is a link of this map's tree.
    unsafe fn detach(&mut self, link: LinkPtr) -> *const SegmentOf<A> {
        // SAFETY: by the caller, `link` is in the tree.
        unsafe { self.tree.erase(link) };
        // SAFETY: the tree just unlinked `link`.
        unsafe { self.release_link(link) }
    }

    /// Releases a link the tree has just unlinked and returns its value,
    /// still raw, as [`detach`](Self::detach) does.
    ///
    /// # Safety
    ///
    /// `link` was a link of this map's tree and was unlinked by the tree
    /// since; it is released once.
    unsafe fn release_link(&mut self, link: LinkPtr) -> *const SegmentOf<A> {
        // SAFETY: the link was acquired by `acquire` and is now out of the
        // tree, so it is released exactly once (caller).
        unsafe { self.adapter.link_ops_mut().release_link(link) };
        // SAFETY: the link belongs to a value of this adapter.
        unsafe { self.adapter.get_value(link) }
    }

    /// Links an acquired node with range `[start, end)`, which must be free,
    /// just before `next`, the first segment above it.
    fn link(&mut self, link: LinkPtr, start: usize, end: usize, next: Successor) {
        debug_assert!(
            self.check_free(start, end) == Ok(next),
            "inconsistent state: linking {start:#x}..{end:#x} over a mapped segment"
        );
        // SAFETY: `link` is live and acquired (fresh from `acquire`).
        let node = unsafe { Node::from_ptr(link) };
        node.set_range(start, end);
        // SAFETY: `link` is in no tree, with its range set; `next` is a link
        // of this tree (callers just found it).
        unsafe { self.tree.insert_before(link, next) };
    }

    /// Resizes a node of this tree in place.
    fn resize(&mut self, link: LinkPtr, start: usize, end: usize) {
        // SAFETY: callers pass links they just found in this tree.
        unsafe { self.tree.resize(link, start, end) }
    }

    /// A node of this tree, by pointer, detached from the borrow of `self`
    /// so that the map can be mutated while it is held.
    fn node_at<'t>(&self, link: LinkPtr) -> Node<'t> {
        // SAFETY: callers pass links of this tree, and drop the node before
        // the link is taken out of the tree.
        unsafe { Node::from_ptr(link) }
    }

    /// The segment of a node of this tree, detached from the borrow of
    /// `self`, to call callbacks while `args` is borrowed mutably.
    fn segment_at<'t>(&self, link: LinkPtr) -> &'t SegmentOf<A> {
        // Every link in `tree` was put there by `acquire`, from a value of
        // this adapter, which stays alive while the map owns it.
        // SAFETY: callers drop the reference before the node leaves the map.
        unsafe { &*self.adapter.get_value(link) }
    }
}

/// A value just unlinked from the map, still raw, whose owner is rebuilt
/// and dropped when this guard drops, also during a panic. Callbacks run
/// through [`Detached::segment`] *before* the owner exists again: rebuilding
/// a `Box` asserts unique access, which a later access through another
/// pointer would violate (Stacked Borrows).
///
/// # Invariants
///
/// `value` came from `into_raw` of `adapter`'s pointer ops, its link is
/// unlinked, and nothing else will rebuild it.
pub(super) struct Detached<'a, A: RangeAdapter> {
    adapter: &'a A,
    value: *const SegmentOf<A>,
}

impl<'a, A: RangeAdapter> Detached<'a, A> {
    /// Guards a raw value returned by [`RangeActionMap::detach`] or a drained
    /// link of the tree.
    ///
    /// # Safety
    ///
    /// As the type invariants.
    pub(super) unsafe fn new(adapter: &'a A, value: *const SegmentOf<A>) -> Self {
        // INVARIANT: by the caller.
        Detached { adapter, value }
    }

    /// The value, alive until the guard drops.
    pub(super) fn segment(&self) -> &SegmentOf<A> {
        // SAFETY: the owner is not rebuilt until the guard drops, so the
        // value is alive and only shared.
        unsafe { &*self.value }
    }
}

impl<A: RangeAdapter> Detached<'_, A> {
    /// Rebuilds the owner and hands it to [`Segment::release`].
    pub(super) fn release(self, args: &mut ArgsOf<A>) {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: by the type invariant the owner is rebuilt exactly once:
        // here, since `this` never drops.
        let owned = unsafe { this.adapter.pointer_ops().from_raw(this.value) };
        SegmentOf::<A>::release(owned, args);
    }
}

impl<A: RangeAdapter> Drop for Detached<'_, A> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the owner is rebuilt exactly once.
        drop(unsafe { self.adapter.pointer_ops().from_raw(self.value) });
    }
}

impl<A: RangeAdapter> Drop for RangeActionMap<A> {
    /// Hands every segment's node to [`Segment::release`], without calling
    /// [`Segment::remove`] (call [`clear`](RangeActionMap::clear) first to
    /// release what backs them). Should `release` panic, the nodes not yet
    /// released are leaked.
    fn drop(&mut self) {
        let drain = self.tree.drain();
        for link in drain {
            // SAFETY: `drain` yields every former link of the tree once,
            // unlinked; each came from `acquire` and is rebuilt once.
            let node = unsafe { Detached::new(&self.adapter, self.adapter.get_value(link)) };
            node.release(&mut self.args);
        }
    }
}

/// The segment that follows a free range, where a new segment for that
/// range is linked (`None`: no segment follows).
pub(super) type Successor = Option<LinkPtr>;

impl<A: RangeAdapter> RangeActionMap<A> {
    /// The segment after `[start, end)` if no segment overlaps the range,
    /// else [`MapError::Overlap`](crate::MapError::Overlap). *O*(log n).
    pub(crate) fn check_free(&self, start: usize, end: usize) -> crate::MapResult<Successor> {
        match self.tree.lower_bound(start) {
            Some(n) if n.start() < end => Err(crate::MapError::Overlap { start, end }),
            next => Ok(next.map(Node::ptr)),
        }
    }
}
