//! What the tests, benches, fuzz targets and examples of
//! [`range_action_map`] share. Not published: it is the crate's test
//! bench, and it may change with every commit.
//!
//! - The map's model tests: [`logging`] (a segment that logs its
//!   callbacks and fails or panics on command), [`model`] (the sorted-`Vec`
//!   model), [`op`] (the operations of a random sequence) and [`harness`]
//!   (one operation on both, everything compared).
//! - [`fuzz`]: the byte decoders and runners of the fuzz targets, which the
//!   stable corpus replay runs too; [`set_model`]: the same for `MemorySet`.
//! - [`fork_model`]: fork trees of `MemorySet`s (copy-on-write, shared and file mappings,
//!   frames running out) against a model of every page and frame.
//! - [`trace`]: the parser of the `strace` captures in `benches/data`;
//!   [`elf`]: that of the program headers of the programs they exec;
//!   [`bench`](mod@bench): the peers, workloads and replay the benches measure.
//! - [`Rng`]: the seeded generator every randomized test draws from.
//! - [`doc`]: the segment type the crate's documentation examples use.
//! - [`mmu`]: a user program's loads and stores through a set's page table, faulting as an
//!   MMU does.
//!
//! Software doubles of the hardware traits of
//! [`memory_set`](range_action_map::memory_set):
//!
//! - [`PhysMemory`]: simulated physical memory, a run of 4 KiB frames starting at
//!   [`PhysMemory::BASE`];
//! - [`CountingFrameAllocator`]: a [`FrameAllocator`] over that memory that counts, tracks live
//!   frames and their reference counts, runs out on command and panics on double free;
//! - [`MemFile`]: an in-memory file and its page cache, for file mappings, counting page
//!   reads and writebacks;
//! - [`SoftPageTable`]: a real three-level RISC-V Sv39 radix table whose table frames come from
//!   the allocator and live in the simulated memory, with [`Sv39Entry`] as its entry format,
//!   2 MiB and 1 GiB leaves, and a simulated TLB that serves stale translations until flushed.
//!
//! All of them are cheap handles onto shared state (`Rc<RefCell<..>>`), so a forked address
//! space can own a second [`SoftPageTable`] over the same memory and a clone of the same
//! allocator. They are neither `Send` nor `Sync`.
//!
//! The page table is its own oracle: it refuses to map a mapped page or unmap an unmapped one,
//! and the allocator refuses to free a frame twice, so a test over them checks the caller's
//! bookkeeping page by page and frame by frame.
//!
//! ```
//! use range_action_map::memory_set::{FrameAllocator, MemoryAttr, PageSize, PageTable};
//! use range_action_map_testkit::{CountingFrameAllocator, SoftPageTable};
//!
//! let mut frames = CountingFrameAllocator::new(16);
//! let mut pt = SoftPageTable::new(frames.memory());
//! let page = frames.alloc().expect("a free frame");
//! let attr = MemoryAttr::new().set_user().set_readonly();
//! pt.map(0x1000, page, PageSize::Size4K, attr, &mut frames)?;
//! assert_eq!(pt.translate(0x1234), Some((page + 0x234, attr)));
//! assert_eq!(pt.table_frames(), 3); // root, middle and leaf tables
//!
//! assert_eq!(pt.unmap(0x1000)?.pa, page);
//! frames.dealloc(page);
//! pt.destroy(&mut frames);
//! assert_eq!(frames.live(), 0);
//! # Ok::<(), range_action_map::memory_set::PagingError>(())
//! ```
//!
//! The doubles assume a 64-bit host.
//!
//! [`FrameAllocator`]: range_action_map::memory_set::FrameAllocator

pub mod bench;
pub mod doc;
pub mod elf;
pub mod file;
pub mod fork_model;
pub mod frames;
pub mod fuzz;
pub mod harness;
pub mod host;
pub mod logging;
pub mod memory;
pub mod mmu;
pub mod model;
pub mod op;
pub mod rng;
pub mod set_model;
pub mod sv39;
pub mod trace;

pub use arbitrary;
pub use file::MemFile;
pub use frames::CountingFrameAllocator;
pub use memory::PhysMemory;
pub use rng::Rng;
pub use sv39::{SoftPageTable, Sv39Entry};
