//! Model-based tests: random operation sequences run on the map and on a
//! sorted-`Vec` model; after every step the segments, the results and the
//! callback log must agree, and the map's invariants must hold.
//!
//! The random sequences are the `ops` fuzz target's (the test kit's
//! [`Scenario`], random bytes decoded, run by the same runner), drawn from
//! a seeded generator and shrunk by dropping operations
//! ([`Scenario::shrink`]). Every random test prints its seed on failure;
//! `MODEL_SEED=<seed> cargo test --test model` replays it.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::panic::{catch_unwind, AssertUnwindSafe};

use range_action_map::Window;
use range_action_map_testkit::fuzz::run_differential;
use range_action_map_testkit::harness::Harness;
use range_action_map_testkit::op::{decode, Op, Scenario};
use range_action_map_testkit::Rng;

const PAGE: usize = 0x1000;

/// Sequences per run; Miri runs a handful (it is ~1000× slower).
fn tests() -> u64 {
    if cfg!(miri) {
        4
    } else {
        600
    }
}

/// `count` seeds: a new base every run, so that runs cover new ground (from
/// the std hasher's random keys, which Miri provides too), or the one in
/// `MODEL_SEED` to replay a failure.
fn seeds(count: u64) -> Vec<u64> {
    match std::env::var("MODEL_SEED") {
        Ok(seed) => {
            let seed = seed.trim_start_matches("0x");
            vec![u64::from_str_radix(seed, 16).expect("MODEL_SEED is a hex seed")]
        }
        Err(_) => {
            let mut rng = Rng(RandomState::new().hash_one(0_u64));
            (0..count).map(|_| rng.next()).collect()
        }
    }
}

/// How to replay `seed`, for a failure message.
fn replay(seed: u64) -> String {
    format!("seed {seed:#x} (replay: MODEL_SEED={seed:#x} cargo test --test model)")
}

/// The scenario of one seed: up to 600 random bytes (about 120 operations;
/// fewer under Miri), decoded.
fn scenario(seed: u64) -> Scenario {
    let mut rng = Rng(seed);
    let max = if cfg!(miri) { 60 } else { 600 };
    let len = rng.below(max + 1);
    let bytes: Vec<u8> = rng.bytes(len).collect();
    decode(&bytes)
}

/// Whether `scenario` passes (its panics are caught, not printed twice).
fn passes(scenario: &Scenario) -> bool {
    catch_unwind(AssertUnwindSafe(|| run_differential(scenario.clone()))).is_ok()
}

/// The smallest failing scenario reachable from `failing` by repeatedly
/// taking the first shrink candidate that still fails.
fn shrink(mut failing: Scenario) -> Scenario {
    while let Some(smaller) = failing.shrink().find(|s| !passes(s)) {
        failing = smaller;
    }
    failing
}

#[test]
fn random_sequences_match_the_model() {
    for seed in seeds(tests()) {
        let scenario = scenario(seed);
        if !passes(&scenario) {
            let smallest = shrink(scenario);
            panic!("{} fails; shrunk to {smallest:?}", replay(seed));
        }
    }
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
    let span = 2 * n * PAGE;
    for seed in seeds(1) {
        let mut rng = Rng(seed);
        let churn = catch_unwind(AssertUnwindSafe(|| {
            for _ in 0..if cfg!(miri) { 20 } else { 600 } {
                let a = PAGE + rng.below(span);
                let len = PAGE * (1 + rng.below(40));
                let step = match rng.below(5) {
                    0 => Op::Unmap(a, a + len),
                    1 => Op::Mprotect(a, a + len, rng.below(4) as u8),
                    2 => Op::MmapFixed(a, a + len, 1),
                    3 => Op::MmapAnywhere(a, len, 2),
                    _ => Op::Find(a),
                };
                h.step(step);
            }
        }));
        assert!(churn.is_ok(), "{} fails", replay(seed));
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
