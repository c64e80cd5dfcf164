//! A small RISC-V kernel that runs `range-action-map` under a real MMU: booted by OpenSBI on
//! QEMU's `virt` machine (`cargo qemu`), it builds its own high-half address space with the
//! crate over Sv39 tables in guest RAM, switches to it, runs its checks (each prints one
//! line: lazy pages, `protect` in the MMU, copy-on-write across a fork, U-mode processes
//! loaded from their ELF files (file-backed over the image)
//! whose `mmap`/`munmap`/`mprotect` and page faults go through the crate and which fork,
//! share memory, wait for their children and grow their stacks, faults on two harts
//! through one address space, TLB shootdowns to the other hart, processes on both harts
//! at once, frames given back),
//! and leaves QEMU through the test finisher with status 0 only if every check passed.
//!
//! The kernel is in `kernel/`, compiled for `riscv64gc-unknown-none-elf` only. On any other
//! target the binary only says how to boot it, and fails.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(all(target_arch = "riscv64", target_os = "none"))]
extern crate alloc;

#[cfg(all(target_arch = "riscv64", target_os = "none"))]
mod kernel;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this is a RISC-V kernel: boot it in QEMU with `cargo qemu`");
    std::process::exit(2);
}
