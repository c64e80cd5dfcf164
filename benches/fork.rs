//! Criterion benchmarks of `fork`: the crate's copy-on-write handlers ([`ByFrame`], [`Lazy`])
//! against an eager copy ([`EagerCopy`], written here as a kernel without copy-on-write
//! would), on the test kit's simulated machine ([`SoftPageTable`] over the memory of a
//! [`CountingFrameAllocator`]).
//!
//! ```sh
//! cargo bench --bench fork                         # everything (about 1.5 min on 2 cores)
//! cargo bench --bench fork -- --quick              # criterion's quick mode, about 15 s
//! cargo bench --bench fork -- 'fork/'              # one group
//! cargo bench --bench fork -- callgrind OP HANDLER MIB COUNT
//! ```
//!
//! The last form runs `COUNT` operations `OP` (`fork`, `teardown`, `cow_fault`,
//! `last_ref_fault`, `zero_fault`) on a process of `MIB` MiB touched with handler `HANDLER`
//! (`ByFrame`, `Lazy`, `EagerCopy`) inside [`measured`], for `benches/fork_callgrind.sh` to
//! count instructions with `valgrind --tool=callgrind --toggle-collect`.
//!
//! Groups (benchmarks `<handler>/<size>`):
//!
//! - `fork`: [`MemorySet::clone_for_fork`] of a process with 64 MiB or 1 GiB touched (every
//!   page of a [`ByFrame`] area, or of a [`Lazy`] area each of whose pages took a write
//!   fault), as the child's new page table fills and the parent's is write-protected;
//! - `teardown`: the drop of that child while the parent lives: references dropped under
//!   copy-on-write, frames freed after an eager copy;
//! - `fault/<kind>`: one write fault on a 64 MiB [`ByFrame`] area: `cow_copy` after a fork
//!   (the frame is shared: the page is copied), `last_ref` after the child's exit (the
//!   mapping holds the last reference: made writable in place), and for comparison
//!   `zero_fill`, the first touch of a [`Lazy`] page.
//!
//! Every parent is built once and forked again for every iteration, its children dropped
//! outside the measured time (`iter_custom`), so a sample measures only the operation. A
//! fork leaves the parent as it found it, up to the write permission of its pages, which
//! the next fork takes away again at the same cost. Before its first benchmark, each parent
//! prints what one fork and one teardown do to the frame allocator (frames allocated,
//! copied and freed), counts that do not depend on the machine.
//!
//! The simulated allocator zero-fills every frame it hands out and poisons every frame it
//! frees (4 KiB each), as a kernel zeroes and, with `init_on_free`, clears pages; an eager
//! copy pays the zero-fill of the frame it then overwrites.

use std::fmt;
use std::hint::black_box;
use std::ops::Range;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode};
use range_action_map::memory_set::{
    Access, ByFrame, FrameAllocator, Lazy, MemoryAttr, MemoryHandler, MemorySet, PageContext,
    PageTable, PagingError, PAGE_SIZE,
};
use range_action_map_testkit::{CountingFrameAllocator, SoftPageTable};

/// The address spaces of the benchmarks.
type Set = MemorySet<SoftPageTable, CountingFrameAllocator>;

/// Where each process's one area starts (page, table and 1 GiB aligned, so that a size of
/// 2^k pages fills whole leaf tables).
const BASE: usize = 1 << 30;
/// The sizes forked, in bytes, with their names.
const SIZES: [(usize, &str); 2] = [(64 << 20, "64MiB"), (1 << 30, "1GiB")];
/// From this size on, a benchmark gets 10 flat samples, so that the whole run stays short.
const LARGE: usize = 256 << 20;
/// The size of the area the write faults are measured on.
const FAULT_LEN: usize = 64 << 20;

// === impl EagerCopy ===

/// Private anonymous memory that a fork copies at once: the baseline copy-on-write is
/// measured against. Every page gets a fresh zeroed frame when the area is added, as with
/// [`ByFrame`]; a fork maps a fresh copy of each page the parent maps, writable on both
/// sides, so no later write faults (the default `handle_fault` suffices: every page is
/// mapped with the area's permissions from the start).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct EagerCopy;

impl<PT: PageTable, FA: FrameAllocator> MemoryHandler<PT, FA> for EagerCopy {
    fn box_clone(&self) -> Box<dyn MemoryHandler<PT, FA>> {
        Box::new(*self)
    }

    fn map(
        &self,
        cx: &mut PageContext<PT, FA>,
        range: Range<usize>,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        cx.map_new_frames(range, attr)
    }

    fn unmap(&self, cx: &mut PageContext<PT, FA>, range: Range<usize>) {
        cx.unmap_pages(range, true);
    }

    fn fork(
        &self,
        parent: &PT,
        child: &mut PageContext<PT, FA>,
        range: Range<usize>,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        let mut from = range.start;
        // Loop invariant: every page of `[range.start, from)` that the parent maps, the
        // child maps to a copy of its frame. (On an error the set unmaps the range.)
        while let Some(leaf) = parent.next_leaf(from, range.end) {
            child.map_new_frame(leaf.va, attr, Some(leaf.pa))?;
            from = leaf.range().end;
        }
        Ok(())
    }
}

impl fmt::Display for EagerCopy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[eager]")
    }
}

// === impl Process ===

/// The handlers forked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// [`ByFrame`]: every page mapped when the area is added.
    ByFrame,
    /// [`Lazy`]: every page mapped by a write fault.
    Lazy,
    /// [`EagerCopy`].
    EagerCopy,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::ByFrame, Kind::Lazy, Kind::EagerCopy];

    fn name(self) -> &'static str {
        match self {
            Kind::ByFrame => "ByFrame",
            Kind::Lazy => "Lazy",
            Kind::EagerCopy => "EagerCopy",
        }
    }
}

/// A process with one private read-write area `[BASE, BASE + len)`, every page touched, on
/// a machine with room for it, an eager copy of it and both page tables.
struct Process {
    set: Set,
    fa: CountingFrameAllocator,
    len: usize,
}

impl Process {
    fn new(kind: Kind, len: usize) -> Self {
        let pages = len / PAGE_SIZE;
        // Two copies of every page, a leaf table per 512 pages on each side, and the roots.
        let fa = CountingFrameAllocator::new(2 * pages + pages / 256 + 64);
        let mut set = Set::new(SoftPageTable::new(fa.memory()), fa.clone());
        let (end, rw) = (BASE + len, MemoryAttr::new().set_user());
        match kind {
            Kind::ByFrame => set.push(BASE, end, rw, ByFrame::new()),
            Kind::Lazy => set.push(BASE, end, rw, Lazy::new()),
            Kind::EagerCopy => set.push(BASE, end, rw, EagerCopy),
        }
        .expect("the machine has room for the area");
        if kind == Kind::Lazy {
            for va in (BASE..end).step_by(PAGE_SIZE) {
                set.handle_page_fault(va, Access::Write)
                    .expect("the machine has room for the page");
            }
        }
        Process { set, fa, len }
    }

    /// The number of pages of the area.
    fn pages(&self) -> usize {
        self.len / PAGE_SIZE
    }

    fn fork(&mut self) -> Set {
        let child_pt = SoftPageTable::new(self.fa.memory());
        self.set
            .clone_for_fork(child_pt)
            .expect("the machine has room for the child")
    }

    /// Prints what one fork and one teardown of the child do to the frame books.
    fn print_books(&mut self, name: &str) {
        let (allocated, copies, freed) = (self.fa.allocated(), self.fa.copies(), self.fa.freed());
        let child = self.fork();
        let tables = child.page_table().table_frames();
        let (allocated, copies) = (self.fa.allocated() - allocated, self.fa.copies() - copies);
        let live = self.fa.live();
        drop(child);
        let (freed, released) = (self.fa.freed() - freed, live - self.fa.live());
        assert_eq!(freed, released, "no frame is allocated by a teardown");
        println!(
            "books {name}: one fork allocates {allocated} frames ({tables} of them page \
             tables) and copies {copies}; its teardown frees {freed}"
        );
    }
}

// === benchmarks ===

/// `fork` and `teardown` of every handler, per size.
fn fork(c: &mut Criterion) {
    for (len, size) in SIZES {
        for kind in Kind::ALL {
            let id = BenchmarkId::new(kind.name(), size);
            let name = format!("{}/{size}", kind.name());
            // Built by the first benchmark the filter lets run, and only then.
            let mut process: Option<Process> = None;

            let mut group = c.benchmark_group("fork");
            configure(&mut group, len);
            group.bench_function(id.clone(), |b| {
                let parent = built(&mut process, kind, len, &name);
                b.iter_custom(|iters| {
                    let mut measured = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let child = black_box(parent.fork());
                        measured += start.elapsed();
                        drop(child);
                    }
                    measured
                });
            });
            group.finish();

            let mut group = c.benchmark_group("teardown");
            configure(&mut group, len);
            group.bench_function(id, |b| {
                let parent = built(&mut process, kind, len, &name);
                b.iter_custom(|iters| {
                    let mut measured = Duration::ZERO;
                    for _ in 0..iters {
                        let child = black_box(parent.fork());
                        let start = Instant::now();
                        drop(child);
                        measured += start.elapsed();
                    }
                    measured
                });
            });
            group.finish();
        }
    }
}

/// The process in `slot`, built (and its books printed) if it is not yet.
fn built<'a>(slot: &'a mut Option<Process>, kind: Kind, len: usize, name: &str) -> &'a mut Process {
    slot.get_or_insert_with(|| {
        let mut process = Process::new(kind, len);
        process.print_books(name);
        process
    })
}

/// Sampling for a process of `len` bytes: 10 flat samples for the large ones.
fn configure(group: &mut BenchmarkGroup<'_, WallTime>, len: usize) {
    group.sampling_mode(SamplingMode::Flat);
    if len >= LARGE {
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(5));
    } else {
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
    }
}

/// One write fault of each kind, on a 64 MiB area.
fn fault(c: &mut Criterion) {
    let mut group = c.benchmark_group("fault");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));

    print_fault_books();
    // Each built by the first sample of its benchmark, and only if the filter lets it run.
    let (mut cow_copy, mut last_ref, mut zero_fill) = (None, None, None);
    group.bench_function("cow_copy", |b| {
        let parent = fault_area(&mut cow_copy);
        b.iter_custom(|iters| {
            faults(iters, |batch| {
                // A fresh child shares every page; its first writes copy them.
                let mut child = parent.fork();
                let start = Instant::now();
                write_all(&mut child, batch);
                start.elapsed()
            })
        });
    });

    group.bench_function("last_ref", |b| {
        let parent = fault_area(&mut last_ref);
        b.iter_custom(|iters| {
            faults(iters, |batch| {
                // The child's exit leaves the parent read-only pages it alone maps.
                drop(parent.fork());
                let start = Instant::now();
                write_all(&mut parent.set, batch);
                start.elapsed()
            })
        });
    });

    group.bench_function("zero_fill", |b| {
        let process = fault_area(&mut zero_fill);
        let (end, rw) = (BASE + FAULT_LEN, MemoryAttr::new().set_user());
        b.iter_custom(|iters| {
            faults(iters, |batch| {
                // A fresh lazy area in place of the last one: every page absent.
                process.set.unmap(BASE, end).expect("the area is there");
                process
                    .set
                    .push(BASE, end, rw, Lazy::new())
                    .expect("the range is free");
                let start = Instant::now();
                write_all(&mut process.set, batch);
                start.elapsed()
            })
        });
    });
    group.finish();
}

/// The process in `slot`, with a 64 MiB [`ByFrame`] area, built if it is not yet.
fn fault_area(slot: &mut Option<Process>) -> &mut Process {
    slot.get_or_insert_with(|| Process::new(Kind::ByFrame, FAULT_LEN))
}

/// Prints what one write fault of each kind does to the frame books.
fn print_fault_books() {
    let mut process = Process::new(Kind::ByFrame, 2 * PAGE_SIZE);
    let fa = process.fa.clone();
    let page = BASE..BASE + PAGE_SIZE;
    let books = |set: &mut Set| {
        let before = (fa.allocated(), fa.copies(), fa.freed());
        write_all(set, page.clone());
        let after = (fa.allocated(), fa.copies(), fa.freed());
        (after.0 - before.0, after.1 - before.1, after.2 - before.2)
    };
    let mut child = process.fork();
    let cow_copy = books(&mut child);
    drop(child);
    let last_ref = books(&mut process.set);
    let (end, rw) = (BASE + 2 * PAGE_SIZE, MemoryAttr::new().set_user());
    process.set.unmap(BASE, end).expect("the area is there");
    process
        .set
        .push(BASE, end, rw, Lazy::new())
        .expect("the range is free");
    let zero_fill = books(&mut process.set);
    for (name, (allocated, copies, freed)) in [
        ("cow_copy", cow_copy),
        ("last_ref", last_ref),
        ("zero_fill", zero_fill),
    ] {
        println!(
            "books fault/{name}: one fault allocates {allocated} frames, copies {copies} and \
             frees {freed}"
        );
    }
}

/// The time of `iters` faults on the pages of a `FAULT_LEN` area, made by `batch` in batches
/// of at most one per page, each given the pages to write and returning the time it
/// measured.
fn faults(iters: u64, mut batch: impl FnMut(Range<usize>) -> Duration) -> Duration {
    let pages = (FAULT_LEN / PAGE_SIZE) as u64;
    let (mut left, mut measured) = (iters, Duration::ZERO);
    // Loop invariant: `iters - left` faults have been made, in `measured`.
    while left > 0 {
        let n = left.min(pages);
        measured += batch(BASE..BASE + n as usize * PAGE_SIZE);
        left -= n;
    }
    measured
}

/// A write to every page of `range`.
fn write_all(set: &mut Set, range: Range<usize>) {
    for va in range.step_by(PAGE_SIZE) {
        set.handle_page_fault(black_box(va), Access::Write)
            .expect("the fault is resolved");
    }
}

// === callgrind ===

/// `callgrind OP HANDLER MIB COUNT`: builds a process of `MIB` MiB touched with `HANDLER`
/// and runs `COUNT` operations `OP` inside [`measured`].
fn callgrind(args: &[String]) -> Result<(), String> {
    let [op, kind, mib, count] = args else {
        return Err("usage: callgrind OP HANDLER MIB COUNT".into());
    };
    let kind = Kind::ALL
        .into_iter()
        .find(|k| k.name() == kind)
        .ok_or_else(|| format!("no handler {kind}; handlers are ByFrame, Lazy, EagerCopy"))?;
    let len = mib
        .parse::<usize>()
        .ok()
        .and_then(|mib| mib.checked_mul(1 << 20))
        .filter(|&len| len > 0)
        .ok_or_else(|| format!("bad size {mib}"))?;
    let count: usize = count.parse().map_err(|_| format!("bad count {count}"))?;
    let mut process = Process::new(kind, len);
    if op.ends_with("_fault") && count > process.pages() {
        return Err(format!("{count} faults, more than the area's pages"));
    }
    let faults = BASE..BASE + count.min(process.pages()) * PAGE_SIZE;
    match op.as_str() {
        "fork" => {
            for _ in 0..count {
                let child = measured(|| process.fork());
                drop(child);
            }
        }
        "teardown" => {
            for _ in 0..count {
                let child = process.fork();
                measured(|| drop(child));
            }
        }
        "cow_fault" => {
            let mut child = process.fork();
            measured(|| write_all(&mut child, faults));
        }
        "last_ref_fault" => {
            drop(process.fork());
            measured(|| write_all(&mut process.set, faults));
        }
        "zero_fault" => {
            let rw = MemoryAttr::new().set_user();
            let end = BASE + len;
            process.set.unmap(BASE, end).map_err(|e| e.to_string())?;
            process
                .set
                .push(BASE, end, rw, Lazy::new())
                .map_err(|e| e.to_string())?;
            measured(|| write_all(&mut process.set, faults));
        }
        _ => return Err(format!("no operation {op}")),
    }
    println!("copies {}", process.fa.copies());
    Ok(())
}

/// The region callgrind counts (`--toggle-collect=*measured*`).
#[inline(never)]
fn measured<R>(f: impl FnOnce() -> R) -> R {
    black_box(f())
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench` to every bench binary.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("callgrind") {
        return match callgrind(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("fork: {message}");
                ExitCode::FAILURE
            }
        };
    }
    let mut c = Criterion::default().configure_from_args();
    fork(&mut c);
    fault(&mut c);
    c.final_summary();
    ExitCode::SUCCESS
}
