//! What the stress program (`stress.rs`) and the kernel that checks it agree on:
//! its sizes, its failure codes, and what it counts. The kernel includes this file as a
//! module too.

/// Pages in the window the calls fall into (a power of two).
pub const WINDOW: usize = 128;
/// Random calls the program makes.
pub const OPS: usize = 3000;

/// Why the program failed: its exit code.
#[derive(Clone, Copy, Debug)]
#[repr(usize)]
pub enum Failure {
    /// `mmap` of the model page failed.
    Model = 1,
    /// `mmap` failed, or placed elsewhere than Linux's top-down rule in the model (`t0`:
    /// where, `t1`: where the model expected).
    Mmap = 2,
    /// `munmap` failed.
    Munmap = 3,
    /// `mprotect` answered otherwise than Linux's rule in the model (`t1`: its answer).
    Mprotect = 4,
    /// A page read back another word than the model's (`t0`: its address).
    Pattern = 5,
    /// `fork` failed.
    Fork = 6,
    /// A child did not die by SIGSEGV at the address it touched (`t0`: that address; `t1`:
    /// the `wstatus` wait4 reported, `code << 8` if the child found its own failure).
    Fault = 7,
}

/// What the program counts, in the order of the registers `a1` to `a6` at its exit.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    /// `mmap` calls.
    pub mmaps: usize,
    /// `munmap` calls.
    pub munmaps: usize,
    /// `mprotect` calls.
    pub mprotects: usize,
    /// Pages checked (read back, and written and read back if writable).
    pub verified: usize,
    /// Children sent to touch a page that must fault.
    pub expected: usize,
    /// Of them, those `wait4` reported killed by SIGSEGV at that address.
    pub seen: usize,
}
