//! `mmap`: checks that its `.bss` word reads 0 (it shares a page with `.data`, whose file
//! bytes end before it), maps 64 KiB and keeps the address in that word, writes pages 0 and
//! 5, unmaps page 5, says hello (from `.data`), exits 42 (1 to 4 if a step failed).

#![no_std]
#![no_main]

sys::asm_program!(
    "   lla     t0, mapped",
    "   ld      t1, 0(t0)",
    "   li      s1, 4",
    "   bnez    t1, 9f",
    "   li      a7, 222", // mmap(NULL, 64 KiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    "   li      a0, 0",
    "   li      a1, 0x10000",
    "   li      a2, 3",
    "   li      a3, 0x22",
    "   li      a4, -1",
    "   li      a5, 0",
    "   ecall",
    "   li      s1, 1",
    "   bltz    a0, 9f",
    "   lla     t0, mapped",
    "   sd      a0, 0(t0)",
    "   ld      s0, 0(t0)",
    "   li      t0, 0x5a",
    "   sd      t0, 0(s0)",
    "   li      t1, 0x5000",
    "   add     t1, s0, t1",
    "   sd      t0, 0(t1)",
    "   ld      t2, 0(s0)",
    "   li      s1, 2",
    "   bne     t0, t2, 9f",
    "   li      a7, 215", // munmap(page 5)
    "   mv      a0, t1",
    "   li      a1, 0x1000",
    "   ecall",
    "   li      s1, 3",
    "   bnez    a0, 9f",
    "   li      a7, 64", // write(1, hello, len)
    "   li      a0, 1",
    "   lla     a1, hello",
    "   li      a2, 18",
    "   ecall",
    "   li      s1, 42",
    "9: li      a7, 93", // exit(s1)
    "   mv      a0, s1",
    "   ecall",
    "   .section .data",
    "hello:",
    "   .ascii  \"hello from U-mode\\n\"",
    "   .section .bss",
    "   .balign 8",
    "mapped:",
    "   .zero   8",
);
