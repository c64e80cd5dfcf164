//! U-mode processes: small programs (in assembly, and two in Rust, each an ELF
//! file embedded in the image and mapped from it by [`exec`]), each
//! process in an address space of its own made with the crate, whose system calls (Linux's
//! RISC-V numbers: `write`, `exit`, `brk`, `mmap`, `munmap`, `mprotect`, `clone` as `fork`,
//! `wait4`, `getpid`) and page faults the kernel serves through `MemorySet`, the memory calls
//! and the faults' access checks as Linux does through the crate's Linux personality
//! ([`linux`](super::linux)).
//!
//! The kernel enters a process with `enter_user`, which returns to it at the process's next
//! trap (a system call or a fault) with the user's registers saved: the kernel handles traps
//! from U-mode in a plain loop ([`run`]) over a small process table. A process runs until it
//! forks (it goes on), waits for a child still running (the newest ready process runs), or
//! ends (its parent, or the newest ready process, runs).
//!
//! `wait4(-1, wstatus, ..)` answers the child's pid in `a0` and stores its Linux `wstatus`
//! (`code << 8`, or 11 for SIGSEGV) through the `wstatus` pointer, as Linux does; as this
//! kernel's extension it also answers, for SIGSEGV, the fault address (Linux's `si_addr`) in
//! `a2`.

use core::arch::global_asm;
use core::ops::Range;

use alloc::vec;
use alloc::vec::Vec;

use range_action_map::linux::{Errno, StackRlimit};
use range_action_map::memory_set::{Access, Lazy, MemoryAttr, PageTable, PAGE_SIZE};
use range_action_map_adapters::page_table_multiarch::Sv39Table;
use riscv::register::{scause, stval};

use super::boot::PHYS_OFFSET;
use super::exec::{self, Program};
use super::frames;
use super::linux::{self, Mm};
use super::space::{self, Space};

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
}

/// A process's registers (`x[0]` unused) and program counter.
#[repr(C)]
#[derive(Clone)]
struct Context {
    x: [usize; 32],
    pc: usize,
}

/// Where `mmap`ed areas go: below the layout's `mmap_base`, far above the programs (linked at
/// 64 KiB).
const MMAPPED: Range<usize> = 0x1000_0000..linux::LAYOUT.mmap_base();
/// The top of a process's stack, the end of user space, as on Linux; the stack starts one
/// page deep and grows down.
pub const STACK_TOP: usize = linux::TASK_SIZE;
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
    fn wstatus(self) -> (u32, usize) {
        match self {
            Exit::Code(code) => (((code & 0xff) as u32) << 8, 0),
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
    /// Page faults the processes' `mmap`ed areas resolved.
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
    /// Its VMAs.
    mm: Mm,
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

/// Runs `program` in a new process (a kernel space plus its ELF's segments and a stack) until it
/// ends, with the processes it forks; each process's address space is dropped when it ends.
pub fn run(program: Program, ram_end: usize) -> Run {
    let mut process = space::new_kernel_space(ram_end).expect("frames for a process");
    let (entry, segments) = exec::load(&mut process, program);
    let mm = Mm::exec(program, &segments);
    let stack = MemoryAttr::new().set_user();
    process
        .push_grows_down(STACK_TOP - PAGE_SIZE, STACK_TOP, stack, Lazy::new())
        .expect("the user stack");
    process.set_stack_rlimit(StackRlimit::Bytes(STACK_RLIMIT));
    let mut context = Context {
        x: [0; 32],
        pc: entry,
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
            mm,
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
        let (mut va, mut pages) = (MMAPPED.start, 0);
        while let Some(at) = space.page_table().next_mapped(va, MMAPPED.end) {
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
    // Linux's order: the VMA's access check first, then the page.
    if table.current().mm.allows(addr, access) && space::fault(addr, access).is_ok() {
        run.faults += usize::from(MMAPPED.contains(&addr));
        super::trap::check_progress(table.current().context.pc, addr);
        Step::Resume
    } else {
        Step::Exit(Exit::Segv { addr })
    }
}

/// Serves the current process's system call.
fn syscall(table: &mut Table, run: &mut Run) -> Step {
    let x = table.current().context.x;
    let [a0, a1, a2, a3, a5] = [x[10], x[11], x[12], x[13], x[15]];
    let ret = match x[17] {
        64 => write(a1, a2, run),
        93 => return Step::Exit(Exit::Code(a0)),
        172 => Ok(table.current),
        220 => fork(table, run),
        260 => return wait(table, run),
        222 => {
            errno(table.current().mm.mmap(a0, a1, a2, a3, a5)).inspect(|&addr| run.mapped = addr)
        }
        214 => Ok(table.current().mm.brk(a0)),
        215 => errno(table.current().mm.munmap(a0, a1)),
        226 => errno(table.current().mm.mprotect(a0, a1, a2)),
        _ => Err(38),
    };
    table.current().context.x[10] = ret.unwrap_or_else(|errno: usize| errno.wrapping_neg());
    Step::Resume
}

/// A personality's answer with its errno as a number.
fn errno(result: Result<usize, Errno>) -> Result<usize, usize> {
    result.map_err(|errno| errno.code() as usize)
}

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
    let mm = table.current().mm.fork();
    table.processes.push(Process {
        pid,
        parent,
        context,
        space: Some(space),
        mm,
        state: State::Ready,
    });
    Ok(pid)
}

/// `wait4(-1, wstatus, ..)`: reaps an ended child (its pid in `a0`, its `wstatus` stored
/// through the pointer unless it is null, `EFAULT` if it cannot be, the fault address in
/// `a2`), waits if none has ended yet, or fails with `ECHILD`.
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
    let process = table.current();
    let pointer = process.context.x[11];
    let stored = match pointer {
        0 => Ok(()),
        _ => process.mm.put_user(pointer, wstatus),
    };
    let x = &mut process.context.x;
    x[10] = errno(stored.map(|()| pid)).unwrap_or_else(|errno| errno.wrapping_neg());
    x[12] = addr;
    Step::Resume
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
