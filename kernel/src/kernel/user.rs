//! U-mode processes: small programs (in assembly, and two in Rust, each an ELF
//! file embedded in the image and mapped from it by [`exec`]), each
//! process in an address space of its own made with the crate, whose system calls (Linux's
//! RISC-V numbers: `write`, `exit`, `brk`, `mmap`, `munmap`, `mprotect`, `clone` as `fork`,
//! `wait4`, `getpid`) and page faults the kernel serves through `MemorySet`, the memory calls
//! and the faults' access checks as Linux does through the crate's Linux personality
//! ([`linux`]).
//!
//! The kernel enters a process with `enter_user`, which returns to it at the process's next
//! trap (a system call or a fault) with the user's registers saved. The process table is one,
//! under a spin lock, and each hart that takes part in a run ([`run`]: this hart alone;
//! [`run_on_harts`]: both) runs the same loop over it: take the newest ready process, switch
//! to its address space (`satp` and a whole-TLB flush: a process that ran on the other hart
//! before finds no stale translation), and run it until it waits for a child still running or
//! ends (a fork goes on, the child becomes ready for whichever hart takes it first). A process's
//! VMAs ([`Mm`]) are kept beside its space, under the space's lock ([`Slot`]). Its page faults
//! take that lock alone (its read side, as the kernel's faults do, for the VMA's access check
//! and the page; the write side for a write that gives a VMA its `anon_vma` or a stack that
//! grows), so the two harts serve two processes' faults at once; its system calls hold the
//! table's lock, and the write side of its space's lock to change its VMAs and its space
//! together.
//!
//! `wait4(-1, wstatus, ..)` answers the child's pid in `a0` and stores its Linux `wstatus`
//! (`code << 8`, or 11 for SIGSEGV) through the `wstatus` pointer, as Linux does; as this
//! kernel's extension it also answers, for SIGSEGV, the fault address (Linux's `si_addr`) in
//! `a2`.

use core::arch::global_asm;
use core::ops::{Deref, DerefMut, Range};
use core::sync::atomic::{AtomicUsize, Ordering};

use alloc::sync::Arc;
use alloc::vec::Vec;

use range_action_map::linux::{Errno, StackRlimit};
use range_action_map::memory_set::{Access, Lazy, MemoryAttr, MemoryResult, PageTable, PAGE_SIZE};
use riscv::register::{scause, stval};

use super::boot::PHYS_OFFSET;
use super::exec::{self, Program};
use super::frames;
use super::hart::{self, MAX_HARTS};
use super::linux::{self, Mm};
use super::space::{self, Memory, Slot};
use super::tlb::HartTable;

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
    /// A hart runs it.
    Running,
    /// In `wait4`, for a child still running (its `ecall` runs again when it is resumed).
    Waiting,
    /// It ended, and its parent has not reaped it.
    Zombie(Exit),
}

/// An entry of the process table.
struct Process {
    pid: usize,
    parent: usize,
    /// The run (of [`RUNS`]) of the first process it descends from.
    root: usize,
    /// Its registers when it last stopped (the hart running it holds them meanwhile).
    context: Context,
    /// Its address space and its VMAs, behind the lock its page faults and system calls take
    /// (`None` once it ended).
    space: Option<Arc<Slot>>,
    state: State,
    /// The harts it ran on (bit `h` for hart `h`).
    harts: usize,
}

/// The process table, which both harts share.
struct Processes {
    processes: Vec<Process>,
    next_pid: usize,
    /// The first processes of the run that have not ended.
    roots_left: usize,
    /// [`space::stacks_grown`] when the run started.
    grown_before: usize,
}

impl Processes {
    fn index(&self, pid: usize) -> usize {
        self.processes
            .iter()
            .position(|process| process.pid == pid)
            .expect("a process of the table")
    }
}

/// The process table of the run going on.
static PROCESSES: spin::Mutex<Processes> = spin::Mutex::new(Processes {
    processes: Vec::new(),
    next_pid: 1,
    roots_left: 0,
    grown_before: 0,
});

/// What each first process of the run going on (and its descendants) did; locked after
/// [`PROCESSES`] when both are.
static RUNS: spin::Mutex<Vec<Run>> = spin::Mutex::new(Vec::new());

/// A hart's view of the process table, under its lock: `current` (a pid) is the process the
/// hart runs, whose address space is the one it runs on.
struct Table {
    shared: spin::MutexGuard<'static, Processes>,
    current: usize,
}

impl Table {
    /// The table, locked, as the hart that runs `current` sees it.
    fn lock(current: usize) -> Table {
        Table {
            shared: PROCESSES.lock(),
            current,
        }
    }

    fn current(&mut self) -> &mut Process {
        let index = self.index(self.current);
        &mut self.processes[index]
    }
}

impl Deref for Table {
    type Target = Processes;

    fn deref(&self) -> &Processes {
        &self.shared
    }
}

impl DerefMut for Table {
    fn deref_mut(&mut self) -> &mut Processes {
        &mut self.shared
    }
}

/// What a hart did during a run on both harts.
#[derive(Clone, Copy, Debug, Default)]
pub struct HartStats {
    /// Turns: a ready process taken and run on this hart until it waited or ended.
    pub turns: usize,
    /// User page faults served.
    pub faults: usize,
    /// Of those, faults that began while the other hart was serving one.
    pub overlapped: usize,
    /// The first and the last of its faults on the clock of both harts' faults.
    pub ticks: (usize, usize),
}

/// Each hart's [`HartStats`] in the run going on.
static STATS: [spin::Mutex<HartStats>; MAX_HARTS] =
    [const { spin::Mutex::new(HartStats::new()) }; MAX_HARTS];
/// User page faults served so far in the run, both harts together: a clock.
static TICKS: AtomicUsize = AtomicUsize::new(0);
/// User page faults being served now.
static IN_FAULT: AtomicUsize = AtomicUsize::new(0);
/// Processes that ran on both harts in the run going on.
static MIGRATED: AtomicUsize = AtomicUsize::new(0);

impl HartStats {
    const fn new() -> HartStats {
        HartStats {
            turns: 0,
            faults: 0,
            overlapped: 0,
            ticks: (usize::MAX, 0),
        }
    }
}

/// A run on both harts: each hart's statistics, and the processes that ran on both.
pub struct Smp {
    /// Whether the other hart was started, and finished.
    pub joined: bool,
    /// Indexed by hart id.
    pub harts: [HartStats; MAX_HARTS],
    /// Processes that ran on both harts (resumed on the other one after a `wait4`).
    pub migrated: usize,
}

impl Run {
    fn new() -> Run {
        Run {
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
        }
    }
}

/// Runs `program` in a new process on this hart alone until it ends, with the processes it
/// forks; each process's address space is dropped when it ends.
pub fn run(program: Program, ram_end: usize) -> Run {
    let (mut runs, _) = run_all(&[program], ram_end, false);
    runs.pop().expect("the program's run")
}

/// Runs `programs` at once, each in a new process with the processes it forks, on both harts.
pub fn run_on_harts(programs: &[Program], ram_end: usize) -> (Vec<Run>, Smp) {
    run_all(programs, ram_end, true)
}

/// Runs `programs` at once, on this hart and (if `both`) the other, until each program's
/// first process ended; what the processes left running is dropped then.
fn run_all(programs: &[Program], ram_end: usize, both: bool) -> (Vec<Run>, Smp) {
    for stats in &STATS {
        *stats.lock() = HartStats::new();
    }
    TICKS.store(0, Ordering::SeqCst);
    MIGRATED.store(0, Ordering::SeqCst);
    {
        let mut shared = PROCESSES.lock();
        for (root, &program) in programs.iter().enumerate() {
            let (context, memory) = new_process(program, ram_end);
            let pid = shared.next_pid;
            shared.next_pid += 1;
            shared.processes.push(Process {
                pid,
                parent: 0,
                root,
                context,
                space: Some(Arc::new(Slot::new(Some(memory)))),
                state: State::Ready,
                harts: 0,
            });
        }
        (shared.roots_left, shared.grown_before) = (programs.len(), space::stacks_grown());
        *RUNS.lock() = programs.iter().map(|_| Run::new()).collect();
    }
    let started = both && hart::start_other(schedule).is_ok();
    schedule();
    let joined = started && hart::join_other();
    let mut shared = PROCESSES.lock();
    let mut runs = core::mem::take(&mut *RUNS.lock());
    for process in &shared.processes {
        runs[process.root].left += usize::from(!matches!(process.state, State::Zombie(_)));
    }
    // The spaces of processes that had not ended go with the table (no hart runs on them).
    let processes = core::mem::take(&mut shared.processes);
    shared.next_pid = 1;
    drop(shared);
    drop(processes);
    let smp = Smp {
        joined,
        harts: STATS.each_ref().map(|stats| *stats.lock()),
        migrated: MIGRATED.load(Ordering::SeqCst),
    };
    (runs, smp)
}

/// A new process of `program`: a kernel space plus its ELF's segments and a stack, their
/// VMAs, and its registers at its entry point.
fn new_process(program: Program, ram_end: usize) -> (Context, Memory) {
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
    let memory = Memory {
        space: process,
        mm: Some(mm),
    };
    (context, memory)
}

/// Runs ready processes on this hart, the newest first, each until it waits or ends, until
/// every first process of the run ended.
fn schedule() {
    let hart = hart::id();
    loop {
        let (pid, root, mut context, slot) = {
            let mut shared = PROCESSES.lock();
            if shared.roots_left == 0 {
                return;
            }
            let ready = shared
                .processes
                .iter()
                .rposition(|p| p.state == State::Ready);
            let Some(index) = ready else {
                assert!(
                    shared.processes.iter().any(|p| p.state == State::Running),
                    "a ready process: every process waits for a child that cannot run"
                );
                drop(shared);
                core::hint::spin_loop();
                continue;
            };
            let process = &mut shared.processes[index];
            (process.state, process.harts) = (State::Running, process.harts | 1 << hart);
            let slot = process.space.clone().expect("a ready process's space");
            (process.pid, process.root, process.context.clone(), slot)
        };
        STATS[hart].lock().turns += 1;
        space::run_on(Some(slot));
        let mut faults = 0;
        let (mut table, step) = turn(pid, root, &mut context, &mut faults);
        let mut runs = RUNS.lock();
        let run = &mut runs[root];
        run.faults += faults;
        let Step::Exit(exit) = step else {
            table.current().state = State::Waiting;
            space::run_on(None);
            continue;
        };
        let parent = table.current().parent;
        if parent == 0 {
            (run.exit, run.registers) = (exit, context.x);
            run.grown = space::stacks_grown() - table.grown_before;
            run.pages = space::with_active(|space| {
                let (mut va, mut pages) = (MMAPPED.start, 0);
                while let Some(at) = space.page_table().next_mapped(va, MMAPPED.end) {
                    (va, pages) = (at + PAGE_SIZE, pages + 1);
                }
                pages
            });
            table.roots_left -= 1;
        } else {
            run.live_at_child_exit = frames::live();
            let index = table.index(parent);
            if table.processes[index].state == State::Waiting {
                table.processes[index].state = State::Ready;
            }
        }
        let process = table.current();
        process.state = State::Zombie(exit);
        MIGRATED.fetch_add(
            usize::from(process.harts.count_ones() > 1),
            Ordering::SeqCst,
        );
        let space = process.space.take();
        space::run_on(None);
        // The last reference: the space goes, now that no hart runs on it.
        drop(space);
    }
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

/// Runs process `pid` (of run `root`; its registers `context`) on this hart, serving its
/// system calls and page faults (counting those of its `mmap`ed areas in `faults`), until it
/// waits or ends: returns the table, locked, with the process's registers in it.
fn turn(pid: usize, root: usize, context: &mut Context, faults: &mut usize) -> (Table, Step) {
    loop {
        // SAFETY: `context` holds the process's registers; this hart runs on its space, which
        // maps its code and the kernel, whose trap entry `enter_user` installs.
        unsafe { enter_user(context) };
        let cause = scause::read();
        let addr = stval::read();
        let access = match (cause.is_exception(), cause.code()) {
            (true, 8) => {
                context.pc += 4;
                let mut table = Table::lock(pid);
                table.current().context = context.clone();
                let step = syscall(&mut table, &mut RUNS.lock()[root]);
                *context = table.current().context.clone();
                match step {
                    Step::Resume => continue,
                    step => return (table, step),
                }
            }
            (true, 12) => Access::Execute,
            (true, 13) => Access::Read,
            (true, 15) => Access::Write,
            _ => panic!("unexpected trap from U-mode: scause {:#x}", cause.bits()),
        };
        if !user_fault(addr, access) {
            let mut table = Table::lock(pid);
            table.current().context = context.clone();
            return (table, Step::Exit(Exit::Segv { addr }));
        }
        *faults += usize::from(MMAPPED.contains(&addr));
        super::trap::check_progress(context.pc, addr);
    }
}

/// Serves a page fault of the process this hart runs, in its space, as Linux does (the VMA's
/// access check first, then the page); counts it in this hart's [`HartStats`]. Whether it
/// was resolved.
fn user_fault(addr: usize, access: Access) -> bool {
    let others = IN_FAULT.fetch_add(1, Ordering::SeqCst);
    let resolved = space::user_fault(addr, access);
    IN_FAULT.fetch_sub(1, Ordering::SeqCst);
    let tick = TICKS.fetch_add(1, Ordering::SeqCst);
    let mut stats = STATS[hart::id()].lock();
    stats.faults += 1;
    stats.overlapped += usize::from(others > 0);
    stats.ticks = (stats.ticks.0.min(tick), tick);
    resolved
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
        222 => errno(space::with_process(|space, mm| {
            mm.mmap(space, a0, a1, a2, a3, a5)
        }))
        .inspect(|&addr| run.mapped = addr),
        214 => Ok(space::with_process(|space, mm| mm.brk(space, a0))),
        215 => errno(space::with_process(|space, mm| mm.munmap(space, a0, a1))),
        226 => errno(space::with_process(|space, mm| {
            mm.mprotect(space, a0, a1, a2)
        })),
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
    let root = unsafe { HartTable::try_new() }.map_err(|_| 12usize)?;
    let memory = space::with_process(|space, mm| -> MemoryResult<Memory> {
        let space = space.clone_for_fork(root)?;
        let mm = Some(mm.fork());
        Ok(Memory { space, mm })
    });
    let memory = memory.map_err(|_| 12usize)?;
    run.live_at_fork = frames::live();
    let (pid, parent) = (table.next_pid, table.current);
    table.next_pid += 1;
    let mut context = table.current().context.clone();
    context.x[10] = 0;
    let root = table.current().root;
    table.processes.push(Process {
        pid,
        parent,
        root,
        context,
        space: Some(Arc::new(Slot::new(Some(memory)))),
        state: State::Ready,
        harts: 0,
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
        _ => space::with_process(|space, mm| mm.put_user(space, pointer, wstatus)),
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
