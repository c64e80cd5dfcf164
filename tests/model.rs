//! Model-based tests: random operation sequences run on the map and on a
//! sorted-`Vec` model; after every step the segments, the results and the
//! callback log must agree, and the map's invariants must hold.
//!
//! The random sequences are the `ops` fuzz target's (the test kit's
//! [`Scenario`], random bytes decoded, run by the same runner), shrunk by
//! quickcheck.

use quickcheck::{Arbitrary, Gen, QuickCheck};
use range_action_map::Window;
use range_action_map_testkit::fuzz::run_differential;
use range_action_map_testkit::harness::Harness;
use range_action_map_testkit::op::{Op, Scenario};

const PAGE: usize = 0x1000;

fn run(scenario: Scenario) -> bool {
    run_differential(scenario);
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
