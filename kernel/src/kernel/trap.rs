//! Traps: a page fault goes to the address space this hart runs on ([`space::fault`]: the
//! read side of its lock, [`MemorySet::handle_page_fault_shared`]); one it cannot resolve is a kernel bug,
//! unless the kernel is [probing](probe_write) an address on purpose.
//!
//! [`MemorySet::handle_page_fault_shared`]: range_action_map::memory_set::MemorySet::handle_page_fault_shared

use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use range_action_map::memory_set::Access;
use riscv::register::{scause, sepc, stval, stvec};

use super::hart::{self, MAX_HARTS};
use super::space::{self, ACTIVE};

// Saves every register but `sp` (x2) on the stack, calls `trap_handler` with them, restores
// them and returns to `sepc`. Traps come from S-mode only, on the kernel's stack.
global_asm!(
    "   .section .text",
    "   .globl trap_entry",
    "   .balign 4",
    "trap_entry:",
    "   addi    sp, sp, -32 * 8",
    "   .irp n, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16",
    "   sd      x\\n, \\n * 8(sp)",
    "   .endr",
    "   .irp n, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31",
    "   sd      x\\n, \\n * 8(sp)",
    "   .endr",
    "   mv      a0, sp",
    "   call    {handler}",
    "   .irp n, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16",
    "   ld      x\\n, \\n * 8(sp)",
    "   .endr",
    "   .irp n, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31",
    "   ld      x\\n, \\n * 8(sp)",
    "   .endr",
    "   addi    sp, sp, 32 * 8",
    "   sret",
    handler = sym trap_handler,
);

unsafe extern "C" {
    fn trap_entry();
}

/// Sends every trap of this hart to `trap_entry`.
pub fn init() {
    let mut vector = stvec::read();
    vector.set_address(trap_entry as *const () as usize);
    vector.set_trap_mode(stvec::TrapMode::Direct);
    // SAFETY: `trap_entry` saves and restores everything the interrupted code may hold, and
    // runs on the interrupted code's stack, which is the kernel's.
    unsafe { stvec::write(vector) };
}

/// Set while [`probe_write`] or [`probe_read`] runs on a hart: a fault the address space
/// refuses is then expected.
static PROBING: [AtomicBool; MAX_HARTS] = [const { AtomicBool::new(false) }; MAX_HARTS];
/// The address of the last fault refused while a hart probed, plus one (0: none).
static REFUSED: [AtomicUsize; MAX_HARTS] = [const { AtomicUsize::new(0) }; MAX_HARTS];

/// Runs `access` (one load or store instruction), and returns the faulting address if the
/// address space this hart runs on refused it (the instruction is then skipped).
fn probe(access: impl FnOnce()) -> Result<(), usize> {
    let hart = hart::id();
    REFUSED[hart].store(0, Ordering::SeqCst);
    PROBING[hart].store(true, Ordering::SeqCst);
    access();
    PROBING[hart].store(false, Ordering::SeqCst);
    match REFUSED[hart].load(Ordering::SeqCst) {
        0 => Ok(()),
        refused => Err(refused - 1),
    }
}

/// Writes `value` to `addr` with one store instruction, and returns the faulting address if
/// the active address space refused the write (the store is then skipped).
///
/// # Safety
///
/// If the write succeeds, `addr` must be a `u64` the caller may write.
pub unsafe fn probe_write(addr: usize, value: u64) -> Result<(), usize> {
    // SAFETY: the caller's promise; a refused store traps and is skipped by the handler.
    probe(|| unsafe {
        core::arch::asm!("sd {value}, 0({addr})", value = in(reg) value, addr = in(reg) addr)
    })
}

/// Reads the `u64` at `addr` with one load instruction, and returns the faulting address if
/// the active address space refused the read (the load is then skipped).
///
/// # Safety
///
/// If the read succeeds, `addr` must be a `u64` the caller may read.
pub unsafe fn probe_read(addr: usize) -> Result<u64, usize> {
    let mut value = 0;
    // SAFETY: the caller's promise; a refused load traps and is skipped by the handler,
    // leaving `value` as it was.
    probe(|| unsafe {
        core::arch::asm!("ld {value}, 0({addr})", value = inout(reg) value, addr = in(reg) addr)
    })
    .map(|()| value)
}

/// Each hart's last fault resolved (its `pc` and address), and how many times in a row it was.
static LAST_RESOLVED: [spin::Mutex<((usize, usize), usize)>; MAX_HARTS] =
    [const { spin::Mutex::new(((0, 0), 0)) }; MAX_HARTS];

/// Faults of one instruction at one address the set may resolve in a row: a fault can be
/// spurious once (a stale translation of this hart, flushed by the set), not every time.
const MAX_REPEATS: usize = 3;

/// Panics if the fault at `addr` by the instruction at `pc` (of the kernel or a process) was resolved [`MAX_REPEATS`]
/// times in a row: the set said it mapped the page, and the MMU disagrees.
pub fn check_progress(pc: usize, addr: usize) {
    let mut last = LAST_RESOLVED[hart::id()].lock();
    let repeats = if last.0 == (pc, addr) { last.1 + 1 } else { 1 };
    *last = ((pc, addr), repeats);
    assert!(
        repeats <= MAX_REPEATS,
        "the page fault at {addr:#x} at {pc:#x} was resolved {repeats} times in a row, and the access still faults"
    );
}

/// The registers `trap_entry` saved (index = register number; `sp` is not saved).
#[repr(C)]
pub struct Registers([usize; 32]);

/// What a trap from S-mode does: resolves a page fault through the active address space, or
/// panics (the kernel then leaves QEMU with a failure).
extern "C" fn trap_handler(_registers: &mut Registers) {
    let cause = scause::read();
    let (addr, pc) = (stval::read(), sepc::read());
    let access = match (cause.is_exception(), cause.code()) {
        (true, 12) => Access::Execute,
        (true, 13) => Access::Read,
        (true, 15) => Access::Write,
        _ => panic!(
            "unexpected trap: scause {:#x}, stval {addr:#x}, sepc {pc:#x}",
            cause.bits()
        ),
    };
    if ACTIVE.read().is_none() {
        panic!("page fault at {addr:#x} ({access:?}) at {pc:#x} before any address space");
    }
    let resolved = space::fault(addr, access);
    match resolved {
        Ok(()) => check_progress(pc, addr),
        Err(_) if PROBING[hart::id()].load(Ordering::SeqCst) => {
            REFUSED[hart::id()].store(addr + 1, Ordering::SeqCst);
            // SAFETY: skipping the probe's load or store instruction (2 bytes if compressed: its low
            // bits are not 0b11) resumes the probe right after it.
            let insn = unsafe { core::ptr::with_exposed_provenance::<u16>(pc).read() };
            let len = if insn & 0b11 == 0b11 { 4 } else { 2 };
            // SAFETY: `pc + len` is the next instruction of the probe.
            unsafe { sepc::write(pc + len) };
        }
        Err(error) => panic!("page fault at {addr:#x} ({access:?}) at {pc:#x}: {error}"),
    }
}
