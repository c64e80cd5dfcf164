//! `shared`: maps a shared anonymous page, writes 0x11 to it and forks; the child checks it
//! reads 0x11, writes 0x5ead and exits 0; the parent waits for it, reads 0x5ead and exits 42.

#![no_std]
#![no_main]

sys::asm_program!(
    "   mmap_rw 0x1000, 0x21", // MAP_SHARED | MAP_ANONYMOUS
    "   li      t0, 0x11",
    "   sd      t0, 0(s0)",
    "   fork_child",
    "   wait_child",
    "   bnez    a1, 9f",
    "   li      s1, 5",
    "   ld      t0, 0(s0)",
    "   expect  t0, 0x5ead",
    "   li      s1, 42",
    "   j       9f",
    "5: li      s1, 1", // the child
    "   ld      t0, 0(s0)",
    "   expect  t0, 0x11",
    "   li      t0, 0x5ead",
    "   sd      t0, 0(s0)",
    "   li      s1, 0",
    "9: exit_s1",
);
