//! This crate in the two configurations the benches compare: nodes in
//! `Box`es (what an ordinary user writes) and nodes handed out by a
//! preallocated slab through `UnsafeRef` (what a kernel does: no heap
//! allocation on any operation).

use std::cell::Cell;
use std::marker::PhantomData;

use range_action_map::intrusive_collections::UnsafeRef;
use range_action_map::{
    AllocError, ArgsOf, FlagsOf, OwnedOf, RangeAdapter, RangeLink, Segment, SegmentOf,
};

/// A virtual-memory area: the link and the protection bits. `K` picks the
/// configuration ([`Boxed`] or [`Pooled`]) and so the owning pointer.
pub struct Vma<K> {
    link: RangeLink,
    prot: Cell<u32>,
    kind: PhantomData<K>,
}

impl<K> Vma<K> {
    /// An unlinked area with protection `prot`.
    fn new(prot: u32) -> Self {
        Vma {
            link: RangeLink::new(),
            prot: Cell::new(prot),
            kind: PhantomData,
        }
    }

    /// The protection bits.
    pub fn prot(&self) -> u32 {
        self.prot.get()
    }
}

/// Marker of the `Box` configuration.
pub enum Boxed {}
/// Marker of the slab configuration.
pub enum Pooled {}

pub use adapters::{BoxAdapter, PoolAdapter};

mod adapters {
    //! The adapters of the two configurations, apart because the macro
    //! gives their `NEW` and `new` no docs.
    #![allow(missing_docs)]

    use range_action_map::intrusive_collections::{intrusive_adapter, UnsafeRef};
    use range_action_map::RangeLink;

    use super::{Boxed, Pooled, Vma};

    intrusive_adapter!(pub BoxAdapter = Box<Vma<Boxed>>: Vma<Boxed> { link: RangeLink });
    intrusive_adapter!(pub PoolAdapter = UnsafeRef<Vma<Pooled>>: Vma<Pooled> { link: RangeLink });
}

impl Segment for Vma<Boxed> {
    type Args = ();
    type Flags = u32;
    type Pointer = Box<Vma<Boxed>>;

    fn remove(&self, _: &mut ()) {}

    fn shrink(&self, _start: usize, _end: usize, _: &mut ()) {}

    fn split(&self, _pos: usize, _: &mut ()) -> Box<Vma<Boxed>> {
        Box::new(Vma::new(self.prot()))
    }

    fn modify(&self, prot: u32, _: &mut ()) {
        self.prot.set(prot);
    }
}

/// A fixed pool of [`Vma`] nodes allocated once, with a free stack: the
/// map's `Args`, so that `split` and `release` take and give back nodes.
///
/// # Invariants
///
/// `nodes` never moves or shrinks while the slab lives, and every pointer
/// in `free` points into it, to a node that is in no map.
pub struct Slab {
    nodes: Box<[Vma<Pooled>]>,
    free: Vec<UnsafeRef<Vma<Pooled>>>,
}

impl Slab {
    /// Allocations [`Slab::with_capacity`] makes: the nodes and the free
    /// stack.
    pub const ALLOCS: usize = 2;

    /// A slab of `capacity` nodes, all free. The only allocations the pool
    /// configuration ever makes.
    pub fn with_capacity(capacity: usize) -> Self {
        let nodes: Box<[Vma<Pooled>]> = (0..capacity).map(|_| Vma::new(0)).collect();
        let free = nodes
            .iter()
            .rev()
            .map(|n| {
                // SAFETY: each pointer comes from a live element of `nodes`,
                // whose heap block lives as long as the slab (type invariant).
                unsafe { UnsafeRef::from_raw(n) }
            })
            .collect();
        // INVARIANT: every node is free and `free` points into `nodes`.
        Slab { nodes, free }
    }

    /// A free node with protection `prot`, or `None` when all are in use.
    pub fn take(&mut self, prot: u32) -> Option<UnsafeRef<Vma<Pooled>>> {
        let node = self.free.pop()?;
        node.prot.set(prot);
        Some(node)
    }

    /// Gives a node back to the pool.
    pub fn give(&mut self, node: UnsafeRef<Vma<Pooled>>) {
        debug_assert!(
            self.nodes.as_ptr_range().contains(&(&*node as *const _)),
            "inconsistent state: a node that is not from this slab"
        );
        // Never reallocates: at most `capacity` nodes are ever free.
        self.free.push(node);
    }
}

impl Segment for Vma<Pooled> {
    type Args = Slab;
    type Flags = u32;
    type Pointer = UnsafeRef<Vma<Pooled>>;

    fn remove(&self, _: &mut Slab) {}

    fn shrink(&self, _start: usize, _end: usize, _: &mut Slab) {}

    fn split(&self, pos: usize, slab: &mut Slab) -> UnsafeRef<Vma<Pooled>> {
        match self.try_split(pos, slab) {
            Ok(node) => node,
            Err(e) => panic!("split at {pos:#x}: {e}"),
        }
    }

    fn try_split(
        &self,
        _pos: usize,
        slab: &mut Slab,
    ) -> Result<UnsafeRef<Vma<Pooled>>, AllocError> {
        slab.take(self.prot()).ok_or(AllocError)
    }

    fn modify(&self, prot: u32, _: &mut Slab) {
        self.prot.set(prot);
    }

    fn release(node: UnsafeRef<Vma<Pooled>>, slab: &mut Slab) {
        slab.give(node);
    }
}

/// What differs between the two configurations: where nodes come from.
pub trait Config: 'static {
    /// Peer name in tables.
    const NAME: &'static str;
    /// The adapter of the configuration.
    type Adapter: RangeAdapter + Default;
    /// The map's callback argument for a map of up to `capacity` segments.
    fn args(capacity: usize) -> ArgsOf<Self::Adapter>;
    /// A new node with protection `prot`, or `None` when out of nodes.
    fn node(args: &mut ArgsOf<Self::Adapter>, prot: u32) -> Option<OwnedOf<Self::Adapter>>;
    /// Takes back a node the map refused.
    fn recycle(args: &mut ArgsOf<Self::Adapter>, node: OwnedOf<Self::Adapter>);
    /// Protection bits of a segment.
    fn prot(segment: &SegmentOf<Self::Adapter>) -> u32;
    /// Protection bits as `mprotect` flags.
    fn flags(prot: u32) -> FlagsOf<Self::Adapter>;
}

impl Config for Boxed {
    const NAME: &'static str = "ram (Box)";
    type Adapter = BoxAdapter;

    fn args(_capacity: usize) {}

    fn node(_: &mut (), prot: u32) -> Option<Box<Vma<Boxed>>> {
        Some(Box::new(Vma::new(prot)))
    }

    fn recycle(_: &mut (), node: Box<Vma<Boxed>>) {
        drop(node);
    }

    fn prot(segment: &Vma<Boxed>) -> u32 {
        segment.prot()
    }

    fn flags(prot: u32) -> u32 {
        prot
    }
}

impl Config for Pooled {
    const NAME: &'static str = "ram (pool)";
    type Adapter = PoolAdapter;

    fn args(capacity: usize) -> Slab {
        Slab::with_capacity(capacity)
    }

    fn node(slab: &mut Slab, prot: u32) -> Option<UnsafeRef<Vma<Pooled>>> {
        slab.take(prot)
    }

    fn recycle(slab: &mut Slab, node: UnsafeRef<Vma<Pooled>>) {
        slab.give(node);
    }

    fn prot(segment: &Vma<Pooled>) -> u32 {
        segment.prot()
    }

    fn flags(prot: u32) -> u32 {
        prot
    }
}
