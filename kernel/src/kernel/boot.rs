//! From OpenSBI to Rust: the entry point, the boot page table that takes the kernel to the
//! high half it is linked at, and the linker's symbols.
//!
//! OpenSBI jumps to `_start` at the physical address QEMU loaded the image at, with the MMU
//! off, `a0` = hart id and `a1` = the device tree's physical address. The kernel is linked at
//! `PHYS_OFFSET + 0x8020_0000` (the seed's `0xffff_ffff_c020_0000`), so `_start` turns on a
//! boot table of three 1 GiB leaves, moves the stack and the program counter up by
//! `PHYS_OFFSET`, and calls `rust_main` with `a0` and `a1` untouched. The boot table lives
//! until the kernel switches to the address space it builds with the crate.

use core::arch::global_asm;

/// The kernel's linear mapping, as in the seed: `va = pa + PHYS_OFFSET`, for the kernel's
/// image and for the rest of physical memory.
pub const PHYS_OFFSET: usize = 0xffff_ffff_4000_0000;

/// Bytes of the boot stack, on which the kernel runs from `_start` on.
const BOOT_STACK_SIZE: usize = 64 * 1024;

/// An Sv39 root table.
#[repr(C, align(4096))]
pub struct BootTable([u64; 512]);

/// A 1 GiB Sv39 leaf mapping `pa`: valid, readable, writable, executable, accessed, dirty (so
/// that the hardware never has to set A or D in it).
const fn gigapage(pa: usize) -> u64 {
    ((pa as u64 >> 12) << 10) | 0xcf
}

/// The boot table: RAM (from 0x8000_0000) where it is, so that `_start` goes on running after
/// `satp` is written, and at the high half; and the low gigabyte, where the `virt` machine's
/// devices are, where it is, so that a failure before the kernel's own address space is up
/// can still leave QEMU through the test finisher.
static BOOT_TABLE: BootTable = {
    let mut entries = [0; 512];
    entries[0] = gigapage(0);
    entries[0x8000_0000 >> 30] = gigapage(0x8000_0000);
    entries[((0x8000_0000 + PHYS_OFFSET) >> 30) & 511] = gigapage(0x8000_0000);
    BootTable(entries)
};

/// A hart's stack, aligned as the RISC-V calling convention wants `sp` (16 bytes; a page
/// here): a byte array alone may start anywhere, and a hart's atomics on a misaligned stack
/// fault.
#[repr(C, align(4096))]
pub struct Stack<const N: usize>([u8; N]);

/// The boot stack (before `.bss` proper in the linker script: zeroing `.bss` runs on it).
#[unsafe(link_section = ".bss.stack")]
static mut BOOT_STACK: Stack<BOOT_STACK_SIZE> = Stack([0; BOOT_STACK_SIZE]);

global_asm!(
    "   .section .text.entry",
    "   .globl _start",
    "_start:",
    // `lla` is PC-relative: with the MMU off it gives physical addresses.
    "   lla     t0, {table}",
    "   srli    t0, t0, 12",
    "   li      t1, 8 << 60", // satp.MODE = Sv39
    "   or      t0, t0, t1",
    "   csrw    satp, t0",
    "   sfence.vma",
    "   li      t1, {offset}",
    "   lla     sp, {stack}",
    "   li      t2, {stack_size}",
    "   add     sp, sp, t2",
    "   add     sp, sp, t1",
    "   lla     t0, {main}",
    "   add     t0, t0, t1",
    "   jr      t0",
    table = sym BOOT_TABLE,
    offset = const PHYS_OFFSET,
    stack = sym BOOT_STACK,
    stack_size = const BOOT_STACK_SIZE,
    main = sym super::rust_main,
);

/// Bytes of the second hart's stack.
pub const SECOND_STACK_SIZE: usize = 64 * 1024;

/// The second hart's stack (in `.bss`: zeroed before the hart starts).
pub static mut SECOND_STACK: Stack<SECOND_STACK_SIZE> = Stack([0; SECOND_STACK_SIZE]);

// Where OpenSBI starts a second hart (`sbi_hart_start`), with the MMU off, `a0` = its hart id
// and `a1` = the top of its stack (a high-half address): the boot table again, then
// `super::rust_second` at the high half on that stack.
global_asm!(
    "   .section .text",
    "   .globl _start_second",
    "   .balign 4",
    "_start_second:",
    "   lla     t0, {table}",
    "   srli    t0, t0, 12",
    "   li      t1, 8 << 60",
    "   or      t0, t0, t1",
    "   csrw    satp, t0",
    "   sfence.vma",
    "   mv      sp, a1",
    "   li      t1, {offset}",
    "   lla     t0, {main}",
    "   add     t0, t0, t1",
    "   jr      t0",
    table = sym BOOT_TABLE,
    offset = const PHYS_OFFSET,
    main = sym super::rust_second,
);

unsafe extern "C" {
    /// Where a second hart starts (physical: `lla` of it, with the MMU off, or the
    /// high-half address less `PHYS_OFFSET`).
    pub fn _start_second();
    /// The first byte of the image (`.text`).
    static kernel_start: u8;
    /// The end of `.text`, the start of `.rodata`.
    static text_end: u8;
    /// The end of `.rodata`, the start of `.data`.
    static rodata_end: u8;
    /// The end of `.data`, the start of `.bss` (with the boot stack first).
    static data_end: u8;
    /// The part of `.bss` that is zeroed at boot.
    static bss_start: u8;
    static bss_end: u8;
    /// The end of the image: free RAM starts here.
    static kernel_end: u8;
}

/// The kernel image's sections, as the linker laid them out (page aligned, virtual).
#[derive(Clone, Copy, Debug)]
pub struct Image {
    /// `.text`.
    pub text: usize,
    /// `.rodata`.
    pub rodata: usize,
    /// `.data`.
    pub data: usize,
    /// `.bss`, with the boot stack.
    pub bss: usize,
    /// The end of the image.
    pub end: usize,
}

/// Where the linker put the sections.
pub fn image() -> Image {
    Image {
        text: (&raw const kernel_start).addr(),
        rodata: (&raw const text_end).addr(),
        data: (&raw const rodata_end).addr(),
        bss: (&raw const data_end).addr(),
        end: (&raw const kernel_end).addr(),
    }
}

/// Zeroes `.bss` (QEMU's loader is not relied on for it).
///
/// # Safety
///
/// Runs first, before anything reads or writes a static of `.bss`, on one hart.
pub unsafe fn zero_bss() {
    let start = (&raw const bss_start).cast_mut();
    let len = (&raw const bss_end).addr() - start.addr();
    // SAFETY: `[bss_start, bss_end)` is the kernel's `.bss`, mapped writable by the boot table;
    // nothing uses it yet (the caller's promise), and the stack is outside it.
    unsafe { start.write_bytes(0, len) };
}
