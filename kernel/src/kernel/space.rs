//! The kernel's address space, built with the crate: the image's sections and the rest of
//! physical memory mapped [`Linear`](range_action_map::memory_set::Linear) at the high half
//! (huge pages where they fit), the test finisher mapped as [`Device`] memory, over
//! `page_table_multiarch`'s Sv39 table in guest RAM; and `activate`, which makes the CPU use
//! one.
//!
//! The kernel's address space is [`ACTIVE`], behind a reader-writer lock ([`Slot`]); a hart
//! runs on it, or on a process's space in a slot of its own ([`run_on`]), which holds the
//! process's VMAs ([`Mm`]) beside its space, under the same lock. The trap handlers resolve a
//! page fault in the space of the hart that took it, under the read side of its lock
//! ([`fault`]): both harts at once in the kernel's space, or each in its process's. A process's
//! fault passes its VMA's access check first, under the same read lock ([`user_fault`]);
//! its system calls change its VMAs and its space together, under the write lock
//! ([`with_process`]).

use core::sync::atomic::{AtomicUsize, Ordering};

use alloc::sync::Arc;

use range_action_map::memory_set::{
    Access, Device, FaultError, KernelLayout, MemoryAttr, MemoryResult, MemorySet,
};

use super::boot::{image, PHYS_OFFSET};
use super::finisher;
use super::frames::Frames;
use super::hart::{self, MAX_HARTS};
use super::linux::Mm;
use super::tlb::{load_satp, HartTable};

/// A kernel address space.
pub type Space = MemorySet<HartTable, Frames>;

/// The kernel's address space (set by [`activate`]): the checks run on it, and so does a hart
/// that runs no process.
pub static ACTIVE: Slot = spin::RwLock::new(None);

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
    let table = unsafe { HartTable::try_new() }?;
    let mut space = MemorySet::new_kernel(&layout, table, Frames)?;
    space.push(
        FINISHER_VA,
        FINISHER_VA + 0x1000,
        MemoryAttr::new(),
        Device::at(FINISHER_VA, finisher::PA),
    )?;
    Ok(space)
}

/// Makes this hart translate through `space` (Sv39, ASID 0) and flushes its TLB, and makes
/// it [`ACTIVE`]; returns the address space that was active before.
///
/// # Safety
///
/// `space` maps the kernel's image, stack and physical memory as the address space running
/// now does (every space from [`new_kernel_space`] does), and this hart runs on [`ACTIVE`].
pub unsafe fn activate(space: Space) -> Option<Space> {
    let mut active = ACTIVE.write();
    // SAFETY: the caller's promise.
    unsafe { load_satp(space.page_table().root_paddr()) };
    let kernel = Memory { space, mm: None };
    active.replace(kernel).map(|memory| memory.space)
}

/// What a [`Slot`] holds: an address space, and a process's VMAs beside it (none in the
/// kernel's).
pub struct Memory {
    /// The address space.
    pub space: Space,
    /// The process's VMAs (`None`: the kernel's space).
    pub mm: Option<Mm>,
}

/// An address space a hart may run on, behind the lock its page faults (the read side) and
/// its changes (the write side) take: a process's, with its VMAs, or [`ACTIVE`] (`None` before
/// the first [`activate`]).
pub type Slot = spin::RwLock<Option<Memory>>;

/// The process space each hart runs on (`None`: the hart runs on [`ACTIVE`]).
static RUNNING: [spin::Mutex<Option<Arc<Slot>>>; MAX_HARTS] =
    [const { spin::Mutex::new(None) }; MAX_HARTS];

/// Makes this hart translate through `slot`'s space, or [`ACTIVE`]'s (`None`), and flushes its
/// TLB: a process that ran on the other hart finds no stale translation here.
///
/// # Panics
///
/// If the slot holds no space.
pub fn run_on(slot: Option<Arc<Slot>>) {
    let root = (slot.as_deref().unwrap_or(&ACTIVE).read().as_ref())
        .expect("an address space to run on")
        .space
        .page_table()
        .root_paddr();
    // SAFETY: every space is a kernel space (from `new_kernel_space`, plus a process's areas),
    // which maps the image, the stacks (in `.bss`) and physical memory at the addresses the
    // boot table and every other kernel space do.
    unsafe { load_satp(root) };
    *RUNNING[hart::id()].lock() = slot;
}

/// Runs `f` on the slot of the address space this hart runs on.
fn with_slot<R>(f: impl FnOnce(&Slot) -> R) -> R {
    let running = RUNNING[hart::id()].lock().clone();
    f(running.as_deref().unwrap_or(&ACTIVE))
}

/// The root table's physical address that `satp` holds now.
pub fn satp_root() -> usize {
    riscv::register::satp::read().ppn() << 12
}

/// Runs `f` on the address space this hart runs on (a process's, or [`ACTIVE`]), under the
/// write lock (not across an access that may fault: the fault handler takes the same lock).
#[track_caller]
pub fn with_active<R>(f: impl FnOnce(&mut Space) -> R) -> R {
    with_slot(|slot| {
        let mut memory = slot.write();
        f(&mut memory.as_mut().expect("an active address space").space)
    })
}

/// Runs `f` on the process space this hart runs on and the process's VMAs, under the write
/// lock (not across an access that may fault).
///
/// # Panics
///
/// If this hart runs on the kernel's space.
pub fn with_process<R>(f: impl FnOnce(&mut Space, &mut Mm) -> R) -> R {
    with_slot(|slot| {
        let mut memory = slot.write();
        let Memory { space, mm } = memory.as_mut().expect("an active address space");
        f(space, mm.as_mut().expect("a process's VMAs"))
    })
}

/// Resolves a page fault at `addr` in the address space this hart runs on, as the crate
/// means a kernel on several CPUs to: under the read lock, which the other hart may hold too,
/// and under the write lock only for a stack that must grow. Faults of two processes, each in
/// its own space, take two different locks.
///
/// # Panics
///
/// Before any address space is active.
pub fn fault(addr: usize, access: Access) -> Result<(), FaultError> {
    let shared = with_slot(|slot| {
        (slot.read().as_ref()).map(|memory| memory.space.handle_page_fault_shared(addr, access))
    });
    match shared.expect("an active address space") {
        Err(FaultError::WouldGrowStack { .. }) => {
            with_active(|space| fault_in(space, addr, access))
        }
        resolved => resolved,
    }
}

/// Resolves a page fault at `addr` in `space`, which the caller holds the write lock of: a
/// stack grows if it must.
pub fn fault_in(space: &mut Space, addr: usize, access: Access) -> Result<(), FaultError> {
    match space.handle_page_fault_shared(addr, access) {
        Err(FaultError::WouldGrowStack { .. }) => {
            let grown = space.handle_page_fault(addr, access);
            if grown.is_ok() {
                STACKS_GROWN.fetch_add(1, Ordering::Relaxed);
            }
            grown
        }
        resolved => resolved,
    }
}

/// Resolves a page fault of the process this hart runs at `addr` as Linux does: its VMA's
/// access check first ([`Mm::allows`]), then the page. Under the read lock, which the other
/// hart may hold too, as [`fault`] does; under the write lock only for a write that first
/// gives its VMA an `anon_vma` ([`Mm::allows_shared`] cannot) or a stack that must grow.
/// Whether it was resolved (if not, the process dies of SIGSEGV).
///
/// # Panics
///
/// If this hart runs on the kernel's space.
pub fn user_fault(addr: usize, access: Access) -> bool {
    let shared = with_slot(|slot| {
        let memory = slot.read();
        let memory = memory.as_ref().expect("an active address space");
        let mm = memory.mm.as_ref().expect("a process's VMAs");
        match mm.allows_shared(addr, access)? {
            false => Some(false),
            true => match memory.space.handle_page_fault_shared(addr, access) {
                Err(FaultError::WouldGrowStack { .. }) => None,
                resolved => Some(resolved.is_ok()),
            },
        }
    });
    shared.unwrap_or_else(|| {
        with_process(|space, mm| mm.allows(addr, access) && fault_in(space, addr, access).is_ok())
    })
}

/// Faults that grew a stack, retried under the write lock.
static STACKS_GROWN: AtomicUsize = AtomicUsize::new(0);

/// How many faults grew a stack so far.
pub fn stacks_grown() -> usize {
    STACKS_GROWN.load(Ordering::Relaxed)
}
