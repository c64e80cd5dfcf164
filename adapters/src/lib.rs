//! `range-action-map`'s [`PageTable`] over the field's page-table crates, each behind a cargo
//! feature of its name (off by default, `no_std`).
//!
//! A crate of its own beside `range-action-map`, because an adapter cannot be safe code: it
//! turns a table's physical addresses into pointers through the kernel's window onto physical
//! memory, calls the crates' `unsafe` mapping functions, and reads and writes control
//! registers. `range-action-map` itself keeps its unsafe code in its tree alone.
//!
//! - [`page_table_multiarch`](mod@page_table_multiarch) (feature `page_table_multiarch`):
//!   ArceOS's [`PageTable64`](::page_table_multiarch::PageTable64), as its RISC-V Sv39 and
//!   Sv48 tables and its x86-64 table (on the targets the crate compiles them for), or any
//!   other `PagingMetaData` and entry type.
//! - [`x86_64`](mod@x86_64) (feature `x86_64`): the `x86_64` crate's
//!   [`OffsetPageTable`](::x86_64::structures::paging::OffsetPageTable), the table of
//!   `blog_os` and of most Rust x86-64 kernels.
//!
//! Both map 4 KiB, 2 MiB and 1 GiB leaves, report the crates' errors as [`PagingError`]s,
//! split huge leaves in place, and find mapped pages with a walk that skips absent tables
//! whole. What each crate could not express, and what the adapter does instead, is listed
//! in its module.
//!
//! # Frames for tables
//!
//! [`PageTable::map`] hands the table the set's [`FrameAllocator`] for each call, and
//! [`PageTable::destroy`] the same to give the tables back, so the tables of an address space
//! are in the same books as its pages (and run out with them). The `x86_64` crate takes an
//! allocator per call too: the adapter passes a thin wrapper over `frames`.
//! `page_table_multiarch` allocates through its `PagingHandler`'s *static* functions, which
//! cannot see a `frames` argument; the adapter therefore never lets it allocate below the
//! root: before each `map` it walks down itself and installs the missing tables with frames
//! from `frames`, written as the crate's own [`GenericPTE::new_table`] entries, so the
//! crate's `map` finds every table in place. Only the root comes from the handler (the crate
//! has no constructor that takes one), and goes back to it when the table is dropped.
//!
//! [`PageTable`]: range_action_map::memory_set::PageTable
//! [`PagingError`]: range_action_map::memory_set::PagingError
//! [`PageTable::map`]: range_action_map::memory_set::PageTable::map
//! [`PageTable::destroy`]: range_action_map::memory_set::PageTable::destroy
//! [`FrameAllocator`]: range_action_map::memory_set::FrameAllocator
//! [`GenericPTE::new_table`]: ::page_table_multiarch::GenericPTE::new_table

#![no_std]

// Pointers to table frames are made from the crates' physical-to-virtual conversions and
// dereferenced in each adapter: it is the one place it is done for its crate.
#[cfg(all(feature = "page_table_multiarch", target_pointer_width = "64"))]
pub mod page_table_multiarch;
#[cfg(all(feature = "x86_64", target_pointer_width = "64"))]
pub mod x86_64;

/// The raw radix-table walks both adapters are made of.
#[cfg(all(
    any(feature = "page_table_multiarch", feature = "x86_64"),
    target_pointer_width = "64"
))]
mod raw;
