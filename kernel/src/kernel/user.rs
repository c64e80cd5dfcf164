//! U-mode processes: two small programs (assembly, in the image's `.user_text` pages), each
//! run in an address space of its own made with the crate, whose system calls (Linux's
//! RISC-V numbers: `write`, `exit`, `mmap`, `munmap`, `mprotect`) and page faults the kernel
//! serves through `MemorySet`.
//!
//! The kernel enters a process with `enter_user`, which returns to it at the process's next
//! trap (a system call or a fault) with the user's registers saved: the kernel handles traps
//! from U-mode in a plain loop ([`run`]).

use core::arch::global_asm;

use range_action_map::memory_set::{Access, Lazy, Linear, MemoryAttr, PageTable, PAGE_SIZE};
use riscv::register::{scause, stval};

use super::boot::PHYS_OFFSET;
use super::space;

// The user programs. `user_mmap`: maps 64 KiB, writes pages 0 and 5, unmaps page 5, says
// hello, exits 42 (1 to 3 if a call failed). `user_mprotect`: maps a page, writes it, makes
// it read-only, writes it again: the kernel kills it there.
global_asm!(
    "   .pushsection .user_text, \"ax\"",
    "   .globl user_mmap",
    "user_mmap:",
    "   li      a7, 222", // mmap(NULL, 64 KiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    "   li      a0, 0",
    "   li      a1, 0x10000",
    "   li      a2, 3",
    "   li      a3, 0x22",
    "   ecall",
    "   li      s1, 1",
    "   bltz    a0, 9f",
    "   mv      s0, a0",
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
    "   lla     a1, 8f",
    "   li      a2, 18",
    "   ecall",
    "   li      s1, 42",
    "9: li      a7, 93", // exit(s1)
    "   mv      a0, s1",
    "   ecall",
    "8: .ascii  \"hello from U-mode\\n\"",
    "   .balign 4",
    "   .globl user_mprotect",
    "user_mprotect:",
    "   li      a7, 222", // mmap(NULL, 4 KiB, PROT_READ | PROT_WRITE, ...)
    "   li      a0, 0",
    "   li      a1, 0x1000",
    "   li      a2, 3",
    "   li      a3, 0x22",
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
    "   .popsection",
);

// `enter_user(context)`: saves the kernel's callee-saved registers, `gp`, `tp` and `context` on the
// kernel stack, points `sscratch` at it and `stvec` at `user_trap`, loads the user's
// registers and `sepc` from `context`, and `sret`s to U-mode. `user_trap` saves the user's
// registers and `sepc` back into `context`, restores the kernel's and returns from
// `enter_user`.
global_asm!(
    "   .section .text",
    "   .globl enter_user",
    "enter_user:",
    "   addi    sp, sp, -16 * 8",
    "   sd      ra, 0(sp)",
    "   sd      gp, 14 * 8(sp)",
    "   sd      tp, 15 * 8(sp)",
    "   .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11",
    "   sd      s\\n, (\\n + 1) * 8(sp)",
    "   .endr",
    "   sd      a0, 13 * 8(sp)",
    "   csrw    sscratch, sp",
    "   lla     t0, user_trap",
    "   csrw    stvec, t0",
    "   ld      t0, 32 * 8(a0)",
    "   csrw    sepc, t0",
    "   li      t0, 1 << 8", // sstatus.SPP = U
    "   csrc    sstatus, t0",
    "   .irp n, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16",
    "   ld      x\\n, \\n * 8(a0)",
    "   .endr",
    "   .irp n, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31",
    "   ld      x\\n, \\n * 8(a0)",
    "   .endr",
    "   ld      a0, 10 * 8(a0)",
    "   sret",
    "",
    "   .balign 4",
    "user_trap:",
    "   csrrw   sp, sscratch, sp", // sp: the kernel's, sscratch: the user's
    "   sd      t0, -8(sp)",
    "   ld      t0, 13 * 8(sp)", // the context
    "   .irp n, 1, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16",
    "   sd      x\\n, \\n * 8(t0)",
    "   .endr",
    "   .irp n, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31",
    "   sd      x\\n, \\n * 8(t0)",
    "   .endr",
    "   ld      t1, -8(sp)",
    "   sd      t1, 5 * 8(t0)",
    "   csrr    t1, sscratch",
    "   sd      t1, 2 * 8(t0)",
    "   csrr    t1, sepc",
    "   sd      t1, 32 * 8(t0)",
    "   lla     t1, trap_entry",
    "   csrw    stvec, t1",
    "   csrw    sscratch, zero",
    "   ld      ra, 0(sp)",
    "   ld      gp, 14 * 8(sp)",
    "   ld      tp, 15 * 8(sp)",
    "   .irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11",
    "   ld      s\\n, (\\n + 1) * 8(sp)",
    "   .endr",
    "   addi    sp, sp, 16 * 8",
    "   ret",
);

unsafe extern "C" {
    fn enter_user(context: *mut Context);
    static user_start: u8;
    static user_end: u8;
    static user_mmap: u8;
    static user_mprotect: u8;
}

/// A process's registers (`x[0]` unused) and program counter.
#[repr(C)]
struct Context {
    x: [usize; 32],
    pc: usize,
}

/// Where the user programs' pages are mapped in a process.
const USER_TEXT: usize = 0x1_0000;
/// Where `mmap` starts looking for room.
const MMAP_BASE: usize = 0x1000_0000;

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It called `exit(code)`.
    Code(usize),
    /// A page fault the address space refused at `addr` (SIGSEGV).
    Segv {
        /// The faulting address.
        addr: usize,
    },
}

/// What a run saw: how the process ended, what it wrote, and what `mmap` returned last.
pub struct Run {
    /// How it ended.
    pub exit: Exit,
    /// The bytes of its last `write`, up to 64.
    pub written: ([u8; 64], usize),
    /// The address the last `mmap` returned.
    pub mapped: usize,
    /// Pages the `mmap`ed areas had mapped when it ended.
    pub pages: usize,
    /// Page faults its address space resolved.
    pub faults: usize,
}

impl core::fmt::Display for Exit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exit({code})"),
            Exit::Segv { addr } => write!(f, "SIGSEGV at {addr:#x}"),
        }
    }
}

/// The user programs.
#[derive(Clone, Copy, Debug)]
pub enum Program {
    /// `user_mmap`.
    Mmap,
    /// `user_mprotect`.
    Mprotect,
}

/// Runs `program` in a new process (a kernel space plus its user pages) until it ends; the
/// process's address space is dropped then.
pub fn run(program: Program, ram_end: usize) -> Run {
    let text = (&raw const user_start).addr();
    let entry = match program {
        Program::Mmap => (&raw const user_mmap).addr(),
        Program::Mprotect => (&raw const user_mprotect).addr(),
    };
    let len = (&raw const user_end).addr() - text;
    let mut process = space::new_kernel_space(ram_end).expect("frames for a process");
    let code = MemoryAttr::new().set_user().set_readonly().set_execute();
    let linear = Linear::new(USER_TEXT.wrapping_sub(text - PHYS_OFFSET));
    process
        .push(USER_TEXT, USER_TEXT + len, code, linear)
        .expect("the user text");
    let mut context = Context {
        x: [0; 32],
        pc: USER_TEXT + (entry - text),
    };
    // SAFETY: a kernel space maps the image, its stack and physical memory.
    let kernel = unsafe { space::activate(process) }.expect("the kernel's space was active");
    let mut run = Run {
        exit: Exit::Code(usize::MAX),
        written: ([0; 64], 0),
        mapped: 0,
        pages: 0,
        faults: 0,
    };
    run.exit = loop {
        // SAFETY: `context` holds the program's registers; the active space maps its code
        // and the kernel, whose trap entry `enter_user` installs.
        unsafe { enter_user(&mut context) };
        let cause = scause::read();
        let addr = stval::read();
        let access = match (cause.is_exception(), cause.code()) {
            (true, 8) => {
                context.pc += 4;
                match syscall(&mut context, &mut run) {
                    Some(exit) => break exit,
                    None => continue,
                }
            }
            (true, 12) => Access::Execute,
            (true, 13) => Access::Read,
            (true, 15) => Access::Write,
            _ => panic!("unexpected trap from U-mode: scause {:#x}", cause.bits()),
        };
        match space::fault(addr, access) {
            Ok(()) => {
                run.faults += 1;
                super::trap::check_progress(context.pc, addr);
            }
            Err(_) => break Exit::Segv { addr },
        }
    };
    run.pages = space::with_active(|space| {
        let (mut va, mut pages) = (MMAP_BASE, 0);
        while let Some(at) = space.page_table().next_mapped(va, USER_TEXT_END) {
            (va, pages) = (at + PAGE_SIZE, pages + 1);
        }
        pages
    });
    // SAFETY: `kernel` is a kernel space as the process's is.
    let process = unsafe { space::activate(kernel) }.expect("the process's space was active");
    drop(process);
    run
}

/// The end of the user half (Sv39's lower half).
const USER_TEXT_END: usize = 1 << 38;

/// Serves the system call in `context`; `Some` when the process ended.
fn syscall(context: &mut Context, run: &mut Run) -> Option<Exit> {
    let [a0, a1, a2] = [context.x[10], context.x[11], context.x[12]];
    let ret = match context.x[17] {
        64 => write(a1, a2, run),
        93 => return Some(Exit::Code(a0)),
        222 => {
            let attr = attr_of(a2);
            let len = a1.next_multiple_of(PAGE_SIZE);
            let placed = space::with_active(|space| {
                space.map_anywhere(MMAP_BASE, len, PAGE_SIZE, attr, Lazy::new())
            });
            placed.inspect(|&addr| run.mapped = addr).map_err(|_| 12)
        }
        215 => space::with_active(|space| space.unmap(a0, a0 + a1))
            .map(|_| 0)
            .map_err(|_| 22),
        226 => space::with_active(|space| space.protect(a0, a0 + a1, attr_of(a2)))
            .map(|()| 0)
            .map_err(|_| 12),
        _ => Err(38),
    };
    context.x[10] = ret.unwrap_or_else(|errno: usize| errno.wrapping_neg());
    None
}

/// The attributes of a user mapping with `PROT_*` bits `prot`.
fn attr_of(prot: usize) -> MemoryAttr {
    let mut attr = MemoryAttr::new().set_user();
    if prot & 2 == 0 {
        attr = attr.set_readonly();
    }
    if prot & 4 != 0 {
        attr = attr.set_execute();
    }
    attr
}

/// `write(fd, buf, len)`: keeps (up to 64 of) the bytes and prints them, read through the
/// process's page table and the kernel's window onto RAM.
fn write(buf: usize, len: usize, run: &mut Run) -> Result<usize, usize> {
    let kept = len.min(64);
    for i in 0..kept {
        let pa = space::with_active(|space| {
            space
                .page_table()
                .translate(buf + i)
                .filter(|(_, attr)| attr.is_user())
        });
        let (pa, _) = pa.ok_or(14usize)?;
        // SAFETY: RAM is mapped at `pa + PHYS_OFFSET` in every kernel space.
        run.written.0[i] =
            unsafe { core::ptr::with_exposed_provenance::<u8>(pa + PHYS_OFFSET).read() };
    }
    run.written.1 = kept;
    print!(
        "{}",
        core::str::from_utf8(&run.written.0[..kept]).unwrap_or("<not UTF-8>")
    );
    Ok(len)
}
