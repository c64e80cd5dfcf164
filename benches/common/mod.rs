//! Code shared by the bench binaries (`ops`, `replay`, `report`): the
//! peers behind one interface, this crate's two configurations, the
//! synthetic workloads, the trace replay and the counting allocator.
//!
//! Each binary includes this module whole and uses the part it needs.

pub mod alloc;
pub mod ours;
pub mod peers;
pub mod replay;
pub mod workload;
