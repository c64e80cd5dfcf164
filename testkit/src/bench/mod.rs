//! What the bench binaries (`ops`, `replay`, `report`) share: the peers
//! behind one interface, this crate's two configurations, the original
//! algorithm as a peer, the synthetic workloads (large layouts, and the
//! mixed workload of the one operation generator), the trace replay and
//! the counting allocator.

pub mod alloc;
pub mod baseline;
pub mod mixed;
pub mod ours;
pub mod peers;
pub mod replay;
pub mod workload;
