//! A small simulated kernel: a kernel address space built from its section
//! layout, and user processes whose `mmap` / `munmap` / `mprotect` /
//! `msync` / page faults / `fork` are served by `MemorySet`s over a software
//! Sv39 page table. User address spaces are laid out as Linux lays out a
//! process (`LinuxLayout`: top-down from `mmap_base`, a guard gap below
//! grows-down stacks, 2 MiB alignment for 2 MiB multiples). A fork shares
//! memory copy-on-write, a shared mapping is seen by both processes, a file
//! is mapped over an in-memory page cache, and a stack grows on a fault
//! below it. Prints every address space `/proc/<pid>/maps`-style.
//!
//! ```text
//! cargo run --example kernel
//! ```

use std::error::Error;

use range_action_map::linux::{GrowsDown, LinuxLayout, StackRlimit};
use range_action_map::memory_set::{
    Access, ByFrame, FileMapping, KernelLayout, Lazy, MemoryAttr, MemoryError, MemoryHandler,
    MemorySet, PageTable, Shared, PAGE_SIZE,
};
use range_action_map::Window;
use range_action_map_testkit::{mmu, CountingFrameAllocator, MemFile, SoftPageTable};

type AddressSpace = MemorySet<SoftPageTable, CountingFrameAllocator, LinuxLayout>;

/// The kernel's linear mapping: `va = pa + PHYSICAL_MEMORY_OFFSET`.
const PHYSICAL_MEMORY_OFFSET: usize = 0xffff_ffff_4000_0000;
/// Where the boot loader puts the kernel image, and the end of RAM.
const KERNEL_START: usize = 0x8020_0000;
const PHYSICAL_MEMORY_END: usize = 0x8080_0000;
/// User addresses: the lower half of Sv39 (Linux's `TASK_SIZE` on RISC-V
/// with Sv39), from `mmap_min_addr` up.
const USER_HIGH: usize = 0x40_0000_0000;

/// What an `mmap` maps.
#[derive(Clone, Copy)]
enum Kind {
    /// `MAP_PRIVATE | MAP_ANONYMOUS`.
    Private,
    /// `MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN`: a thread stack.
    GrowsDown,
    /// `MAP_SHARED | MAP_ANONYMOUS`.
    Shared,
    /// `MAP_SHARED` of the file at this page offset.
    SharedFile(usize),
}

/// One system call or trap of the script.
enum Event {
    Mmap {
        hint: usize,
        len: usize,
        attr: MemoryAttr,
        kind: Kind,
    },
    Munmap {
        addr: usize,
        len: usize,
    },
    Mprotect {
        addr: usize,
        len: usize,
        attr: MemoryAttr,
    },
    Fault {
        addr: usize,
        access: Access,
    },
    Write {
        addr: usize,
        text: &'static str,
    },
    Read {
        addr: usize,
    },
    Msync {
        addr: usize,
        len: usize,
    },
    Fork,
}

struct Process {
    pid: u32,
    space: AddressSpace,
}

fn kernel_layout() -> KernelLayout {
    let va = |pa: usize| pa + PHYSICAL_MEMORY_OFFSET;
    let page = |n: usize| va(KERNEL_START + n * PAGE_SIZE);
    KernelLayout::new(PHYSICAL_MEMORY_OFFSET)
        .text(page(0)..page(16))
        .rodata(page(16)..page(20))
        .data(page(20)..page(22))
        .bss(page(22)..page(30))
        .physical_memory(page(30)..va(PHYSICAL_MEMORY_END))
}

/// `init`: code, data and a lazily allocated stack that grows down, in an
/// address space laid out as Linux lays out a process with an 8 MiB stack
/// limit.
fn spawn_init(frames: &CountingFrameAllocator) -> Result<Process, Box<dyn Error>> {
    let layout = LinuxLayout::for_task_size(USER_HIGH, StackRlimit::DEFAULT);
    let window = Window::new(layout.mmap_min_addr(), USER_HIGH).map_err(MemoryError::from)?;
    println!(
        "\n== user layout: mmap_base {:#x}, guard gap {:#x}, window {:#x}-{:#x} ==",
        layout.mmap_base(),
        layout.guard_gap(),
        window.low(),
        window.high()
    );
    let mut space = MemorySet::with_policy(
        layout,
        window,
        SoftPageTable::new(frames.memory()),
        frames.clone(),
    );
    let user = MemoryAttr::new().set_user();
    space.push(
        0x1_0000,
        0x1_4000,
        user.set_readonly().set_execute(),
        ByFrame::new(),
    )?;
    space.push(0x1_4000, 0x1_6000, user.set_readonly(), ByFrame::new())?;
    space.push(0x1_6000, 0x1_8000, user, ByFrame::new())?;
    let stack_top = USER_HIGH - PAGE_SIZE;
    space.push_grows_down(stack_top - 16 * PAGE_SIZE, stack_top, user, Lazy::new())?;
    Ok(Process { pid: 1, space })
}

/// A private anonymous `mmap(hint, len, attr)`.
fn mmap(hint: usize, len: usize, attr: MemoryAttr) -> Event {
    Event::Mmap {
        hint,
        len,
        attr,
        kind: Kind::Private,
    }
}

/// The physical address behind a user address, or `None` if unmapped.
fn translate(process: &Process, addr: usize) -> Option<usize> {
    process.space.page_table().translate(addr).map(|(pa, _)| pa)
}

fn read_str(frames: &CountingFrameAllocator, process: &Process, addr: usize) -> String {
    let mut buf = [0; 16];
    match translate(process, addr) {
        Some(pa) => {
            frames.read(pa & !(PAGE_SIZE - 1), pa % PAGE_SIZE, &mut buf);
            String::from_utf8_lossy(&buf)
                .trim_end_matches('\0')
                .to_string()
        }
        None => "<not mapped>".into(),
    }
}

fn serve(
    frames: &mut CountingFrameAllocator,
    file: &MemFile,
    procs: &mut Vec<Process>,
    index: usize,
    event: &Event,
) -> Result<(), Box<dyn Error>> {
    let next_pid = procs.iter().map(|p| p.pid).max().unwrap_or(0) + 1;
    let process = &mut procs[index];
    let pid = process.pid;
    match *event {
        Event::Mmap {
            hint,
            len,
            attr,
            kind,
        } => {
            let (space, attr) = (&mut process.space, attr.set_user());
            // What the flags ask for decides the handler, at run time.
            let (handler, flags): (Box<dyn MemoryHandler<_, _>>, _) = match kind {
                Kind::Private | Kind::GrowsDown => {
                    (Box::new(Lazy::new()), "MAP_PRIVATE|MAP_ANONYMOUS")
                }
                Kind::Shared => (Box::new(Shared::new()), "MAP_SHARED|MAP_ANONYMOUS"),
                Kind::SharedFile(pgoff) => (
                    Box::new(FileMapping::shared(file.clone(), pgoff)),
                    "MAP_SHARED",
                ),
            };
            let addr = if let Kind::GrowsDown = kind {
                space.map_anywhere_grows_down(hint, len, PAGE_SIZE, attr, handler)?
            } else {
                space.map_anywhere(hint, len, PAGE_SIZE, attr, handler)?
            };
            let grows = if let Kind::GrowsDown = kind {
                "|MAP_GROWSDOWN"
            } else {
                ""
            };
            println!("[pid {pid}] mmap({hint:#x}, {len:#x}, {attr}, {flags}{grows}) = {addr:#x}");
        }
        Event::Munmap { addr, len } => {
            let coverage = process.space.unmap(addr, addr + len)?;
            println!(
                "[pid {pid}] munmap({addr:#x}, {len:#x}) = 0 ({:#x} bytes were mapped)",
                coverage.mapped_len()
            );
        }
        Event::Mprotect { addr, len, attr } => {
            process.space.protect(addr, addr + len, attr.set_user())?;
            println!(
                "[pid {pid}] mprotect({addr:#x}, {len:#x}, {attr}) = 0, {} areas",
                process.space.len()
            );
        }
        Event::Fault { addr, access } => match process.space.handle_page_fault(addr, access) {
            Ok(()) => println!("[pid {pid}] page fault ({access:?}) at {addr:#x}: page mapped"),
            Err(error) => println!("[pid {pid}] page fault at {addr:#x}: SIGSEGV ({error})"),
        },
        Event::Write { addr, text } => {
            // What the CPU does on a store: fault if the page is absent or
            // read-only (copy-on-write), then write.
            let copies = frames.copies();
            mmu::store(&mut process.space, addr, text.as_bytes())?;
            let copied = match frames.copies() - copies {
                0 => String::new(),
                n => format!(" (copy-on-write: {n} page copied)"),
            };
            println!("[pid {pid}] store {text:?} at {addr:#x}{copied}");
        }
        Event::Read { addr } => {
            mmu::translate(&mut process.space, addr, Access::Read)?;
            let text = read_str(frames, process, addr);
            println!("[pid {pid}] load at {addr:#x}: {text:?}");
        }
        Event::Msync { addr, len } => {
            let written = process.space.msync(addr, addr + len)?;
            println!(
                "[pid {pid}] msync({addr:#x}, {len:#x}) = 0 ({written} dirty pages written back)"
            );
        }
        Event::Fork => {
            let child = process
                .space
                .clone_for_fork(SoftPageTable::new(frames.memory()))?;
            println!(
                "[pid {pid}] fork() = {next_pid} ({} pages shared, {} copied)",
                child.page_table().mapped_pages().count(),
                frames.copies()
            );
            procs.push(Process {
                pid: next_pid,
                space: child,
            });
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut frames = CountingFrameAllocator::new(1024);
    let kernel = MemorySet::new_kernel(
        &kernel_layout(),
        SoftPageTable::new(frames.memory()),
        frames.clone(),
    )?;
    // A real kernel writes its table's root here (`satp` on RISC-V), in its
    // own unsafe code; the simulated table only records which is current.
    kernel.page_table().activate();
    println!(
        "== kernel address space ({} pages mapped) ==",
        kernel.page_table().mapped_pages().count()
    );
    print!("{kernel}");

    let file = MemFile::new(1, 4);
    let mut procs = vec![spawn_init(&frames)?];
    let (rw, ro) = (MemoryAttr::new(), MemoryAttr::new().set_readonly());
    let stack = USER_HIGH - 2 * PAGE_SIZE;
    let script = [
        (0, mmap(0x100_0000, 0x8000, rw)),
        (
            0,
            Event::Write {
                addr: 0x100_0010,
                text: "hello heap",
            },
        ),
        (
            0,
            Event::Write {
                addr: stack,
                text: "stack frame",
            },
        ),
        (
            0,
            Event::Fault {
                addr: 0x1_0040,
                access: Access::Write,
            },
        ),
        (
            0,
            Event::Fault {
                addr: 0x900_0000,
                access: Access::Read,
            },
        ),
        (
            0,
            Event::Mprotect {
                addr: 0x100_2000,
                len: 0x2000,
                attr: ro,
            },
        ),
        (
            0,
            Event::Fault {
                addr: 0x100_2000,
                access: Access::Write,
            },
        ),
        (
            0,
            Event::Mprotect {
                addr: 0x100_2000,
                len: 0x2000,
                attr: rw,
            },
        ),
        (
            0,
            Event::Munmap {
                addr: 0x100_6000,
                len: 0x2000,
            },
        ),
        // No hint: top-down from mmap_base. A thread stack (grows down), then
        // a mapping that keeps the stack's guard gap free, and a 2 MiB one
        // that Linux aligns for transparent huge pages.
        (0, mmap(0, 0x3000, rw)),
        (
            0,
            Event::Mmap {
                hint: 0,
                len: 0x10000,
                attr: rw,
                kind: Kind::GrowsDown,
            },
        ),
        (0, mmap(0, 0x2000, rw)),
        (0, mmap(0, 0x20_0000, rw)),
        (
            0,
            Event::Mmap {
                hint: 0x200_0000,
                len: 0x2000,
                attr: rw,
                kind: Kind::Shared,
            },
        ),
        (
            0,
            Event::Mmap {
                hint: 0x300_0000,
                len: 0x2000,
                attr: rw,
                kind: Kind::SharedFile(1),
            },
        ),
        (0, Event::Fork),
        (
            0,
            Event::Write {
                addr: 0x100_0010,
                text: "parent wrote",
            },
        ),
        (
            1,
            Event::Write {
                addr: 0x100_0010,
                text: "child wrote",
            },
        ),
        (
            1,
            Event::Write {
                addr: 0x200_0000,
                text: "to my parent",
            },
        ),
        (0, Event::Read { addr: 0x200_0000 }),
        (
            1,
            Event::Write {
                addr: 0x300_0008,
                text: "file text",
            },
        ),
        (
            0,
            Event::Msync {
                addr: 0x300_0000,
                len: 0x2000,
            },
        ),
        // Below the stack and within its rlimit: the stack grows down.
        (
            1,
            Event::Write {
                addr: stack - 3 * PAGE_SIZE,
                text: "deeper frame",
            },
        ),
        (1, mmap(0x100_0000, 0x4000, rw)),
        (
            1,
            Event::Mprotect {
                addr: 0x1_6000,
                len: 0x1000,
                attr: ro,
            },
        ),
    ];
    for (index, event) in &script {
        serve(&mut frames, &file, &mut procs, *index, event)?;
    }

    for process in &procs {
        println!("\n== /proc/{}/maps ==", process.pid);
        print!("{}", process.space);
        for area in process.space.iter().filter(|area| area.grows_down()) {
            let range = area.range();
            println!("grows down: {:#x}-{:#x}", range.start, range.end);
        }
        println!(
            "heap word: {:?}, stack word: {:?}",
            read_str(&frames, process, 0x100_0010),
            read_str(&frames, process, stack)
        );
    }
    println!(
        "\nframes live: {} of {}, {} copied on write; file: {} pages read, {} written back",
        frames.live(),
        frames.capacity(),
        frames.copies(),
        file.reads(),
        file.writebacks()
    );
    drop(procs);
    drop(kernel);
    file.evict(&mut frames);
    println!(
        "after every address space exits: {} frames live",
        frames.live()
    );
    assert_eq!(frames.live(), 0);
    Ok(())
}
