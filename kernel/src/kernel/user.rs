//! U-mode processes: small programs (in assembly, and [`super::stress`] in Rust, in the
//! image's `.user_text` pages), each
//! process in an address space of its own made with the crate, whose system calls (Linux's
//! RISC-V numbers: `write`, `exit`, `mmap`, `munmap`, `mprotect`, `clone` as `fork`,
//! `wait4`, `getpid`) and page faults the kernel serves through `MemorySet`.
//!
//! The kernel enters a process with `enter_user`, which returns to it at the process's next
//! trap (a system call or a fault) with the user's registers saved: the kernel handles traps
//! from U-mode in a plain loop ([`run`]) over a small process table. A process runs until it
//! forks (it goes on), waits for a child still running (the newest ready process runs), or
//! ends (its parent, or the newest ready process, runs).
//!
//! `wait4(-1, ..)` answers, as well as the child's pid in `a0`, its Linux `wstatus` in `a1`
//! (`code << 8`, or 11 for SIGSEGV) and, for SIGSEGV, the fault address (Linux's `si_addr`)
//! in `a2`, instead of storing through the `wstatus` pointer.

use core::arch::global_asm;

use alloc::vec;
use alloc::vec::Vec;

use range_action_map::linux::StackRlimit;
use range_action_map::memory_set::{
    Access, Lazy, Linear, MemoryAttr, PageTable, Shared, PAGE_SIZE,
};
use range_action_map_adapters::page_table_multiarch::Sv39Table;
use riscv::register::{scause, stval};

use super::boot::PHYS_OFFSET;
use super::frames;
use super::space::{self, Space};

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

// `user_fork`: maps 4 private pages (at s0, s3, s4, s5), writes 0xfN to the page at sN, forks.
// The parent writes 0xa0, 0xa1 to pages 0 and 1 and waits: the child must have exited with
// its pid; it then reads back its own writes and the fork's, and exits 42. The child writes
// 0xc0, 0xc1 to the same pages, reads back its own and the fork's, and exits with getpid().
// Any mismatch exits with another code. Before them, macros for `fork`, `wait4`, `exit` as a
// Linux RISC-V program calls them.
global_asm!(
    "   .macro  mmap_rw len, flags", // s0 = mmap(NULL, len, PROT_READ | PROT_WRITE, flags)
    "   li      a7, 222",
    "   li      a0, 0",
    "   li      a1, \\len",
    "   li      a2, 3",
    "   li      a3, \\flags",
    "   ecall",
    "   li      s1, 1",
    "   bltz    a0, 9f",
    "   mv      s0, a0",
    "   .endm",
    "   .macro  fork_child", // fork (clone(SIGCHLD, 0)); the child goes on at 5f, s2: its pid
    "   li      a7, 220",
    "   li      a0, 17",
    "   li      a1, 0",
    "   ecall",
    "   li      s1, 2",
    "   bltz    a0, 9f",
    "   beqz    a0, 5f",
    "   mv      s2, a0",
    "   .endm",
    "   .macro  wait_child", // wait4(-1, NULL, 0, NULL), for the child s2; s1 = 4 after
    "   li      a7, 260",
    "   li      a0, -1",
    "   li      a1, 0",
    "   li      a2, 0",
    "   li      a3, 0",
    "   ecall",
    "   li      s1, 3",
    "   bne     a0, s2, 9f",
    "   li      s1, 4",
    "   .endm",
    "   .macro  exit_s1",
    "   li      a7, 93",
    "   mv      a0, s1",
    "   ecall",
    "   .endm",
    "   .macro  expect reg, value", // s1 is the exit code if `reg` is not `value`
    "   li      t1, \\value",
    "   bne     \\reg, t1, 9f",
    "   .endm",
    "   .pushsection .user_text, \"ax\"",
    "   .globl user_fork",
    "user_fork:",
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
    "5: li      t0, 0xc0", // the child
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
    "",
    // `user_shared`: maps a shared anonymous page, writes 0x11 to it and forks; the child
    // checks it reads 0x11, writes 0x5ead and exits 0; the parent waits for it, reads 0x5ead
    // and exits 42.
    "   .globl user_shared",
    "user_shared:",
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
    "",
    // `user_stack`: writes i to the page i below the top of its stack (sp) for i = 1..=8,
    // reads them back, forks; the child writes 32 pages below the top, beyond the stack
    // rlimit; the parent expects it killed by SIGSEGV at that address and exits 42.
    "   .globl user_stack",
    "user_stack:",
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
    static user_fork: u8;
    static user_shared: u8;
    static user_stack: u8;
}

/// A process's registers (`x[0]` unused) and program counter.
#[repr(C)]
#[derive(Clone)]
struct Context {
    x: [usize; 32],
    pc: usize,
}

/// Where the user programs' pages are mapped in a process.
const USER_TEXT: usize = 0x1_0000;
/// Where `mmap` starts looking for room.
const MMAP_BASE: usize = 0x1000_0000;
/// The top of a process's stack, which starts one page deep and grows down.
pub const STACK_TOP: usize = 0x20_0000_0000;
/// How deep a process's stack may grow (its `RLIMIT_STACK`).
pub const STACK_RLIMIT: usize = 64 << 10;

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

impl Exit {
    /// Linux's `wstatus` for it, and the fault address for SIGSEGV (else 0).
    fn wstatus(self) -> (usize, usize) {
        match self {
            Exit::Code(code) => ((code & 0xff) << 8, 0),
            Exit::Segv { addr } => (11, addr),
        }
    }
}

/// What a run saw: how its first process ended, what it wrote, and what `mmap` returned last.
pub struct Run {
    /// How the first process ended.
    pub exit: Exit,
    /// The bytes of the last `write`, up to 64.
    pub written: ([u8; 64], usize),
    /// The address the last `mmap` returned.
    pub mapped: usize,
    /// Pages the first process's `mmap`ed areas had mapped when it ended.
    pub pages: usize,
    /// Page faults the processes' address spaces resolved.
    pub faults: usize,
    /// Stacks grown by a fault retried under the write lock.
    pub grown: usize,
    /// The last child a `wait4` reaped: its pid and how it ended.
    pub reaped: Option<(usize, Exit)>,
    /// Frames in use right after the last fork.
    pub live_at_fork: usize,
    /// Frames in use when the last child ended, before its address space was dropped.
    pub live_at_child_exit: usize,
    /// Processes that had not ended when the first one did.
    pub left: usize,
    /// The first process's registers when it ended.
    pub registers: [usize; 32],
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
    /// `user_fork`.
    Fork,
    /// `user_shared`.
    Shared,
    /// `user_stack`.
    Stack,
    /// The stress program ([`super::stress`]).
    Stress,
}

/// Where a process is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// It may run.
    Ready,
    /// In `wait4`, for a child still running (its `ecall` runs again when it is resumed).
    Waiting,
    /// It ended, and its parent has not reaped it.
    Zombie(Exit),
}

/// An entry of the process table.
struct Process {
    pid: usize,
    parent: usize,
    context: Context,
    /// Its address space while another is active (`None` while it runs, and once it ended).
    space: Option<Space>,
    state: State,
}

/// The process table of a run: `current` (a pid) is the running process, whose address space
/// is the active one.
struct Table {
    processes: Vec<Process>,
    current: usize,
    next_pid: usize,
}

impl Table {
    fn index(&self, pid: usize) -> usize {
        self.processes
            .iter()
            .position(|process| process.pid == pid)
            .expect("a process of the table")
    }

    fn current(&mut self) -> &mut Process {
        let index = self.index(self.current);
        &mut self.processes[index]
    }

    /// Makes the newest ready process the running one, and returns the address space that
    /// was active.
    fn switch(&mut self) -> Space {
        let next = self
            .processes
            .iter()
            .rposition(|process| process.state == State::Ready)
            .expect("a ready process: every process waits for a child that cannot run");
        self.current = self.processes[next].pid;
        let space = self.processes[next]
            .space
            .take()
            .expect("a ready process's space");
        // SAFETY: every process's space is a kernel space (`new_kernel_space`) plus user areas.
        unsafe { space::activate(space) }.expect("a process's space was active")
    }
}

/// Runs `program` in a new process (a kernel space plus its user pages and a stack) until it
/// ends, with the processes it forks; each process's address space is dropped when it ends.
pub fn run(program: Program, ram_end: usize) -> Run {
    let text = (&raw const user_start).addr();
    let entry = match program {
        Program::Mmap => (&raw const user_mmap).addr(),
        Program::Mprotect => (&raw const user_mprotect).addr(),
        Program::Fork => (&raw const user_fork).addr(),
        Program::Shared => (&raw const user_shared).addr(),
        Program::Stack => (&raw const user_stack).addr(),
        Program::Stress => (super::stress::user_stress as *const ()).addr(),
    };
    let len = (&raw const user_end).addr() - text;
    let mut process = space::new_kernel_space(ram_end).expect("frames for a process");
    let code = MemoryAttr::new().set_user().set_readonly().set_execute();
    let linear = Linear::new(USER_TEXT.wrapping_sub(text - PHYS_OFFSET));
    process
        .push(USER_TEXT, USER_TEXT + len, code, linear)
        .expect("the user text");
    let stack = MemoryAttr::new().set_user();
    process
        .push_grows_down(STACK_TOP - PAGE_SIZE, STACK_TOP, stack, Lazy::new())
        .expect("the user stack");
    process.set_stack_rlimit(StackRlimit::Bytes(STACK_RLIMIT));
    let mut context = Context {
        x: [0; 32],
        pc: USER_TEXT + (entry - text),
    };
    context.x[2] = STACK_TOP;
    // SAFETY: a kernel space maps the image, its stack and physical memory.
    let kernel = unsafe { space::activate(process) }.expect("the kernel's space was active");
    let mut table = Table {
        processes: vec![Process {
            pid: 1,
            parent: 0,
            context,
            space: None,
            state: State::Ready,
        }],
        current: 1,
        next_pid: 2,
    };
    let mut run = Run {
        exit: Exit::Code(usize::MAX),
        written: ([0; 64], 0),
        mapped: 0,
        pages: 0,
        faults: 0,
        grown: 0,
        reaped: None,
        live_at_fork: 0,
        live_at_child_exit: 0,
        left: 0,
        registers: [0; 32],
    };
    let grown_before = space::stacks_grown();
    loop {
        let exit = match step(&mut table, &mut run) {
            Step::Resume => continue,
            Step::Wait => {
                let waiting = table.current;
                table.current().state = State::Waiting;
                let space = table.switch();
                let index = table.index(waiting);
                table.processes[index].space = Some(space);
                continue;
            }
            Step::Exit(exit) => exit,
        };
        let (pid, parent) = (table.current, table.current().parent);
        table.current().state = State::Zombie(exit);
        if pid == 1 {
            run.exit = exit;
            run.registers = table.current().context.x;
            break;
        }
        run.live_at_child_exit = frames::live();
        let index = table.index(parent);
        if table.processes[index].state == State::Waiting {
            table.processes[index].state = State::Ready;
        }
        drop(table.switch());
    }
    run.grown = space::stacks_grown() - grown_before;
    run.pages = space::with_active(|space| {
        let (mut va, mut pages) = (MMAP_BASE, 0);
        while let Some(at) = space.page_table().next_mapped(va, STACK_TOP - STACK_RLIMIT) {
            (va, pages) = (at + PAGE_SIZE, pages + 1);
        }
        pages
    });
    run.left = table
        .processes
        .iter()
        .filter(|process| !matches!(process.state, State::Zombie(_)))
        .count();
    // SAFETY: `kernel` is a kernel space as the process's is.
    let process = unsafe { space::activate(kernel) }.expect("the process's space was active");
    drop(process);
    // The spaces of processes that had not ended go with the table.
    drop(table);
    run
}

/// What the running process does next.
enum Step {
    /// Goes on.
    Resume,
    /// Waits for a child (in `wait4`).
    Wait,
    /// Ends.
    Exit(Exit),
}

/// Runs the current process until its next trap, and serves it.
fn step(table: &mut Table, run: &mut Run) -> Step {
    let context = &mut table.current().context;
    // SAFETY: `context` holds the process's registers; the active space (its own) maps its
    // code and the kernel, whose trap entry `enter_user` installs.
    unsafe { enter_user(context) };
    let cause = scause::read();
    let addr = stval::read();
    let access = match (cause.is_exception(), cause.code()) {
        (true, 8) => {
            table.current().context.pc += 4;
            return syscall(table, run);
        }
        (true, 12) => Access::Execute,
        (true, 13) => Access::Read,
        (true, 15) => Access::Write,
        _ => panic!("unexpected trap from U-mode: scause {:#x}", cause.bits()),
    };
    match space::fault(addr, access) {
        Ok(()) => {
            run.faults += 1;
            super::trap::check_progress(table.current().context.pc, addr);
            Step::Resume
        }
        Err(_) => Step::Exit(Exit::Segv { addr }),
    }
}

/// Serves the current process's system call.
fn syscall(table: &mut Table, run: &mut Run) -> Step {
    let x = table.current().context.x;
    let [a0, a1, a2, a3] = [x[10], x[11], x[12], x[13]];
    let ret = match x[17] {
        64 => write(a1, a2, run),
        93 => return Step::Exit(Exit::Code(a0)),
        172 => Ok(table.current),
        220 => fork(table, run),
        260 => return wait(table, run),
        222 => {
            let attr = attr_of(a2);
            let len = a1.next_multiple_of(PAGE_SIZE);
            let placed = space::with_active(|space| {
                if a3 & MAP_SHARED != 0 {
                    space.map_anywhere(MMAP_BASE, len, PAGE_SIZE, attr, Shared::new())
                } else {
                    space.map_anywhere(MMAP_BASE, len, PAGE_SIZE, attr, Lazy::new())
                }
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
    table.current().context.x[10] = ret.unwrap_or_else(|errno: usize| errno.wrapping_neg());
    Step::Resume
}

/// The `mmap` flag for shared memory.
const MAP_SHARED: usize = 0x01;

/// `fork`: a child with a copy-on-write copy of the running process's address space, which
/// returns 0 from the call; the parent gets its pid.
fn fork(table: &mut Table, run: &mut Run) -> Result<usize, usize> {
    // SAFETY: as for `try_new` in `new_kernel_space`: every frame is mapped at
    // `pa + PHYS_OFFSET`.
    let root = unsafe { Sv39Table::try_new() }.map_err(|_| 12usize)?;
    let space = space::with_active(|space| space.clone_for_fork(root)).map_err(|_| 12usize)?;
    run.live_at_fork = frames::live();
    let (pid, parent) = (table.next_pid, table.current);
    table.next_pid += 1;
    let mut context = table.current().context.clone();
    context.x[10] = 0;
    table.processes.push(Process {
        pid,
        parent,
        context,
        space: Some(space),
        state: State::Ready,
    });
    Ok(pid)
}

/// `wait4(-1, ..)`: reaps an ended child (its pid in `a0`, `wstatus` in `a1`, the fault
/// address in `a2`), waits if none has ended yet, or fails with `ECHILD`.
fn wait(table: &mut Table, run: &mut Run) -> Step {
    let parent = table.current;
    let children = table.processes.iter().filter(|p| p.parent == parent);
    if children.clone().count() == 0 {
        table.current().context.x[10] = 10usize.wrapping_neg();
        return Step::Resume;
    }
    let ended = children.clone().find_map(|p| match p.state {
        State::Zombie(exit) => Some((p.pid, exit)),
        _ => None,
    });
    let Some((pid, exit)) = ended else {
        table.current().context.pc -= 4;
        return Step::Wait;
    };
    let index = table.index(pid);
    table.processes.remove(index);
    run.reaped = Some((pid, exit));
    let (wstatus, addr) = exit.wstatus();
    let x = &mut table.current().context.x;
    (x[10], x[11], x[12]) = (pid, wstatus, addr);
    Step::Resume
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
