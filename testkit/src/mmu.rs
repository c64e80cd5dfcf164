//! A user program's loads and stores through a `MemorySet`'s page table, as an MMU makes
//! them ([`SoftPageTable::access`], through its simulated TLB): a translation that is missing
//! or forbids the access raises a page fault, which the set resolves before the access is
//! retried.

use range_action_map::memory_set::{Access, FaultError, MemorySet, PlacementPolicy, PAGE_SIZE};

use crate::{CountingFrameAllocator, SoftPageTable};

/// Translates `va` for `access` in `set`, faulting once if the page table refuses it; the
/// physical address.
///
/// # Errors
///
/// The fault's error when the set cannot resolve it (the process would get `SIGSEGV`).
///
/// # Panics
///
/// If the page table still refuses the access after a resolved fault.
pub fn translate<P: PlacementPolicy>(
    set: &mut MemorySet<SoftPageTable, CountingFrameAllocator, P>,
    va: usize,
    access: Access,
) -> Result<usize, FaultError> {
    if let Some(pa) = set.page_table().access(va, access) {
        return Ok(pa);
    }
    fault(set, va, access)?;
    let pa = (set.page_table().access(va, access))
        .unwrap_or_else(|| panic!("{access:?} of {va:#x} still faults after its fault"));
    Ok(pa)
}

/// Resolves a fault as a kernel that holds its address spaces behind a reader-writer lock
/// does: under the read side ([`MemorySet::handle_page_fault_shared`]) for the pages of odd
/// page numbers, and under the write side ([`MemorySet::handle_page_fault`]) for the others
/// and wherever a stack must grow, so that tests cover both paths.
///
/// # Errors
///
/// As [`MemorySet::handle_page_fault`].
pub fn fault<P: PlacementPolicy>(
    set: &mut MemorySet<SoftPageTable, CountingFrameAllocator, P>,
    addr: usize,
    access: Access,
) -> Result<(), FaultError> {
    if addr / PAGE_SIZE % 2 == 1 {
        match set.handle_page_fault_shared(addr, access) {
            Err(FaultError::WouldGrowStack { .. }) => {}
            resolved => return resolved,
        }
    }
    set.handle_page_fault(addr, access)
}

/// Stores `data` at `va` (within one page), as a user program would.
///
/// # Errors
///
/// As [`translate`].
pub fn store<P: PlacementPolicy>(
    set: &mut MemorySet<SoftPageTable, CountingFrameAllocator, P>,
    va: usize,
    data: &[u8],
) -> Result<(), FaultError> {
    let pa = translate(set, va, Access::Write)?;
    set.frame_allocator()
        .memory()
        .write(pa - pa % PAGE_SIZE, pa % PAGE_SIZE, data);
    Ok(())
}

/// Loads `buf.len()` bytes at `va` (within one page), as a user program would.
///
/// # Errors
///
/// As [`translate`].
pub fn load<P: PlacementPolicy>(
    set: &mut MemorySet<SoftPageTable, CountingFrameAllocator, P>,
    va: usize,
    buf: &mut [u8],
) -> Result<(), FaultError> {
    let pa = translate(set, va, Access::Read)?;
    set.frame_allocator()
        .memory()
        .read(pa - pa % PAGE_SIZE, pa % PAGE_SIZE, buf);
    Ok(())
}

/// The `N` bytes at `va` (within one page), loaded as a user program would.
///
/// # Panics
///
/// If the load faults and the set cannot resolve the fault.
#[track_caller]
pub fn read<const N: usize, P: PlacementPolicy>(
    set: &mut MemorySet<SoftPageTable, CountingFrameAllocator, P>,
    va: usize,
) -> [u8; N] {
    let mut buf = [0; N];
    if let Err(error) = load(set, va, &mut buf) {
        panic!("load of {va:#x}: {error}");
    }
    buf
}
