//! What the kernel knows of the stress program (`kernel/user/stress.rs`, an ELF of its own):
//! the sizes and failure codes they share (`kernel/user/stress_report.rs`, a module of both),
//! and how to read its counts from its registers at its exit.

#[path = "../../user/stress_report.rs"]
mod report;

pub use report::{Counts, Failure, OPS, WINDOW};

impl Failure {
    /// The failure with exit code `code`, if any.
    pub fn of(code: usize) -> Option<Failure> {
        [
            Failure::Model,
            Failure::Mmap,
            Failure::Munmap,
            Failure::Mprotect,
            Failure::Pattern,
            Failure::Fork,
            Failure::Fault,
        ]
        .into_iter()
        .find(|failure| *failure as usize == code)
    }
}

impl Counts {
    /// The counts in the registers `x` of the program at its exit.
    pub fn of(x: &[usize; 32]) -> Counts {
        Counts {
            mmaps: x[11],
            munmaps: x[12],
            mprotects: x[13],
            verified: x[14],
            expected: x[15],
            seen: x[16],
        }
    }
}
