//! The link a segment embeds to live in the tree, and its `LinkOps`.

use core::fmt;
use core::ops::Range;
use core::ptr::{self, NonNull};
use core::sync::atomic::Ordering::{self, Relaxed};
use core::sync::atomic::{AtomicPtr, AtomicUsize};

use intrusive_collections::{DefaultLinkOps, LinkOps};

/// A pointer to a link in the tree.
pub(crate) type LinkPtr = NonNull<RangeLink>;

/// Colour bit of `parent_color` (bit 0).
const BLACK: usize = 1;
/// Colour bit value of a red node.
const RED: usize = 0;
/// Address of `parent_color` in a link that is in no tree. It cannot be a
/// real value: parents are at least 4-aligned (asserted below), so a linked
/// link only ever has bit 0 (the colour) set among the low two bits.
const UNLINKED: usize = 0b10;

/// The part of a segment that the tree owns: red-black pointers, the
/// segment's range, and the augmentation of the subtree below it.
///
/// Embed one in your segment type and name it in
/// [`range_adapter!`](crate::range_adapter) (or in
/// [`intrusive_adapter!`](intrusive_collections::intrusive_adapter), which
/// does not check that the field it names is a `RangeLink`):
///
/// ```
/// use range_action_map::{range_adapter, RangeLink};
///
/// struct Vma {
///     link: RangeLink,
///     name: &'static str,
/// }
/// range_adapter!(VmaAdapter = Box<Vma>: Vma { link });
///
/// let vma = Vma { link: RangeLink::new(), name: "heap" };
/// assert!(!vma.link.is_linked());
/// ```
///
/// The range of a linked segment is read with [`start`](Self::start),
/// [`end`](Self::end) or [`range`](Self::range); only the map changes it.
///
/// # Invariants
///
/// While the link is in a tree (`is_linked()`):
///
/// - `parent_color` holds the parent's address (0 for the root) ORed with the
///   colour bit, `children` point to valid links of the same tree;
/// - `start < end`, and the augmented fields `min_start`, `max_end` and
///   `subtree_gap` are exact for the subtree rooted here (see
///   the `subtree_gap` field below).
///
/// While it is not, `parent_color == UNLINKED` and no tree points to it.
///
/// # Layout
///
/// Eight words, `repr(C)`, what a lookup reads first: the two children,
/// `start` and `end` fill the first 32 bytes, the parent pointer and the
/// augmentation (read by updates and free-area searches) the last 32. A
/// segment type with the link first and 32-byte alignment
/// (`#[repr(C, align(32))]`) keeps a lookup to one cache line per node
/// wherever the allocator puts it, at the price of padding (a link and one
/// word: 72 bytes become 96). The link does not force that alignment on
/// every user: measured with `Box` nodes, it made lookups no faster and
/// allocation slower (`benches/REPORT.md`).
///
/// Every field is an atomic, read and written with relaxed ordering (plain
/// loads and stores on the usual targets), so the link is `Sync` and a
/// segment made of `Sync` parts can be shared between CPUs; linking it is a
/// compare-and-swap, so two maps can never both take it.
#[repr(C)]
pub struct RangeLink {
    /// Left and right child (null for none). An array, so that a lookup
    /// picks the next node by indexing with a comparison instead of
    /// branching on it.
    children: [AtomicPtr<RangeLink>; 2],
    start: AtomicUsize,
    end: AtomicUsize,
    /// Parent pointer with the colour packed into bit 0 (kept a pointer, not
    /// an integer, so that provenance survives: strict-provenance clean).
    parent_color: AtomicPtr<RangeLink>,
    /// Lowest `start` in the subtree (the leftmost node's start).
    min_start: AtomicUsize,
    /// Highest `end` in the subtree (the rightmost node's end).
    max_end: AtomicUsize,
    /// Largest hole between two consecutive nodes of the subtree:
    ///
    /// ```text
    /// subtree_gap(n) = max(subtree_gap(n.left), subtree_gap(n.right),
    ///                      n.start - max_end(n.left),
    ///                      min_start(n.right) - n.end)
    /// ```
    ///
    /// with absent children contributing nothing (0 for a leaf). It depends on
    /// the node and its two children only, so rotations need no neighbours.
    subtree_gap: AtomicUsize,
}

static_assertions::assert_eq_size!(RangeLink, [usize; 8]);
static_assertions::const_assert!(core::mem::align_of::<RangeLink>() >= 4);
// The fields a lookup reads share the first 32 bytes (see "Layout").
static_assertions::const_assert!(
    core::mem::offset_of!(RangeLink, end) + core::mem::size_of::<usize>() <= 32
);

// SAFETY: the raw pointers inside a link are only followed by the tree that
// owns the link, and a tree is moved together with all its links (the owner of
// a linked node is the map). An unlinked link holds no pointer that is used.
unsafe impl Send for RangeLink {}

// SAFETY: every field is an atomic, so no access through `&RangeLink` is a
// data race. Beyond that, the tree keeps writers apart from readers: it
// writes a link only while it holds the `&mut` of the map the link is in (no
// reader of that map exists then), or, for a link entering a map, after
// `acquire_link` won the compare-and-swap that marks it linked (so one map
// at most writes it). A reader outside any map (a segment's owner calling
// `range()` on a `&'static` segment that another thread is linking) sees
// some value each field had; it cannot see a torn or undefined one.
unsafe impl Sync for RangeLink {}

impl RangeLink {
    /// A link that is in no tree.
    pub const fn new() -> Self {
        RangeLink {
            children: [
                AtomicPtr::new(ptr::null_mut()),
                AtomicPtr::new(ptr::null_mut()),
            ],
            start: AtomicUsize::new(0),
            end: AtomicUsize::new(0),
            parent_color: AtomicPtr::new(ptr::without_provenance_mut(UNLINKED)),
            min_start: AtomicUsize::new(0),
            max_end: AtomicUsize::new(0),
            subtree_gap: AtomicUsize::new(0),
        }
    }

    /// Whether the link is currently in a map.
    #[inline]
    pub fn is_linked(&self) -> bool {
        self.parent_color.load(Relaxed).addr() != UNLINKED
    }

    /// First address of the segment (meaningful while linked).
    #[inline]
    pub fn start(&self) -> usize {
        self.start.load(Relaxed)
    }

    /// One past the last address of the segment (meaningful while linked).
    #[inline]
    pub fn end(&self) -> usize {
        self.end.load(Relaxed)
    }

    /// The half-open range `start..end` of the segment.
    #[inline]
    pub fn range(&self) -> Range<usize> {
        self.start()..self.end()
    }

    /// Whether `addr` lies in `[start, end)`.
    #[inline]
    pub fn contains(&self, addr: usize) -> bool {
        self.start() <= addr && addr < self.end()
    }

    // === raw accessors for the tree ===

    #[inline]
    pub(crate) fn parent_ptr(&self) -> Option<LinkPtr> {
        NonNull::new(self.parent_color.load(Relaxed).map_addr(|a| a & !BLACK))
    }

    #[inline]
    pub(crate) fn is_black(&self) -> bool {
        self.parent_color.load(Relaxed).addr() & BLACK != 0
    }

    #[inline]
    pub(crate) fn is_red(&self) -> bool {
        !self.is_black()
    }

    #[inline]
    pub(crate) fn parent_color_raw(&self) -> *mut RangeLink {
        self.parent_color.load(Relaxed)
    }

    #[inline]
    pub(crate) fn set_parent_color_raw(&self, value: *mut RangeLink) {
        self.parent_color.store(value, Relaxed);
    }

    #[inline]
    pub(crate) fn set_parent_color_ptr(&self, parent: Option<LinkPtr>, black: bool) {
        let parent = parent.map_or(ptr::null_mut(), NonNull::as_ptr);
        let color = if black { BLACK } else { RED };
        self.parent_color
            .store(parent.map_addr(|a| a | color), Relaxed);
    }

    #[inline]
    pub(crate) fn set_parent_ptr(&self, parent: Option<LinkPtr>) {
        self.set_parent_color_ptr(parent, self.is_black());
    }

    #[inline]
    pub(crate) fn set_black(&self) {
        self.set_parent_color_raw(self.parent_color_raw().map_addr(|a| a | BLACK));
    }

    #[inline]
    pub(crate) fn set_red(&self) {
        self.set_parent_color_raw(self.parent_color_raw().map_addr(|a| a & !BLACK));
    }

    /// The right child if `right`, else the left one.
    #[inline]
    pub(crate) fn child_ptr(&self, right: bool) -> Option<LinkPtr> {
        NonNull::new(self.children[usize::from(right)].load(Relaxed))
    }

    #[inline]
    pub(crate) fn left_ptr(&self) -> Option<LinkPtr> {
        self.child_ptr(false)
    }

    #[inline]
    pub(crate) fn right_ptr(&self) -> Option<LinkPtr> {
        self.child_ptr(true)
    }

    #[inline]
    pub(crate) fn set_left_ptr(&self, child: Option<LinkPtr>) {
        self.set_child_ptr(false, child);
    }

    #[inline]
    pub(crate) fn set_right_ptr(&self, child: Option<LinkPtr>) {
        self.set_child_ptr(true, child);
    }

    #[inline]
    fn set_child_ptr(&self, right: bool, child: Option<LinkPtr>) {
        let child = child.map_or(ptr::null_mut(), NonNull::as_ptr);
        self.children[usize::from(right)].store(child, Relaxed);
    }

    #[inline]
    pub(crate) fn set_range(&self, start: usize, end: usize) {
        self.start.store(start, Relaxed);
        self.end.store(end, Relaxed);
    }

    #[inline]
    pub(crate) fn min_start(&self) -> usize {
        self.min_start.load(Relaxed)
    }

    #[inline]
    pub(crate) fn max_end(&self) -> usize {
        self.max_end.load(Relaxed)
    }

    #[inline]
    pub(crate) fn subtree_gap(&self) -> usize {
        self.subtree_gap.load(Relaxed)
    }

    #[inline]
    pub(crate) fn set_augment(&self, (min_start, max_end, gap): (usize, usize, usize)) {
        self.min_start.store(min_start, Relaxed);
        self.max_end.store(max_end, Relaxed);
        self.subtree_gap.store(gap, Relaxed);
    }

    #[inline]
    pub(crate) fn augment(&self) -> (usize, usize, usize) {
        (self.min_start(), self.max_end(), self.subtree_gap())
    }

    /// Puts the link back in the unlinked state (tree pointers forgotten).
    #[inline]
    pub(crate) fn mark_unlinked(&self) {
        self.set_parent_color_raw(ptr::without_provenance_mut(UNLINKED));
        self.set_left_ptr(None);
        self.set_right_ptr(None);
    }

    /// Puts a fresh node in the "linked leaf" state before it is attached.
    #[inline]
    pub(crate) fn reset_as_leaf(&self) {
        self.set_left_ptr(None);
        self.set_right_ptr(None);
        self.set_augment((self.start(), self.end(), 0));
    }
}

impl Default for RangeLink {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RangeLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_linked() {
            write!(f, "RangeLink({:#x}..{:#x})", self.start(), self.end())
        } else {
            f.write_str("RangeLink(unlinked)")
        }
    }
}

/// The [`LinkOps`] of [`RangeLink`], used by adapters declared with
/// [`intrusive_adapter!`](intrusive_collections::intrusive_adapter).
#[derive(Clone, Copy, Default, Debug)]
pub struct RangeLinkOps;

// SAFETY: `acquire_link` hands a link out only when it is unlinked, and marks
// it linked in one compare-and-swap, so a link is in at most one map at a
// time even when two threads link the same `&'static` segment at once;
// `release_link` never panics.
unsafe impl LinkOps for RangeLinkOps {
    type LinkPtr = LinkPtr;

    unsafe fn acquire_link(&mut self, ptr: Self::LinkPtr) -> bool {
        // SAFETY: the caller passes a pointer to a live link.
        let link = unsafe { ptr.as_ref() };
        let unlinked = ptr::without_provenance_mut(UNLINKED);
        // A black root with no parent: linked, and what insertion expects.
        let linked = ptr::without_provenance_mut(BLACK);
        link.parent_color
            .compare_exchange(unlinked, linked, Ordering::Acquire, Relaxed)
            .is_ok()
    }

    unsafe fn release_link(&mut self, ptr: Self::LinkPtr) {
        // SAFETY: the caller passes a pointer to a live link it acquired.
        unsafe { ptr.as_ref() }.mark_unlinked();
    }
}

impl DefaultLinkOps for RangeLink {
    type Ops = RangeLinkOps;

    const NEW: Self::Ops = RangeLinkOps;
}
