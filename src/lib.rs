//! An intrusive, augmented red-black interval tree for kernel
//! virtual-memory areas, and the VM verbs over it.
//!
//! A [`RangeActionMap`] keeps disjoint half-open ranges `[start, end)` —
//! the segments of an address space — and answers `mmap` (fixed and
//! anywhere), `munmap`, `mprotect` and page-fault lookups in *O*(log n) per
//! operation (*O*(log n + k) when k segments are cut). It **never
//! allocates**: segments are your own structs with a [`RangeLink`] inside,
//! owned by the map through a `Box`, an
//! [`UnsafeRef`](intrusive_collections::UnsafeRef) into your slab, or a
//! `&'static`. It is `#![no_std]` and builds on stable Rust.
//!
//! # Five-minute tour
//!
//! **1. Declare a segment.** Embed a [`RangeLink`] and name it in
//! [`range_adapter!`], which declares the adapter as
//! [`intrusive_adapter!`](intrusive_collections::intrusive_adapter) does and
//! also checks that the field is a `RangeLink` (`intrusive_adapter!` takes
//! the type you write on trust: naming a field of another type compiles and
//! is undefined behaviour):
//!
//! ```
//! use core::cell::Cell;
//! use range_action_map::{range_adapter, RangeActionMap, RangeLink, Segment};
//!
//! struct Vma {
//!     link: RangeLink,
//!     prot: Cell<usize>,
//! }
//! range_adapter!(VmaAdapter = Box<Vma>: Vma { link });
//! # fn vma(prot: usize) -> Box<Vma> { Box::new(Vma { link: RangeLink::new(), prot: Cell::new(prot) }) }
//! ```
//!
//! **2. Say what the map's actions mean** by implementing [`Segment`]: what
//! to release when (part of) a segment is unmapped, how to split one in two,
//! how to apply new flags. `Args` is handed to every callback (a kernel
//! passes its page table); `Pointer` is the owning pointer (intrusive-collections' name for it). Nodes the map is
//! done with go to [`Segment::release`], which drops them unless you
//! override it (a kernel puts them back in its slab).
//!
//! ```
//! # use core::cell::Cell;
//! # use range_action_map::{range_adapter, RangeActionMap, RangeLink, Segment};
//! # struct Vma { link: RangeLink, prot: Cell<usize> }
//! # range_adapter!(VmaAdapter = Box<Vma>: Vma { link });
//! # fn vma(prot: usize) -> Box<Vma> { Box::new(Vma { link: RangeLink::new(), prot: Cell::new(prot) }) }
//! impl Segment for Vma {
//!     type Args = usize; // pages currently mapped, as a stand-in page table
//!     type Flags = usize;
//!     type Pointer = Box<Vma>;
//!     fn remove(&self, pages: &mut usize) {
//!         *pages -= self.link.range().len() / 4096;
//!     }
//!     fn shrink(&self, start: usize, end: usize, pages: &mut usize) {
//!         *pages -= (self.link.range().len() - (end - start)) / 4096;
//!     }
//!     fn split(&self, _pos: usize, _: &mut usize) -> Box<Vma> {
//!         vma(self.prot.get())
//!     }
//!     fn modify(&self, prot: usize, _: &mut usize) {
//!         self.prot.set(prot);
//!     }
//! }
//!
//! // **3. Use the verbs.**
//! let mut map = RangeActionMap::<VmaAdapter>::new(0);
//! map.mmap_fixed(0x10000, 0x20000, || vma(3)).unwrap();
//! *map.args_mut() += 16;
//! let at = map.mmap_anywhere(0x10000, 0x4000, |_| vma(1)).unwrap();
//! assert_eq!(at, 0x20000); // lowest hole at or above the hint
//! *map.args_mut() += 4;
//! map.unmap(0x18000, 0x22000).unwrap(); // shrinks one, cuts the other
//! assert_eq!(*map.args(), 8 + 2);
//! map.mprotect(0x10000, 0x14000, 1).unwrap(); // splits at 0x14000
//! assert_eq!(map.len(), 3);
//! assert_eq!(map.find(0x12345).map(|v| v.prot.get()), Some(1));
//! ```
//!
//! **4. Or skip the link entirely** with the seed-compatible value map in
//! [`boxed`] (feature `alloc`), where `split` returns `Self` as in the
//! original `range-action-map` crate.
//!
//! # Layers
//!
//! - `tree` (private): the intrusive red-black tree, augmented per node with
//!   the subtree's lowest start, highest end and largest inner hole, and the
//!   owner of its nodes (through the adapter). All `unsafe` lives here: it
//!   hands the map handles whose lifetimes are tied to the borrow of the
//!   tree, and the cell behind [`boxed`]'s values (the seed's callbacks take
//!   `&mut self`). Everywhere else unsafe code is forbidden; switching the
//!   CPU to a page table is the kernel's own unsafe call on its table type.
//! - [`RangeActionMap`]: the safe map, generic over an
//!   [`intrusive_collections::Adapter`]; the [`Segment`] trait; cursors;
//!   [`Placement`] for aligned, windowed, top-down free-area search.
//! - [`boxed`]: value segments, the seed's API.
//! - [`memory_set`]: a kernel's `MemorySet` (areas and the open
//!   `MemoryHandler` trait behind them: linear, device, private and shared
//!   anonymous, file-backed memory; page faults, copy-on-write fork, stacks
//!   that grow) over traits for the page table, the reference-counted frame
//!   allocator and the page cache.
//! - [`linux`]: where Linux 6.x x86-64 places a non-fixed `mmap`
//!   (anonymous, file, shared), reproduced on top of the free-area search,
//!   and a system-call personality ([`linux::LinuxMm`]) that answers
//!   `mmap`, `munmap`, `mprotect`, `mremap`, `brk`, `madvise` and `mlock` with
//!   Linux's results, errnos and VMA merges.
//!
//! # Guarantees
//!
//! - **Bad input is a typed [`MapError`]**: empty or reversed ranges,
//!   addresses outside the [`Window`], overflow near `usize::MAX`, zero
//!   lengths, bad alignments, no room. The map is then unchanged and no
//!   callback ran.
//! - **Splits first.** `unmap`, `mprotect` and `mmap_fixed` make every split
//!   (the only step that allocates, and may fail through
//!   [`Segment::try_split`]) before any `remove`, `shrink` or `modify`. A
//!   split changes no mapping, so a failed or panicking split leaves the
//!   address space as it was.
//! - **Panic safety.** A panicking callback leaves the map valid: every node
//!   is either still in the map or released or dropped, exactly once.
//! - **Costs.** `find`, `first`/`last` (*O*(1)), every free-area search:
//!   *O*(log n) worst case, failures included; a `find` near the previous
//!   one (in its segment, or within that segment's length, as page faults
//!   come) without a descent: a step to a neighbour, *O*(1) amortised over
//!   a run. `unmap`/`mprotect` over k segments: *O*(log n + k). Memory per
//!   segment: one [`RangeLink`], eight words.
//! - [`RangeActionMap::assert_valid`] checks every invariant from scratch.
//!
//! # Soundness model
//!
//! Nodes are only ever shared (`&T`), never borrowed mutably by the map, so
//! that `&'static` and `UnsafeRef` owners are sound; per-segment state that
//! changes lives in `Cell`s. The value map in [`boxed`] keeps the value
//! apart from the link, so it can offer `iter_mut`.
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(test)]
extern crate std;

mod adapter;
#[cfg(feature = "alloc")]
pub mod boxed;
mod error;
pub mod linux;
mod map;
#[cfg(feature = "alloc")]
pub mod memory_set;
mod range;
mod segment;
#[allow(unsafe_code)] // the one place that dereferences pointers
mod tree;

pub use error::{InsertError, MapError, MapResult};
pub use map::{
    ArgsOf, Coverage, Cursor, CursorMut, FlagsOf, Gaps, Hint, Iter, Overlapping, OwnedOf,
    Placement, RangeActionMap, RangeAdapter, SegmentOf,
};
pub use range::{check_align, check_aligned, checked_end, Window};
pub use segment::{AllocError, Segment};
pub use tree::gap::Direction;
pub use tree::{RangeLink, RangeLinkOps};

pub use intrusive_collections;

/// The README's examples, compiled and run as doc tests.
#[cfg(all(doctest, feature = "alloc"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
