//! QEMU `virt`'s test finisher ("sifive,test"): a 32-bit write of `0x5555` ends QEMU with
//! status 0, `(code << 16) | 0x3333` with status `code`.
//!
//! Until the kernel runs on its own address space, the finisher is reached where it is (the
//! boot table maps the low gigabyte); from then on, only at the page the crate mapped as
//! device memory ([`space::FINISHER_VA`](super::space::FINISHER_VA)).

use core::sync::atomic::{AtomicUsize, Ordering};

/// The finisher's physical address.
pub const PA: usize = 0x10_0000;

/// Where the finisher is reached now.
static VA: AtomicUsize = AtomicUsize::new(PA);

/// From now on the finisher is reached at `va`.
pub fn set_va(va: usize) {
    VA.store(va, Ordering::SeqCst);
}

/// Where the finisher is reached now.
pub fn va() -> usize {
    VA.load(Ordering::SeqCst)
}

/// Ends QEMU with status 0 if `passed`, 1 otherwise.
pub fn exit(passed: bool) -> ! {
    let value: u32 = if passed { 0x5555 } else { (1 << 16) | 0x3333 };
    // SAFETY: `va()` maps the finisher in the address space running now (the boot table's
    // identity map of the devices, or the kernel's device page), and a write to it is a
    // request to QEMU, not a memory access anything else sees.
    unsafe { core::ptr::with_exposed_provenance_mut::<u32>(va()).write_volatile(value) };
    // QEMU has exited; should the write have been lost, park the hart.
    loop {
        riscv::asm::wfi();
    }
}
