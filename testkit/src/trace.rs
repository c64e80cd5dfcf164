//! Real-program memory-map system-call traces (`ram-trace v1`) for the
//! benchmarks: a parser, the Linux constants the traces use, and a
//! summary that replays a trace against a tiny reference model.
//!
//! The files live in `benches/data/<program>.txt` ([`PROGRAMS`],
//! [`program_trace`]); `benches/data/README.md` says how each one was
//! captured (strace of python, gcc, java, node, cargo) and specifies the
//! line format. In short, one record per line, fields
//! separated by single spaces, `#` starts a comment line:
//!
//! ```text
//! X <as> <pid> <path>                                   exec: new, empty address space
//! F <as> <parent-as> <pid>                              fork: copy of <parent-as> as it is now
//! m <as> <hint> <len> <prot> <flags> <fd> <off> <res>   mmap
//! u <as> <addr> <len> <res>                             munmap
//! p <as> <addr> <len> <prot> <res>                      mprotect
//! b <as> <addr> <res>                                   brk
//! r <as> <old> <old-len> <new-len> <flags> <new> <res>  mremap
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The programs whose traces are bundled, in the order of
/// `benches/data/README.md`'s table: `benches/data/<name>.txt` each.
pub const PROGRAMS: [&str; 6] = ["python", "gcc", "java", "node", "node-gc", "cargo"];

/// The path of a file in `benches/data` (`bundled("elf.txt")`).
pub fn bundled(file: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../benches/data")).join(file)
}

/// The path of the bundled trace of `program`, one of [`PROGRAMS`].
pub fn program_trace(program: &str) -> PathBuf {
    bundled(&format!("{program}.txt"))
}

/// Page size of the traced machine (x86-64 Linux). Lengths in [`TraceOp`]
/// are rounded up to a multiple of it, as the kernel does.
pub const PAGE_SIZE: usize = 4096;

/// `PROT_*` bits, with the values of Linux's `<asm-generic/mman-common.h>`.
pub mod prot {
    /// `PROT_NONE`: no access.
    pub const NONE: u32 = 0;
    /// `PROT_READ` (letter `r`).
    pub const READ: u32 = 0x1;
    /// `PROT_WRITE` (letter `w`).
    pub const WRITE: u32 = 0x2;
    /// `PROT_EXEC` (letter `x`).
    pub const EXEC: u32 = 0x4;
    /// `PROT_SEM` (letter `s`).
    pub const SEM: u32 = 0x8;
    /// `PROT_GROWSDOWN`, mprotect only (letter `d`).
    pub const GROWSDOWN: u32 = 0x0100_0000;
    /// `PROT_GROWSUP`, mprotect only (letter `u`).
    pub const GROWSUP: u32 = 0x0200_0000;
}

/// `MAP_*` flags, with the values of Linux on x86-64.
pub mod map {
    /// `MAP_SHARED` (sharing letter `s`).
    pub const SHARED: u32 = 0x01;
    /// `MAP_PRIVATE` (sharing letter `p`).
    pub const PRIVATE: u32 = 0x02;
    /// `MAP_SHARED_VALIDATE` (sharing letter `v`).
    pub const SHARED_VALIDATE: u32 = 0x03;
    /// Mask of the sharing type bits.
    pub const TYPE_MASK: u32 = 0x0f;
    /// `MAP_FIXED` (letter `F`): place exactly at the hint, replacing what is there.
    pub const FIXED: u32 = 0x10;
    /// `MAP_ANONYMOUS` (letter `a`): no file behind the mapping.
    pub const ANONYMOUS: u32 = 0x20;
    /// `MAP_32BIT` (letter `3`).
    pub const MAP_32BIT: u32 = 0x40;
    /// `MAP_GROWSDOWN` (letter `g`): stack-like mapping.
    pub const GROWSDOWN: u32 = 0x100;
    /// `MAP_DENYWRITE` (letter `D`, ignored by the kernel).
    pub const DENYWRITE: u32 = 0x800;
    /// `MAP_EXECUTABLE` (letter `E`, ignored by the kernel).
    pub const EXECUTABLE: u32 = 0x1000;
    /// `MAP_LOCKED` (letter `L`).
    pub const LOCKED: u32 = 0x2000;
    /// `MAP_NORESERVE` (letter `n`).
    pub const NORESERVE: u32 = 0x4000;
    /// `MAP_POPULATE` (letter `P`).
    pub const POPULATE: u32 = 0x8000;
    /// `MAP_NONBLOCK` (letter `B`).
    pub const NONBLOCK: u32 = 0x10000;
    /// `MAP_STACK` (letter `S`).
    pub const STACK: u32 = 0x20000;
    /// `MAP_HUGETLB` (letter `h`).
    pub const HUGETLB: u32 = 0x40000;
    /// `MAP_SYNC` (letter `Y`).
    pub const SYNC: u32 = 0x80000;
    /// `MAP_FIXED_NOREPLACE` (letter `N`): the hint exactly, or `EEXIST`.
    pub const FIXED_NOREPLACE: u32 = 0x100000;
    /// `MAP_UNINITIALIZED` (letter `U`).
    pub const UNINITIALIZED: u32 = 0x4000000;
}

/// `MREMAP_*` flags.
pub mod mremap {
    /// `MREMAP_MAYMOVE` (letter `M`).
    pub const MAYMOVE: u32 = 1;
    /// `MREMAP_FIXED` (letter `F`): move to exactly `new_addr`.
    pub const FIXED: u32 = 2;
    /// `MREMAP_DONTUNMAP` (letter `D`): leave the old range mapped.
    pub const DONTUNMAP: u32 = 4;
}

/// Letters of the `<prot>` field, in their canonical order, and their bits.
const PROT_LETTERS: [(char, u32); 6] = [
    ('r', prot::READ),
    ('w', prot::WRITE),
    ('x', prot::EXEC),
    ('s', prot::SEM),
    ('d', prot::GROWSDOWN),
    ('u', prot::GROWSUP),
];

/// Modifier letters of the mmap `<flags>` field and their bits.
const MAP_LETTERS: [(char, u32); 15] = [
    ('a', map::ANONYMOUS),
    ('F', map::FIXED),
    ('N', map::FIXED_NOREPLACE),
    ('g', map::GROWSDOWN),
    ('S', map::STACK),
    ('n', map::NORESERVE),
    ('P', map::POPULATE),
    ('D', map::DENYWRITE),
    ('E', map::EXECUTABLE),
    ('L', map::LOCKED),
    ('B', map::NONBLOCK),
    ('h', map::HUGETLB),
    ('3', map::MAP_32BIT),
    ('Y', map::SYNC),
    ('U', map::UNINITIALIZED),
];

/// Letters of the mremap `<flags>` field and their bits.
const MREMAP_LETTERS: [(char, u32); 3] = [
    ('M', mremap::MAYMOVE),
    ('F', mremap::FIXED),
    ('D', mremap::DONTUNMAP),
];

/// One memory-map system call as the traced program made it, with the
/// kernel's answer.
///
/// Lengths are rounded up to [`PAGE_SIZE`] (the kernel acts on whole
/// pages); addresses are kept as passed. A result `Err(e)` holds the
/// positive errno (`12` is `ENOMEM`, `17` is `EEXIST`, `22` is `EINVAL`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceOp {
    /// `mmap(hint, len, prot, flags, fd, offset)`.
    Mmap {
        /// Requested address (`0` for `NULL`); exact target with
        /// [`map::FIXED`] / [`map::FIXED_NOREPLACE`], a hint otherwise.
        hint: usize,
        /// Length, page-rounded.
        len: usize,
        /// [`prot`] bits.
        prot: u32,
        /// [`map`] bits (sharing type plus modifiers).
        flags: u32,
        /// File descriptor, `None` for anonymous mappings (fd `-1`).
        fd: Option<i32>,
        /// File offset (`0` for anonymous mappings).
        offset: u64,
        /// Start of the new mapping, or the errno.
        result: Result<usize, i32>,
    },
    /// `munmap(addr, len)`.
    Munmap {
        /// Start of the range.
        addr: usize,
        /// Length, page-rounded.
        len: usize,
        /// `Ok(())` or the errno.
        result: Result<(), i32>,
    },
    /// `mprotect(addr, len, prot)`.
    Mprotect {
        /// Start of the range.
        addr: usize,
        /// Length, page-rounded.
        len: usize,
        /// New [`prot`] bits.
        prot: u32,
        /// `Ok(())` or the errno.
        result: Result<(), i32>,
    },
    /// `brk(addr)`. `addr == 0` only queries the current break.
    Brk {
        /// Requested program break (not rounded), `0` for `brk(NULL)`.
        addr: usize,
        /// The break after the call. The system call never returns an
        /// errno: a refused request returns the unchanged old break, so
        /// the call failed iff `addr != 0 && result != addr`.
        result: usize,
    },
    /// `mremap(old_addr, old_len, new_len, flags[, new_addr])`.
    Mremap {
        /// Start of the existing mapping.
        old_addr: usize,
        /// Its length, page-rounded (`0` duplicates a shared mapping).
        old_len: usize,
        /// New length, page-rounded.
        new_len: usize,
        /// [`mremap`] bits.
        flags: u32,
        /// Target of an [`mremap::FIXED`] move, `None` otherwise.
        new_addr: Option<usize>,
        /// Start of the mapping afterwards, or the errno.
        result: Result<usize, i32>,
    },
}

/// The kind of a [`TraceOp`], for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// [`TraceOp::Mmap`].
    Mmap,
    /// [`TraceOp::Munmap`].
    Munmap,
    /// [`TraceOp::Mprotect`].
    Mprotect,
    /// [`TraceOp::Brk`].
    Brk,
    /// [`TraceOp::Mremap`].
    Mremap,
}

impl OpKind {
    /// All kinds, in the order of [`TraceSummary::per_kind`].
    pub const ALL: [OpKind; 5] = [
        OpKind::Mmap,
        OpKind::Munmap,
        OpKind::Mprotect,
        OpKind::Brk,
        OpKind::Mremap,
    ];

    /// Index of this kind in [`OpKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl TraceOp {
    /// The kind of this op.
    pub fn kind(&self) -> OpKind {
        match self {
            TraceOp::Mmap { .. } => OpKind::Mmap,
            TraceOp::Munmap { .. } => OpKind::Munmap,
            TraceOp::Mprotect { .. } => OpKind::Mprotect,
            TraceOp::Brk { .. } => OpKind::Brk,
            TraceOp::Mremap { .. } => OpKind::Mremap,
        }
    }

    /// Whether the kernel refused the call (so it changed nothing).
    pub fn failed(&self) -> bool {
        match *self {
            TraceOp::Mmap { result, .. } | TraceOp::Mremap { result, .. } => result.is_err(),
            TraceOp::Munmap { result, .. } | TraceOp::Mprotect { result, .. } => result.is_err(),
            TraceOp::Brk { addr, result } => addr != 0 && result != addr,
        }
    }

    /// Whether this is an mmap that must land exactly at its hint,
    /// replacing whatever is there (`MAP_FIXED`).
    pub fn is_fixed_mmap(&self) -> bool {
        matches!(self, TraceOp::Mmap { flags, .. } if flags & map::FIXED != 0)
    }
}

/// How an address space came to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A successful `execve` by `pid`: the space starts empty (apart from
    /// the kernel's own exec-time mappings, which are not in the trace:
    /// the executable's segments, the dynamic loader, stack, vdso, vvar).
    Exec {
        /// The process that exec'd.
        pid: u32,
        /// The program, as passed to `execve`.
        path: String,
    },
    /// A `fork` (a clone without `CLONE_VM`): the space starts as a copy
    /// of `parent` after the first `parent_ops` ops of `parent`.
    Fork {
        /// Id of the parent address space.
        parent: usize,
        /// How many of the parent's ops precede the fork.
        parent_ops: usize,
        /// The new process.
        pid: u32,
    },
}

/// All the ops of one address space (one `mm_struct`: every thread and
/// every `CLONE_VM` child of a process until it execs), in trace order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressSpaceTrace {
    /// The id used in the file; equal to the index in the parsed `Vec`.
    pub id: usize,
    /// Where the space comes from.
    pub origin: Origin,
    /// The memory-map calls made in it.
    pub ops: Vec<TraceOp>,
    /// The 1-based line of the file each of [`ops`](Self::ops) came from.
    pub lines: Vec<usize>,
}

/// A line of a trace file that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number (`0` for an I/O error).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trace line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Rounds `len` up to a whole number of pages, or `None` on overflow.
pub fn page_round_up(len: usize) -> Option<usize> {
    len.checked_add(PAGE_SIZE - 1).map(|l| l & !(PAGE_SIZE - 1))
}

/// Parses a number: hexadecimal with a `0x` prefix, decimal otherwise.
fn parse_num(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse::<u64>(),
    };
    r.map_err(|_| format!("bad number {s:?}"))
}

/// Parses an address or length that must fit in `usize`.
pub(crate) fn parse_usize(s: &str) -> Result<usize, String> {
    usize::try_from(parse_num(s)?).map_err(|_| format!("{s:?} does not fit in usize"))
}

/// Parses a length and rounds it up to whole pages.
fn parse_len(s: &str) -> Result<usize, String> {
    page_round_up(parse_usize(s)?).ok_or_else(|| format!("length {s} overflows when page-rounded"))
}

/// Parses a `<prot>` field (`-` or letters of `rwxsdu`).
pub(crate) fn parse_prot(s: &str) -> Result<u32, String> {
    if s == "-" {
        return Ok(prot::NONE);
    }
    let mut bits = 0;
    for c in s.chars() {
        let (_, b) = PROT_LETTERS
            .iter()
            .find(|(l, _)| *l == c)
            .ok_or_else(|| format!("bad prot letter {c:?} in {s:?}"))?;
        bits |= b;
    }
    Ok(bits)
}

/// Parses an mmap `<flags>` field: sharing letter then modifier letters.
fn parse_map_flags(s: &str) -> Result<u32, String> {
    let mut chars = s.chars();
    let mut bits = match chars.next() {
        Some('p') => map::PRIVATE,
        Some('s') => map::SHARED,
        Some('v') => map::SHARED_VALIDATE,
        _ => return Err(format!("mmap flags {s:?} must start with p, s or v")),
    };
    for c in chars {
        let (_, b) = MAP_LETTERS
            .iter()
            .find(|(l, _)| *l == c)
            .ok_or_else(|| format!("bad mmap flag letter {c:?} in {s:?}"))?;
        bits |= b;
    }
    Ok(bits)
}

/// Parses an mremap `<flags>` field (`-` or letters of `MFD`).
fn parse_mremap_flags(s: &str) -> Result<u32, String> {
    if s == "-" {
        return Ok(0);
    }
    let mut bits = 0;
    for c in s.chars() {
        let (_, b) = MREMAP_LETTERS
            .iter()
            .find(|(l, _)| *l == c)
            .ok_or_else(|| format!("bad mremap flag letter {c:?} in {s:?}"))?;
        bits |= b;
    }
    Ok(bits)
}

/// Parses a result field: `-<errno>` or an address.
fn parse_addr_result(s: &str) -> Result<Result<usize, i32>, String> {
    match s.strip_prefix('-') {
        Some(e) => Ok(Err(parse_errno(e)?)),
        None => Ok(Ok(parse_usize(s)?)),
    }
}

/// Parses a result field that is `0` on success or `-<errno>`.
fn parse_unit_result(s: &str) -> Result<Result<(), i32>, String> {
    match s.strip_prefix('-') {
        Some(e) => Ok(Err(parse_errno(e)?)),
        None if parse_num(s)? == 0 => Ok(Ok(())),
        None => Err(format!("result {s:?} is neither 0 nor -errno")),
    }
}

/// Parses a positive errno number.
fn parse_errno(s: &str) -> Result<i32, String> {
    match s.parse::<i32>() {
        Ok(e) if e > 0 => Ok(e),
        _ => Err(format!("bad errno {s:?}")),
    }
}

/// Checks the field count of a record.
fn expect_fields(f: &[&str], n: usize) -> Result<(), String> {
    if f.len() == n {
        Ok(())
    } else {
        Err(format!(
            "{:?} record needs {} fields, has {}",
            f[0],
            n,
            f.len()
        ))
    }
}

/// Parses one op record (already split into fields; `f[1]` is the space).
fn parse_op(f: &[&str]) -> Result<TraceOp, String> {
    Ok(match f[0] {
        "m" => {
            expect_fields(f, 9)?;
            let fd = match f[6] {
                "-" => None,
                s => Some(s.parse::<i32>().map_err(|_| format!("bad fd {s:?}"))?),
            };
            TraceOp::Mmap {
                hint: parse_usize(f[2])?,
                len: parse_len(f[3])?,
                prot: parse_prot(f[4])?,
                flags: parse_map_flags(f[5])?,
                fd,
                offset: parse_num(f[7])?,
                result: parse_addr_result(f[8])?,
            }
        }
        "u" => {
            expect_fields(f, 5)?;
            TraceOp::Munmap {
                addr: parse_usize(f[2])?,
                len: parse_len(f[3])?,
                result: parse_unit_result(f[4])?,
            }
        }
        "p" => {
            expect_fields(f, 6)?;
            TraceOp::Mprotect {
                addr: parse_usize(f[2])?,
                len: parse_len(f[3])?,
                prot: parse_prot(f[4])?,
                result: parse_unit_result(f[5])?,
            }
        }
        "b" => {
            expect_fields(f, 4)?;
            TraceOp::Brk {
                addr: parse_usize(f[2])?,
                result: parse_usize(f[3])?,
            }
        }
        "r" => {
            expect_fields(f, 8)?;
            TraceOp::Mremap {
                old_addr: parse_usize(f[2])?,
                old_len: parse_len(f[3])?,
                new_len: parse_len(f[4])?,
                flags: parse_mremap_flags(f[5])?,
                new_addr: match f[6] {
                    "-" => None,
                    s => Some(parse_usize(s)?),
                },
                result: parse_addr_result(f[7])?,
            }
        }
        k => return Err(format!("unknown record kind {k:?}")),
    })
}

/// Parses the text of a `ram-trace v1` file into its address spaces,
/// indexed by id.
///
/// Address spaces must be created (`X` or `F`) in id order `0, 1, 2, ..`
/// before their first op; a fork's parent must already exist.
pub fn parse(text: &str) -> Result<Vec<AddressSpaceTrace>, ParseError> {
    let mut spaces: Vec<AddressSpaceTrace> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |message: String| ParseError { line, message };
        let l = raw.trim_end_matches('\r');
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = l.split(' ').collect();
        if fields.len() < 2 {
            return Err(err(format!("record {l:?} has no address-space id")));
        }
        let id: usize = fields[1]
            .parse()
            .map_err(|_| err(format!("bad address-space id {:?}", fields[1])))?;
        match fields[0] {
            "X" | "F" => {
                if id != spaces.len() {
                    return Err(err(format!(
                        "address space {id} created out of order (expected {})",
                        spaces.len()
                    )));
                }
                let origin = if fields[0] == "X" {
                    // The path is the rest of the line and may hold spaces.
                    let mut it = l.splitn(4, ' ');
                    let (_, _, pid, path) = (it.next(), it.next(), it.next(), it.next());
                    let pid = pid
                        .and_then(|p| p.parse().ok())
                        .ok_or_else(|| err("exec record needs a pid".into()))?;
                    let path = path.ok_or_else(|| err("exec record needs a path".into()))?;
                    Origin::Exec {
                        pid,
                        path: path.to_string(),
                    }
                } else {
                    expect_fields(&fields, 4).map_err(err)?;
                    let parent: usize = fields[2]
                        .parse()
                        .map_err(|_| err(format!("bad parent id {:?}", fields[2])))?;
                    let pid = fields[3]
                        .parse()
                        .map_err(|_| err(format!("bad pid {:?}", fields[3])))?;
                    let parent_ops = spaces
                        .get(parent)
                        .ok_or_else(|| err(format!("fork of unknown address space {parent}")))?
                        .ops
                        .len();
                    Origin::Fork {
                        parent,
                        parent_ops,
                        pid,
                    }
                };
                spaces.push(AddressSpaceTrace {
                    id,
                    origin,
                    ops: Vec::new(),
                    lines: Vec::new(),
                });
            }
            _ => {
                let op = parse_op(&fields).map_err(err)?;
                let space = spaces
                    .get_mut(id)
                    .ok_or_else(|| err(format!("op on unknown address space {id}")))?;
                space.ops.push(op);
                space.lines.push(line);
            }
        }
    }
    Ok(spaces)
}

/// Reads and parses a trace file (see [`parse`]).
pub fn load(path: impl AsRef<Path>) -> Result<Vec<AddressSpaceTrace>, ParseError> {
    parse(&read(path.as_ref())?)
}

/// The text of a data file; an I/O error is a [`ParseError`] of line 0.
pub(crate) fn read(path: &Path) -> Result<String, ParseError> {
    std::fs::read_to_string(path).map_err(|e| ParseError {
        line: 0,
        message: format!("{}: {e}", path.display()),
    })
}

/// What replaying one address space found; see [`summarize`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceSummary {
    /// Number of ops.
    pub ops: usize,
    /// Ops per kind, indexed by [`OpKind::index`].
    pub per_kind: [usize; 5],
    /// Ops the kernel refused ([`TraceOp::failed`]).
    pub failed: usize,
    /// The largest number of live mappings at any point, counting every
    /// piece separately (no merging of neighbours; splits by mprotect and
    /// partial munmap make new pieces; the heap is one piece). Exec-time
    /// mappings made by the kernel are not in the trace and not counted.
    pub max_live_mappings: usize,
    /// Successful munmap / mprotect / mremap calls whose range was not
    /// entirely covered by modelled mappings (typically the exec-time
    /// mappings: ld.so re-protecting its own or the program's RELRO).
    pub unmodelled: usize,
    /// Successful placements without `MAP_FIXED` (mmap results, brk growth,
    /// mremap growth or moves) that overlap a live modelled mapping.
    /// Zero for a consistent trace: the kernel never hands out used space.
    pub overlaps: usize,
}

impl TraceSummary {
    /// Number of ops of one kind.
    pub fn count(&self, kind: OpKind) -> usize {
        self.per_kind[kind.index()]
    }

    /// Adds `other` into `self` (sums counters, maximum of maxima).
    pub fn merge(&mut self, other: &TraceSummary) {
        self.ops += other.ops;
        for (a, b) in self.per_kind.iter_mut().zip(other.per_kind) {
            *a += b;
        }
        self.failed += other.failed;
        self.max_live_mappings = self.max_live_mappings.max(other.max_live_mappings);
        self.unmodelled += other.unmodelled;
        self.overlaps += other.overlaps;
    }
}

/// Reference model of one address space: disjoint pieces `start -> (end,
/// prot)` in a `BTreeMap`, plus the heap bounds. Deliberately simple; it
/// only serves [`summarize`].
#[derive(Clone, Debug, Default)]
struct Model {
    /// Live pieces keyed by start.
    pieces: BTreeMap<usize, (usize, u32)>,
    /// First break seen (start of the heap) and current break.
    brk: Option<(usize, usize)>,
}

impl Model {
    /// Splits the piece containing `a` (strictly inside) in two.
    fn split_at(&mut self, a: usize) {
        if let Some((&s, &(e, p))) = self.pieces.range(..a).next_back() {
            if e > a {
                self.pieces.insert(s, (a, p));
                self.pieces.insert(a, (e, p));
            }
        }
    }

    /// Starts of the pieces overlapping `[s, e)`.
    fn overlapping(&self, s: usize, e: usize) -> Vec<usize> {
        let mut v: Vec<usize> = Vec::new();
        if let Some((&ps, &(pe, _))) = self.pieces.range(..s).next_back() {
            if pe > s {
                v.push(ps);
            }
        }
        v.extend(self.pieces.range(s..e).map(|(&k, _)| k));
        v
    }

    /// Bytes of `[s, e)` covered by pieces.
    fn covered(&self, s: usize, e: usize) -> usize {
        self.overlapping(s, e)
            .into_iter()
            .map(|k| self.pieces[&k].0.min(e) - k.max(s))
            .sum()
    }

    /// Unmaps `[s, e)`.
    fn remove(&mut self, s: usize, e: usize) {
        self.split_at(s);
        self.split_at(e);
        for k in self.overlapping(s, e) {
            self.pieces.remove(&k);
        }
    }

    /// Maps `[s, e)` with `prot`, replacing what was there.
    fn insert(&mut self, s: usize, e: usize, prot: u32) {
        self.remove(s, e);
        self.pieces.insert(s, (e, prot));
    }

    /// Re-protects the mapped parts of `[s, e)`.
    fn protect(&mut self, s: usize, e: usize, prot: u32) {
        self.split_at(s);
        self.split_at(e);
        for k in self.overlapping(s, e) {
            if let Some(v) = self.pieces.get_mut(&k) {
                v.1 = prot;
            }
        }
    }

    /// Protection of the piece holding `a`.
    fn prot_at(&self, a: usize) -> Option<u32> {
        match self.pieces.range(..=a).next_back() {
            Some((_, &(e, p))) if e > a => Some(p),
            _ => None,
        }
    }

    /// Applies one op, updating the counters of `sum` that depend on the
    /// model (`unmodelled`, `overlaps`).
    fn apply(&mut self, op: &TraceOp, sum: &mut TraceSummary) {
        let end = |a: usize, l: usize| a.saturating_add(l);
        match *op {
            TraceOp::Brk { addr, result } => {
                let (start, cur) = *self.brk.get_or_insert((result, result));
                if op.failed() || addr == 0 {
                    return;
                }
                let (old_end, new_end) = (
                    page_round_up(cur).unwrap_or(usize::MAX),
                    page_round_up(result).unwrap_or(usize::MAX),
                );
                if new_end > old_end {
                    if !self.overlapping(old_end, new_end).is_empty() {
                        sum.overlaps += 1;
                    }
                    self.insert(old_end, new_end, prot::READ | prot::WRITE);
                } else if new_end < old_end {
                    self.remove(new_end, old_end);
                }
                self.brk = Some((start, result));
            }
            _ if op.failed() => {}
            TraceOp::Mmap {
                len,
                prot,
                flags,
                result: Ok(r),
                ..
            } => {
                let e = end(r, len);
                if flags & map::FIXED == 0 && !self.overlapping(r, e).is_empty() {
                    sum.overlaps += 1;
                }
                self.insert(r, e, prot);
            }
            TraceOp::Munmap { addr, len, .. } => {
                let e = end(addr, len);
                if self.covered(addr, e) < len {
                    sum.unmodelled += 1;
                }
                self.remove(addr, e);
            }
            TraceOp::Mprotect {
                addr, len, prot, ..
            } => {
                let e = end(addr, len);
                if self.covered(addr, e) < len {
                    sum.unmodelled += 1;
                }
                self.protect(addr, e, prot);
            }
            TraceOp::Mremap {
                old_addr,
                old_len,
                new_len,
                flags,
                result: Ok(r),
                ..
            } => {
                let p = self.prot_at(old_addr).unwrap_or_else(|| {
                    sum.unmodelled += 1;
                    prot::NONE
                });
                if r == old_addr {
                    if new_len > old_len {
                        let (s, e) = (end(r, old_len), end(r, new_len));
                        if !self.overlapping(s, e).is_empty() {
                            sum.overlaps += 1;
                        }
                        self.insert(s, e, p);
                    } else {
                        self.remove(end(r, new_len), end(r, old_len));
                    }
                } else {
                    if flags & mremap::DONTUNMAP == 0 {
                        self.remove(old_addr, end(old_addr, old_len));
                    }
                    let e = end(r, new_len);
                    if flags & mremap::FIXED == 0 && !self.overlapping(r, e).is_empty() {
                        sum.overlaps += 1;
                    }
                    self.insert(r, e, p);
                }
            }
            TraceOp::Mmap { .. } | TraceOp::Mremap { .. } => {}
        }
    }
}

/// Replays every address space against a simple reference model and
/// summarizes it: ops per kind, failed calls, the maximum number of live
/// mappings, and consistency counters ([`TraceSummary::overlaps`],
/// [`TraceSummary::unmodelled`]).
///
/// A forked space starts from its parent's model at the fork point; an
/// exec'd space starts empty. Returns one summary per space, by id; fold
/// them with [`TraceSummary::merge`] for a whole-file total.
pub fn summarize(spaces: &[AddressSpaceTrace]) -> Vec<TraceSummary> {
    // Forks to snapshot, per parent: (parent_ops, child id).
    let mut forks: Vec<Vec<(usize, usize)>> = vec![Vec::new(); spaces.len()];
    for s in spaces {
        if let Origin::Fork {
            parent, parent_ops, ..
        } = s.origin
        {
            if parent < s.id {
                forks[parent].push((parent_ops, s.id));
            }
        }
    }
    let mut start: Vec<Option<Model>> = vec![None; spaces.len()];
    let mut out = Vec::with_capacity(spaces.len());
    for s in spaces {
        let mut model = start[s.id].take().unwrap_or_default();
        let mut sum = TraceSummary {
            max_live_mappings: model.pieces.len(),
            ..Default::default()
        };
        for (i, op) in s.ops.iter().enumerate() {
            for &(at, child) in &forks[s.id] {
                if at == i {
                    start[child] = Some(model.clone());
                }
            }
            sum.ops += 1;
            sum.per_kind[op.kind().index()] += 1;
            if op.failed() {
                sum.failed += 1;
            }
            model.apply(op, &mut sum);
            sum.max_live_mappings = sum.max_live_mappings.max(model.pieces.len());
        }
        for &(at, child) in &forks[s.id] {
            if at >= s.ops.len() {
                start[child] = Some(model.clone());
            }
        }
        out.push(sum);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# ram-trace v1
# a comment
X 0 100 /usr/bin/prog with space
b 0 0x0 0x555555559000
m 0 0x0 8192 rw pa - 0x0 0x7ffff7fc0000
m 0 0x0 33699 r p 3 0x0 0x7ffff7fb7000
m 0 0x7ffff7f9b000 77824 rx pFD 3 0x3000 0x7ffff7f9b000
p 0 0x7ffff7fc0000 4096 - 0
u 0 0x7ffff7fb7000 33699 0
b 0 0x55555557a000 0x55555557a000
F 1 0 101

m 1 0x0 4096 rw pa - 0x0 -12
r 0 0x7ffff7fc0000 8192 16384 M - 0x7ffff7000000
m 0 0x10000 4096 rwx paNgS - 0x0 -17
b 0 0x900000000000 0x55555557a000
u 1 0x1001 1 -22
";

    #[test]
    fn parses_sample() {
        let t = parse(SAMPLE).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].id, 0);
        assert_eq!(
            t[0].origin,
            Origin::Exec {
                pid: 100,
                path: "/usr/bin/prog with space".into()
            }
        );
        assert_eq!(
            t[1].origin,
            Origin::Fork {
                parent: 0,
                parent_ops: 7,
                pid: 101
            }
        );
        assert_eq!(t[0].ops.len(), 10);
        assert_eq!(t[1].ops.len(), 2);
        assert_eq!(
            t[0].ops[0],
            TraceOp::Brk {
                addr: 0,
                result: 0x5555_5555_9000
            }
        );
        assert_eq!(
            t[0].ops[2],
            TraceOp::Mmap {
                hint: 0,
                len: 36864, // 33699 rounded up to 9 pages
                prot: prot::READ,
                flags: map::PRIVATE,
                fd: Some(3),
                offset: 0,
                result: Ok(0x7fff_f7fb_7000),
            }
        );
        assert_eq!(
            t[0].ops[3],
            TraceOp::Mmap {
                hint: 0x7fff_f7f9_b000,
                len: 77824,
                prot: prot::READ | prot::EXEC,
                flags: map::PRIVATE | map::FIXED | map::DENYWRITE,
                fd: Some(3),
                offset: 0x3000,
                result: Ok(0x7fff_f7f9_b000),
            }
        );
        assert!(t[0].ops[3].is_fixed_mmap());
        assert_eq!(
            t[0].ops[4],
            TraceOp::Mprotect {
                addr: 0x7fff_f7fc_0000,
                len: 4096,
                prot: prot::NONE,
                result: Ok(())
            }
        );
        assert_eq!(
            t[0].ops[5],
            TraceOp::Munmap {
                addr: 0x7fff_f7fb_7000,
                len: 36864,
                result: Ok(())
            }
        );
        assert_eq!(
            t[0].ops[7],
            TraceOp::Mremap {
                old_addr: 0x7fff_f7fc_0000,
                old_len: 8192,
                new_len: 16384,
                flags: mremap::MAYMOVE,
                new_addr: None,
                result: Ok(0x7fff_f700_0000),
            }
        );
        match t[0].ops[8] {
            TraceOp::Mmap { flags, result, .. } => {
                assert_eq!(
                    flags,
                    map::PRIVATE
                        | map::ANONYMOUS
                        | map::FIXED_NOREPLACE
                        | map::GROWSDOWN
                        | map::STACK
                );
                assert_eq!(result, Err(17));
            }
            ref o => panic!("{o:?}"),
        }
        assert!(!t[0].ops[8].is_fixed_mmap());
        assert!(t[0].ops[8].failed());
        assert!(t[0].ops[9].failed(), "brk that did not move is a failure");
        assert!(!t[0].ops[0].failed(), "brk(NULL) is a query");
        assert_eq!(t[1].ops[0].kind(), OpKind::Mmap);
        assert_eq!(
            t[1].ops[1],
            TraceOp::Munmap {
                addr: 0x1001,
                len: 4096,
                result: Err(22)
            }
        );
    }

    #[test]
    fn page_rounding() {
        assert_eq!(page_round_up(0), Some(0));
        assert_eq!(page_round_up(1), Some(4096));
        assert_eq!(page_round_up(4096), Some(4096));
        assert_eq!(page_round_up(4097), Some(8192));
        assert_eq!(page_round_up(usize::MAX), None);
        let e = parse(&format!("X 0 1 p\nu 0 0x1000 {} 0\n", usize::MAX)).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("overflows"), "{e}");
    }

    #[test]
    fn all_letters_decode() {
        assert_eq!(
            parse_prot("rwxsdu").unwrap(),
            prot::READ | prot::WRITE | prot::EXEC | prot::SEM | prot::GROWSDOWN | prot::GROWSUP
        );
        assert_eq!(parse_prot("-").unwrap(), 0);
        assert_eq!(parse_map_flags("s").unwrap(), map::SHARED);
        assert_eq!(parse_map_flags("v").unwrap(), map::SHARED_VALIDATE);
        let all: u32 = MAP_LETTERS.iter().map(|&(_, b)| b).fold(0, |a, b| a | b);
        assert_eq!(
            parse_map_flags("paFNgSnPDELBh3YU").unwrap(),
            map::PRIVATE | all
        );
        assert_eq!(parse_mremap_flags("MFD").unwrap(), 7);
        assert_eq!(parse_mremap_flags("-").unwrap(), 0);
        assert!(parse_prot("q").is_err());
        assert!(parse_map_flags("a").is_err(), "sharing type is mandatory");
        assert!(parse_map_flags("pz").is_err());
        assert!(parse_mremap_flags("X").is_err());
    }

    #[test]
    fn mremap_fixed_target() {
        let t = parse("X 0 1 p\nr 0 0x1000 4096 8192 MF 0x200000 0x200000\n").unwrap();
        assert_eq!(
            t[0].ops[0],
            TraceOp::Mremap {
                old_addr: 0x1000,
                old_len: 4096,
                new_len: 8192,
                flags: mremap::MAYMOVE | mremap::FIXED,
                new_addr: Some(0x20_0000),
                result: Ok(0x20_0000),
            }
        );
    }

    #[test]
    fn errors_carry_line_numbers() {
        let cases: &[(&str, usize, &str)] = &[
            ("X 0 1 p\nq 0 1 2\n", 2, "unknown record"),
            (
                "m 0 0x0 4096 rw pa - 0x0 0x1000\n",
                1,
                "unknown address space",
            ),
            ("X 1 1 p\n", 1, "out of order"),
            ("X 0 1 p\nF 1 5 2\n", 2, "fork of unknown"),
            ("X 0 1 p\nu 0 0x1000 4096\n", 2, "needs 5 fields"),
            ("X 0 1 p\nu 0 0x1000 4096 7\n", 2, "neither 0 nor -errno"),
            ("X 0 1 p\nu 0 0x1000 4096 -0\n", 2, "bad errno"),
            ("X 0 1 p\nu 0 0xzz 4096 0\n", 2, "bad number"),
            ("X 0 1 p\nm 0 0x0 4096 rw pa x 0x0 0x1000\n", 2, "bad fd"),
            ("X 0 1\n", 1, "needs a path"),
            ("X\n", 1, "no address-space id"),
            ("X 0 1 p\np 0 0x1000 4096 rwq 0\n", 2, "bad prot"),
        ];
        for &(text, line, what) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.message.contains(what), "{text:?}: {e}");
            assert!(e.to_string().starts_with(&format!("trace line {line}:")));
        }
    }

    #[test]
    fn empty_and_comment_only() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("# nothing\n\n").unwrap(), vec![]);
        assert_eq!(parse("X 0 7 a\r\n").unwrap()[0].ops, vec![]);
    }

    #[test]
    fn summary_of_sample() {
        let t = parse(SAMPLE).unwrap();
        let s = summarize(&t);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].ops, 10);
        assert_eq!(s[0].count(OpKind::Mmap), 4);
        assert_eq!(s[0].count(OpKind::Munmap), 1);
        assert_eq!(s[0].count(OpKind::Mprotect), 1);
        assert_eq!(s[0].count(OpKind::Brk), 3);
        assert_eq!(s[0].count(OpKind::Mremap), 1);
        assert_eq!(s[0].failed, 2);
        // anon (split in two by the mprotect) + file + fixed file mapping:
        // 4 pieces; the munmap drops the file, then the heap appears.
        assert_eq!(s[0].max_live_mappings, 4);
        assert_eq!(s[0].overlaps, 0);
        assert_eq!(s[0].unmodelled, 0);
        // The fork inherits 4 pieces (anon x2, fixed file map, heap).
        assert_eq!(s[1].max_live_mappings, 4);
        assert_eq!(s[1].failed, 2);
        let mut total = TraceSummary::default();
        for x in &s {
            total.merge(x);
        }
        assert_eq!(total.ops, 12);
        assert_eq!(total.failed, 4);
        assert_eq!(total.max_live_mappings, 4);
    }

    #[test]
    fn summary_splits_and_overlaps() {
        let text = "\
X 0 1 p
m 0 0x0 40960 rw pa - 0x0 0x100000
p 0 0x102000 4096 r 0
p 0 0x104000 8192 - 0
u 0 0x109000 4096 0
m 0 0x0 4096 r pa - 0x0 0x100000
m 0 0x100000 4096 r paF - 0x0 0x100000
p 0 0x7000000 4096 r 0
";
        let s = &summarize(&parse(text).unwrap())[0];
        // Pages [0,2) [2,3) [3,4) [4,6) [6,10) after the protects: 5
        // pieces; the munmap of page 9 keeps 5; the overlapping non-fixed
        // mmap of page 0 splits [0,2) into [0,1) [1,2): 6.
        assert_eq!(s.max_live_mappings, 6);
        assert_eq!(s.overlaps, 1, "the non-fixed mmap at a live address");
        assert_eq!(s.unmodelled, 1, "mprotect of a range the model never saw");
    }

    #[test]
    fn summary_brk_and_mremap() {
        let text = "\
X 0 1 p
b 0 0x0 0x600000
b 0 0x621000 0x621000
b 0 0x610000 0x610000
m 0 0x0 8192 rw pa - 0x0 0x700000
r 0 0x700000 8192 16384 M - 0x700000
r 0 0x700000 16384 4096 M - 0x700000
r 0 0x700000 4096 8192 M - 0x800000
r 0 0x800000 8192 8192 MF 0x621000 0x621000
";
        let t = parse(text).unwrap();
        let s = &summarize(&t)[0];
        assert_eq!(s.failed, 0);
        assert_eq!(s.overlaps, 0);
        assert_eq!(s.unmodelled, 0);
        // Heap, then the mmap grown in place as a second piece: 3 (no
        // merging); the shrink and the moves never exceed that.
        assert_eq!(s.max_live_mappings, 3);
    }

    #[test]
    fn fork_starts_from_parent_state_at_fork_point() {
        let text = "\
X 0 1 p
m 0 0x0 4096 rw pa - 0x0 0x100000
F 1 0 2
m 0 0x0 4096 rw pa - 0x0 0x200000
m 1 0x0 4096 rw pa - 0x0 0x200000
u 1 0x100000 4096 0
";
        let t = parse(text).unwrap();
        assert_eq!(
            t[1].origin,
            Origin::Fork {
                parent: 0,
                parent_ops: 1,
                pid: 2
            }
        );
        let s = summarize(&t);
        // The child reuses 0x200000 without overlap: the parent's second
        // mmap came after the fork. Its munmap hits the inherited mapping.
        assert_eq!(s[1].overlaps, 0);
        assert_eq!(s[1].unmodelled, 0);
        assert_eq!(s[1].max_live_mappings, 2);
    }
}
