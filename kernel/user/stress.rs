//! `stress`: the stress program, in Rust. It reaches the kernel only through `ecall` (the
//! stubs of `sys`), and every store to its model is volatile.
//!
//! It makes [`OPS`] random `mmap`/`munmap`/`mprotect` calls (xorshift64, fixed seed) over a
//! window of [`WINDOW`] pages and keeps a model of the window: for each page its state
//! (unmapped, `PROT_NONE`, read-only, read-write) and the word it last wrote there. Every
//! result must be Linux's, as the model predicts it: `mmap` places top-down (the highest free
//! run below the model page, the first mapping, which the window lies right under), and
//! `mprotect` changes the mapped run from the range's start up to the first hole, then fails
//! with `ENOMEM` (nothing changed if the start is unmapped). After each call it checks every
//! page of the call's range the model says is readable (reads its word back, which a
//! `PROT_NONE` spell must not have lost; on a read-write page writes a new one and reads it
//! back), every [`SWEEP`] calls every page of the window, and forks a child that checks that
//! its copy holds every word the model says, then touches a page that must fault: it reads a
//! page the model says is unmapped or `PROT_NONE`, or makes a readable one (with up to 3
//! mapped pages below it and up to 3 pages, mapped or not, above) writable, writes it, makes
//! them read-only and writes it again (the child's own `mprotect`s: after a fork every
//! private page is read-only for copy-on-write, so a write to a page only the parent made
//! read-only would fault even if `mprotect` had left it writable). The parent expects `wait4`
//! to report SIGSEGV at exactly that address.
//!
//! It exits 0 with its counts in `a1` to `a6` (calls to `mmap`, `munmap`, `mprotect`; page
//! checks; faults expected; faults seen), or with a [`Failure`] code and, in `t0` (and `t1`),
//! what it found wrong.

#![no_std]
#![no_main]

mod stress_report;

use core::arch::asm;

use stress_report::{Counts, Failure, OPS, WINDOW};
use sys::{
    mmap, syscall, wait_child, CLONE, EXIT, MAP_PRIVATE_ANON, MPROTECT, MUNMAP, PAGE, PROT_NONE,
    PROT_READ, PROT_WRITE,
};

/// Every `SWEEP` calls, every page of the window is checked and a child checks a fault.
const SWEEP: usize = 16;

/// `-ENOMEM`, as a system call answers it.
const ENOMEM: usize = 12usize.wrapping_neg();

/// A page's state in the model.
const UNMAPPED: u8 = 0;
const READ_ONLY: u8 = 1;
const READ_WRITE: u8 = 2;
const NO_ACCESS: u8 = 3;

/// `exit(code)`, with the counts in `a1` to `a6` and `detail` in `t0` and `t1`.
fn exit(code: usize, counts: &Counts, detail: [usize; 2]) -> ! {
    // SAFETY: `exit` does not return; the kernel reads the registers of the ended process.
    unsafe {
        asm!(
            "ecall",
            in("a0") code,
            in("a1") counts.mmaps,
            in("a2") counts.munmaps,
            in("a3") counts.mprotects,
            in("a4") counts.verified,
            in("a5") counts.expected,
            in("a6") counts.seen,
            in("t0") detail[0],
            in("t1") detail[1],
            in("a7") EXIT,
            options(noreturn, nostack),
        );
    }
}

/// The model: `WINDOW` state bytes, then from byte 1024 `WINDOW` words, on one page.
struct Model {
    page: usize,
}

impl Model {
    fn state(&self, i: usize) -> u8 {
        // SAFETY: the model page is mapped read-write and `i % WINDOW` is inside it.
        unsafe { core::ptr::with_exposed_provenance::<u8>(self.page + i % WINDOW).read_volatile() }
    }

    fn set_state(&self, i: usize, state: u8) {
        // SAFETY: as in `state`.
        unsafe {
            core::ptr::with_exposed_provenance_mut::<u8>(self.page + i % WINDOW)
                .write_volatile(state);
        }
    }

    fn word(&self, i: usize) -> usize {
        // SAFETY: as in `state`; the words take 1024 bytes from byte 1024.
        unsafe {
            core::ptr::with_exposed_provenance::<usize>(self.page + 1024 + (i % WINDOW) * 8)
                .read_volatile()
        }
    }

    fn set_word(&self, i: usize, word: usize) {
        // SAFETY: as in `word`.
        unsafe {
            core::ptr::with_exposed_provenance_mut::<usize>(self.page + 1024 + (i % WINDOW) * 8)
                .write_volatile(word);
        }
    }

    /// Whether page `i` may be read: mapped, not `PROT_NONE`.
    fn readable(&self, i: usize) -> bool {
        matches!(self.state(i), READ_ONLY | READ_WRITE)
    }

    /// Linux's `mprotect` of the pages `[lo, hi)`: the end of the mapped run from `lo` (the
    /// pages that change), and the result, `-ENOMEM` if a hole stops the run.
    fn protect_run(&self, lo: usize, hi: usize) -> (usize, usize) {
        let mut stop = lo;
        while stop < hi && self.state(stop) != UNMAPPED {
            stop += 1;
        }
        (stop, if stop < hi { ENOMEM } else { 0 })
    }
}

/// xorshift64.
fn next(state: &mut usize) -> usize {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// The program (see the module's documentation). Its stack is the process's.
#[unsafe(no_mangle)]
extern "C" fn _start() -> ! {
    let mut counts = Counts::default();
    let model = mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE_ANON);
    if model as isize <= 0 {
        exit(Failure::Model as usize, &counts, [model, 0]);
    }
    let model = Model { page: model };
    // `mmap` places top-down from the model page: the window lies right under it.
    let base = model.page - WINDOW * PAGE;
    let page_va = |i: usize| base.wrapping_add(i.wrapping_mul(PAGE));
    let mut rng = 0x5eed_1234usize;
    let mut op = 0;
    while op < OPS {
        op += 1;
        let r = next(&mut rng);
        let len = 1 + ((r >> 8) & 15);
        let (prot, state) = match (r >> 24) & 3 {
            0 => (PROT_NONE, NO_ACCESS),
            1 => (PROT_READ, READ_ONLY),
            _ => (PROT_READ | PROT_WRITE, READ_WRITE),
        };
        let kind = r & 3;
        let (lo, hi);
        if kind == 0 {
            counts.mmaps += 1;
            // The highest free run of `len` pages in the model, `[end - len, end)`; the pages
            // below the window are free (its start may be "negative").
            let (mut end, mut i) = (WINDOW, WINDOW);
            while i > 0 && end - i < len {
                i -= 1;
                if model.state(i) != UNMAPPED {
                    end = i;
                }
            }
            let fit = end.wrapping_sub(len);
            let addr = mmap(0, len * PAGE, prot, MAP_PRIVATE_ANON);
            if addr != page_va(fit) {
                exit(Failure::Mmap as usize, &counts, [addr, page_va(fit)]);
            }
            if end < len {
                // Out of the window, below it: give it back.
                counts.munmaps += 1;
                if syscall(MUNMAP, [addr, len * PAGE, 0, 0]) != 0 {
                    exit(Failure::Munmap as usize, &counts, [addr, 0]);
                }
                (lo, hi) = (0, end);
            } else {
                (lo, hi) = (fit, end);
                let mut i = lo;
                while i < hi {
                    model.set_state(i, state);
                    model.set_word(i, 0);
                    i += 1;
                }
            }
        } else {
            lo = (r >> 16) & (WINDOW - 1);
            hi = (lo + len).min(WINDOW);
            let (va, bytes) = (page_va(lo), (hi - lo) * PAGE);
            // The pages that change: all of the range, or the run before its first hole.
            let changed = if kind == 1 {
                counts.munmaps += 1;
                if syscall(MUNMAP, [va, bytes, 0, 0]) != 0 {
                    exit(Failure::Munmap as usize, &counts, [va, 0]);
                }
                hi
            } else {
                counts.mprotects += 1;
                let (stop, expected) = model.protect_run(lo, hi);
                let result = syscall(MPROTECT, [va, bytes, prot, 0]);
                if result != expected {
                    exit(Failure::Mprotect as usize, &counts, [va, result]);
                }
                stop
            };
            let mut i = lo;
            while i < changed {
                model.set_state(i, if kind == 1 { UNMAPPED } else { state });
                i += 1;
            }
        }
        // Check the range of the call, or every page now and then.
        let (from, to) = if op % SWEEP == 0 {
            (0, WINDOW)
        } else {
            (lo, hi)
        };
        let mut i = from;
        while i < to {
            if model.readable(i) {
                let ptr = core::ptr::with_exposed_provenance_mut::<usize>(page_va(i));
                // SAFETY: the model says the page is mapped readable (the kernel serves the
                // fault of a lazy page); if it is wrong, the kernel kills the process.
                let word = unsafe { ptr.read_volatile() };
                if word != model.word(i) {
                    exit(Failure::Pattern as usize, &counts, [page_va(i), 0]);
                }
                if model.state(i) == READ_WRITE {
                    let word = (op << 16) ^ (i << 8) ^ (r & 0xff);
                    // SAFETY: the model says the page is mapped writable.
                    let back = unsafe {
                        ptr.write_volatile(word);
                        ptr.read_volatile()
                    };
                    if back != word {
                        exit(Failure::Pattern as usize, &counts, [page_va(i), 0]);
                    }
                    model.set_word(i, word);
                }
                counts.verified += 1;
            }
            i += 1;
        }
        if op % SWEEP == 0 {
            // A page that must fault in a child: an unmapped or `PROT_NONE` one, read; or a
            // readable one that
            // the child makes writable, writes, makes read-only (its own `mprotect`s, which a
            // fork's copy-on-write pages cannot hide) and writes again.
            let i = (r >> 40) % WINDOW;
            let target = page_va(i) + ((r >> 32) & 0xff8);
            let readable = model.readable(i);
            counts.expected += 1;
            let child = syscall(CLONE, [17, 0, 0, 0]);
            if child == 0 {
                // The fork's copy holds what the parent's pages held.
                let mut k = 0;
                while k < WINDOW {
                    if model.readable(k) {
                        let ptr = core::ptr::with_exposed_provenance::<usize>(page_va(k));
                        // SAFETY: the model says the page is mapped readable.
                        if unsafe { ptr.read_volatile() } != model.word(k) {
                            exit(Failure::Pattern as usize, &counts, [page_va(k), 0]);
                        }
                    }
                    k += 1;
                }
                let ptr = core::ptr::with_exposed_provenance_mut::<usize>(target);
                // The child's `mprotect`s cover up to 3 mapped pages below the target's (the
                // run from the start reaches it) and up to 3 pages above, holes or not.
                let mut low = i;
                while low > i.saturating_sub((r >> 48) & 3) && model.state(low - 1) != UNMAPPED {
                    low -= 1;
                }
                let high = (i + 1 + ((r >> 52) & 3)).min(WINDOW);
                let (from, to) = (page_va(low), page_va(high));
                let (_, expected) = model.protect_run(low, high);
                if readable {
                    let result = syscall(MPROTECT, [from, to - from, PROT_READ | PROT_WRITE, 0]);
                    if result != expected {
                        exit(Failure::Mprotect as usize, &counts, [from, result]);
                    }
                    // SAFETY: the child just made the page writable.
                    unsafe { ptr.write_volatile(op) };
                    let result = syscall(MPROTECT, [from, to - from, PROT_READ, 0]);
                    if result != expected {
                        exit(Failure::Mprotect as usize, &counts, [from, result]);
                    }
                }
                // SAFETY: the access is meant to fault and kill this child; if it does not,
                // the child exits and its parent reports it.
                unsafe {
                    if readable {
                        ptr.write_volatile(op);
                    } else {
                        ptr.read_volatile();
                    }
                }
                exit(0, &counts, [0, 0]);
            }
            if child as isize <= 0 {
                exit(Failure::Fork as usize, &counts, [child, 0]);
            }
            let (pid, status, addr) = wait_child();
            if pid != child || status != 11 || addr != target {
                exit(Failure::Fault as usize, &counts, [target, status]);
            }
            counts.seen += 1;
        }
    }
    exit(0, &counts, [0, 0]);
}
