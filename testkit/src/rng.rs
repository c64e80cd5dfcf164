//! The deterministic generator the tests, benches and examples share.

use std::ops::Range;

/// xorshift64*: a seeded generator for randomized tests and synthetic
/// workloads, with no dependency and the same sequence everywhere, so
/// that a failure reproduces from its seed.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)] // not an iterator: it never ends
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// `len` random bytes, the low byte of each of the next `len` outputs:
    /// inputs for the decoders of [`op`](crate::op) and
    /// [`set_model`](crate::set_model).
    pub fn bytes(&mut self, len: usize) -> impl Iterator<Item = u8> + '_ {
        (0..len).map(|_| self.next() as u8)
    }

    /// A number in `0..n`, uniform enough for tests (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A number in `range` (non-empty), from the high 32 bits of the next
    /// output: the benches' layouts are drawn this way.
    pub fn in_range(&mut self, range: Range<usize>) -> usize {
        let r = self.next() >> 32;
        // `r < 2^32` fits `usize` on the 64-bit hosts the kit runs on.
        range.start + (r as usize) % range.len()
    }
}
