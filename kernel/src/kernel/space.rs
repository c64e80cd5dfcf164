//! The kernel's address space, built with the crate: the image's sections and the rest of
//! physical memory mapped [`Linear`](range_action_map::memory_set::Linear) at the high half
//! (huge pages where they fit), the test finisher mapped as [`Device`] memory, over
//! `page_table_multiarch`'s Sv39 table in guest RAM; and `activate`, which makes the CPU use
//! one.
//!
//! The address space the CPU runs on is [`ACTIVE`], behind a reader-writer lock: the trap
//! handlers resolve page faults in it under the read side ([`fault`]), on both harts at once.

use core::sync::atomic::{AtomicUsize, Ordering};

use range_action_map::memory_set::{
    Access, Device, FaultError, KernelLayout, MemoryAttr, MemoryResult, MemorySet,
};
use range_action_map_adapters::page_table_multiarch::Sv39Table;

use super::boot::{image, PHYS_OFFSET};
use super::finisher;
use super::frames::Frames;

/// A kernel address space.
pub type Space = MemorySet<Sv39Table<Frames>, Frames>;

/// The address space the CPU runs on (set by [`activate`]), in which page faults are
/// resolved.
pub static ACTIVE: spin::RwLock<Option<Space>> = spin::RwLock::new(None);

/// Where the test finisher is mapped in every kernel address space: the page below the
/// kernel's linear window.
pub const FINISHER_VA: usize = PHYS_OFFSET + 0x8000_0000 - 0x1000;

/// A kernel address space: the image's sections and physical memory up to `ram_end`
/// (physical) mapped linearly at `PHYS_OFFSET`, and the test finisher as device memory at
/// [`FINISHER_VA`].
///
/// # Errors
///
/// When frames run out for the tables.
pub fn new_kernel_space(ram_end: usize) -> MemoryResult<Space> {
    let image = image();
    let layout = KernelLayout::new(PHYS_OFFSET)
        .text(image.text..image.rodata)
        .rodata(image.rodata..image.data)
        .data(image.data..image.bss)
        .bss(image.bss..image.end)
        .physical_memory(image.end..ram_end + PHYS_OFFSET);
    // SAFETY: every frame of the pool, and so every root and table the crate and the adapter
    // allocate, is mapped at `pa + PHYS_OFFSET` (`Frames::phys_to_virt`) by the boot table and by
    // every kernel address space, and is used by its holder alone.
    let table = unsafe { Sv39Table::<Frames>::try_new() }?;
    let mut space = MemorySet::new_kernel(&layout, table, Frames)?;
    space.push(
        FINISHER_VA,
        FINISHER_VA + 0x1000,
        MemoryAttr::new(),
        Device::at(FINISHER_VA, finisher::PA),
    )?;
    Ok(space)
}

/// Makes the CPU translate through `space` (Sv39, ASID 0) and flushes the TLB, and makes it
/// [`ACTIVE`]; returns the address space that was active before.
///
/// # Safety
///
/// `space` maps the kernel's image, stack and physical memory as the address space running
/// now does (every space from [`new_kernel_space`] does).
pub unsafe fn activate(space: Space) -> Option<Space> {
    let mut active = ACTIVE.write();
    // SAFETY: the caller's promise.
    unsafe { load_satp(space.page_table().root_paddr()) };
    active.replace(space)
}

/// Makes this hart (a second one, on the boot table) translate through the [`ACTIVE`] space.
pub fn enter_active() {
    let active = ACTIVE.read();
    let root = active
        .as_ref()
        .expect("an active address space")
        .page_table()
        .root_paddr();
    // SAFETY: the active space is a kernel space, which maps the image, the stacks (in
    // `.bss`) and physical memory at the addresses the boot table does.
    unsafe { load_satp(root) };
}

/// Points `satp` at the Sv39 root `root` (ASID 0) and flushes this hart's TLB.
///
/// # Safety
///
/// The table maps all the kernel uses at the addresses it has now.
unsafe fn load_satp(root: usize) {
    // SAFETY: the code, stack and data the next instruction uses stay where they are (the
    // caller's promise); the flush drops every translation of the table before.
    unsafe {
        riscv::register::satp::set(riscv::register::satp::Mode::Sv39, 0, root >> 12);
        riscv::asm::sfence_vma_all();
    }
}

/// The root table's physical address that `satp` holds now.
pub fn satp_root() -> usize {
    riscv::register::satp::read().ppn() << 12
}

/// Runs `f` on the active address space, under the write lock (not across an access that
/// may fault: the fault handler takes the same lock).
#[track_caller]
pub fn with_active<R>(f: impl FnOnce(&mut Space) -> R) -> R {
    f(ACTIVE.write().as_mut().expect("an active address space"))
}

/// Resolves a page fault at `addr` in the active address space, as the crate means a kernel
/// on several CPUs to: under the read lock, which the other hart may hold too, and under the
/// write lock only for a stack that must grow.
///
/// # Panics
///
/// Before any address space is active.
pub fn fault(addr: usize, access: Access) -> Result<(), FaultError> {
    let shared = ACTIVE
        .read()
        .as_ref()
        .map(|space| space.handle_page_fault_shared(addr, access));
    match shared.expect("an active address space") {
        Err(FaultError::WouldGrowStack { .. }) => {
            let grown = with_active(|space| space.handle_page_fault(addr, access));
            if grown.is_ok() {
                STACKS_GROWN.fetch_add(1, Ordering::Relaxed);
            }
            grown
        }
        resolved => resolved,
    }
}

/// Faults that grew a stack, retried under the write lock.
static STACKS_GROWN: AtomicUsize = AtomicUsize::new(0);

/// How many faults grew a stack so far.
pub fn stacks_grown() -> usize {
    STACKS_GROWN.load(Ordering::Relaxed)
}
