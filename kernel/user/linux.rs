//! `linux`: memory calls whose results Linux fixes, each result checked. It exits 0 with the
//! first mapping's address in `a1`, the second's in `a2`, and the `PROT_NONE` page's in `a3`,
//! or with the number of the first step that went otherwise:
//!
//! 1. `mmap(NULL, 3 pages)` then `mmap(NULL, 1 page)`: the second lands right below the first
//!    (top-down);
//! 2. `mmap` with a free hint: placed at the hint;
//! 3. `MAP_FIXED_NOREPLACE` over the first mapping: `EEXIST`;
//! 4. `munmap` of a misaligned address: `EINVAL`;
//! 5. with the first mapping's middle page unmapped, `mprotect(PROT_READ)` from the second
//!    mapping over all: `ENOMEM`; the run before the hole was changed (a child's write to
//!    the first page dies of SIGSEGV there) and the page after it was not (its write goes
//!    through and reads back);
//! 6. `mprotect` from the hole: `ENOMEM`, and the page after it is still writable;
//! 7. `wait4` for a child that exited, with `wstatus` pointing into the read-only page:
//!    `EFAULT`, and the child is reaped all the same (a second `wait4`: `ECHILD`);
//! 8. a page made `PROT_NONE`: a child's read dies of SIGSEGV there; made readable and
//!    writable again, it holds the word written before;
//! 9. `brk`: `brk(0)` answers the break; grown by 2 pages, the heap's second page holds what is
//!    written there; shrunk back, the heap's first page is free again (`MAP_FIXED_NOREPLACE`
//!    maps it).

#![no_std]
#![no_main]

use core::arch::asm;

use sys::{
    mmap, syscall, wait_child, BRK, CLONE, EXIT, WAIT4, MAP_PRIVATE_ANON, MPROTECT, MUNMAP, PAGE, PROT_NONE,
    PROT_READ, PROT_WRITE,
};

/// `MAP_FIXED_NOREPLACE`.
const MAP_FIXED_NOREPLACE: usize = 0x10_0000;
/// Where step 2 asks for a page: free, far below where `mmap` places.
const HINT: usize = 0x2000_0000;

/// `-errno`, as a system call answers it.
const fn err(errno: usize) -> usize {
    errno.wrapping_neg()
}
const ENOMEM: usize = err(12);
const EEXIST: usize = err(17);
const EINVAL: usize = err(22);
const ECHILD: usize = err(10);
const EFAULT: usize = err(14);

/// `exit(code)`, with `report` in `a1` to `a3`.
fn exit(code: usize, report: [usize; 3]) -> ! {
    // SAFETY: `exit` does not return; the kernel reads the registers of the ended process.
    unsafe {
        asm!(
            "ecall",
            in("a0") code,
            in("a1") report[0],
            in("a2") report[1],
            in("a3") report[2],
            in("a7") EXIT,
            options(noreturn, nostack),
        );
    }
}

/// The word at `addr`.
fn read(addr: usize) -> usize {
    // SAFETY: the callers read their own mappings, or (in a child) an address meant to fault.
    unsafe { core::ptr::with_exposed_provenance::<usize>(addr).read_volatile() }
}

/// Writes `word` at `addr`.
fn write(addr: usize, word: usize) {
    // SAFETY: as in `read`.
    unsafe { core::ptr::with_exposed_provenance_mut::<usize>(addr).write_volatile(word) }
}

/// Whether a child that reads (or writes, if `store`) `addr` dies of SIGSEGV at `addr`, as
/// `wait4` reports it.
fn faults(addr: usize, store: bool) -> bool {
    let child = syscall(CLONE, [17, 0, 0, 0]);
    if child == 0 {
        if store {
            write(addr, 1);
        } else {
            read(addr);
        }
        exit(0, [0; 3]);
    }
    child as isize > 0 && wait_child() == (child, 11, addr)
}

/// Exits with `step` unless `ok`.
fn check(ok: bool, step: usize) {
    if !ok {
        exit(step, [0; 3]);
    }
}

/// The program (see the module's documentation).
#[unsafe(no_mangle)]
extern "C" fn _start() -> ! {
    let rw = PROT_READ | PROT_WRITE;
    let a = mmap(0, 3 * PAGE, rw, MAP_PRIVATE_ANON);
    let b = mmap(0, PAGE, rw, MAP_PRIVATE_ANON);
    check(a.is_multiple_of(PAGE) && b == a - PAGE, 1);
    check(mmap(HINT, PAGE, rw, MAP_PRIVATE_ANON) == HINT, 2);
    check(mmap(a, PAGE, rw, MAP_PRIVATE_ANON | MAP_FIXED_NOREPLACE) == EEXIST, 3);
    check(syscall(MUNMAP, [a + 1, PAGE, 0, 0]) == EINVAL, 4);

    let (hole, after) = (a + PAGE, a + 2 * PAGE);
    check(syscall(MUNMAP, [hole, PAGE, 0, 0]) == 0, 5);
    write(a, 0xa);
    let all = after + PAGE - b;
    check(syscall(MPROTECT, [b, all, PROT_READ, 0]) == ENOMEM, 5);
    check(faults(a, true), 5);
    write(after, 0xaf);
    check(read(after) == 0xaf, 5);
    check(syscall(MPROTECT, [hole, 2 * PAGE, PROT_READ, 0]) == ENOMEM, 6);
    write(after, 0xaf7);
    check(read(after) == 0xaf7, 6);

    let child = syscall(CLONE, [17, 0, 0, 0]);
    if child == 0 {
        exit(0, [0; 3]);
    }
    check(syscall(WAIT4, [usize::MAX, a, 0, 0]) == EFAULT, 7);
    check(syscall(WAIT4, [usize::MAX, 0, 0, 0]) == ECHILD, 7);

    let none = mmap(0, PAGE, rw, MAP_PRIVATE_ANON);
    write(none, 0x7e57);
    check(syscall(MPROTECT, [none, PAGE, PROT_NONE, 0]) == 0, 8);
    check(faults(none, false), 8);
    check(syscall(MPROTECT, [none, PAGE, rw, 0]) == 0, 8);
    check(read(none) == 0x7e57, 8);

    let heap = syscall(BRK, [0; 4]);
    check(syscall(BRK, [heap + 2 * PAGE, 0, 0, 0]) == heap + 2 * PAGE, 9);
    write(heap + PAGE, 0x4ea9);
    check(read(heap + PAGE) == 0x4ea9, 9);
    check(syscall(BRK, [heap, 0, 0, 0]) == heap, 9);
    let fixed = MAP_PRIVATE_ANON | MAP_FIXED_NOREPLACE;
    check(mmap(heap, PAGE, rw, fixed) == heap, 9);
    exit(0, [a, b, none]);
}
