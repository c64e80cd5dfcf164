//! `fork`: maps 4 private pages (at s0, s3, s4, s5), writes 0xfN to the page at sN, forks.
//! The parent writes 0xa0, 0xa1 to pages 0 and 1 and waits: the child must have exited with
//! its pid; it then reads back its own writes and the fork's, and exits 42. The child first
//! checks that pages 0 and 1 still hold the fork's 0xf0 and 0xf3 (the parent's writes went to
//! copies), then writes 0xc0, 0xc1 to them, reads back its own and the fork's, and exits with
//! getpid(). Any mismatch exits with another code.

#![no_std]
#![no_main]

sys::asm_program!(
    "   mmap_rw 0x4000, 0x22", // MAP_PRIVATE | MAP_ANONYMOUS
    "   li      t0, 0x1000",
    "   add     s3, s0, t0",
    "   add     s4, s3, t0",
    "   add     s5, s4, t0",
    "   .irp    page, 0, 3, 4, 5",
    "   li      t0, 0xf\\page",
    "   sd      t0, 0(s\\page)",
    "   .endr",
    "   fork_child",
    "   li      t0, 0xa0",
    "   sd      t0, 0(s0)",
    "   li      t0, 0xa1",
    "   sd      t0, 0(s3)",
    "   wait_child",
    "   slli    t0, s2, 8",
    "   bne     a1, t0, 9f",
    "   li      s1, 5",
    "   ld      t0, 0(s0)",
    "   expect  t0, 0xa0",
    "   ld      t0, 0(s3)",
    "   expect  t0, 0xa1",
    "   ld      t0, 0(s4)",
    "   expect  t0, 0xf4",
    "   ld      t0, 0(s5)",
    "   expect  t0, 0xf5",
    "   li      s1, 42",
    "   j       9f",
    "5: li      s1, 0xfe", // the child
    "   ld      t0, 0(s0)",
    "   expect  t0, 0xf0",
    "   ld      t0, 0(s3)",
    "   expect  t0, 0xf3",
    "   li      t0, 0xc0",
    "   sd      t0, 0(s0)",
    "   li      t0, 0xc1",
    "   sd      t0, 0(s3)",
    "   li      s1, 0xff",
    "   ld      t0, 0(s0)",
    "   expect  t0, 0xc0",
    "   ld      t0, 0(s3)",
    "   expect  t0, 0xc1",
    "   ld      t0, 0(s4)",
    "   expect  t0, 0xf4",
    "   ld      t0, 0(s5)",
    "   expect  t0, 0xf5",
    "   li      a7, 172", // getpid()
    "   ecall",
    "   mv      s1, a0",
    "9: exit_s1",
);
