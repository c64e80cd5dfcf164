//! Replays a real program's memory-map system calls (captured with strace,
//! bundled in `benches/data/`) through a `RangeActionMap`, checks that every
//! address Linux handed out was free in the replayed address space, and
//! prints the result like `/proc/<pid>/maps`.
//!
//! ```text
//! cargo run --example address_space [-- benches/data/python.txt [SPACE_ID]]
//! ```

use std::cell::Cell;
use std::fmt;
use std::process::ExitCode;

use range_action_map::intrusive_collections::intrusive_adapter;
use range_action_map::{RangeActionMap, RangeLink, Segment, Window};
use range_action_map_testkit::trace::{self, TraceOp};

/// One mapping: protection bits and whether it maps a file.
struct Vma {
    link: RangeLink,
    prot: Cell<u32>,
    file: bool,
}

intrusive_adapter!(VmaAdapter = Box<Vma>: Vma { link: RangeLink });

fn vma(prot: u32, file: bool) -> Box<Vma> {
    Box::new(Vma {
        link: RangeLink::new(),
        prot: Cell::new(prot),
        file,
    })
}

/// Counts what the map asked of the segments, as a kernel would act on it.
#[derive(Default, Debug)]
struct Stats {
    removed: usize,
    shrunk: usize,
    splits: usize,
    modified: usize,
}

impl Segment for Vma {
    type Args = Stats;
    type Flags = u32;
    type Pointer = Box<Vma>;

    fn remove(&self, stats: &mut Stats) {
        stats.removed += 1;
    }

    fn shrink(&self, _start: usize, _end: usize, stats: &mut Stats) {
        stats.shrunk += 1;
    }

    fn split(&self, _pos: usize, stats: &mut Stats) -> Box<Vma> {
        stats.splits += 1;
        vma(self.prot.get(), self.file)
    }

    fn modify(&self, prot: u32, stats: &mut Stats) {
        stats.modified += 1;
        self.prot.set(prot);
    }

    /// Anonymous neighbours with the same protection merge, as Linux's do.
    fn try_merge(&self, next: &Vma, _stats: &mut Stats) -> bool {
        !self.file && !next.file && self.prot.get() == next.prot.get()
    }
}

impl fmt::Display for Vma {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.prot.get();
        let bit = |mask, c| if p & mask != 0 { c } else { '-' };
        let name = if self.file { "[file]" } else { "" };
        write!(
            f,
            "{}{}{}p 00000000 00:00 0  {name}",
            bit(trace::prot::READ, 'r'),
            bit(trace::prot::WRITE, 'w'),
            bit(trace::prot::EXEC, 'x')
        )
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "benches/data/python.txt".to_string());
    let space: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let spaces = match trace::load(&path) {
        Ok(spaces) => spaces,
        Err(e) => {
            eprintln!("{path}: {e:?}");
            return ExitCode::FAILURE;
        }
    };
    let Some(trace) = spaces.get(space) else {
        eprintln!("{path} has {} address spaces", spaces.len());
        return ExitCode::FAILURE;
    };

    let window = Window::new(0x1000, 0x7fff_ffff_f000).expect("x86-64 user space");
    let mut map = RangeActionMap::<VmaAdapter>::with_window(window, Stats::default());
    let (mut brk_base, mut brk) = (0, 0);
    let mut disagreements = 0;
    for op in &trace.ops {
        match *op {
            TraceOp::Mmap {
                len,
                prot,
                flags,
                fd,
                result: Ok(start),
                ..
            } => {
                let node = vma(prot, fd.is_some());
                if flags & trace::map::FIXED != 0 {
                    map.mmap_fixed(start, start + len, || node)
                        .expect("valid fixed mapping");
                } else if map.mmap_fixed_noreplace(start, start + len, node).is_err() {
                    // Linux returned an address our replay thinks is taken.
                    disagreements += 1;
                }
            }
            TraceOp::Munmap {
                addr,
                len,
                result: Ok(()),
            } => {
                map.unmap(addr, addr + len).expect("valid munmap");
            }
            TraceOp::Mprotect {
                addr,
                len,
                prot,
                result: Ok(()),
            } => {
                map.mprotect(addr, addr + len, prot)
                    .expect("valid mprotect");
            }
            TraceOp::Brk { addr, result } => {
                if brk_base == 0 {
                    (brk_base, brk) = (result, result);
                }
                let (old, new) = (
                    brk.next_multiple_of(0x1000),
                    result.next_multiple_of(0x1000),
                );
                if addr != 0 && new > old {
                    map.mmap_fixed(old, new, || {
                        vma(trace::prot::READ | trace::prot::WRITE, false)
                    })
                    .expect("heap");
                } else if addr != 0 && new < old {
                    map.unmap(new, old).expect("heap");
                }
                brk = result;
            }
            TraceOp::Mremap {
                old_addr,
                old_len,
                new_len,
                result: Ok(new),
                ..
            } => {
                let prot = map.find(old_addr).map_or(0, |v| v.prot.get());
                map.unmap(old_addr, old_addr + old_len.max(1))
                    .expect("valid mremap source");
                map.mmap_fixed(new, new + new_len, || vma(prot, false))
                    .expect("valid mremap target");
            }
            _ => {} // failed calls change nothing
        }
    }
    map.assert_valid();

    print!("{map}");
    let s = map.args();
    println!(
        "\n{path} space {space}: {} calls, {} segments, {} placements that collided, callbacks: {} remove, {} shrink, {} split, {} modify",
        trace.ops.len(),
        map.len(),
        disagreements,
        s.removed,
        s.shrunk,
        s.splits,
        s.modified
    );
    if disagreements == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
