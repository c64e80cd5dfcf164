//! Every peer behind one interface: [`Lookup`] for the `find` yardsticks,
//! [`Vm`] for the maps that do `mmap`/`munmap`/`mprotect`.
//!
//! Each method is the peer's own public operation, called the way its
//! users would call it; where a peer lacks an operation the comment on the
//! impl says what stands in for it.
//!
//! The lookups of the peers are `#[inline]`: the bench binaries call them
//! across the crate boundary, and a call would tax a yardstick's few
//! hundred instructions where this crate's generic code is inlined anyway.

use std::collections::BTreeMap;

use memory_addr::AddrRange;
use memory_set::{MappingBackend, MemoryArea, MemorySet};
use range_action_map::intrusive_collections::{
    intrusive_adapter, Bound, KeyAdapter, RBTree, RBTreeLink,
};
use range_action_map::{Placement, RangeActionMap};

use super::baseline;
use super::ours::Config;

/// Lowest address any peer may use.
pub const LOWER: usize = 0x1000;

/// A free-area request, as the workloads and the replay make it.
#[derive(Clone, Copy, Debug)]
pub struct Request {
    /// Bytes to place.
    pub len: usize,
    /// Alignment of the start (a power of two; 1 for none).
    pub align: usize,
    /// Bottom-up: the lowest start (the seed's hint). Top-down: ignored.
    pub hint: usize,
    /// Top-down: the highest end. Bottom-up: ignored.
    pub high: usize,
    /// Search from the top.
    pub top_down: bool,
}

/// A map that answers "which segment holds `addr`?".
pub trait Lookup: Sized {
    /// Name in tables.
    const NAME: &'static str;
    /// A map holding the disjoint, sorted `spans`.
    fn build(spans: &[(usize, usize)]) -> Self;
    /// The start of the segment holding `addr`.
    fn find(&self, addr: usize) -> Option<usize>;
    /// A map aged by `steps` (random insertions and removals), or `None`
    /// for a peer whose removal costs *O*(n): aging one takes *O*(n²).
    fn age(_steps: &[Step]) -> Option<Self> {
        None
    }
}

/// One step of an aging history.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// Map `[start, end)`, which is free.
    Map(usize, usize),
    /// Unmap `[start, end)`, which is one segment.
    Unmap(usize, usize),
}

/// A map with the VM verbs. Protection bits are `u32`.
pub trait Vm: Lookup {
    /// Whether the peer can search top-down.
    const TOP_DOWN: bool = true;
    /// Whether `unmap`, `mprotect` and free-area search cost *O*(n).
    const LINEAR: bool = true;
    /// An empty map for up to `capacity` segments.
    fn with_capacity(capacity: usize) -> Self;
    /// Maps `[start, end)` only if it is free; `false` if it is not.
    fn insert(&mut self, start: usize, end: usize, prot: u32) -> bool;
    /// Maps `[start, end)`, replacing what is there.
    fn map_fixed(&mut self, start: usize, end: usize, prot: u32);
    /// Unmaps `[start, end)`.
    fn unmap(&mut self, start: usize, end: usize);
    /// Re-protects the mapped parts of `[start, end)`.
    fn mprotect(&mut self, start: usize, end: usize, prot: u32);
    /// Maps `req.len` bytes where the peer's search puts them.
    fn place(&mut self, req: &Request, prot: u32) -> Option<usize>;
    /// Protection of the segment holding `addr`.
    fn prot_at(&self, addr: usize) -> Option<u32>;
    /// Number of segments overlapping `[start, end)`.
    fn count_overlapping(&self, start: usize, end: usize) -> usize;
    /// Every segment as `(start, end, prot)`, in order.
    fn spans(&self) -> Vec<(usize, usize, u32)>;
    /// Removes every segment.
    fn clear(&mut self);
    /// Number of segments.
    fn len(&self) -> usize;
    /// Whether there is no segment.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Builds a [`Vm`] peer by inserting `spans` (read-write) one by one.
pub fn build_vm<P: Vm>(spans: &[(usize, usize)]) -> P {
    let mut map = P::with_capacity(spans.len() + POOL_HEADROOM);
    for &(start, end) in spans {
        let inserted = map.insert(start, end, RW);
        debug_assert!(inserted, "layout spans overlap at {start:#x}");
    }
    map
}

/// Nodes a pool keeps beyond the segments it starts with, for the splits
/// of `mprotect` and partial `unmap`.
pub const POOL_HEADROOM: usize = 256;
/// `PROT_READ | PROT_WRITE`.
pub const RW: u32 = 3;
/// `PROT_READ`.
pub const RO: u32 = 1;

// === impl Vm for this crate ===

/// This crate in configuration `C`.
pub struct Ours<C: Config> {
    map: RangeActionMap<C::Adapter>,
}

impl<C: Config> Ours<C> {
    /// Runs `op` with a fresh node, which the map keeps if `op` took it and
    /// which goes back to the configuration otherwise.
    fn with_node<R>(
        &mut self,
        prot: u32,
        op: impl FnOnce(
            &mut RangeActionMap<C::Adapter>,
            &mut Option<range_action_map::OwnedOf<C::Adapter>>,
        ) -> R,
    ) -> R {
        let mut node = C::node(self.map.args_mut(), prot);
        let result = op(&mut self.map, &mut node);
        if let Some(node) = node {
            C::recycle(self.map.args_mut(), node);
        }
        result
    }
}

impl<C: Config> Lookup for Ours<C> {
    const NAME: &'static str = C::NAME;

    fn build(spans: &[(usize, usize)]) -> Self {
        build_vm(spans)
    }

    fn age(steps: &[Step]) -> Option<Self> {
        // The pool needs a node for each segment live at once: at most
        // the mappings of the history.
        let maps = steps.iter().filter(|s| matches!(s, Step::Map(..))).count();
        let mut map = Self::with_capacity(maps + POOL_HEADROOM);
        for &step in steps {
            match step {
                Step::Map(start, end) => {
                    let inserted = map.insert(start, end, RW);
                    debug_assert!(inserted, "aging maps {start:#x} twice");
                }
                Step::Unmap(start, end) => map.unmap(start, end),
            }
        }
        Some(map)
    }

    fn find(&self, addr: usize) -> Option<usize> {
        self.map.find(addr).map(|s| self.map.range_of(s).start)
    }
}

impl<C: Config> Vm for Ours<C> {
    const LINEAR: bool = false;

    fn with_capacity(capacity: usize) -> Self {
        Ours {
            map: RangeActionMap::new(C::args(capacity)),
        }
    }

    fn insert(&mut self, start: usize, end: usize, prot: u32) -> bool {
        self.with_node(prot, |map, node| match node.take() {
            Some(n) => match map.mmap_fixed_noreplace(start, end, n) {
                Ok(_) => true,
                Err(refused) => {
                    *node = Some(refused.node);
                    false
                }
            },
            None => false,
        })
    }

    fn map_fixed(&mut self, start: usize, end: usize, prot: u32) {
        self.with_node(prot, |map, node| {
            let mapped = map.mmap_fixed(start, end, || node.take().expect("node pool exhausted"));
            debug_assert!(mapped.is_ok(), "mmap_fixed {start:#x}..{end:#x}");
        });
    }

    fn unmap(&mut self, start: usize, end: usize) {
        let unmapped = self.map.unmap(start, end);
        debug_assert!(unmapped.is_ok(), "unmap {start:#x}..{end:#x}");
    }

    fn mprotect(&mut self, start: usize, end: usize, prot: u32) {
        let protected = self.map.mprotect(start, end, C::flags(prot));
        debug_assert!(protected.is_ok(), "mprotect {start:#x}..{end:#x}");
    }

    fn place(&mut self, req: &Request, prot: u32) -> Option<usize> {
        let placement = Placement::new(req.len).align(req.align);
        let placement = if req.top_down {
            placement.window(LOWER, req.high).top_down()
        } else {
            placement.window(req.hint, usize::MAX)
        };
        self.with_node(prot, |map, node| match node {
            Some(_) => map
                .mmap_placed(&placement, |_| node.take().expect("taken once"))
                .ok(),
            None => None,
        })
    }

    fn prot_at(&self, addr: usize) -> Option<u32> {
        self.map.find(addr).map(C::prot)
    }

    fn count_overlapping(&self, start: usize, end: usize) -> usize {
        self.map.overlapping(start, end).count()
    }

    fn spans(&self) -> Vec<(usize, usize, u32)> {
        self.map
            .iter()
            .map(|s| {
                let range = self.map.range_of(s);
                (range.start, range.end, C::prot(s))
            })
            .collect()
    }

    fn clear(&mut self) {
        self.map.clear();
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

// === impl Vm for memory_set ===

/// A `memory_set` backend that maps nothing: only the set's own
/// bookkeeping is measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct NopBackend;

impl MappingBackend for NopBackend {
    type Addr = usize;
    type Flags = u32;
    type PageTable = ();

    fn map(&self, _start: usize, _size: usize, _flags: u32, _: &mut ()) -> bool {
        true
    }

    fn unmap(&self, _start: usize, _size: usize, _: &mut ()) -> bool {
        true
    }

    fn protect(&self, _start: usize, _size: usize, _flags: u32, _: &mut ()) -> bool {
        true
    }
}

/// `memory_set` 0.4.1. It has no top-down search and no range iteration
/// (`iter` from the first area stands in for the latter).
pub type MemSet = MemorySet<NopBackend>;

impl Lookup for MemSet {
    const NAME: &'static str = "memory_set";

    fn build(spans: &[(usize, usize)]) -> Self {
        build_vm(spans)
    }

    #[inline]
    fn find(&self, addr: usize) -> Option<usize> {
        MemorySet::find(self, addr).map(MemoryArea::start)
    }
}

impl Vm for MemSet {
    const TOP_DOWN: bool = false;

    fn with_capacity(_capacity: usize) -> Self {
        MemorySet::new()
    }

    fn insert(&mut self, start: usize, end: usize, prot: u32) -> bool {
        self.map(
            MemoryArea::new(start, end - start, prot, NopBackend),
            &mut (),
            false,
        )
        .is_ok()
    }

    fn map_fixed(&mut self, start: usize, end: usize, prot: u32) {
        let mapped = self.map(
            MemoryArea::new(start, end - start, prot, NopBackend),
            &mut (),
            true,
        );
        debug_assert!(mapped.is_ok(), "map {start:#x}..{end:#x}");
    }

    fn unmap(&mut self, start: usize, end: usize) {
        let unmapped = MemorySet::unmap(self, start, end - start, &mut ());
        debug_assert!(unmapped.is_ok(), "unmap {start:#x}..{end:#x}");
    }

    fn mprotect(&mut self, start: usize, end: usize, prot: u32) {
        let protected = self.protect(start, end - start, |_| Some(prot), &mut ());
        debug_assert!(protected.is_ok(), "protect {start:#x}..{end:#x}");
    }

    fn place(&mut self, req: &Request, prot: u32) -> Option<usize> {
        let start = self.find_free_area(
            req.hint,
            req.len,
            AddrRange::new(LOWER, usize::MAX),
            req.align,
        )?;
        self.insert(start, start + req.len, prot).then_some(start)
    }

    fn prot_at(&self, addr: usize) -> Option<u32> {
        MemorySet::find(self, addr).map(MemoryArea::flags)
    }

    fn count_overlapping(&self, start: usize, end: usize) -> usize {
        self.iter()
            .skip_while(|a| a.end() <= start)
            .take_while(|a| a.start() < end)
            .count()
    }

    fn spans(&self) -> Vec<(usize, usize, u32)> {
        self.iter()
            .map(|a| (a.start(), a.end(), a.flags()))
            .collect()
    }

    fn clear(&mut self) {
        let cleared = MemorySet::clear(self, &mut ());
        debug_assert!(cleared.is_ok());
    }

    fn len(&self) -> usize {
        MemorySet::len(self)
    }
}

// === impl Vm for ax-memory-set ===

/// An `ax-memory-set` backend that maps nothing, as [`NopBackend`] for
/// `memory_set`.
#[derive(Clone, Copy, Debug, Default)]
pub struct AxNopBackend;

impl ax_memory_set::MappingBackend for AxNopBackend {
    type Addr = usize;
    type Flags = u32;
    type MutationContext = ();
    type PageTable = ();

    fn map(&self, _start: usize, _size: usize, _flags: u32, _: &mut (), _: &mut ()) -> bool {
        true
    }

    fn unmap(&self, _start: usize, _size: usize, _: &mut (), _: &mut ()) -> bool {
        true
    }

    fn protect(&self, _start: usize, _size: usize, _flags: u32, _: &mut (), _: &mut ()) -> bool {
        true
    }

    fn split(&mut self, _align_diff: usize) -> Option<Self> {
        Some(*self)
    }
}

/// `ax-memory-set` 0.8.0, `memory_set`'s successor: the same `BTreeMap`
/// and linear scans, and a transactional `unmap` that prepares the new
/// area map on a copy of the old one (so each `unmap`, and each replacing
/// `map`, copies the whole map). No top-down search; `iter` from the first
/// area stands in for range iteration.
pub type AxMemSet = ax_memory_set::MemorySet<AxNopBackend>;

/// An `ax-memory-set` area of `[start, end)`.
fn ax_area(start: usize, end: usize, prot: u32) -> ax_memory_set::MemoryArea<AxNopBackend> {
    ax_memory_set::MemoryArea::new(start, end - start, prot, AxNopBackend)
}

impl Lookup for AxMemSet {
    const NAME: &'static str = "ax-memory-set";

    fn build(spans: &[(usize, usize)]) -> Self {
        build_vm(spans)
    }

    #[inline]
    fn find(&self, addr: usize) -> Option<usize> {
        ax_memory_set::MemorySet::find(self, addr).map(ax_memory_set::MemoryArea::start)
    }
}

impl Vm for AxMemSet {
    const TOP_DOWN: bool = false;

    fn with_capacity(_capacity: usize) -> Self {
        ax_memory_set::MemorySet::new()
    }

    fn insert(&mut self, start: usize, end: usize, prot: u32) -> bool {
        self.map(ax_area(start, end, prot), &mut (), &mut (), false)
            .is_ok()
    }

    fn map_fixed(&mut self, start: usize, end: usize, prot: u32) {
        let mapped = self.map(ax_area(start, end, prot), &mut (), &mut (), true);
        debug_assert!(mapped.is_ok(), "map {start:#x}..{end:#x}");
    }

    fn unmap(&mut self, start: usize, end: usize) {
        let unmapped = ax_memory_set::MemorySet::unmap(self, start, end - start, &mut (), &mut ());
        debug_assert!(unmapped.is_ok(), "unmap {start:#x}..{end:#x}");
    }

    fn mprotect(&mut self, start: usize, end: usize, prot: u32) {
        let protected = self.protect(start, end - start, |_| Some(prot), &mut (), &mut ());
        debug_assert!(protected.is_ok(), "protect {start:#x}..{end:#x}");
    }

    fn place(&mut self, req: &Request, prot: u32) -> Option<usize> {
        // Its search wants the length a multiple of the alignment; every
        // request of the workloads is.
        let start = self.find_free_area(
            req.hint,
            req.len,
            ax_memory_addr::AddrRange::new(LOWER, usize::MAX),
            req.align,
        )?;
        self.insert(start, start + req.len, prot).then_some(start)
    }

    fn prot_at(&self, addr: usize) -> Option<u32> {
        ax_memory_set::MemorySet::find(self, addr).map(ax_memory_set::MemoryArea::flags)
    }

    fn count_overlapping(&self, start: usize, end: usize) -> usize {
        self.iter()
            .skip_while(|a| a.end() <= start)
            .take_while(|a| a.start() < end)
            .count()
    }

    fn spans(&self) -> Vec<(usize, usize, u32)> {
        self.iter()
            .map(|a| (a.start(), a.end(), a.flags()))
            .collect()
    }

    fn clear(&mut self) {
        let cleared = ax_memory_set::MemorySet::clear(self, &mut (), &mut ());
        debug_assert!(cleared.is_ok());
    }

    fn len(&self) -> usize {
        ax_memory_set::MemorySet::len(self)
    }
}

// === impl Vm for the baseline ===

/// A baseline segment: its protection bits.
#[derive(Clone, Copy, Debug)]
pub struct BaseSeg(u32);

impl baseline::Segment for BaseSeg {
    fn remove(&mut self, _args: usize) {}

    fn split(&mut self, _pos: usize, _args: usize) -> Self {
        *self
    }

    fn modify(&mut self, flags: usize, _args: usize) {
        // Flags come from `Vm::mprotect`'s `u32`, so they fit.
        self.0 = flags as u32;
    }
}

/// The original algorithm ([`baseline`]). `insert` checks for
/// overlap with its range walk before `insert_raw` (the original offers
/// only the replacing `mmap_fixed`).
pub type Baseline = baseline::RangeActionMap<BaseSeg>;

impl Lookup for Baseline {
    const NAME: &'static str = "baseline";

    fn build(spans: &[(usize, usize)]) -> Self {
        build_vm(spans)
    }

    #[inline]
    fn find(&self, addr: usize) -> Option<usize> {
        baseline::RangeActionMap::find(self, addr).map(|(start, _)| start)
    }
}

impl Vm for Baseline {
    fn with_capacity(_capacity: usize) -> Self {
        baseline::RangeActionMap::new(0)
    }

    fn insert(&mut self, start: usize, end: usize, prot: u32) -> bool {
        let free = self.overlapping(start, end).next().is_none();
        if free {
            self.insert_raw(start, end, BaseSeg(prot));
        }
        free
    }

    fn map_fixed(&mut self, start: usize, end: usize, prot: u32) {
        let mapped = self.mmap_fixed(start, end, BaseSeg(prot), |_, _| {});
        debug_assert!(mapped.is_some(), "mmap_fixed {start:#x}..{end:#x}");
    }

    fn unmap(&mut self, start: usize, end: usize) {
        baseline::RangeActionMap::unmap(self, start, end);
    }

    fn mprotect(&mut self, start: usize, end: usize, prot: u32) {
        baseline::RangeActionMap::mprotect(self, start, end, prot as usize);
    }

    fn place(&mut self, req: &Request, prot: u32) -> Option<usize> {
        let start = if req.top_down {
            self.find_free_area_top_down(req.high, req.len, req.align)?
        } else if req.align > 1 {
            self.find_free_area_aligned(req.hint, req.len, req.align)?
        } else {
            return self.mmap_anywhere(req.hint, req.len, BaseSeg(prot), |_, _| {});
        };
        self.insert_raw(start, start + req.len, BaseSeg(prot));
        Some(start)
    }

    fn prot_at(&self, addr: usize) -> Option<u32> {
        baseline::RangeActionMap::find(self, addr).map(|(_, s)| s.0)
    }

    fn count_overlapping(&self, start: usize, end: usize) -> usize {
        self.overlapping(start, end).count()
    }

    fn spans(&self) -> Vec<(usize, usize, u32)> {
        self.overlapping(0, usize::MAX)
            .map(|(start, end, s)| (start, end, s.0))
            .collect()
    }

    fn clear(&mut self) {
        baseline::RangeActionMap::clear(self);
    }

    fn len(&self) -> usize {
        baseline::RangeActionMap::len(self)
    }
}

// === impl Lookup for the find yardsticks ===

/// `std::collections::BTreeMap` from start to end: `range(..=addr)` from
/// the back.
pub type StdBTree = BTreeMap<usize, usize>;

impl Lookup for StdBTree {
    const NAME: &'static str = "BTreeMap";

    fn build(spans: &[(usize, usize)]) -> Self {
        spans.iter().copied().collect()
    }

    fn age(steps: &[Step]) -> Option<Self> {
        let mut map = BTreeMap::new();
        for &step in steps {
            match step {
                Step::Map(start, end) => map.insert(start, end),
                Step::Unmap(start, _) => map.remove(&start),
            };
        }
        Some(map)
    }

    #[inline]
    fn find(&self, addr: usize) -> Option<usize> {
        match self.range(..=addr).next_back() {
            Some((&start, &end)) if end > addr => Some(start),
            _ => None,
        }
    }
}

/// A node of [`IntrusiveRb`].
pub struct RbNode {
    link: RBTreeLink,
    start: usize,
    end: usize,
}

intrusive_adapter!(RbAdapter = Box<RbNode>: RbNode { link: RBTreeLink });

impl<'a> KeyAdapter<'a> for RbAdapter {
    type Key = usize;
    #[inline]
    fn get_key(&self, node: &'a RbNode) -> usize {
        node.start
    }
}

/// An `intrusive-collections` red-black tree keyed by start, without
/// augmentation: `upper_bound(Included(addr))`.
pub struct IntrusiveRb(RBTree<RbAdapter>);

impl Lookup for IntrusiveRb {
    const NAME: &'static str = "RBTree";

    fn build(spans: &[(usize, usize)]) -> Self {
        let mut tree = RBTree::new(RbAdapter::new());
        for &(start, end) in spans {
            tree.insert(Box::new(RbNode {
                link: RBTreeLink::new(),
                start,
                end,
            }));
        }
        IntrusiveRb(tree)
    }

    fn age(steps: &[Step]) -> Option<Self> {
        let mut tree = RBTree::new(RbAdapter::new());
        for &step in steps {
            match step {
                Step::Map(start, end) => {
                    tree.insert(Box::new(RbNode {
                        link: RBTreeLink::new(),
                        start,
                        end,
                    }));
                }
                Step::Unmap(start, _) => {
                    tree.find_mut(&start).remove();
                }
            }
        }
        Some(IntrusiveRb(tree))
    }

    #[inline]
    fn find(&self, addr: usize) -> Option<usize> {
        let node = self.0.upper_bound(Bound::Included(&addr)).get()?;
        (node.end > addr).then_some(node.start)
    }
}
