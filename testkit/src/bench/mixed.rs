//! A mixed workload from the one operation generator: random
//! [`Scenario`]s, decoded from seeded bytes as fuzz inputs are, lowered to
//! the [`Vm`] calls every peer offers.
//!
//! It is the churn of a small address space (the low page grid: a few
//! dozen segments within 16 MiB, mapped, cut, re-protected and searched in
//! random order), where constant factors dominate, beside the large
//! layouts of [`workload`](super::workload). Operations a peer cannot run,
//! or that are not valid for every peer, are left out: ranges outside
//! `[LOWER, 2^47)` or not page aligned (the generator's wild values),
//! the forced split failure, removal through a cursor, and `clear` (one
//! operation in twenty, it would keep the map near empty). Placements
//! are bottom-up and unaligned, where every peer must agree: at or above
//! the hint's address, or the window's low end when there is no hint.

use std::hint::black_box;
use std::iter;

use range_action_map::Hint;

use super::peers::{Request, Vm, LOWER};
use crate::model::PlacementSpec;
use crate::op::{decode, Op, Scenario};
use crate::Rng;

/// Bytes per page.
const PAGE: usize = 0x1000;
/// Addresses the workload keeps below.
const TOP: usize = 1 << 47;

/// A sequence of operations every [`Vm`] peer runs alike.
#[derive(Clone, Debug)]
pub struct Mixed {
    ops: Vec<Op>,
}

impl Mixed {
    /// At least `len` operations (`len > 0`) from the scenarios of `seed`:
    /// flags byte 0 (the low page grid, the default window, no merging),
    /// then random bytes.
    pub fn new(seed: u64, len: usize) -> Self {
        let mut rng = Rng(seed);
        let mut ops = Vec::with_capacity(len);
        while ops.len() < len {
            let bytes: Vec<u8> = iter::once(0).chain(rng.bytes(1024)).collect();
            let scenario: Scenario = decode(&bytes);
            ops.extend(scenario.ops.into_iter().filter(runs_everywhere));
        }
        Mixed { ops }
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether there is no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Runs every operation on an empty `P`, which it returns, and the
    /// wrapping sum of values that depend on every result.
    pub fn run<P: Vm>(&self) -> (P, usize) {
        // Every operation makes at most two nodes (a split and a new one).
        let mut map = P::with_capacity(2 * self.ops.len() + 1);
        let sum = self.ops.iter().fold(0usize, |acc, op| {
            acc.wrapping_add(black_box(apply(&mut map, op)))
        });
        (map, sum)
    }

    /// What a run of `P` comes to, for comparing peers: the segments it
    /// ends with and the result sum.
    pub fn outcome<P: Vm>(&self) -> Outcome {
        let (map, sum) = self.run::<P>();
        (map.spans(), sum)
    }
}

/// The final segments `(start, end, prot)` and the result sum of a run.
pub type Outcome = (Vec<(usize, usize, u32)>, usize);

/// Whether `[start, end)` is a range every peer takes.
fn good_range(start: usize, end: usize) -> bool {
    LOWER <= start && start < end && end <= TOP && start % PAGE == 0 && end % PAGE == 0
}

/// A bottom-up placement of `len` bytes at or above `hint`, if every peer
/// takes it.
fn request(hint: usize, len: usize) -> Option<Request> {
    let end = hint.checked_add(len)?;
    good_range(hint, end).then_some(Request {
        len,
        align: 1,
        hint,
        high: TOP,
        top_down: false,
    })
}

/// The bottom-up request that stands in for `spec`.
fn placed(spec: &PlacementSpec) -> Option<Request> {
    let hint = match spec.hint {
        Hint::AtOrAbove(hint) | Hint::IfFree(hint) => hint,
        Hint::None => spec.low,
    };
    request(hint, spec.len)
}

/// Whether `op` is in the workload (see the module doc).
fn runs_everywhere(op: &Op) -> bool {
    match *op {
        Op::Unmap(s, e)
        | Op::Mprotect(s, e, _)
        | Op::MmapFixed(s, e, _)
        | Op::MmapFixedNoReplace(s, e, _)
        | Op::Gaps(s, e) => good_range(s, e),
        Op::MmapAnywhere(hint, len, _) => request(hint, len).is_some(),
        Op::Placed(spec, _) => placed(&spec).is_some(),
        Op::Find(_) => true,
        Op::FailNextSplit | Op::RemoveAt(_) | Op::Clear => false,
    }
}

/// Runs `op` (one that [`runs_everywhere`]) on `map`; returns a value that
/// depends on the result.
fn apply<P: Vm>(map: &mut P, op: &Op) -> usize {
    match *op {
        Op::Unmap(s, e) => {
            map.unmap(s, e);
            map.len()
        }
        Op::Mprotect(s, e, prot) => {
            map.mprotect(s, e, prot.into());
            map.len()
        }
        Op::MmapFixed(s, e, prot) => {
            map.map_fixed(s, e, prot.into());
            map.len()
        }
        Op::MmapFixedNoReplace(s, e, prot) => usize::from(map.insert(s, e, prot.into())),
        Op::MmapAnywhere(hint, len, prot) => request(hint, len)
            .and_then(|req| map.place(&req, prot.into()))
            .unwrap_or(0),
        Op::Placed(spec, prot) => placed(&spec)
            .and_then(|req| map.place(&req, prot.into()))
            .unwrap_or(0),
        Op::Find(addr) => map.find(addr).unwrap_or(0),
        Op::Gaps(s, e) => map.count_overlapping(s, e),
        Op::FailNextSplit | Op::RemoveAt(_) | Op::Clear => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::ours::{Boxed, Pooled};
    use crate::bench::peers::{AxMemSet, Baseline, MemSet, Ours};

    #[test]
    fn every_peer_agrees_on_the_mixed_workload() {
        let mixed = Mixed::new(7, if cfg!(miri) { 50 } else { 1000 });
        let reference = mixed.outcome::<Ours<Boxed>>();
        assert_eq!(mixed.outcome::<Ours<Pooled>>(), reference);
        assert_eq!(mixed.outcome::<MemSet>(), reference);
        assert_eq!(mixed.outcome::<AxMemSet>(), reference);
        assert_eq!(mixed.outcome::<Baseline>(), reference);
    }
}
