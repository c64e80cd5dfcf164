//! `stack`: writes i to the page i below the top of its stack (sp) for i = 1..=8, reads them
//! back, forks; the child writes 32 pages below the top, beyond the stack rlimit; the parent
//! expects it killed by SIGSEGV at that address and exits 42.

#![no_std]
#![no_main]

sys::asm_program!(
    "   li      t0, 1",
    "   li      t3, 9",
    "1: slli    t1, t0, 12",
    "   sub     t1, sp, t1",
    "   sd      t0, 0(t1)",
    "   addi    t0, t0, 1",
    "   blt     t0, t3, 1b",
    "   li      s1, 1",
    "   li      t0, 1",
    "2: slli    t1, t0, 12",
    "   sub     t1, sp, t1",
    "   ld      t2, 0(t1)",
    "   bne     t2, t0, 9f",
    "   addi    t0, t0, 1",
    "   blt     t0, t3, 2b",
    "   fork_child",
    "   wait_child",
    "   expect  a1, 11",
    "   li      s1, 5",
    "   li      t0, 32 << 12",
    "   sub     t0, sp, t0",
    "   bne     a2, t0, 9f",
    "   li      s1, 42",
    "   j       9f",
    "5: li      t0, 32 << 12", // the child: faults, the kernel kills it
    "   sub     t0, sp, t0",
    "   sd      zero, 0(t0)",
    "   li      s1, 0",
    "9: exit_s1",
);
