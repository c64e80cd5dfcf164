//! Model-based tests: random operation sequences run on the map and on a
//! sorted-`Vec` model; after every step the segments, the results and the
//! callback log must agree, and the map's invariants must hold.

use quickcheck::{Arbitrary, Gen, QuickCheck};
use range_action_map::{Direction, Hint, Window};
use range_action_map_testkit::harness::Harness;
use range_action_map_testkit::model::PlacementSpec;
use range_action_map_testkit::op::Op;

const PAGE: usize = 0x1000;

/// Where a scenario's addresses live: near 0 or near `usize::MAX`.
#[derive(Clone, Copy, Debug)]
enum Base {
    Low,
    High,
}

impl Base {
    /// The first page of the scenario's 64-page grid.
    fn origin(self) -> usize {
        match self {
            Base::Low => PAGE,
            Base::High => usize::MAX - 64 * PAGE,
        }
    }
}

/// A random operation sequence over a 64-page grid (plus some wild values).
#[derive(Clone, Debug)]
struct Scenario {
    base: Base,
    merge: bool,
    ops: Vec<Op>,
}

fn page(g: &mut Gen, base: Base) -> usize {
    base.origin() + (usize::arbitrary(g) % 65) * PAGE
}

/// An address: mostly on the grid, sometimes anything at all.
fn addr(g: &mut Gen, base: Base) -> usize {
    match u8::arbitrary(g) % 16 {
        0 => usize::arbitrary(g),
        1 => *g
            .choose(&[0, 1, PAGE - 1, usize::MAX, usize::MAX - 1])
            .unwrap_or(&0),
        _ => page(g, base),
    }
}

fn range(g: &mut Gen, base: Base) -> (usize, usize) {
    let (a, b) = (addr(g, base), addr(g, base));
    if u8::arbitrary(g) % 8 == 0 {
        (a, b) // possibly empty or reversed
    } else {
        (a.min(b), a.max(b).max(a.min(b).saturating_add(1)))
    }
}

fn op(g: &mut Gen, base: Base) -> Op {
    let prot = u8::arbitrary(g) % 4;
    match u8::arbitrary(g) % 20 {
        0..=3 => {
            let (s, e) = range(g, base);
            Op::MmapFixed(s, e, prot)
        }
        4..=6 => {
            let (s, e) = range(g, base);
            Op::Unmap(s, e)
        }
        7..=9 => {
            let (s, e) = range(g, base);
            Op::Mprotect(s, e, prot)
        }
        10 => {
            let (s, e) = range(g, base);
            Op::MmapFixedNoReplace(s, e, prot)
        }
        11 | 12 => Op::MmapAnywhere(addr(g, base), (1 + usize::arbitrary(g) % 8) * PAGE, prot),
        13 | 14 => {
            let (low, high) = range(g, base);
            let hint = match u8::arbitrary(g) % 3 {
                0 => Hint::None,
                1 => Hint::AtOrAbove(addr(g, base)),
                _ => Hint::IfFree(addr(g, base)),
            };
            let spec = PlacementSpec {
                len: if u8::arbitrary(g) % 16 == 0 {
                    usize::arbitrary(g)
                } else {
                    (usize::arbitrary(g) % 9) * PAGE
                },
                align: if u8::arbitrary(g) % 16 == 0 {
                    usize::arbitrary(g)
                } else {
                    PAGE << (u8::arbitrary(g) % 4)
                },
                low,
                high,
                direction: if bool::arbitrary(g) {
                    Direction::BottomUp
                } else {
                    Direction::TopDown
                },
                hint,
            };
            Op::Placed(spec, prot)
        }
        15 => Op::Find(addr(g, base)),
        16 => {
            let (s, e) = range(g, base);
            Op::Gaps(s, e)
        }
        17 => Op::FailNextSplit,
        18 => Op::RemoveAt(addr(g, base)),
        _ if u8::arbitrary(g) % 8 == 0 => Op::Clear,
        _ => Op::Find(page(g, base)),
    }
}

impl Arbitrary for Scenario {
    fn arbitrary(g: &mut Gen) -> Self {
        let base = if bool::arbitrary(g) {
            Base::Low
        } else {
            Base::High
        };
        let len = usize::arbitrary(g) % (g.size() + 1);
        Scenario {
            base,
            merge: bool::arbitrary(g),
            ops: (0..len).map(|_| op(g, base)).collect(),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        // Drop the second half, then single operations, last first.
        let (base, merge, ops) = (self.base, self.merge, self.ops.clone());
        let half = ops[..ops.len() / 2].to_vec();
        let singles = (0..ops.len()).rev().map(move |i| {
            let mut fewer = ops.clone();
            fewer.remove(i);
            fewer
        });
        Box::new(
            core::iter::once(half)
                .filter(|h| !h.is_empty())
                .chain(singles)
                .map(move |ops| Scenario { base, merge, ops }),
        )
    }
}

fn run(scenario: Scenario) -> bool {
    let mut h = Harness::new(Window::DEFAULT, scenario.merge);
    for op in scenario.ops {
        h.step(op);
    }
    true
}

/// Sequences per run; Miri runs a handful (it is ~1000× slower).
fn tests() -> u64 {
    if cfg!(miri) {
        4
    } else {
        600
    }
}

#[test]
fn random_sequences_match_the_model() {
    QuickCheck::new()
        .tests(tests())
        .rng(Gen::new(if cfg!(miri) { 12 } else { 120 }))
        .quickcheck(run as fn(Scenario) -> bool);
}

#[test]
fn thousands_of_segments_match_the_model() {
    // Build a large, fragmented map, then churn it: every step is compared
    // with the model and validated (O(n) each, so n is moderate).
    let n = if cfg!(miri) { 40 } else { 3000 };
    let mut h = Harness::new(Window::DEFAULT, false);
    for i in 0..n {
        h.step(Op::MmapFixed(
            PAGE * (2 * i + 1),
            PAGE * (2 * i + 2),
            (i % 4) as u8,
        ));
    }
    let mut g = Gen::new(64);
    let span = 2 * n * PAGE;
    for _ in 0..if cfg!(miri) { 20 } else { 600 } {
        let a = PAGE + usize::arbitrary(&mut g) % span;
        let len = PAGE * (1 + usize::arbitrary(&mut g) % 40);
        let step = match u8::arbitrary(&mut g) % 5 {
            0 => Op::Unmap(a, a + len),
            1 => Op::Mprotect(a, a + len, u8::arbitrary(&mut g) % 4),
            2 => Op::MmapFixed(a, a + len, 1),
            3 => Op::MmapAnywhere(a, len, 2),
            _ => Op::Find(a),
        };
        h.step(step);
    }
}

#[test]
fn a_map_filling_the_whole_address_space() {
    let window = Window::new(0, usize::MAX).expect("non-empty");
    let mut h = Harness::new(window, true);
    h.step(Op::MmapFixed(0, usize::MAX, 1));
    h.step(Op::Mprotect(usize::MAX - 1, usize::MAX, 2));
    h.step(Op::Mprotect(0, 1, 3));
    h.step(Op::MmapAnywhere(0, 1, 0));
    h.step(Op::Unmap(1, usize::MAX - 1));
    h.step(Op::MmapAnywhere(0, usize::MAX - 2, 0));
    h.step(Op::MmapAnywhere(0, 1, 0));
}
