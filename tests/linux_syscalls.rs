//! Replays the captures of `tests/data/linux_syscalls/` (recorded on Linux
//! 6.18 by `tools/linux-syscall-trace/`) call by call through
//! [`LinuxMm`], and requires every result (address or errno) and every
//! snapshot of `/proc/self/smaps` (VMA for VMA: range, permissions, offset
//! and the modelled `VmFlags`) to be Linux's.
//!
//! A forked child's block (`child-begin fork`, `unprivileged`, `maxmap`:
//! 65 504 mappings up to `vm.max_map_count`) is replayed in a
//! [`LinuxMm::fork`] of the parent's address space; the `exec` children are
//! compared with [`LinuxMm::exec`] by `exec_layout_matches_captures`. A file
//! is replayed up to
//! its first call the personality does not cover (none at present): after it
//! the address space would no longer be the kernel's. The calls before it
//! all count, and the test prints per call type how many were replayed and
//! how many agreed, and where each file stopped. `realloc.strace` (glibc's
//! `realloc` of large blocks: 95 `mremap`s of a real program) is replayed
//! too, from the maps `realloc.txt` took at its start to those at its end.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::num::NonZeroU64;

use range_action_map_testkit::rng::Rng;

use range_action_map::linux::{
    Backing, Errno, FileKind, LinuxMm, LinuxSegment, MmapFile, Rlimit, VmFlags, VmaAdapter,
    VmaAttrs, DEFAULT_TASK_SIZE, PAGE_SIZE,
};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/linux_syscalls");

/// The `VmFlags` the personality tracks (`check.py`'s `MODELLED`, less the
/// flags of calls it does not cover yet: `dc wf rr sr lo` need `madvise`
/// and `mlock`, `hg` needs `madvise`; they cannot differ before the first
/// such call, which ends a replay).
const MODELLED: &[&str] = &[
    "rd", "wr", "ex", "sh", "mr", "mw", "me", "ms", "gd", "ac", "nr", "nh", "hg", "dc", "wf", "rr",
    "sr", "lo", "dd", "dp",
];

fn num(s: &str) -> i128 {
    match s.strip_prefix("0x") {
        Some(hex) => i128::from_str_radix(hex, 16).unwrap(),
        None => s.parse().unwrap(),
    }
}

/// A call's `key=value` arguments.
fn args(fields: &[&str]) -> HashMap<String, String> {
    fields
        .iter()
        .filter_map(|f| f.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A `-> result` as the personality returns it.
fn expected(result: &str) -> Result<usize, Errno> {
    match result.strip_prefix('-') {
        Some(name) => Err(Errno::from_name(name).unwrap_or_else(|| panic!("errno {name}"))),
        None => Ok(num(result) as usize),
    }
}

/// One VMA of a snapshot: range, perms, offset, VmFlags (modelled ones).
#[derive(Debug, PartialEq, Eq)]
struct SnapVma {
    start: usize,
    end: usize,
    perms: String,
    offset: u64,
    flags: BTreeSet<String>,
    /// `[heap]` or `[stack]`, the names the personality gives.
    label: Option<String>,
}

struct Snapshot {
    tag: String,
    lo: usize,
    hi: usize,
    /// Each VMA, its inode, its path and all its `VmFlags` codes.
    vmas: Vec<(SnapVma, u64, String, Vec<String>)>,
}

fn parse_snapshot<'a>(header: &str, lines: &mut impl Iterator<Item = &'a str>) -> Snapshot {
    let fields: Vec<&str> = header.split_whitespace().collect();
    let tag = fields[1].to_string();
    let a = args(&fields[2..]);
    let lo = a.get("lo").map_or(0, |v| num(v) as usize);
    let hi = a.get("hi").map_or(usize::MAX, |v| num(v) as usize);
    let mut vmas: Vec<(SnapVma, u64, String, Vec<String>)> = Vec::new();
    loop {
        let line = lines.next().expect("unterminated snapshot");
        if line.starts_with("maps-end") {
            break;
        }
        if let Some(rest) = line.strip_prefix("VmFlags:") {
            let (vma, _, _, raw) = vmas.last_mut().unwrap();
            *raw = rest.split_whitespace().map(str::to_string).collect();
            vma.flags = rest
                .split_whitespace()
                .filter(|c| MODELLED.contains(c))
                .map(str::to_string)
                .collect();
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let (s, e) = f[0].split_once('-').unwrap();
        let path = f.get(5..).map(|p| p.join(" ")).unwrap_or_default();
        let vma = SnapVma {
            start: usize::from_str_radix(s, 16).unwrap(),
            end: usize::from_str_radix(e, 16).unwrap(),
            perms: f[1].to_string(),
            offset: u64::from_str_radix(f[2], 16).unwrap(),
            flags: BTreeSet::new(),
            label: ["[heap]", "[stack]"]
                .contains(&path.as_str())
                .then(|| path.clone()),
        };
        vmas.push((vma, f[4].parse().unwrap(), path, Vec::new()));
    }
    Snapshot { tag, lo, hi, vmas }
}

/// The personality's VMAs intersecting `[lo, hi)`, from its maps lines.
fn model_vmas(mm: &LinuxMm<VmaAdapter>, lo: usize, hi: usize) -> Vec<SnapVma> {
    mm.map()
        .iter()
        .filter_map(|vma| {
            let range = mm.map().range_of(vma);
            if range.end <= lo || range.start >= hi {
                return None;
            }
            let line = vma.to_string();
            let f: Vec<&str> = line.split_whitespace().collect();
            let flags = vma.attrs().flags().to_string();
            Some(SnapVma {
                start: range.start,
                end: range.end,
                perms: f[0].to_string(),
                offset: u64::from_str_radix(f[1], 16).unwrap(),
                flags: flags
                    .split_whitespace()
                    .filter(|c| MODELLED.contains(c))
                    .map(str::to_string)
                    .collect(),
                label: mm.name(range.start).map(str::to_string),
            })
        })
        .collect()
}

#[derive(Default)]
struct Counts {
    calls: usize,
    identical: usize,
}

#[derive(Default)]
struct Report {
    per_call: BTreeMap<&'static str, Counts>,
    snapshots: Counts,
    misses: Vec<String>,
    stops: Vec<String>,
}

impl Report {
    fn call(
        &mut self,
        call: &'static str,
        file: &str,
        line: &str,
        got: Result<usize, Errno>,
        want: Result<usize, Errno>,
    ) {
        let c = self.per_call.entry(call).or_default();
        c.calls += 1;
        if got == want {
            c.identical += 1;
        } else {
            self.misses.push(format!("{file}: {line}: got {got:x?}"));
        }
    }
}

/// One process of a replay: its address space and its open files.
struct Process {
    mm: LinuxMm<VmaAdapter>,
    fds: HashMap<i64, MmapFile>,
    next_id: u64,
    loaded: bool,
    meminfo: usize,
}

fn replay(file: &str, report: &mut Report) {
    let text = fs::read_to_string(format!("{DIR}/{file}")).unwrap();
    let mut process = Process {
        mm: LinuxMm::new(),
        fds: HashMap::new(),
        next_id: 1,
        loaded: false,
        meminfo: 0,
    };
    let mut lines = text.lines();
    if replay_lines(file, &mut lines, &mut process, report) {
        report.stops.push(format!("{file}: replayed to the end"));
    }
}

/// Replays `lines` in `process`; false if it stopped at an uncovered call.
fn replay_lines<'a>(
    file: &str,
    lines: &mut impl Iterator<Item = &'a str>,
    process: &mut Process,
    report: &mut Report,
) -> bool {
    let Process {
        mm,
        fds,
        next_id,
        loaded,
        meminfo,
    } = process;
    while let Some(line) = lines.next() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(&first) = fields.first() else {
            continue;
        };
        if first == "maps-begin" {
            let snap = parse_snapshot(line, lines);
            if !*loaded {
                load(mm, &snap, next_id);
                *loaded = true;
                continue;
            }
            let kernel: Vec<&SnapVma> = snap
                .vmas
                .iter()
                .map(|(v, _, _, _)| v)
                .filter(|v| v.start < DEFAULT_TASK_SIZE && v.end > snap.lo && v.start < snap.hi)
                .collect();
            let model = model_vmas(mm, snap.lo, snap.hi);
            report.snapshots.calls += 1;
            if kernel.len() == model.len() && kernel.iter().zip(&model).all(|(k, m)| *k == m) {
                report.snapshots.identical += 1;
            } else {
                report.misses.push(format!(
                    "{file}: snapshot {}: kernel {kernel:#x?}\nmodel {model:#x?}",
                    snap.tag
                ));
            }
            continue;
        }
        if first == "meminfo" {
            // The overcommit heuristic compares a charge with RAM + swap.
            *meminfo += num(fields[2]) as usize * 1024;
            mm.set_commit_limit(*meminfo);
            continue;
        }
        if first == "stat" {
            // Field 47 (proc(5) numbering) is start_brk.
            let after = &line[line.rfind(')').unwrap() + 2..];
            let field = |n: usize| num(after.split_whitespace().nth(n - 3).unwrap()) as usize;
            mm.set_start_brk(field(47));
            mm.set_start_stack(field(28));
            mm.set_data_segment(field(46) - field(45));
            continue;
        }
        if first == "sysctl" && fields[1] == "vm.max_map_count" {
            mm.set_max_map_count(num(fields[2]) as usize);
            continue;
        }
        if first == "vma-count" {
            // The VMAs /proc/self/maps lists ([vsyscall] aside).
            let c = report.per_call.entry("vma-count").or_default();
            c.calls += 1;
            if mm.map().len() == num(fields[1]) as usize {
                c.identical += 1;
            } else {
                report
                    .misses
                    .push(format!("{file}: {line}: {} VMAs", mm.map().len()));
            }
            continue;
        }
        if first == "rlimit-memlock" {
            mm.set_rlimit(Rlimit::Memlock, Some(num(fields[1]) as usize));
            continue;
        }
        if first == "child-begin" {
            // A forked child: nothing it does changes the parent.
            let mut depth = 1;
            let mut body = Vec::new();
            for line in lines.by_ref() {
                if line.starts_with("child-begin") {
                    depth += 1;
                } else if line.starts_with("child-end") {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                body.push(line);
            }
            let label = fields[1];
            if ["fork", "unprivileged", "maxmap"].contains(&label) {
                let mut child = Process {
                    mm: mm.fork(()),
                    fds: fds.clone(),
                    next_id: *next_id,
                    loaded: true,
                    meminfo: *meminfo,
                };
                if replay_lines(file, &mut body.into_iter(), &mut child, report) {
                    report
                        .stops
                        .push(format!("{file}: child {label} replayed to its end"));
                }
            } else if label == "exec" {
                // A new address space: `exec_layout_matches_captures`.
                report.stops.push(format!(
                    "{file}: child exec compared by exec_layout_matches_captures"
                ));
            } else {
                report
                    .stops
                    .push(format!("{file}: child {label} not replayed"));
            }
            continue;
        }
        if !first.bytes().all(|b| b.is_ascii_digit()) || fields.len() < 2 {
            continue;
        }
        let call = fields[1];
        let arrow = fields.iter().position(|f| *f == "->").unwrap();
        let a = args(&fields[2..arrow]);
        let result = fields[arrow + 1];
        let arg = |k: &str| num(&a[k]);
        match call {
            "open" | "memfd_create" | "pipe" => {
                let fd = num(result) as i64;
                let flags = a.get("flags").map_or(0, |f| num(f));
                let path = a.get("path").map_or("", String::as_str);
                let kind = if call == "pipe" || flags & 0x1_0000 != 0 {
                    FileKind::NoMmap
                } else if path == "/dev/zero" {
                    FileKind::DevZero
                } else if call == "memfd_create" || path.starts_with("/dev/shm/") {
                    FileKind::Shmem
                } else {
                    FileKind::Thp
                };
                let mode = if call == "open" { flags & 3 } else { 2 };
                fds.insert(fd, MmapFile::new(*next_id, kind, mode != 1, mode != 0));
                *next_id += 1;
            }
            "fill" | "pread" | "peek" => {}
            "add_seals" => {
                // F_SEAL_WRITE (8) and F_SEAL_FUTURE_WRITE (0x10).
                if result == "0" && arg("seals") & 0x18 != 0 {
                    let fd = arg("fd") as i64;
                    let sealed = fds[&fd].with_write_seal(true);
                    fds.insert(fd, sealed);
                }
            }
            "poke" => {
                if result == "0" {
                    mm.write_fault(arg("addr") as usize);
                }
            }
            "mmap" => {
                let fd = arg("fd") as i64;
                let got = mm.mmap(
                    arg("addr") as usize,
                    arg("len") as usize,
                    arg("prot") as u32,
                    arg("flags") as u32,
                    fds.get(&fd),
                    arg("off") as u64,
                );
                report.call("mmap", file, line, got, expected(result));
            }
            "munmap" => {
                let got = mm.munmap(arg("addr") as usize, arg("len") as usize);
                report.call("munmap", file, line, got, expected(result));
            }
            "mprotect" => {
                let got = mm.mprotect(
                    arg("addr") as usize,
                    arg("len") as usize,
                    arg("prot") as u32,
                );
                report.call("mprotect", file, line, got, expected(result));
            }
            "mremap" => {
                let got = mm.mremap(
                    arg("addr") as usize,
                    arg("old_len") as usize,
                    arg("new_len") as usize,
                    arg("flags") as u32,
                    arg("new_addr") as usize,
                );
                report.call("mremap", file, line, got, expected(result));
            }
            "setrlimit" => {
                let limit = match arg("cur") {
                    cur if cur == u64::MAX as i128 => None,
                    cur => Some(cur as usize),
                };
                let resource = match a["resource"].as_str() {
                    "RLIMIT_AS" => Rlimit::As,
                    "RLIMIT_DATA" => Rlimit::Data,
                    "RLIMIT_MEMLOCK" => Rlimit::Memlock,
                    other => panic!("{file}: setrlimit {other}"),
                };
                mm.set_rlimit(resource, limit);
            }
            "brk" => {
                let got = mm.brk(arg("addr") as usize);
                report.call("brk", file, line, Ok(got), expected(result));
            }
            "madvise" => {
                let got = mm.madvise(
                    arg("addr") as usize,
                    arg("len") as usize,
                    arg("advice") as u32,
                );
                report.call("madvise", file, line, got, expected(result));
            }
            "mlock" | "munlock" => {
                let (addr, len) = (arg("addr") as usize, arg("len") as usize);
                let got = if call == "mlock" {
                    mm.mlock(addr, len)
                } else {
                    mm.munlock(addr, len)
                };
                report.call(
                    if call == "mlock" { "mlock" } else { "munlock" },
                    file,
                    line,
                    got,
                    expected(result),
                );
            }
            "setresuid" => mm.set_privileged(false),
            "bulk-mmap" => {
                // `count` one-page MAP_FIXED_NOREPLACE mmaps, read-only for
                // even `i` and PROT_NONE for odd `i`: none may fail.
                let (addr, len) = (arg("addr") as usize, arg("len") as usize);
                let flags = arg("flags") as u32;
                let done = (0..arg("count") as usize)
                    .take_while(|i| {
                        let at = addr + i * len;
                        let prot = u32::from(i % 2 == 0);
                        mm.mmap(at, len, prot, flags, None, 0) == Ok(at)
                    })
                    .count();
                let got = if done == arg("count") as usize {
                    Ok(0)
                } else {
                    Err(Errno::ENOMEM)
                };
                report.call("bulk-mmap", file, line, got, expected(result));
            }
            _ => {
                report.stops.push(format!("{file}: stopped at `{line}`"));
                return false;
            }
        }
    }
    true
}

/// The first snapshot as the personality's starting VMAs, each kept apart
/// as the kernel has them: every file VMA its own open file (as ld.so's
/// mappings are, for merging purposes, in `check.py`), every writable
/// anonymous VMA its own `anon_vma`.
fn load(mm: &mut LinuxMm<VmaAdapter>, snap: &Snapshot, next_id: &mut u64) {
    let mut anon_vma = 1u64 << 40;
    let mut count = 0;
    for (vma, inode, path, raw) in &snap.vmas {
        if vma.start >= DEFAULT_TASK_SIZE {
            continue;
        }
        let mut flags = VmFlags::EMPTY;
        for code in raw {
            flags |= VmFlags::from_code(code).unwrap_or_else(|| panic!("VmFlags code {code}"));
        }
        let file = *inode != 0 && !path.starts_with('[');
        let (backing, pgoff) = if file {
            *next_id += 1;
            (
                Backing::File {
                    id: *next_id - 1,
                    thp: true,
                },
                vma.offset / PAGE_SIZE as u64,
            )
        } else {
            (Backing::Anonymous, (vma.start / PAGE_SIZE) as u64)
        };
        let mut attrs = VmaAttrs::new(flags, backing, pgoff);
        if !file && flags.contains(VmFlags::WRITE) {
            anon_vma += 1;
            attrs = attrs.with_anon_vma(NonZeroU64::new(anon_vma));
        }
        mm.insert(vma.start, vma.end, attrs).unwrap();
        count += 1;
    }
    assert_eq!(mm.map().len(), count, "the initial VMAs stay apart:\n{mm}");
}

/// The value of one `strace` argument: a number, `NULL`, or `A|B|...` of
/// the symbolic constants glibc's calls use.
fn strace_value(arg: &str) -> usize {
    use range_action_map::linux::{map, mremap, prot};
    arg.split('|')
        .map(|sym| match sym {
            "NULL" | "MADV_NORMAL" | "PROT_NONE" => 0,
            "PROT_READ" => prot::READ as usize,
            "PROT_WRITE" => prot::WRITE as usize,
            "PROT_EXEC" => prot::EXEC as usize,
            "MAP_PRIVATE" => map::PRIVATE as usize,
            "MAP_SHARED" => map::SHARED as usize,
            "MAP_ANONYMOUS" => map::ANONYMOUS as usize,
            "MAP_FIXED" => map::FIXED as usize,
            "MAP_DENYWRITE" => map::DENYWRITE as usize,
            "MREMAP_MAYMOVE" => mremap::MAYMOVE as usize,
            "MREMAP_FIXED" => mremap::FIXED as usize,
            "MREMAP_DONTUNMAP" => mremap::DONTUNMAP as usize,
            n => num(n) as usize,
        })
        .fold(0, |a, b| a | b)
}

/// Replays `realloc.strace` (glibc's `realloc` of mmap'ed blocks: 95
/// `mremap`s) from its start marker to its end marker, starting from the
/// maps `realloc.txt` took at the start marker, and compares every result
/// and the maps taken at the end marker (range, permissions, offset: the
/// file has no `VmFlags`).
fn replay_strace(report: &mut Report) {
    let maps = fs::read_to_string(format!("{DIR}/realloc.txt")).unwrap();
    let mut lines = maps.lines().peekable();
    let mut snapshots = Vec::new();
    while let Some(line) = lines.next() {
        if line.starts_with("maps-begin") {
            snapshots.push(parse_snapshot(line, &mut lines));
        }
    }
    let [initial, last] = &snapshots[..] else {
        panic!("realloc.txt holds two snapshots")
    };
    let mut mm = LinuxMm::<VmaAdapter>::new();
    let mut next_id = 1;
    // No VmFlags here: the flags a fresh mapping of each kind has.
    let mut initial = Snapshot {
        tag: initial.tag.clone(),
        lo: initial.lo,
        hi: initial.hi,
        vmas: initial
            .vmas
            .iter()
            .map(|(v, inode, path, _)| {
                let p = v.perms.as_bytes();
                let mut raw: Vec<String> = [(0, "rd"), (1, "wr"), (2, "ex")]
                    .iter()
                    .filter(|&&(i, _)| p[i] != b'-')
                    .map(|&(_, c)| c.to_string())
                    .collect();
                raw.extend(["mr", "mw", "me"].map(String::from));
                match path.as_str() {
                    "[stack]" => raw.extend(["gd", "ac"].map(String::from)),
                    "[vvar]" | "[vvar_vclock]" | "[vdso]" => {
                        raw.extend(["pf", "io", "de"].map(String::from))
                    }
                    _ if p[1] == b'w' => raw.push("ac".into()),
                    _ => {}
                }
                let vma = SnapVma {
                    flags: BTreeSet::new(),
                    perms: v.perms.clone(),
                    label: v.label.clone(),
                    ..*v
                };
                (vma, *inode, path.clone(), raw)
            })
            .collect(),
    };
    initial.vmas.retain(|(v, ..)| v.start < DEFAULT_TASK_SIZE);
    load(&mut mm, &initial, &mut next_id);
    // No stat line here: the initial stack is somewhere in [stack].
    let stack = initial.vmas.iter().find(|(.., path, _)| path == "[stack]");
    mm.set_start_stack(stack.unwrap().0.start);
    let trace = fs::read_to_string(format!("{DIR}/realloc.strace")).unwrap();
    let mut started = false;
    for line in trace.lines() {
        let Some((call, _)) = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.split_once('('))
        else {
            continue;
        };
        if call == "madvise" {
            if started {
                break;
            }
            started = true;
            continue;
        }
        if !started {
            continue;
        }
        let (call_text, result) = line.rsplit_once(" = ").unwrap();
        let inner = &call_text[call_text.find('(').unwrap() + 1..call_text.trim_end().len() - 1];
        let args: Vec<usize> = inner.split(", ").map(strace_value).collect();
        let want = Ok(num(result.split_whitespace().next().unwrap()) as usize);
        match call {
            "brk" => {
                if args[0] == 0 {
                    mm.set_start_brk(num(result) as usize);
                }
                report.call("brk", "realloc.strace", line, Ok(mm.brk(args[0])), want);
            }
            "mmap" => {
                assert_eq!(args[4] as i64, -1, "anonymous mappings only");
                let got = mm.mmap(args[0], args[1], args[2] as u32, args[3] as u32, None, 0);
                report.call("mmap", "realloc.strace", line, got, want);
            }
            "munmap" => {
                let got = mm.munmap(args[0], args[1]);
                report.call("munmap", "realloc.strace", line, got, want);
            }
            "mremap" => {
                let new_addr = args.get(4).copied().unwrap_or(0);
                let got = mm.mremap(args[0], args[1], args[2], args[3] as u32, new_addr);
                report.call("mremap", "realloc.strace", line, got, want);
            }
            "close" => {}
            other => panic!("realloc.strace: unexpected call {other}"),
        }
    }
    let kernel: Vec<&SnapVma> = last
        .vmas
        .iter()
        .map(|(v, ..)| v)
        .filter(|v| v.start < DEFAULT_TASK_SIZE)
        .collect();
    let mut model = model_vmas(&mm, 0, usize::MAX);
    for vma in &mut model {
        vma.flags.clear();
    }
    report.snapshots.calls += 1;
    if kernel.len() == model.len() && kernel.iter().zip(&model).all(|(k, m)| *k == m) {
        report.snapshots.identical += 1;
    } else {
        report.misses.push(format!(
            "realloc.strace: final maps: kernel {kernel:#x?}\nmodel {model:#x?}"
        ));
    }
}

#[test]
fn replay_linux_syscall_captures() {
    let mut report = Report::default();
    let mut files: Vec<String> = fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        // `realloc.txt` holds the plain maps of the `realloc.strace` run.
        .filter(|f| f.ends_with(".txt") && f != "realloc.txt")
        .collect();
    files.sort();
    for file in &files {
        replay(file, &mut report);
    }
    replay_strace(&mut report);
    println!("{:<10} {:>6} {:>10}", "call", "calls", "identical");
    for (call, c) in &report.per_call {
        println!("{call:<10} {:>6} {:>10}", c.calls, c.identical);
    }
    let s = &report.snapshots;
    println!("{:<10} {:>6} {:>10}", "snapshots", s.calls, s.identical);
    for stop in &report.stops {
        println!("{stop}");
    }
    for miss in &report.misses {
        println!("MISS {miss}");
    }
    assert!(
        report.misses.is_empty(),
        "{} disagreements",
        report.misses.len()
    );
    // Every call before each file's first uncovered call is replayed: this
    // many (a change here means the replay covers more, or stops earlier).
    let calls = |c: &str| report.per_call.get(c).map_or(0, |c| c.calls);
    assert_eq!(
        [
            calls("mmap"),
            calls("munmap"),
            calls("mprotect"),
            calls("brk"),
            calls("madvise"),
            calls("mremap"),
            calls("mlock") + calls("munlock"),
            calls("bulk-mmap") + calls("vma-count"),
            s.calls
        ],
        [395, 291, 67, 62, 28, 170, 6, 19, 128],
        "calls replayed: mmap, munmap, mprotect, brk, madvise, mremap, mlock+munlock, \
         bulk-mmap+vma-count, snapshots"
    );
}

/// A model of Linux's `mprotect` rule over anonymous memory that is never
/// written: one `Option<prot>` per page of a small window. `mprotect`
/// changes pages from its start up to the first unmapped page and fails
/// with `ENOMEM` if it stopped early (changing nothing if the start is
/// unmapped). With no writes (no `anon_vma`s) and `pgoff`s that follow the
/// addresses, Linux's VMAs are exactly the maximal runs of pages with equal
/// protection, so the personality's VMA list is checked against the runs.
#[test]
fn mprotect_rule_matches_a_page_model() {
    const BASE: usize = 0x1000_0000_0000;
    const PAGES: usize = 24;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15_u64);
    let mut rand = |n: usize| rng.below(n);
    let mut mm = LinuxMm::<VmaAdapter>::new();
    let mut pages: [Option<u32>; PAGES] = [None; PAGES];
    let anon_fixed = range_action_map::linux::map::PRIVATE
        | range_action_map::linux::map::ANONYMOUS
        | range_action_map::linux::map::FIXED;
    let (mut partial, mut from_hole) = (0, 0);
    for step in 0..4000 {
        let first = rand(PAGES);
        let count = 1 + rand(PAGES - first);
        let (addr, len) = (BASE + first * PAGE_SIZE, count * PAGE_SIZE);
        let prot = rand(8) as u32;
        match rand(3) {
            0 => {
                assert_eq!(mm.mmap(addr, len, prot, anon_fixed, None, 0), Ok(addr));
                pages[first..first + count].fill(Some(prot & 7));
            }
            1 => {
                assert_eq!(mm.munmap(addr, len), Ok(0));
                pages[first..first + count].fill(None);
            }
            _ => {
                let run = pages[first..first + count]
                    .iter()
                    .take_while(|p| p.is_some())
                    .count();
                let want = if run == count {
                    Ok(0)
                } else {
                    Err(Errno::ENOMEM)
                };
                pages[first..first + run].fill(Some(prot));
                partial += usize::from(run > 0 && run < count);
                from_hole += usize::from(run == 0);
                assert_eq!(mm.mprotect(addr, len, prot), want, "step {step}");
            }
        }
        // The VMAs are the maximal runs of equal protection.
        assert_eq!(vma_prots(&mm), prot_runs(BASE, &pages), "step {step}");
        mm.map().assert_valid();
    }
    // The rule's two ENOMEM cases both came up, many times.
    assert!(partial > 100 && from_hole > 100, "{partial} {from_hole}");
}

/// The VMAs of `mm` as `(start, end, prot)`.
fn vma_prots(mm: &LinuxMm<VmaAdapter>) -> Vec<(usize, usize, u32)> {
    mm.map()
        .iter()
        .map(|v| {
            let r = mm.map().range_of(v);
            let f = v.attrs().flags();
            let bit = |b: VmFlags, p: u32| if f.contains(b) { p } else { 0 };
            (
                r.start,
                r.end,
                bit(VmFlags::READ, 1) | bit(VmFlags::WRITE, 2) | bit(VmFlags::EXEC, 4),
            )
        })
        .collect()
}

/// The maximal runs of equal protection of a page model at `base`.
fn prot_runs(base: usize, pages: &[Option<u32>]) -> Vec<(usize, usize, u32)> {
    let mut runs: Vec<(usize, usize, u32)> = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let Some(prot) = *page else { continue };
        let at = base + i * PAGE_SIZE;
        match runs.last_mut() {
            Some((_, end, p)) if *end == at && *p == prot => *end += PAGE_SIZE,
            _ => runs.push((at, at + PAGE_SIZE, prot)),
        }
    }
    runs
}

/// A page model of `mremap` over anonymous memory that is never written
/// (so that, as in [`mprotect_rule_matches_a_page_model`], the VMAs are the
/// maximal runs of equal protection, moved VMAs included: an unwritten
/// anonymous VMA takes the page offset of its new place). Random fixed
/// mmaps and munmaps build runs; `mremap` shrinks (the tail goes), grows in
/// place (only from the end of a run into free pages; `ENOMEM` otherwise,
/// without `MREMAP_MAYMOVE`), and moves with `MREMAP_FIXED` (the target is
/// unmapped first; the moved run keeps its protection, stretched or cut to
/// the new length). Results and VMAs are checked after every step.
#[test]
fn mremap_matches_a_page_model() {
    use range_action_map::linux::{map, mremap};
    const BASE: usize = 0x1100_0000_0000;
    const PAGES: usize = 32;
    let mut rng = Rng(0x2545_f491_4f6c_dd1d_u64);
    let mut rand = |n: usize| rng.below(n);
    let mut mm = LinuxMm::<VmaAdapter>::new();
    let mut pages: [Option<u32>; PAGES] = [None; PAGES];
    let at = |i: usize| BASE + i * PAGE_SIZE;
    let mut counts = [0usize; 4];
    for step in 0..4000 {
        match rand(4) {
            0 => {
                let first = rand(PAGES);
                let count = 1 + rand((PAGES - first).min(6));
                let prot = rand(2) as u32 + 1; // r-- or -w-: never written
                let flags = map::PRIVATE | map::ANONYMOUS | map::FIXED;
                let got = mm.mmap(at(first), count * PAGE_SIZE, prot, flags, None, 0);
                assert_eq!(got, Ok(at(first)), "step {step}");
                pages[first..first + count].fill(Some(prot));
            }
            1 => {
                let first = rand(PAGES);
                let count = 1 + rand((PAGES - first).min(6));
                assert_eq!(mm.munmap(at(first), count * PAGE_SIZE), Ok(0));
                pages[first..first + count].fill(None);
            }
            _ => {
                // An old range inside one run.
                let Some(a) = (0..PAGES)
                    .map(|_| rand(PAGES))
                    .find(|&i| pages[i].is_some())
                else {
                    continue;
                };
                let prot = pages[a];
                let run_end = (a..PAGES).find(|&i| pages[i] != prot).unwrap_or(PAGES);
                let old = 1 + rand(run_end - a);
                if rand(2) == 0 {
                    // In place: shrink, or grow up to the model's end.
                    let new = 1 + rand(PAGES - a);
                    let free = (a + old..a + new).all(|i| pages[i].is_none());
                    let want = if new <= old || (a + old == run_end && free) {
                        Ok(at(a))
                    } else {
                        Err(Errno::ENOMEM)
                    };
                    let got = mm.mremap(at(a), old * PAGE_SIZE, new * PAGE_SIZE, 0, 0);
                    assert_eq!(got, want, "step {step}");
                    if want.is_ok() {
                        pages[a + new.min(old)..a + old].fill(None);
                        pages[a + old.min(new)..a + new].fill(prot);
                        counts[usize::from(new > old)] += 1;
                    } else {
                        counts[2] += 1;
                    }
                } else {
                    // MREMAP_FIXED to a target clear of [a, a + max(old, new)).
                    let new = 1 + rand(6);
                    let t = rand(PAGES - new + 1);
                    if t < a + old.max(new) && a < t + new {
                        continue;
                    }
                    let flags = mremap::MAYMOVE | mremap::FIXED;
                    let got = mm.mremap(at(a), old * PAGE_SIZE, new * PAGE_SIZE, flags, at(t));
                    assert_eq!(got, Ok(at(t)), "step {step}");
                    pages[t..t + new].fill(None);
                    pages[a..a + old].fill(None);
                    pages[t..t + new].fill(prot);
                    counts[3] += 1;
                }
            }
        }
        assert_eq!(vma_prots(&mm), prot_runs(BASE, &pages), "step {step}");
        mm.map().assert_valid();
    }
    // Shrinks, growths in place, refused growths and fixed moves all came up.
    assert!(counts.iter().all(|&c| c > 100), "{counts:?}");
}

/// Hostile arguments (addresses and lengths at 0, around a page, at the end
/// of user space and at `usize::MAX`; every flag bit) never panic or
/// corrupt the map: each call answers with a result, and a misaligned or
/// overflowing argument with the errno Linux gives it.
#[test]
fn hostile_arguments_get_errnos() {
    use range_action_map::linux::{madv, map, mremap, prot};
    let mut mm = LinuxMm::<VmaAdapter>::new();
    let anon = map::PRIVATE | map::ANONYMOUS;
    let base = mm.mmap(0, 0x4000, prot::READ, anon, None, 0).unwrap();
    let values = [
        0,
        1,
        0xfff,
        0x1000,
        base,
        base + 0x1000,
        DEFAULT_TASK_SIZE - 0x1000,
        DEFAULT_TASK_SIZE,
        usize::MAX / 2,
        usize::MAX - 0xfff,
        usize::MAX,
    ];
    for &a in &values {
        for &len in &values {
            let misaligned = a % PAGE_SIZE != 0;
            let fixed = mm.mmap(a, len, prot::READ, anon | map::FIXED, None, 0);
            // Misaligned is EINVAL once the range fits below the end of
            // user space (a range past it is ENOMEM first).
            if misaligned && (1..=0x1000).contains(&len) && a < DEFAULT_TASK_SIZE - 0x1000 {
                assert_eq!(fixed, Err(Errno::EINVAL), "mmap({a:#x}, {len:#x})");
            }
            let _ = mm.mmap(a, len, u32::MAX, u32::MAX, None, u64::MAX);
            let _ = mm.mprotect(a, len, u32::MAX);
            let _ = mm.mprotect(a, len, prot::READ | prot::GROWSDOWN);
            let _ = mm.madvise(a, len, madv::DONTFORK);
            let _ = mm.mlock(a, len);
            let _ = mm.mremap(a, len, len / 2, mremap::MAYMOVE, 0);
            let _ = mm.mremap(base, 0x1000, len, mremap::MAYMOVE | mremap::FIXED, a);
            let _ = mm.brk(a);
            if misaligned {
                assert_eq!(mm.munmap(a, len), Err(Errno::EINVAL));
                assert_eq!(mm.mprotect(a, len, prot::READ), Err(Errno::EINVAL));
                assert_eq!(mm.madvise(a, len, madv::DONTNEED), Err(Errno::EINVAL));
                assert_eq!(mm.mremap(a, 0x1000, 0x1000, 0, 0), Err(Errno::EINVAL));
            } else {
                let _ = mm.munmap(a, len);
            }
            mm.map().assert_valid();
        }
    }
}

/// One VMA for the exec comparison: range, perms, offset and every
/// `VmFlags` code the personality knows (the special mappings' `pf io de`
/// included).
fn exec_vma(start: usize, end: usize, perms: &str, offset: u64, codes: &[String]) -> String {
    let mut flags = VmFlags::EMPTY;
    for code in codes {
        flags |= VmFlags::from_code(code).unwrap_or_else(|| panic!("VmFlags code {code}"));
    }
    format!("{start:x}-{end:x} {perms} {offset:08x} {flags}")
}

/// The ELF facts of one image from the VMAs Linux left of it: each file
/// VMA a `PT_LOAD` (a read-only `VM_ACCOUNT` VMA followed by a writable
/// one of the file is the RELRO part of one writable segment, made
/// read-only by the start-up code after `execve`), and the anonymous VMA
/// right after the last one its `.bss`. Returns the segments, relative to
/// `base`, and the snapshot's VMAs of the image with the RELRO split
/// undone, as [`exec_vma`] prints them.
fn exec_image(
    snap: &Snapshot,
    path: &str,
    base: usize,
) -> (Vec<range_action_map::linux::LoadSegment>, Vec<String>) {
    use range_action_map::linux::{prot, LoadSegment};
    let mut segments: Vec<LoadSegment> = Vec::new();
    let mut vmas: Vec<(usize, usize, String, u64, Vec<String>)> = Vec::new();
    let mut last_end = None;
    for (vma, _, p, raw) in &snap.vmas {
        if p == path {
            let prot_of = |perms: &str| {
                let b = perms.as_bytes();
                (if b[0] == b'r' { prot::READ } else { 0 })
                    | (if b[1] == b'w' { prot::WRITE } else { 0 })
                    | (if b[2] == b'x' { prot::EXEC } else { 0 })
            };
            let relro = vmas.last().is_some_and(|(_, end, perms, off, codes)| {
                *end == vma.start
                    && perms == "r--p"
                    && codes.iter().any(|c| c == "ac")
                    && vma.perms == "rw-p"
                    && *off + (end - vmas.last().unwrap().0) as u64 == vma.offset
            });
            // A RELRO part and the writable rest are one segment.
            let (start, off) = if relro {
                segments.pop();
                let (start, _, _, off, _) = vmas.pop().unwrap();
                (start, off)
            } else {
                (vma.start, vma.offset)
            };
            vmas.push((start, vma.end, vma.perms.clone(), off, raw.clone()));
            segments.push(LoadSegment {
                vaddr: start - base,
                offset: off,
                filesz: vma.end - start,
                memsz: vma.end - start,
                prot: prot_of(&vma.perms),
            });
            last_end = Some(vma.end);
        } else if last_end == Some(vma.start) && p.is_empty() && vma.perms == "rw-p" {
            // The .bss: zero pages of the last segment.
            vmas.push((
                vma.start,
                vma.end,
                vma.perms.clone(),
                vma.offset,
                raw.clone(),
            ));
            segments.last_mut().unwrap().memsz += vma.end - vma.start;
            last_end = None;
        } else {
            last_end = None;
        }
    }
    let printed = vmas
        .iter()
        .map(|(s, e, perms, off, codes)| exec_vma(*s, *e, perms, *off, codes))
        .collect();
    (segments, printed)
}

/// The 12 `exec` children of `exec.txt`: three binaries (a dynamic PIE, a
/// static `ET_EXEC`, a static PIE) under `RLIMIT_STACK` 8 MiB, 1 GiB,
/// unlimited and 8 MiB with `ADDR_COMPAT_LAYOUT` (the legacy bottom-up
/// layout). The capture records the
/// auxiliary vector, `brk(0)` and the maps after the program's start-up
/// (ld.so's or static glibc's), not the calls of that start-up nor the
/// program headers. So the ELF facts are read back from the VMAs of each
/// image relative to its first page (where it is, the fact under test,
/// is not used), [`LinuxMm::exec`] builds the address space, and what
/// `execve` made is compared VMA for VMA: the images (RELRO split undone)
/// with their `.bss`, `[stack]`, `[vvar]`, `[vvar_vclock]`, `[vdso]`; and
/// `AT_BASE`, `AT_SYSINFO_EHDR` and the start of the heap (`brk(0)` for
/// the dynamic PIE, whose start-up does not move the break; the `[heap]`
/// VMA's start for the static ones, whose start-up grows it).
#[test]
fn exec_layout_matches_captures() {
    use range_action_map::linux::{
        ElfImage, ElfType, ExecParams, FileKind, NoRandom, StackRlimit, X86_64_VDSO,
    };
    let text = fs::read_to_string(format!("{DIR}/exec.txt")).unwrap();
    let mut lines = text.lines();
    let (mut children, mut replayed, mut identical) = (0, 0, 0);
    let mut misses = Vec::new();
    while let Some(line) = lines.next() {
        if !line.starts_with("child-begin exec") {
            continue;
        }
        children += 1;
        let a = args(&line.split_whitespace().collect::<Vec<_>>()[2..]);
        let binary = a["binary"].trim_start_matches("./").to_string();
        let rlimit = StackRlimit::from_raw(num(&a["rlimit-stack"]) as u64);
        let legacy = num(&a["personality-add"]) != 0;
        let mut auxv = HashMap::new();
        let mut brk0 = None;
        let mut snap = None;
        while let Some(line) = lines.next() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if line.starts_with("child-end") {
                break;
            } else if f[0] == "auxv" {
                let a = args(&f[1..]);
                auxv.insert(a["name"].clone(), num(&a["val"]) as usize);
            } else if f.get(1) == Some(&"brk") {
                brk0 = Some(num(f[4]) as usize);
            } else if f[0] == "maps-begin" {
                snap = Some(parse_snapshot(line, &mut lines));
            }
        }
        replayed += 1;
        let snap = snap.expect("an exec snapshot");
        let path_of = |suffix: &str| {
            snap.vmas
                .iter()
                .map(|(_, _, p, _)| p)
                .find(|p| p.ends_with(suffix))
                .unwrap()
                .clone()
        };
        let first_start = |path: &str| {
            snap.vmas
                .iter()
                .find(|(_, _, p, _)| p == path)
                .map(|(v, _, _, _)| v.start)
                .unwrap()
        };
        let exe_path = path_of(&format!("/{binary}"));
        let kind = if binary == "trace-static" {
            ElfType::Exec
        } else {
            ElfType::Dyn
        };
        let exe_base = if kind == ElfType::Exec {
            0
        } else {
            first_start(&exe_path)
        };
        let (exe_segments, mut want) = exec_image(&snap, &exe_path, exe_base);
        let interp = (binary == "trace").then(|| {
            let path = path_of("/ld-linux-x86-64.so.2");
            exec_image(&snap, &path, first_start(&path))
        });
        let file = |id| MmapFile::new(id, FileKind::Thp, true, false);
        let image = ElfImage {
            kind,
            segments: &exe_segments,
            align: PAGE_SIZE,
            file: file(1),
        };
        if let Some((_, vmas)) = &interp {
            want.extend(vmas.iter().cloned());
        }
        for (vma, _, path, raw) in &snap.vmas {
            if ["[stack]", "[vvar]", "[vvar_vclock]", "[vdso]"].contains(&path.as_str()) {
                want.push(exec_vma(vma.start, vma.end, &vma.perms, vma.offset, raw));
            }
        }
        want.sort();
        let params = ExecParams {
            task_size: DEFAULT_TASK_SIZE,
            stack_rlimit: rlimit,
            // The file name, 4 argument strings and 1 environment string
            // (under a page, whatever the sequence number and fd).
            arg_len: 2 * exe_path.len() + 64,
            legacy,
            interp: interp.as_ref().map(|(segments, _)| ElfImage {
                kind: ElfType::Dyn,
                segments,
                align: PAGE_SIZE,
                file: file(2),
            }),
            vdso: &X86_64_VDSO,
        };
        let (mm, at) = LinuxMm::<VmaAdapter>::exec(&image, &params, &mut NoRandom, ()).unwrap();
        let mut got: Vec<String> = mm
            .map()
            .iter()
            .map(|vma| {
                let r = mm.map().range_of(vma);
                let line = vma.to_string();
                let f: Vec<&str> = line.split_whitespace().collect();
                format!(
                    "{:x}-{:x} {} {} {}",
                    r.start,
                    r.end,
                    f[0],
                    f[1],
                    vma.attrs().flags()
                )
            })
            .collect();
        got.sort();
        let heap = snap
            .vmas
            .iter()
            .find(|(_, _, p, _)| p == "[heap]")
            .map(|(v, _, _, _)| v.start);
        let want_brk = if binary == "trace" { brk0 } else { heap };
        let vdso_text = at.vdso_base.map(|b| b + 6 * PAGE_SIZE);
        let facts = [
            (
                "AT_BASE",
                at.interp_base,
                auxv.get("AT_BASE").copied().filter(|&b| b != 0),
            ),
            (
                "AT_SYSINFO_EHDR",
                vdso_text,
                auxv.get("AT_SYSINFO_EHDR").copied(),
            ),
            ("start_brk", Some(at.start_brk), want_brk),
        ];
        let mut ok = got == want;
        if !ok {
            misses.push(format!(
                "{binary} {}: VMAs\n  got  {got:#?}\n  want {want:#?}",
                a["case"]
            ));
        }
        for (name, got, want) in facts {
            if got != want {
                ok = false;
                misses.push(format!(
                    "{binary} {}: {name} {got:x?} != {want:x?}",
                    a["case"]
                ));
            }
        }
        identical += usize::from(ok);
    }
    println!("exec children: {children}, replayed {replayed}, identical {identical}");
    assert!(misses.is_empty(), "{}", misses.join("\n"));
    assert_eq!((children, replayed, identical), (12, 12, 12));
}

/// The random-offset hook: each offset moves what Linux moves with it, and
/// nothing else (the same image as with [`NoRandom`](range_action_map::linux::NoRandom)).
#[test]
fn exec_random_offsets_move_the_layout() {
    use range_action_map::linux::{
        prot, ElfImage, ElfType, ExecParams, ExecRandom, FileKind, LoadSegment, NoRandom,
        StackRlimit, X86_64_VDSO,
    };
    struct Fixed;
    impl ExecRandom for Fixed {
        fn mmap_offset(&mut self) -> usize {
            0x10_0000
        }
        fn stack_offset(&mut self) -> usize {
            0x3000
        }
        fn load_offset(&mut self) -> usize {
            0x20_0000
        }
        fn brk_offset(&mut self) -> usize {
            0x7000
        }
    }
    let seg = |vaddr: usize, filesz, memsz, prot| LoadSegment {
        vaddr,
        offset: vaddr as u64,
        filesz,
        memsz,
        prot,
    };
    let exe = [
        seg(0, 0x2000, 0x2000, prot::READ | prot::EXEC),
        seg(0x2000, 0x800, 0x3000, prot::READ | prot::WRITE),
    ];
    let ld_so = [seg(0, 0x5000, 0x6000, prot::READ | prot::EXEC)];
    let image = |segments, id| ElfImage {
        kind: ElfType::Dyn,
        segments,
        align: PAGE_SIZE,
        file: MmapFile::new(id, FileKind::Thp, true, false),
    };
    for legacy in [false, true] {
        let params = ExecParams {
            task_size: DEFAULT_TASK_SIZE,
            stack_rlimit: StackRlimit::DEFAULT,
            arg_len: 0x100,
            legacy,
            interp: Some(image(&ld_so[..], 2)),
            vdso: &X86_64_VDSO,
        };
        let exe = image(&exe[..], 1);
        let (plain_mm, plain) =
            LinuxMm::<VmaAdapter>::exec(&exe, &params, &mut NoRandom, ()).unwrap();
        let (mm, at) = LinuxMm::<VmaAdapter>::exec(&exe, &params, &mut Fixed, ()).unwrap();
        if legacy {
            assert_eq!(at.mmap_base, plain.mmap_base + 0x10_0000);
        } else {
            assert_eq!(at.mmap_base, plain.mmap_base - 0x10_0000);
        }
        assert_eq!(at.load_bias, plain.load_bias + 0x20_0000);
        assert_eq!(at.start_brk, plain.start_brk + 0x20_0000 + 0x7000);
        assert_eq!(at.stack_end, plain.stack_end - 0x3000);
        assert_eq!(at.stack_start, plain.stack_start - 0x3000);
        // The interpreter and the vDSO follow mmap_base (top-down: the
        // interpreter ends at it; legacy: it starts at it).
        let shift = |x: usize| {
            if legacy {
                x + 0x10_0000
            } else {
                x - 0x10_0000
            }
        };
        assert_eq!(at.interp_base, plain.interp_base.map(shift));
        assert_eq!(at.vdso_base, plain.vdso_base.map(shift));
        assert_eq!(mm.map().len(), plain_mm.map().len());
        assert_eq!(mm.start_brk(), at.start_brk);
    }
}
