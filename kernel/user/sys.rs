//! What every user program shares: its system-call stubs (Linux's RISC-V numbers, as this
//! kernel serves them), in Rust and as assembler macros for the programs in assembly
//! ([`asm_program!`]), and the panic handler. The kernel's
//! `build.rs` compiles it as the library `sys` that each program links.

#![no_std]

use core::arch::asm;

/// `write`.
pub const WRITE: usize = 64;
/// `exit`.
pub const EXIT: usize = 93;
/// `getpid`.
pub const GETPID: usize = 172;
/// `brk`.
pub const BRK: usize = 214;
/// `munmap`.
pub const MUNMAP: usize = 215;
/// `clone`, which this kernel serves as `fork`.
pub const CLONE: usize = 220;
/// `mmap`.
pub const MMAP: usize = 222;
/// `mprotect`.
pub const MPROTECT: usize = 226;
/// `wait4`.
pub const WAIT4: usize = 260;

/// The page size.
pub const PAGE: usize = 4096;
/// `PROT_NONE`.
pub const PROT_NONE: usize = 0;
/// `PROT_READ`.
pub const PROT_READ: usize = 1;
/// `PROT_WRITE`.
pub const PROT_WRITE: usize = 2;
/// `MAP_PRIVATE | MAP_ANONYMOUS`.
pub const MAP_PRIVATE_ANON: usize = 0x22;

/// A system call with up to four arguments.
#[inline(always)]
pub fn syscall(number: usize, args: [usize; 4]) -> usize {
    let ret;
    // SAFETY: an `ecall` from U-mode traps to the kernel, which serves it and returns to the
    // next instruction with the result in `a0`; it touches no other register of ours.
    unsafe {
        asm!(
            "ecall",
            inlateout("a0") args[0] => ret,
            in("a1") args[1],
            in("a2") args[2],
            in("a3") args[3],
            in("a7") number,
            options(nostack),
        );
    }
    ret
}

/// `mmap(addr, len, prot, flags, -1, 0)`: anonymous memory (no file, offset 0).
#[inline(always)]
pub fn mmap(addr: usize, len: usize, prot: usize, flags: usize) -> usize {
    let ret;
    // SAFETY: as in `syscall`, with the file descriptor and offset in `a4` and `a5`.
    unsafe {
        asm!(
            "ecall",
            inlateout("a0") addr => ret,
            in("a1") len,
            in("a2") prot,
            in("a3") flags,
            in("a4") usize::MAX,
            in("a5") 0usize,
            in("a7") MMAP,
            options(nostack),
        );
    }
    ret
}

/// `wait4(-1, &wstatus, 0, NULL)`: the child's pid, the `wstatus` the kernel stored, and the
/// fault address of a child killed by SIGSEGV (this kernel's extension, in `a2`).
#[inline(always)]
pub fn wait_child() -> (usize, usize, usize) {
    let mut status = 0u32;
    let (pid, addr);
    // SAFETY: as in `syscall`; the kernel stores the `u32` through `a1`, which points to
    // `status`, and answers in `a0` and `a2`.
    unsafe {
        asm!(
            "ecall",
            inlateout("a0") usize::MAX => pid,
            in("a1") &raw mut status,
            inlateout("a2") 0usize => addr,
            in("a3") 0usize,
            in("a7") WAIT4,
            options(nostack),
        );
    }
    (pid, status as usize, addr)
}

/// A program in assembly: `_start`, then the lines given, after the same system calls as
/// assembler macros (`s1` is the exit code, and `9:` the exit).
#[macro_export]
macro_rules! asm_program {
    ($($line:literal),* $(,)?) => {
        core::arch::global_asm!(
            r"
            .macro  mmap_rw len, flags  # s0 = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0)
            li      a7, 222
            li      a0, 0
            li      a1, \len
            li      a2, 3
            li      a3, \flags
            li      a4, -1
            li      a5, 0
            ecall
            li      s1, 1
            bltz    a0, 9f
            mv      s0, a0
            .endm
            .macro  fork_child  # fork (clone(SIGCHLD, 0)); the child goes on at 5f, s2: its pid
            li      a7, 220
            li      a0, 17
            li      a1, 0
            ecall
            li      s1, 2
            bltz    a0, 9f
            beqz    a0, 5f
            mv      s2, a0
            .endm
            .macro  wait_child  # wait4(-1, &wstatus, 0, NULL) for the child s2, wstatus on the
            addi    sp, sp, -16     # stack then in a1 (a2: the fault address); s1 = 4 after
            li      a7, 260
            li      a0, -1
            mv      a1, sp
            li      a2, 0
            li      a3, 0
            ecall
            lw      a1, 0(sp)
            addi    sp, sp, 16
            li      s1, 3
            bne     a0, s2, 9f
            li      s1, 4
            .endm
            .macro  exit_s1
            li      a7, 93
            mv      a0, s1
            ecall
            .endm
            .macro  expect reg, value  # s1 is the exit code if `reg` is not `value`
            li      t1, \value
            bne     \reg, t1, 9f
            .endm
            ",
            "   .section .text.entry, \"ax\"",
            "   .globl _start",
            "_start:",
            $($line),*
        );
    };
}

/// A panic exits with 101, as a Rust program's panic does.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // SAFETY: `exit` does not return.
    unsafe { asm!("ecall", in("a0") 101, in("a7") EXIT, options(noreturn, nostack)) }
}
