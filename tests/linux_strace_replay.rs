//! Replays the `strace` logs of six real programs (`benches/data/*.txt`,
//! format in `benches/data/README.md`) call by call through [`LinuxMm`] and
//! requires every result to be the one Linux logged: each `mmap` and
//! `mremap` address, each break `brk` returned, each `0` and each errno.
//!
//! Every `X` record starts an address space with [`LinuxMm::exec`] of the
//! program's ELF headers and its interpreter's, read from
//! `benches/data/elf.txt` (captured by `benches/data/elf.py`: the test
//! needs none of the binaries); every `F` record is a [`LinuxMm::fork`] of
//! its parent at that point of the log. The traces were taken under
//! `setarch -R` with the default 8 MiB stack limit, on ext4.
//!
//! File mappings: the logs name a descriptor, not a file. Every file the
//! programs map is on ext4 ([`FileKind::Thp`]: a mapping of 2 MiB or more
//! is aligned to 2 MiB relative to its offset). A non-fixed `mmap` of a
//! descriptor is a new file (the loader opens, maps and closes each
//! library; the next `open` may reuse the number for another file); a
//! `MAP_FIXED` one maps the file the descriptor's last non-fixed `mmap`
//! mapped (the loader's segments over its reservation of the whole image).
//! Identity only decides merges, which no logged result depends on: other
//! rules give the same results (`benches/data/README.md`).

use std::collections::{BTreeMap, HashMap};

use range_action_map::linux::{
    map, ElfImage, Errno, ExecParams, FileKind, LinuxMm, MmapFile, NoRandom, StackRlimit,
    VmaAdapter, DEFAULT_TASK_SIZE, PAGE_SIZE, X86_64_VDSO,
};
use range_action_map_testkit::elf::{self, ElfHeaders};
use range_action_map_testkit::trace::{self, AddressSpaceTrace, OpKind, Origin, TraceOp};

/// One address space of a replay, and what its descriptors map.
struct Space {
    mm: LinuxMm<VmaAdapter>,
    files: HashMap<i32, MmapFile>,
}

/// `elf` as a new open file `next_id` (counted up) on ext4.
fn image<'a>(elf: &'a ElfHeaders, next_id: &mut u64) -> ElfImage<'a> {
    *next_id += 1;
    elf.image(MmapFile::new(*next_id - 1, FileKind::Thp, true, false))
}

/// The address space `execve` of `path` builds under `setarch -R`.
fn exec(path: &str, elves: &HashMap<String, ElfHeaders>, next_id: &mut u64) -> Space {
    let exe = &elves[path];
    let interp = exe.interp.as_ref().map(|p| image(&elves[p], next_id));
    let params = ExecParams {
        task_size: DEFAULT_TASK_SIZE,
        stack_rlimit: StackRlimit::DEFAULT,
        // The strings are not logged; the stack's size moves nothing the
        // programs map.
        arg_len: PAGE_SIZE,
        legacy: false,
        interp,
        vdso: &X86_64_VDSO,
    };
    let (mm, _) = LinuxMm::exec(&image(exe, next_id), &params, &mut NoRandom, ())
        .unwrap_or_else(|e| panic!("exec of {path}: {e}"));
    Space {
        mm,
        files: HashMap::new(),
    }
}

/// Per call type: how many calls, how many got Linux's result.
type Counts = BTreeMap<OpKind, (usize, usize)>;

/// Replays one op; returns what the personality answered and what Linux
/// logged, both as the log writes them (an address, or `-errno`).
fn step(space: &mut Space, op: &TraceOp, next_id: &mut u64) -> (i128, i128) {
    let errno = |r: Result<usize, Errno>| r.map_or_else(|e| -i128::from(e.code()), |a| a as i128);
    let logged = |r: Result<usize, i32>| r.map_or_else(|e| -i128::from(e), |a| a as i128);
    let done = |r: Result<(), i32>| logged(r.map(|()| 0));
    let mm = &mut space.mm;
    match *op {
        TraceOp::Mmap {
            hint,
            len,
            prot,
            flags,
            fd,
            offset,
            result,
        } => {
            let file = fd.filter(|_| flags & map::ANONYMOUS == 0).map(|fd| {
                let fixed = flags & map::FIXED != 0;
                let known = space.files.get(&fd).filter(|_| fixed);
                let file = *known.unwrap_or(&MmapFile::new(*next_id, FileKind::Thp, true, true));
                if known.is_none() {
                    *next_id += 1;
                    space.files.insert(fd, file);
                }
                file
            });
            let got = mm.mmap(hint, len, prot, flags, file.as_ref(), offset);
            (errno(got), logged(result))
        }
        TraceOp::Munmap { addr, len, result } => (errno(mm.munmap(addr, len)), done(result)),
        TraceOp::Mprotect {
            addr,
            len,
            prot,
            result,
        } => (errno(mm.mprotect(addr, len, prot)), done(result)),
        TraceOp::Brk { addr, result } => (mm.brk(addr) as i128, result as i128),
        TraceOp::Mremap {
            old_addr,
            old_len,
            new_len,
            flags,
            new_addr,
            result,
        } => {
            let got = mm.mremap(old_addr, old_len, new_len, flags, new_addr.unwrap_or(0));
            (errno(got), logged(result))
        }
    }
}

/// A result as the log writes it: an address in hex, or `-errno`.
fn shown(result: i128) -> String {
    if result < 0 {
        result.to_string()
    } else {
        format!("{result:#x}")
    }
}

/// Replays every address space of `program`; adds each disagreement to
/// `misses` and returns the counts.
fn replay(program: &str, elves: &HashMap<String, ElfHeaders>, misses: &mut Vec<String>) -> Counts {
    let spaces: Vec<AddressSpaceTrace> =
        trace::load(trace::program_trace(program)).unwrap_or_else(|e| panic!("{program}.txt: {e}"));
    let mut counts = Counts::new();
    let mut next_id = 1;
    // Forks waiting for their parent to reach them: (parent, ops, child).
    let mut forks: Vec<(usize, usize, usize)> = Vec::new();
    let mut forked: HashMap<usize, Space> = HashMap::new();
    for space in &spaces {
        if let Origin::Fork {
            parent, parent_ops, ..
        } = space.origin
        {
            forks.push((parent, parent_ops, space.id));
        }
    }
    for space in &spaces {
        let mut current = match &space.origin {
            Origin::Exec { path, .. } => exec(path, elves, &mut next_id),
            Origin::Fork { .. } => forked.remove(&space.id).expect("a fork after its parent"),
        };
        for i in 0..=space.ops.len() {
            for &(_, _, child) in forks.iter().filter(|f| (f.0, f.1) == (space.id, i)) {
                let copy = Space {
                    mm: current.mm.fork(()),
                    files: current.files.clone(),
                };
                forked.insert(child, copy);
            }
            let Some(op) = space.ops.get(i) else {
                break;
            };
            let (got, want) = step(&mut current, op, &mut next_id);
            let count = counts.entry(op.kind()).or_default();
            count.0 += 1;
            if got == want {
                count.1 += 1;
            } else {
                misses.push(format!(
                    "{program}.txt:{}: address space {}: {op:x?}: Linux {}, personality {}",
                    space.lines[i],
                    space.id,
                    shown(want),
                    shown(got)
                ));
            }
        }
    }
    counts
}

/// Every call of every program gets Linux's result. Prints, per program
/// and call type, the calls and how many of them got Linux's result (the
/// table of `benches/data/README.md`).
#[test]
fn real_program_traces_get_linux_results() {
    let elves = elf::load(trace::bundled("elf.txt")).unwrap_or_else(|e| panic!("elf.txt: {e}"));
    let mut misses = Vec::new();
    let mut total = Counts::new();
    println!("| program | mmap | munmap | mprotect | brk | mremap |");
    println!("|---|---:|---:|---:|---:|---:|");
    let row = |name: &str, counts: &Counts| {
        let cells: Vec<String> = OpKind::ALL
            .iter()
            .map(|k| {
                let (calls, identical) = counts.get(k).copied().unwrap_or_default();
                format!("{calls} / {identical}")
            })
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    };
    for program in trace::PROGRAMS {
        let counts = replay(program, &elves, &mut misses);
        row(program, &counts);
        for (kind, (calls, identical)) in counts {
            let t = total.entry(kind).or_default();
            t.0 += calls;
            t.1 += identical;
        }
    }
    row("total", &total);
    // Every call of the six logs was replayed (per call type, as in the
    // ops columns of `benches/data/README.md`).
    let calls: Vec<usize> = OpKind::ALL
        .iter()
        .map(|k| total.get(k).map_or(0, |c| c.0))
        .collect();
    assert_eq!(
        calls,
        [3550, 4604, 4941, 407, 12],
        "calls per type replayed"
    );
    for miss in &misses {
        println!("MISS {miss}");
    }
    assert!(
        misses.is_empty(),
        "{} results differ from Linux's; the first: {}",
        misses.len(),
        misses[0]
    );
}
