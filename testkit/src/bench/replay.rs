//! Replaying the real traces of `benches/data` through any [`Vm`] peer.
//!
//! A trace is first lowered, per address space, to a stream of map-level
//! [`Step`]s (so that timing measures the maps, not the parser):
//!
//! - a successful `mmap` becomes a placement at the address Linux
//!   returned: replacing with `MAP_FIXED`, otherwise into a range that
//!   must be free (Linux never hands out used space);
//! - `munmap` and `mprotect` become `unmap` and `mprotect` of the same
//!   range; `brk` grows the heap by a placement above the old break or
//!   shrinks it by an `unmap`; `mremap` grows or shrinks in place, or
//!   places the new range (with the old range's protection) and unmaps the
//!   old one;
//! - a failed call that a map can refuse (`MAP_FIXED_NOREPLACE` over a
//!   mapping, `EEXIST`) is replayed and must fail; other failed calls
//!   (bad arguments, out of memory) depend on kernel state the trace does
//!   not show and are counted, not replayed.
//!
//! A forked space starts with its parent's calls up to the fork.

use super::ours::{Boxed, Pooled};
use super::peers::{Baseline, MemSet, Ours, Vm};
use crate::trace::{self, map, mremap, AddressSpaceTrace, Origin, TraceOp, PAGE_SIZE};

/// `EEXIST`.
const EEXIST: i32 = 17;
/// `PROT_READ | PROT_WRITE`, the heap's protection.
const HEAP_PROT: u32 = trace::prot::READ | trace::prot::WRITE;

/// Where a placement's protection comes from.
#[derive(Clone, Copy, Debug)]
pub enum Prot {
    /// These bits.
    Bits(u32),
    /// The protection of the segment holding this address (an `mremap`
    /// keeps it), `PROT_NONE` if none does.
    Of(usize),
}

/// One map-level operation.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// Map `[start, end)`: `fixed` replaces what is there; otherwise the
    /// range must be free, and `ok` says whether Linux found it so.
    Map {
        /// First address.
        start: usize,
        /// End.
        end: usize,
        /// Protection.
        prot: Prot,
        /// Replace (`MAP_FIXED`) rather than require a free range.
        fixed: bool,
        /// Whether Linux accepted the call.
        ok: bool,
    },
    /// Unmap `[start, end)`.
    Unmap {
        /// First address.
        start: usize,
        /// End.
        end: usize,
    },
    /// Re-protect `[start, end)`.
    Protect {
        /// First address.
        start: usize,
        /// End.
        end: usize,
        /// New protection.
        prot: u32,
    },
}

/// The lowered calls of one address space.
pub struct Stream {
    /// `file:space`.
    pub name: String,
    /// The steps, in trace order.
    pub steps: Vec<Step>,
    /// How many of `steps` are the parent's, replayed to rebuild the space
    /// as it was at the fork (0 for an exec'd space).
    pub inherited: usize,
    /// Failed calls of the space's own that were not replayed (see the
    /// module docs).
    pub skipped_failures: usize,
    /// The most live mappings from the fork (or exec) on, as
    /// `trace::summarize` counts them: a replay must reach exactly this.
    pub max_live: usize,
}

/// One trace file, lowered.
pub struct TraceFile {
    /// File stem (`python`, `gcc`, ...).
    pub name: String,
    /// Its address spaces.
    pub streams: Vec<Stream>,
}

impl TraceFile {
    /// Number of steps over all spaces.
    pub fn steps(&self) -> usize {
        self.streams.iter().map(|s| s.steps.len()).sum()
    }
}

/// Loads and lowers every bundled trace ([`trace::PROGRAMS`], in its order).
///
/// # Panics
///
/// If a file cannot be read or parsed: the bench data is part of the
/// repository.
pub fn load_data() -> Vec<TraceFile> {
    trace::PROGRAMS
        .iter()
        .map(|&name| {
            let path = trace::program_trace(name);
            let spaces = trace::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let summaries = trace::summarize(&spaces);
            let streams = spaces
                .iter()
                .zip(summaries)
                .map(|(space, summary)| {
                    let ops = ops_of(&spaces, space);
                    let (steps, skipped) = lower(&ops);
                    // Lowering is sequential, so the prefix lowers alone to
                    // the first steps of the whole.
                    let (inherited, inherited_skipped) = lower(&ops[..ops.len() - space.ops.len()]);
                    Stream {
                        name: format!("{name}:{}", space.id),
                        steps,
                        inherited: inherited.len(),
                        skipped_failures: skipped - inherited_skipped,
                        max_live: summary.max_live_mappings,
                    }
                })
                .collect();
            TraceFile {
                name: name.to_owned(),
                streams,
            }
        })
        .collect()
}

/// The calls that shaped `space`: its parent's up to the fork, then its own.
fn ops_of(spaces: &[AddressSpaceTrace], space: &AddressSpaceTrace) -> Vec<TraceOp> {
    let mut ops = match space.origin {
        Origin::Fork {
            parent, parent_ops, ..
        } => {
            let mut inherited = ops_of(spaces, &spaces[parent]);
            inherited.truncate(inherited.len() - (spaces[parent].ops.len() - parent_ops));
            inherited
        }
        Origin::Exec { .. } => Vec::new(),
    };
    ops.extend_from_slice(&space.ops);
    ops
}

/// Lowers one space's calls; returns the steps and the number of failed
/// calls left out.
fn lower(ops: &[TraceOp]) -> (Vec<Step>, usize) {
    let mut steps = Vec::with_capacity(ops.len());
    let mut skipped = 0;
    // The first break seen and the current one.
    let mut brk: Option<usize> = None;
    let page_end = |a: usize| trace::page_round_up(a).unwrap_or(usize::MAX & !(PAGE_SIZE - 1));
    for op in ops {
        match *op {
            TraceOp::Brk { addr, result } => {
                let cur = *brk.get_or_insert(result);
                if op.failed() || addr == 0 {
                    continue;
                }
                let (old_end, new_end) = (page_end(cur), page_end(result));
                if new_end > old_end {
                    steps.push(Step::Map {
                        start: old_end,
                        end: new_end,
                        prot: Prot::Bits(HEAP_PROT),
                        fixed: false,
                        ok: true,
                    });
                } else if new_end < old_end {
                    steps.push(Step::Unmap {
                        start: new_end,
                        end: old_end,
                    });
                }
                brk = Some(result);
            }
            TraceOp::Mmap {
                hint,
                len,
                prot,
                flags,
                result: Err(errno),
                ..
            } => {
                if flags & map::FIXED_NOREPLACE != 0 && errno == EEXIST {
                    steps.push(Step::Map {
                        start: hint,
                        end: hint + len,
                        prot: Prot::Bits(prot),
                        fixed: false,
                        ok: false,
                    });
                } else {
                    skipped += 1;
                }
            }
            _ if op.failed() => skipped += 1,
            TraceOp::Mmap {
                len,
                prot,
                flags,
                result: Ok(at),
                ..
            } => {
                let fixed = flags & map::FIXED != 0;
                steps.push(Step::Map {
                    start: at,
                    end: at + len,
                    prot: Prot::Bits(prot),
                    fixed,
                    ok: true,
                });
            }
            TraceOp::Munmap { addr, len, .. } => steps.push(Step::Unmap {
                start: addr,
                end: addr + len,
            }),
            TraceOp::Mprotect {
                addr, len, prot, ..
            } => steps.push(Step::Protect {
                start: addr,
                end: addr + len,
                prot,
            }),
            TraceOp::Mremap {
                old_addr,
                old_len,
                new_len,
                flags,
                result: Ok(at),
                ..
            } => {
                let prot = Prot::Of(old_addr);
                if at == old_addr {
                    if new_len > old_len {
                        steps.push(Step::Map {
                            start: at + old_len,
                            end: at + new_len,
                            prot,
                            fixed: false,
                            ok: true,
                        });
                    } else if new_len < old_len {
                        steps.push(Step::Unmap {
                            start: at + new_len,
                            end: at + old_len,
                        });
                    }
                } else {
                    let fixed = flags & mremap::FIXED != 0;
                    steps.push(Step::Map {
                        start: at,
                        end: at + new_len,
                        prot,
                        fixed,
                        ok: true,
                    });
                    if flags & mremap::DONTUNMAP == 0 && old_len > 0 {
                        steps.push(Step::Unmap {
                            start: old_addr,
                            end: old_addr + old_len,
                        });
                    }
                }
            }
            TraceOp::Mremap { result: Err(_), .. } => skipped += 1,
        }
    }
    (steps, skipped)
}

/// Applies one step; returns whether the peer agreed with Linux (a
/// placement into a range Linux found free succeeded, one Linux refused
/// failed).
#[inline]
fn apply<P: Vm>(map: &mut P, step: &Step) -> bool {
    match *step {
        Step::Map {
            start,
            end,
            prot,
            fixed,
            ok,
        } => {
            let prot = match prot {
                Prot::Bits(bits) => bits,
                Prot::Of(addr) => map.prot_at(addr).unwrap_or(trace::prot::NONE),
            };
            if fixed {
                map.map_fixed(start, end, prot);
                true
            } else {
                map.insert(start, end, prot) == ok
            }
        }
        Step::Unmap { start, end } => {
            map.unmap(start, end);
            true
        }
        Step::Protect { start, end, prot } => {
            map.mprotect(start, end, prot);
            true
        }
    }
}

/// Capacity a peer needs for a stream (the pool configuration preallocates it).
fn capacity(stream: &Stream) -> usize {
    2 * stream.max_live + super::peers::POOL_HEADROOM
}

/// Replays every stream of `file` into a fresh map each; returns the total
/// number of segments left (so the work cannot be optimised away).
pub fn replay<P: Vm>(file: &TraceFile) -> usize {
    file.streams
        .iter()
        .map(|stream| {
            let mut map = P::with_capacity(capacity(stream));
            for step in &stream.steps {
                apply(&mut map, step);
            }
            map.len()
        })
        .sum()
}

/// What a checked replay of one stream found.
pub struct Checked {
    /// Steps where the peer disagreed with Linux.
    pub disagreements: usize,
    /// The most segments the peer held at once from the fork (or exec) on.
    pub max_live: usize,
    /// The final segments.
    pub spans: Vec<(usize, usize, u32)>,
}

/// Replays `stream` into a fresh map, checking every step.
pub fn check<P: Vm>(stream: &Stream) -> Checked {
    let mut map = P::with_capacity(capacity(stream));
    let mut checked = Checked {
        disagreements: 0,
        max_live: 0,
        spans: Vec::new(),
    };
    for (i, step) in stream.steps.iter().enumerate() {
        if !apply(&mut map, step) {
            checked.disagreements += 1;
        }
        // `summarize` counts from the state at the fork on.
        if i + 1 >= stream.inherited {
            checked.max_live = checked.max_live.max(map.len());
        }
    }
    checked.spans = map.spans();
    checked
}

/// Checks every peer on every stream of `files` against Linux, against
/// `trace::summarize`'s count of live mappings, and against each other's
/// final state.
///
/// # Returns
///
/// One line per problem found; empty when all agree.
pub fn check_all(files: &[TraceFile]) -> Vec<String> {
    let mut problems = Vec::new();
    for stream in files.iter().flat_map(|f| &f.streams) {
        let results: Vec<_> = PEERS.iter().map(|p| (p.name, (p.check)(stream))).collect();
        let (first, first_result) = &results[0];
        for (name, r) in &results {
            if r.disagreements > 0 {
                problems.push(format!(
                    "{}: {name} disagrees with Linux on {} steps",
                    stream.name, r.disagreements
                ));
            }
            if r.max_live != stream.max_live {
                problems.push(format!(
                    "{}: {name} peaks at {} mappings, the trace at {}",
                    stream.name, r.max_live, stream.max_live
                ));
            }
            if r.spans != first_result.spans {
                problems.push(format!(
                    "{}: {name} ends in a different state than {first}",
                    stream.name
                ));
            }
        }
    }
    problems
}

/// A [`Vm`] peer as the replay sees it.
pub struct ReplayPeer {
    /// Peer name.
    pub name: &'static str,
    /// [`replay`] for the peer.
    pub replay: fn(&TraceFile) -> usize,
    /// [`check`] for the peer.
    pub check: fn(&Stream) -> Checked,
}

impl ReplayPeer {
    /// The entry of peer `P`.
    const fn of<P: Vm>() -> Self {
        ReplayPeer {
            name: P::NAME,
            replay: replay::<P>,
            check: check::<P>,
        }
    }
}

/// Every [`Vm`] peer, this crate's `Box` configuration first.
pub const PEERS: [ReplayPeer; 4] = [
    ReplayPeer::of::<Ours<Boxed>>(),
    ReplayPeer::of::<Ours<Pooled>>(),
    ReplayPeer::of::<MemSet>(),
    ReplayPeer::of::<Baseline>(),
];
