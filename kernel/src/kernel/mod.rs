//! The kernel: `rust_main` (where `_start` lands), the heap, the panic handler.
//!
//! - `boot`: the entry point, the boot page table, the linker's symbols;
//! - `console`: printing through the SBI;
//! - `frames`: the crate's `FrameAllocator` (with reference counts) over free RAM;
//! - `hart`: which hart runs (`tp`), and the other hart, started on a job;
//! - `space`: kernel address spaces built with the crate, and `activate` (the kernel's space)
//!   and `run_on` (a process's, on any hart);
//! - `tlb`: the page table of every space, whose TLB flush reaches the other hart (SBI remote
//!   fences) when it runs on the same space;
//! - `trap`: traps from S-mode, page faults through `MemorySet::handle_page_fault_shared` under a read lock;
//! - `exec`: the user programs, embedded ELF files, and how a process's space maps them;
//! - `stress`: what the kernel knows of the stress program, a user program in Rust;
//! - `linux`: a process's memory system calls and fault checks through the crate's Linux
//!   personality, its VMAs kept beside its space under the space's lock;
//! - `user`: U-mode processes (a small table both harts share: `fork`, `wait4`, `getpid`), their
//!   system calls and page faults;
//! - `finisher`: the test finisher, mapped through the crate as device memory;
//! - `checks`: what each boot verifies.

#[macro_use]
mod console;
mod boot;
mod checks;
mod exec;
mod finisher;
mod frames;
mod hart;
mod linux;
mod space;
mod stress;
mod tlb;
mod trap;
mod user;

use buddy_system_allocator::LockedHeap;

/// The kernel heap (the crate's areas and nodes), in `.bss`.
#[global_allocator]
static HEAP: LockedHeap<32> = LockedHeap::empty();

/// Bytes of the kernel heap.
const HEAP_SIZE: usize = 1 << 20;

/// The memory of the kernel heap.
static mut HEAP_SPACE: [u8; HEAP_SIZE] = [0; HEAP_SIZE];

/// Where `_start` lands, on the boot table and the boot stack: `hart` is this hart's id and
/// `dtb` the device tree's physical address, as OpenSBI passed them.
extern "C" fn rust_main(hart: usize, dtb: usize) -> ! {
    // SAFETY: first thing on the boot hart (OpenSBI starts the other harts only when asked).
    unsafe { boot::zero_bss() };
    hart::set_id(hart);
    trap::init();
    // SAFETY: `HEAP_SPACE` is used by the heap alone, from now on.
    unsafe { HEAP.lock().init((&raw mut HEAP_SPACE).addr(), HEAP_SIZE) };
    println!("range-action-map kernel: hart {hart}, device tree at {dtb:#x}");

    let ram = ram(dtb);
    let image = boot::image();
    let free = image.end - boot::PHYS_OFFSET..ram.end;
    println!(
        "RAM {:#x}-{:#x}; kernel image {:#x}-{:#x}; {} KiB free",
        ram.start,
        ram.end,
        image.text - boot::PHYS_OFFSET,
        image.end - boot::PHYS_OFFSET,
        free.len() / 1024,
    );
    // SAFETY: RAM beyond the image is unused (the device tree was read above and is not
    // needed again), and the boot table and every kernel space map it at `pa + PHYS_OFFSET`;
    // the image starts at `image.text`.
    unsafe { frames::init(image.text - boot::PHYS_OFFSET, free.start, free.end) };

    let passed = checks::run(hart, ram.end);
    finisher::exit(passed)
}

/// Where the other hart lands (from `_start_second`, on the boot table and its own stack,
/// with its id): it takes the kernel's address space and runs the job it was started for.
extern "C" fn rust_second(hart: usize) -> ! {
    hart::set_id(hart);
    trap::init();
    space::run_on(None);
    hart::run_job()
}

/// The RAM the device tree describes (its first region).
fn ram(dtb: usize) -> core::ops::Range<usize> {
    // SAFETY: OpenSBI passes a valid device tree, in RAM that the boot table maps at
    // `pa + PHYS_OFFSET` and nothing writes yet.
    let fdt = unsafe { fdt::Fdt::from_ptr((dtb + boot::PHYS_OFFSET) as *const u8) }
        .expect("a valid device tree");
    let region = fdt.memory().regions().next().expect("a memory region");
    let start = region.starting_address as usize;
    start..start + region.size.expect("a memory region with a size")
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    // Not through `println!`: the panic may have come while a line was being printed.
    use core::fmt::Write;
    let _ = writeln!(console::Console, "panic: {info}");
    finisher::exit(false)
}
