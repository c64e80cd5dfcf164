//! The runners the `cargo fuzz` targets (nightly) and the corpus replay
//! test (`tests/fuzz_corpus.rs`, stable) share: each takes a scenario that
//! [`op`](crate::op) decodes from the input bytes.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use range_action_map::boxed;
use range_action_map::Window;

use crate::harness::Harness;
use crate::logging::{live_nodes, Event, CRASH_MESSAGE};
use crate::model::{Model, PlacementSpec};
use crate::op::{CrashScenario, Op, Scenario, SeedScenario};

/// Differential run: every operation on the map and the sorted-`Vec` model,
/// segments, results and callback log compared and `assert_valid` after
/// each; at the end every node is dropped exactly once.
pub fn run_differential(scenario: Scenario) {
    let baseline = live_nodes();
    let mut h = Harness::new(scenario.window, scenario.merge);
    for op in scenario.ops {
        h.step(op);
    }
    assert_eq!(live_nodes() - baseline, h.map.len() as isize);
    drop(h);
    assert_eq!(live_nodes(), baseline, "a node leaked or was dropped twice");
}

// === crash-test runner ===

/// Whether a panic payload is the crash-test segment's.
fn is_crash_test(payload: &(dyn Any + Send)) -> bool {
    let msg = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied());
    msg.is_some_and(|m| m.starts_with(CRASH_MESSAGE))
}

/// Keeps crash-test panics quiet (and alive: libFuzzer's own hook aborts
/// on every panic, caught or not); any other panic goes to the previous
/// hook, so a real failure still aborts the fuzzer.
fn install_crash_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !is_crash_test(info.payload()) {
                previous(info);
            }
        }));
    });
}

/// Crash run: the segments panic in call `after + 1` of callback `kind`
/// (the input's bytes 1 and 2). Until the panic the run is differential; the panic must come
/// from the crash-test segment, after which the map must be valid and
/// every node accounted for (in the map, or dropped exactly once). The
/// model then adopts the map's state and the rest of the operations run
/// differentially, and dropping the map must bring the node count back.
pub fn run_crash(input: CrashScenario) {
    install_crash_hook();
    let CrashScenario {
        kind,
        after,
        scenario,
    } = input;

    let baseline = live_nodes();
    let mut h = Harness::new(scenario.window, scenario.merge);
    h.map.args_mut().crash = Some((kind, after));
    let mut ops = scenario.ops.into_iter();
    for op in ops.by_ref() {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| h.step(op))) {
            if !(h.map.args().crash.is_none() && is_crash_test(&*payload)) {
                panic::resume_unwind(payload);
            }
            h.map.assert_valid();
            h.resync();
            break;
        }
    }
    assert_eq!(
        live_nodes() - baseline,
        h.map.len() as isize,
        "every live node is in the map after the panic"
    );
    // The map keeps working.
    for op in ops {
        h.step(op);
        assert_eq!(live_nodes() - baseline, h.map.len() as isize);
    }
    drop(h);
    assert_eq!(live_nodes(), baseline, "a node leaked or was dropped twice");
}

// === seed-style (boxed) map runner ===

thread_local! {
    /// Boxed values alive, and bytes handed to `remove`.
    static BOXED: Cell<(isize, usize)> = const { Cell::new((0, 0)) };
}

fn boxed_counters() -> (isize, usize) {
    BOXED.with(Cell::get)
}

/// A seed-style value segment that tracks its own range, as the seed's
/// users do, and counts itself alive and its removed bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Val {
    /// Its start, as the value believes it.
    pub start: usize,
    /// Its end, likewise.
    pub end: usize,
    /// Its flags, which `modify` sets.
    pub flags: usize,
}

impl Val {
    fn new(start: usize, end: usize, flags: usize) -> Val {
        BOXED.with(|c| {
            let (live, removed) = c.get();
            c.set((live + 1, removed));
        });
        Val { start, end, flags }
    }
}

impl Drop for Val {
    fn drop(&mut self) {
        BOXED.with(|c| {
            let (live, removed) = c.get();
            c.set((live - 1, removed));
        });
    }
}

impl boxed::Segment for Val {
    fn remove(&mut self, _args: boxed::ArgsType) {
        let len = self.end - self.start;
        BOXED.with(|c| {
            let (live, removed) = c.get();
            c.set((live, removed.wrapping_add(len)));
        });
    }

    fn split(&mut self, pos: usize, _args: boxed::ArgsType) -> Self {
        assert!(
            self.start < pos && pos < self.end,
            "split of {self:?} at {pos:#x} outside it"
        );
        let right = Val::new(pos, self.end, self.flags);
        self.end = pos;
        right
    }

    fn modify(&mut self, flags: boxed::IdentType, _args: boxed::ArgsType) {
        self.flags = flags;
    }
}

/// Bytes an event of the model takes out of the map.
fn removed_bytes(event: Event) -> usize {
    match event {
        Event::Remove { start, end, .. } => end - start,
        Event::Shrink { from, to, .. } => (from.1 - from.0) - (to.1 - to.0),
        _ => 0,
    }
}

/// Seed-style run: the boxed value map against the model (no merging, the
/// seed's limits as its window). After each operation the map's `ranges()`
/// (and each value's own idea of its range) equal the model's, the
/// intrusive map underneath is valid, every value alive is in the map and
/// `remove` saw exactly the bytes the model's log unmapped.
pub fn run_boxed(scenario: SeedScenario) {
    let (live0, removed0) = boxed_counters();
    let mut map = boxed::RangeActionMap::<Val>::new(0);
    let limits = Window::new(boxed::LOWER_LIMIT, boxed::UPPER_LIMIT);
    let mut model = Model::new(limits.expect("the seed's limits"), false);
    let mut removed = 0usize;
    for op in scenario.ops {
        match op {
            Op::MmapFixed(s, e, p) => {
                let got = map.mmap_fixed(s, e, || Val::new(s, e, p.into()));
                let want = model.mmap_fixed(s, e, p).ok().map(|m| m.start);
                assert_eq!(got, want, "{op:?}");
            }
            Op::Unmap(s, e) => {
                map.unmap(s, e);
                let _refused_is_a_no_op = model.unmap(s, e);
            }
            Op::Mprotect(s, e, p) => {
                map.mprotect(s, e, p.into());
                let _refused_is_a_no_op = model.mprotect(s, e, p);
            }
            Op::MmapAnywhere(hint, len, p) => {
                let want = model
                    .mmap_placed(&PlacementSpec::anywhere(hint, len), p)
                    .ok();
                assert_eq!(map.find_free_area(hint, len), want, "{op:?}");
                let got = map.mmap_anywhere(hint, len, |s| Val::new(s, s + len, p.into()));
                assert_eq!(got, want, "{op:?}");
            }
            Op::Find(addr) => {
                let got = map.find(addr).map(|v| (v.start, v.end, v.flags));
                let want = model.find(addr).map(|m| (m.start, m.end, m.prot.into()));
                assert_eq!(got, want, "{op:?}");
            }
            other => unreachable!("not a seed verb: {other:?}"),
        }
        map.assert_valid();
        let got: Vec<_> = map
            .ranges()
            .map(|(r, v)| {
                assert_eq!((v.start, v.end), (r.start, r.end), "value tracks its range");
                (r.start, r.end, v.flags)
            })
            .collect();
        let want: Vec<_> = (model.segs.iter())
            .map(|m| (m.start, m.end, usize::from(m.prot)))
            .collect();
        assert_eq!(got, want);
        assert_eq!(map.len(), model.segs.len());
        let (live, removed_now) = boxed_counters();
        assert_eq!(
            live - live0,
            map.len() as isize,
            "values alive are in the map"
        );
        // Only the removed bytes are wanted from the log: drain it.
        for event in model.events.drain(..) {
            removed = removed.wrapping_add(removed_bytes(event));
        }
        assert_eq!(
            removed_now.wrapping_sub(removed0),
            removed,
            "bytes handed to remove"
        );
    }
    drop(map);
    assert_eq!(
        boxed_counters().0,
        live0,
        "a value leaked or was dropped twice"
    );
}
