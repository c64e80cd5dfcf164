//! The operations of a random sequence, as the model tests, the fuzz
//! targets and the benches run them.

use crate::model::PlacementSpec;

/// One operation of a random sequence.
#[derive(Clone, Copy, Debug)]
///
/// Ranges are `(start, end)` and protections a `u8`, as the test kit's
/// [`Seg`](crate::logging::Seg) keeps them; any values at all, since
/// refusing bad ones is part of what is tested.
pub enum Op {
    /// `unmap(start, end)`.
    Unmap(usize, usize),
    /// `mprotect(start, end, prot)`.
    Mprotect(usize, usize, u8),
    /// `mmap_fixed(start, end, ..)` of a new segment with protection `prot`.
    MmapFixed(usize, usize, u8),
    /// `mmap_fixed_noreplace(start, end, ..)`, likewise.
    MmapFixedNoReplace(usize, usize, u8),
    /// `mmap_anywhere(hint, len, ..)`, likewise.
    MmapAnywhere(usize, usize, u8),
    /// `find_free_area` and `mmap_placed` with this placement, likewise.
    Placed(PlacementSpec, u8),
    /// `find(addr)`.
    Find(usize),
    /// `gaps(start, end)`.
    Gaps(usize, usize),
    /// Makes the next `try_split` fail.
    FailNextSplit,
    /// `remove_current` on a cursor at the segment holding `addr`.
    RemoveAt(usize),
    /// `clear()`.
    Clear,
}
