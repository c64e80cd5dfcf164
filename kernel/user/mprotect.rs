//! `mprotect`: maps a page, writes it, makes it read-only, writes it again: the kernel kills
//! it there.

#![no_std]
#![no_main]

sys::asm_program!(
    "   li      a7, 222", // mmap(NULL, 4 KiB, PROT_READ | PROT_WRITE, ..., -1, 0)
    "   li      a0, 0",
    "   li      a1, 0x1000",
    "   li      a2, 3",
    "   li      a3, 0x22",
    "   li      a4, -1",
    "   li      a5, 0",
    "   ecall",
    "   mv      s0, a0",
    "   li      t0, 0x5a",
    "   sd      t0, 0(s0)",
    "   li      a7, 226", // mprotect(page, 4 KiB, PROT_READ)
    "   mv      a0, s0",
    "   li      a1, 0x1000",
    "   li      a2, 1",
    "   ecall",
    "   sd      t0, 0(s0)", // faults: the kernel kills the process
    "   li      a7, 93",
    "   li      a0, 0",
    "   ecall",
);
