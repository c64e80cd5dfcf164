//! Harts: which one runs the code (`tp` holds its id, in the kernel; [`enter_user`] keeps the
//! kernel's `tp` on the kernel stack while a process runs), and the other hart, which OpenSBI
//! keeps stopped until [`start_other`] starts it on a job; it stops again when the job is done.
//!
//! [`enter_user`]: super::user

use core::arch::asm;
use core::sync::atomic::{AtomicBool, Ordering};

use super::boot::{self, PHYS_OFFSET};
use super::tlb;

/// Harts the kernel runs on (QEMU's `-smp 2`: ids 0 and 1, either may boot).
pub const MAX_HARTS: usize = 2;

/// SBI's HSM state of a stopped hart.
const STOPPED: usize = 1;

/// Makes `tp` hold `hart`, this hart's id.
pub fn set_id(hart: usize) {
    assert!(hart < MAX_HARTS, "hart {hart} of {MAX_HARTS}");
    // SAFETY: Rust code of this target does not use `tp` (no thread-local storage).
    unsafe { asm!("mv tp, {}", in(reg) hart) };
}

/// This hart's id.
pub fn id() -> usize {
    let hart;
    // SAFETY: reads `tp`, which `set_id` set.
    unsafe { asm!("mv {}, tp", out(reg) hart) };
    hart
}

/// The other hart's id.
pub fn other() -> usize {
    1 - id()
}

/// The job the other hart runs when started.
static JOB: spin::Mutex<Option<fn()>> = spin::Mutex::new(None);
/// Set when the other hart finished its job.
static DONE: AtomicBool = AtomicBool::new(false);

/// Starts the other hart on `job`, once it stopped after its last one; returns the SBI's
/// answer.
pub fn start_other(job: fn()) -> sbi_rt::SbiRet {
    let other = other();
    while sbi_rt::hart_get_status(other).into_result() != Ok(STOPPED) {
        core::hint::spin_loop();
    }
    *JOB.lock() = Some(job);
    DONE.store(false, Ordering::SeqCst);
    // SAFETY: `SECOND_STACK` is used by the other hart alone, which is stopped.
    let stack_top = (&raw mut boot::SECOND_STACK).addr() + boot::SECOND_STACK_SIZE;
    let entry = boot::_start_second as *const () as usize - PHYS_OFFSET;
    sbi_rt::hart_start(other, entry, stack_top)
}

/// Waits until the other hart finished its job, or (`false`) a while has passed.
pub fn join_other() -> bool {
    let mut spins = 0u64;
    while !DONE.load(Ordering::SeqCst) && spins < 1 << 32 {
        core::hint::spin_loop();
        spins += 1;
    }
    DONE.load(Ordering::SeqCst)
}

/// What the other hart runs once it is on the kernel's address space: its job, then it stops.
pub fn run_job() -> ! {
    let job = JOB.lock().take().expect("a job for the other hart");
    job();
    tlb::leave();
    DONE.store(true, Ordering::SeqCst);
    sbi_rt::hart_stop();
    unreachable!("hart_stop returned");
}
