//! What a page fault was, and why it could not be resolved: [`Access`] and [`FaultError`].

use core::fmt;

use super::attr::MemoryAttr;
use super::page_table::PagingError;

/// The kind of access that faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// A load.
    Read,
    /// A store.
    Write,
    /// An instruction fetch.
    Execute,
}

impl Access {
    /// Whether an area with permissions `attr` allows this access (pages are
    /// always readable).
    pub const fn is_allowed_by(self, attr: MemoryAttr) -> bool {
        match self {
            Access::Read => true,
            Access::Write => !attr.is_readonly(),
            Access::Execute => attr.is_execute(),
        }
    }
}

/// Why [`MemorySet::handle_page_fault`](super::MemorySet::handle_page_fault) could not resolve a fault: the
/// kernel then signals the process (`SIGSEGV`) or panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultError {
    /// No area contains the address.
    Unmapped {
        /// The faulting address.
        addr: usize,
    },
    /// The area containing the address forbids the access.
    AccessViolation {
        /// The faulting address.
        addr: usize,
        /// What was attempted.
        access: Access,
        /// The area's permissions.
        attr: MemoryAttr,
    },
    /// The address is below a stack (an area that grows down) that may not
    /// grow that far: past the stack rlimit, below the window, or into the
    /// guard gap above the area below.
    StackLimit {
        /// The faulting address.
        addr: usize,
    },
    /// The address is below a stack (an area that grows down) that the
    /// fault would grow, which
    /// [`handle_page_fault_shared`](super::MemorySet::handle_page_fault_shared)
    /// does not do: retry with
    /// [`handle_page_fault`](super::MemorySet::handle_page_fault), under the
    /// address space's write lock.
    WouldGrowStack {
        /// The faulting address.
        addr: usize,
    },
    /// The page could not be mapped (frames ran out, the page table
    /// refused the address, a file has no such page).
    Paging(PagingError),
}

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultError::Unmapped { addr } => write!(f, "no area contains {addr:#x}"),
            FaultError::AccessViolation { addr, access, attr } => {
                write!(f, "{access:?} access to {addr:#x} in a {attr} area")
            }
            FaultError::StackLimit { addr } => {
                write!(f, "the stack may not grow down to {addr:#x}")
            }
            FaultError::WouldGrowStack { addr } => {
                write!(f, "a fault at {addr:#x} would grow the stack above it")
            }
            FaultError::Paging(error) => write!(f, "cannot map the faulting page: {error}"),
        }
    }
}

impl core::error::Error for FaultError {}
