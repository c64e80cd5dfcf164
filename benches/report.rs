//! One command, one Markdown report: every peer measured interleaved in
//! one process, so that machine drift hits all of them alike.
//!
//! ```sh
//! cargo bench --bench report                # all sizes (several minutes)
//! cargo bench --bench report -- --quick     # n ≤ 65 530 only
//! RAM_BENCH_MAX_N=100000 cargo bench --bench report   # n ≤ 10^5
//! cargo bench --bench report -- callgrind PEER OP SHAPE N ITERS
//! ```
//!
//! The last form runs `ITERS` calls of one operation on one peer inside
//! `measured`, for `benches/callgrind.sh` and `benches/cachegrind.sh` to
//! count instructions and simulated cache misses with
//! `valgrind --tool=callgrind --toggle-collect`; a lookup, or an update of
//! a peer whose updates are cheap, first runs `ITERS` unmeasured calls, so
//! that the caches are in their steady state.
//!
//! Timing: for each operation, size and shape, every peer runs batches of
//! calls (sized to about 2 ms each) in rounds, peers taking turns and the
//! order rotating each round; the median per-call time of the rounds is
//! reported, and for the table of lookups against `BTreeMap` (and the
//! lookup targets) the fastest round's: on a shared machine the round
//! least disturbed by other work. The counting allocator counts each batch's allocations.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use range_action_map_testkit::bench::alloc::{Counting, Snapshot};
use range_action_map_testkit::bench::ours::Slab;
use range_action_map_testkit::bench::replay::{self, TraceFile};
use range_action_map_testkit::bench::workload::{
    sizes, subject, Shape, Subject, Verb, Workload, FAULTS_PER_RUN, LARGE, PEERS,
};
use range_action_map_testkit::bench::{peers, workload};

/// Counts every allocation, for the allocations-per-operation figures.
#[global_allocator]
static GLOBAL: Counting = Counting;

/// Wall time one batch of calls aims at.
const BATCH: Duration = Duration::from_millis(2);
/// Rounds per cell: at least, and at most.
const ROUNDS: (usize, usize) = (5, 15);
/// A cell stops adding rounds once it has spent this long.
const CELL_BUDGET: Duration = Duration::from_millis(600);
/// Index of this crate's `Box` configuration in [`PEERS`]: ratios are
/// taken against it.
const OURS: usize = 0;
/// Index of the pool configuration, which must never allocate.
const POOL: usize = 1;
/// Index of `memory_set`, the peer of issue 17's update target.
const MEMORY_SET: usize = 2;
/// Index of `ax-memory-set`.
const AX_MEMORY_SET: usize = 3;
/// Index of the original crate's algorithm.
const BASELINE: usize = 4;
/// Indices of the peers of the earlier "1000× faster" target.
const PEERS_OF_TARGET: [usize; 3] = [MEMORY_SET, AX_MEMORY_SET, BASELINE];
/// The operations the "1000× faster" target is about: single
/// `mmap_anywhere`, `unmap` and `mprotect` calls.
const TARGET_OPS: [Verb; 6] = [
    Verb::PlaceUp,
    Verb::PlaceUpAligned,
    Verb::PlaceDown,
    Verb::PlaceDownAligned,
    Verb::UnmapRemap,
    Verb::Mprotect,
];
/// Index of the `BTreeMap` yardstick.
const BTREE: usize = 5;
/// The lookup patterns of the table against `BTreeMap`, in row order.
const LOOKUPS: [Verb; 5] = [
    Verb::FindUniform,
    Verb::FindChained,
    Verb::FindLocal,
    Verb::FindHit,
    Verb::FindMiss,
];

/// What one (shape, size, operation) cell measured, per peer.
struct Cell {
    shape: Shape,
    n: usize,
    op: Verb,
    /// Median nanoseconds per call (per segment for `build_clear`).
    ns: [Option<f64>; PEERS.len()],
    /// The fastest round's nanoseconds per call: on a shared machine the
    /// round least disturbed by other work, which the lookup table and
    /// the lookup targets compare.
    best: [Option<f64>; PEERS.len()],
    /// Allocations per call.
    allocs: [Option<f64>; PEERS.len()],
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench` to every bench binary.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let result = match args.first().map(String::as_str) {
        None => report(&sizes()),
        Some("--quick") => report(
            &sizes()
                .into_iter()
                .filter(|&n| n <= 65_530)
                .collect::<Vec<_>>(),
        ),
        Some("callgrind") => callgrind(&args[1..]),
        Some(other) => Err(format!("unknown argument {other:?}; see benches/report.rs")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("report: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Measures everything and prints the report.
fn report(sizes: &[usize]) -> Result<(), String> {
    let started = Instant::now();
    let mut cells = Vec::new();
    let mut memory = Vec::new();
    let mut problems = Vec::new();
    for &n in sizes {
        for shape in Shape::ALL {
            let w = Workload::new(shape, n);
            let mut subjects = Vec::new();
            let mut bytes = [0.0; PEERS.len()];
            for (peer, b) in PEERS.iter().zip(&mut bytes) {
                let before = Snapshot::now();
                subjects.push(subject(peer, &w).ok_or_else(|| format!("no peer {peer}"))?);
                *b = before.live_since() as f64 / n as f64;
            }
            memory.push((shape, n, bytes));
            for op in Verb::ALL {
                problems.extend(cross_check(&mut subjects, &w, op));
                cells.push(measure(&mut subjects, &w, op));
            }
            eprintln!(
                "measured {} n={n} ({:.0?} so far)",
                shape.name(),
                started.elapsed()
            );
        }
    }
    let files = replay::load_data();
    problems.extend(replay::check_all(&files));
    let replays = measure_replays(&files);

    let mut out = String::new();
    write_header(&mut out, started.elapsed());
    write_cells(&mut out, &cells);
    write_lookups(&mut out, &cells);
    write_allocs(&mut out, &cells);
    write_memory(&mut out, &memory);
    write_replays(&mut out, &files, &replays);
    write_targets(&mut out, &cells);
    print!("{out}");
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("the peers disagree:\n{}", problems.join("\n")))
    }
}

/// Runs the first calls of `op` on every peer and compares the results;
/// returns one line per disagreement. Also checks that `op` leaves each
/// map as long as it was.
fn cross_check(subjects: &mut [Box<dyn Subject>], w: &Workload, op: Verb) -> Vec<String> {
    let mut problems = Vec::new();
    // A few calls suffice where one takes milliseconds.
    let calls = if subjects.iter().any(|s| s.supports(op) && s.is_slow(op)) && w.n() >= LARGE {
        2
    } else {
        16
    };
    let mut reference: Option<(&str, Vec<usize>)> = None;
    for s in subjects.iter_mut().filter(|s| s.supports(op)) {
        let len = s.len();
        let results: Vec<usize> = (0..calls).map(|i| s.run_batch(w, op, i..i + 1)).collect();
        if s.len() != len {
            problems.push(format!(
                "{} {}: {} left {} segments of {len}",
                op.name(),
                w.n(),
                s.name(),
                s.len()
            ));
        }
        match &reference {
            Some((name, expected)) if op.agrees() && *expected != results => {
                problems.push(format!(
                    "{} {} n={}: {} and {name} differ",
                    op.name(),
                    w.shape.name(),
                    w.n(),
                    s.name()
                ));
            }
            Some(_) => {}
            None => reference = Some((s.name(), results)),
        }
    }
    problems
}

/// Measures `op` on every peer that supports it, interleaved.
fn measure(subjects: &mut [Box<dyn Subject>], w: &Workload, op: Verb) -> Cell {
    let units = w.per_call_units(op) as f64;
    let active: Vec<usize> = (0..subjects.len())
        .filter(|&i| subjects[i].supports(op))
        .collect();
    let batch: Vec<usize> = active
        .iter()
        .map(|&i| calibrate(subjects[i].as_mut(), w, op))
        .collect();
    let mut samples = vec![Vec::new(); active.len()];
    let mut allocs = vec![0usize; active.len()];
    let mut calls = vec![0usize; active.len()];
    let mut next = 0;
    let started = Instant::now();
    for round in 0..ROUNDS.1 {
        if round >= ROUNDS.0 && started.elapsed() > CELL_BUDGET {
            break;
        }
        for turn in 0..active.len() {
            let k = (turn + round) % active.len();
            let s = subjects[active[k]].as_mut();
            let before = Snapshot::now();
            let t = Instant::now();
            std::hint::black_box(s.run_batch(w, op, next..next + batch[k]));
            let elapsed = t.elapsed();
            allocs[k] += before.allocs_since();
            calls[k] += batch[k];
            samples[k].push(elapsed.as_nanos() as f64 / batch[k] as f64 / units);
        }
        next += batch.iter().max().copied().unwrap_or(1);
    }
    let mut cell = Cell {
        shape: w.shape,
        n: w.n(),
        op,
        ns: [None; PEERS.len()],
        best: [None; PEERS.len()],
        allocs: [None; PEERS.len()],
    };
    for (k, &i) in active.iter().enumerate() {
        cell.ns[i] = Some(median(&mut samples[k]));
        // `median` sorted the samples.
        cell.best[i] = samples[k].first().copied();
        cell.allocs[i] = Some(allocs[k] as f64 / calls[k] as f64);
    }
    cell
}

/// The number of calls of `op` that takes about [`BATCH`] on `s`.
fn calibrate(s: &mut dyn Subject, w: &Workload, op: Verb) -> usize {
    let mut k = 1;
    loop {
        let t = Instant::now();
        std::hint::black_box(s.run_batch(w, op, 0..k));
        let elapsed = t.elapsed();
        if elapsed >= BATCH / 2 || k >= 1 << 20 {
            let per_call = elapsed.as_nanos().max(1) as f64 / k as f64;
            return ((BATCH.as_nanos() as f64 / per_call) as usize).max(1);
        }
        k *= 2;
    }
}

/// The median of `samples` (which it sorts).
fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Median nanoseconds per step and allocations per replay of every replay
/// peer on every file, interleaved.
fn measure_replays(files: &[TraceFile]) -> Vec<Vec<(f64, usize)>> {
    files
        .iter()
        .map(|file| {
            let steps = file.steps() as f64;
            let mut samples = vec![Vec::new(); replay::PEERS.len()];
            let mut allocs = vec![0; replay::PEERS.len()];
            for round in 0..ROUNDS.1 {
                for turn in 0..replay::PEERS.len() {
                    let k = (turn + round) % replay::PEERS.len();
                    let before = Snapshot::now();
                    let t = Instant::now();
                    std::hint::black_box((replay::PEERS[k].replay)(file));
                    samples[k].push(t.elapsed().as_nanos() as f64 / steps);
                    allocs[k] = before.allocs_since();
                }
            }
            samples
                .iter_mut()
                .zip(allocs)
                .map(|(s, a)| (median(s), a))
                .collect()
        })
        .collect()
}

/// Formats nanoseconds with a unit.
fn time(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

/// Formats a ratio.
fn ratio(r: f64) -> String {
    if r < 10.0 {
        format!("×{r:.2}")
    } else {
        format!("×{r:.0}")
    }
}

/// A time cell with its ratio to `ours`.
fn versus(ns: Option<f64>, ours: Option<f64>, with_ratio: bool) -> String {
    match (ns, ours) {
        (Some(ns), Some(ours)) if with_ratio => format!("{} ({})", time(ns), ratio(ns / ours)),
        (Some(ns), _) => time(ns),
        (None, _) => "—".into(),
    }
}

/// The machine, the command and how long it took.
fn write_header(out: &mut String, took: Duration) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']))
        })
        .unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(
        out,
        "Machine: {model}, {cores} cores. `cargo bench --bench report`, {:.0?}.\n",
        took
    );
}

/// The main table.
fn write_cells(out: &mut String, cells: &[Cell]) {
    let _ = writeln!(
        out,
        "ns per call (per segment for `build_clear`); in brackets, peer ÷ {}. \
         `—`: the peer lacks the operation.\n",
        PEERS[OURS]
    );
    let _ = writeln!(out, "| operation | shape | n | {} |", PEERS.join(" | "));
    let _ = writeln!(out, "|---|---|--:|{}", "--:|".repeat(PEERS.len()));
    for c in cells {
        let row: Vec<String> =
            c.ns.iter()
                .enumerate()
                .map(|(i, &ns)| versus(ns, c.ns[OURS], i != OURS))
                .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            c.op.name(),
            c.shape.name(),
            c.n,
            row.join(" | ")
        );
    }
}

/// This crate's lookups against `BTreeMap`'s: one row per pattern and
/// shape, one column per size.
fn write_lookups(out: &mut String, cells: &[Cell]) {
    let mut sizes: Vec<usize> = cells.iter().map(|c| c.n).collect();
    sizes.dedup();
    let _ = writeln!(
        out,
        "\n`find` time, {} ÷ {}, fastest round against fastest round (below ×1.00: this crate is faster; \
         time, so as noisy as the machine):\n",
        PEERS[OURS], PEERS[BTREE]
    );
    let heads: Vec<String> = sizes.iter().map(|n| format!("n = {n}")).collect();
    let _ = writeln!(out, "| pattern | shape | {} |", heads.join(" | "));
    let _ = writeln!(out, "|---|---|{}", "--:|".repeat(sizes.len()));
    for op in LOOKUPS {
        for shape in Shape::ALL {
            let row: Vec<String> = sizes
                .iter()
                .map(|&n| {
                    cells
                        .iter()
                        .find(|c| c.op == op && c.shape == shape && c.n == n)
                        .and_then(|c| Some(ratio(c.best[OURS]? / c.best[BTREE]?)))
                        .unwrap_or_else(|| "—".into())
                })
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                op.name(),
                shape.name(),
                row.join(" | ")
            );
        }
    }
}

/// Allocations per call, the most any cell of an operation made.
fn write_allocs(out: &mut String, cells: &[Cell]) {
    let _ = writeln!(
        out,
        "\nAllocations per call (the most over all sizes and shapes):\n"
    );
    let _ = writeln!(out, "| operation | {} |", PEERS.join(" | "));
    let _ = writeln!(out, "|---|{}", "--:|".repeat(PEERS.len()));
    for op in Verb::ALL {
        let row: Vec<String> = (0..PEERS.len())
            .map(|i| {
                let most = cells
                    .iter()
                    .filter(|c| c.op == op)
                    .filter_map(|c| c.allocs[i])
                    .reduce(f64::max);
                most.map_or_else(|| "—".into(), |a| format!("{a:.2}"))
            })
            .collect();
        let _ = writeln!(out, "| {} | {} |", op.name(), row.join(" | "));
    }
}

/// Heap bytes per segment of each freshly built map.
fn write_memory(out: &mut String, memory: &[(Shape, usize, [f64; PEERS.len()])]) {
    let _ = writeln!(out, "\nHeap bytes per segment after building (counting allocator; the pool includes its {} spare nodes):\n", peers::POOL_HEADROOM);
    let _ = writeln!(out, "| shape | n | {} |", PEERS.join(" | "));
    let _ = writeln!(out, "|---|--:|{}", "--:|".repeat(PEERS.len()));
    for (shape, n, bytes) in memory {
        // Zero: a peer that was not built (aged maps).
        let row: Vec<String> = bytes
            .iter()
            .map(|&b| {
                if b == 0.0 {
                    "—".into()
                } else {
                    format!("{b:.1}")
                }
            })
            .collect();
        let _ = writeln!(out, "| {} | {n} | {} |", shape.name(), row.join(" | "));
    }
}

/// Replay throughput.
fn write_replays(out: &mut String, files: &[TraceFile], replays: &[Vec<(f64, usize)>]) {
    let names: Vec<&str> = replay::PEERS.iter().map(|p| p.name).collect();
    let _ = writeln!(
        out,
        "\nTrace replay (`benches/data`): ns per step, in brackets peer ÷ {}; every peer \
         agreed with Linux and with `trace::summarize` on every step:\n",
        names[0]
    );
    let _ = writeln!(
        out,
        "| trace | spaces | steps | failed calls not replayed | {} | pool allocs besides its slabs |",
        names.join(" | ")
    );
    let _ = writeln!(out, "|---|--:|--:|--:|{}--:|", "--:|".repeat(names.len()));
    for (file, peers) in files.iter().zip(replays) {
        let row: Vec<String> = peers
            .iter()
            .enumerate()
            .map(|(i, &(ns, _))| versus(Some(ns), Some(peers[0].0), i != 0))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            file.name,
            file.streams.len(),
            file.steps(),
            file.streams
                .iter()
                .map(|s| s.skipped_failures)
                .sum::<usize>(),
            row.join(" | "),
            // A fresh slab per address space.
            peers[POOL].1 as isize - (Slab::ALLOCS * file.streams.len()) as isize
        );
    }
}

/// Where this crate stands against the issue's targets.
fn write_targets(out: &mut String, cells: &[Cell]) {
    let ours = |c: &Cell| c.ns[OURS].unwrap_or(f64::NAN);
    /// One target: what it asks, the worst case found, in which cell.
    fn line(out: &mut String, target: &str, worst: String, c: &Cell, met: bool) {
        let _ = writeln!(
            out,
            "- {target}: {worst} ({} {} n={}) — {}",
            c.op.name(),
            c.shape.name(),
            c.n,
            verdict(met)
        );
    }
    let _ = writeln!(out, "\nTargets (this crate = {}):\n", PEERS[OURS]);

    // A "≥1000× faster" target: the smallest ratio, peer ÷ ours, over the
    // cells `wanted` picks and the peers `of`.
    let at_least_1000 =
        |out: &mut String, target: &str, wanted: &dyn Fn(&Cell) -> bool, of: &[usize]| {
            let closest = cells
                .iter()
                .filter(|c| wanted(c))
                .flat_map(|c| of.iter().map(move |&p| (c, p)))
                .filter_map(|(c, p)| Some((c.ns[p]? / ours(c), c, p)))
                .min_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((r, c, p)) = closest {
                line(
                    out,
                    target,
                    format!(
                        "smallest ratio {}, {} vs {}",
                        ratio(r),
                        PEERS[p],
                        PEERS[OURS]
                    ),
                    c,
                    r >= 1000.0,
                );
            }
        };
    at_least_1000(
        out,
        "earlier target: ≥1000× faster than memory_set, ax-memory-set and baseline at n ≥ 65 530 (mmap_anywhere, unmap, mprotect; uniform picks)",
        &|c| c.n >= 65_530 && TARGET_OPS.contains(&c.op),
        &PEERS_OF_TARGET,
    );
    // Issue 17's: the two updates of a random segment at 10^5 segments,
    // against memory_set alone.
    at_least_1000(
        out,
        "issue 17: unmap_remap and mprotect_split_restore ≥1000× faster than memory_set at n = 100 000 (uniform picks)",
        &|c| c.n == 100_000 && matches!(c.op, Verb::UnmapRemap | Verb::Mprotect),
        &[MEMORY_SET],
    );

    let growth = cells
        .iter()
        .filter(|c| c.n == 65_530 && c.op != Verb::BuildClear)
        .filter_map(|c| {
            let small = cells
                .iter()
                .find(|s| s.n == 1_000 && s.op == c.op && s.shape == c.shape)?;
            Some((ours(c) / ours(small), c))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((g, c)) = growth {
        line(
            out,
            "earlier target: growth from n = 1 000 to 65 530 at most 3×",
            format!("largest {}", ratio(g)),
            c,
            g <= 3.0,
        );
    }

    // The lookup targets: the worst cell of a pattern over a size range
    // and every shape, against BTreeMap, fastest round against fastest
    // round.
    let best = |c: &Cell, i: usize| Some(c.best[OURS]? / c.best[i]?);
    let lookup_targets = [
        (Verb::FindUniform, 0..=10_000, 1.0),
        (Verb::FindUniform, 65_530..=1_000_000, 1.5),
        (Verb::FindChained, 0..=10_000, 1.0),
        (Verb::FindChained, 65_530..=1_000_000, 1.5),
    ];
    for (op, sizes, most) in lookup_targets {
        let worst = cells
            .iter()
            .filter(|c| c.op == op && sizes.contains(&c.n))
            .filter_map(|c| Some((best(c, BTREE)?, c)))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((f, c)) = worst {
            line(
                out,
                &format!(
                    "issue 17: {} at most ×{most:.1} BTreeMap for {} ≤ n ≤ {}",
                    op.name(),
                    sizes.start(),
                    sizes.end()
                ),
                format!("worst {}", ratio(f)),
                c,
                f <= most,
            );
        }
    }
    let local = cells
        .iter()
        .filter(|c| c.op == Verb::FindLocal)
        .filter_map(|c| Some((1.0 / best(c, BTREE)?, c)))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((f, c)) = local {
        // Each run starts at a uniform random address: even if its other
        // lookups cost nothing, a run costs at least one uniform lookup.
        let ceiling = cells
            .iter()
            .find(|u| u.op == Verb::FindUniform && u.shape == c.shape && u.n == c.n)
            .and_then(|u| Some(FAULTS_PER_RUN as f64 * c.best[BTREE]? / u.best[OURS]?));
        let ceiling = ceiling.map_or_else(String::new, |k| {
            format!(
                "; the most any lookup could reach there, each run of {FAULTS_PER_RUN} paying one uniform lookup and nothing else: {}",
                ratio(k)
            )
        });
        line(
            out,
            "issue 17: find_local (fault locality) at least 10× faster than BTreeMap",
            format!("smallest speed-up {}{ceiling}", ratio(f)),
            c,
            f >= 10.0,
        );
    }

    let pool_allocs: f64 = cells
        .iter()
        .filter(|c| c.op != Verb::BuildClear)
        .filter_map(|c| c.allocs[POOL])
        .sum();
    let _ = writeln!(
        out,
        "- earlier target: zero allocations per call in the pool configuration (every operation but build_clear): {} — {}",
        pool_allocs,
        verdict(pool_allocs == 0.0)
    );

    let per_segment = |c: &Cell| match c.op {
        Verb::UnmapMany | Verb::IterRange => ours(c) / workload::MANY as f64,
        _ => ours(c),
    };
    let slowest = cells
        .iter()
        .map(|c| (per_segment(c), c))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((t, c)) = slowest {
        line(
            out,
            "earlier target: under 1 µs per operation (per segment for unmap_64, iter_64, build_clear)",
            format!("slowest {}", time(t)),
            c,
            t < 1000.0,
        );
    }
}

/// "met" or "missed".
fn verdict(met: bool) -> &'static str {
    if met {
        "**met**"
    } else {
        "**missed**"
    }
}

/// `callgrind PEER OP SHAPE N ITERS`: builds peer `PEER` (an index into
/// the peer list, or its name) and runs `ITERS` calls of `OP` inside
/// [`measured`]; prints the peer's name, or `n/a` if it lacks `OP`.
fn callgrind(args: &[String]) -> Result<(), String> {
    let [peer, op, shape, n, iters] = args else {
        return Err("usage: callgrind PEER OP SHAPE N ITERS".into());
    };
    let peer = match peer.parse::<usize>() {
        Ok(i) => PEERS.get(i).copied(),
        Err(_) => PEERS.iter().copied().find(|p| p == peer),
    }
    .ok_or_else(|| format!("no peer {peer}; peers are 0..{}: {PEERS:?}", PEERS.len()))?;
    let op = Verb::parse(op).ok_or_else(|| format!("no operation {op}"))?;
    let shape = Shape::ALL
        .into_iter()
        .find(|s| s.name() == shape)
        .ok_or_else(|| format!("no shape {shape}"))?;
    let n: usize = n.parse().map_err(|_| format!("bad size {n}"))?;
    let iters: usize = iters.parse().map_err(|_| format!("bad count {iters}"))?;
    let w = Workload::new(shape, n);
    let mut s = subject(peer, &w).ok_or_else(|| format!("no peer {peer}"))?;
    if s.supports(op) {
        // Caches to their steady state first: every peer's lookups, and
        // the updates of peers for which they are cheap (they leave the map
        // as they found it).
        if op.is_find() || !s.is_slow(op) {
            std::hint::black_box(s.run_batch(&w, op, iters..2 * iters));
        }
        std::hint::black_box(measured(s.as_mut(), &w, op, iters));
        println!("{peer}");
    } else {
        println!("n/a");
    }
    Ok(())
}

/// The region callgrind counts (`--toggle-collect=*measured*`).
#[inline(never)]
fn measured(s: &mut dyn Subject, w: &Workload, op: Verb, iters: usize) -> usize {
    s.run_batch(w, op, 0..iters)
}
