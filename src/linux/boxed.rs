//! [`Vma`]: a [`LinuxSegment`] in a `Box` (feature `alloc`).
//!
//! Not under `forbid(unsafe_code)` only because `intrusive_adapter!` expands
//! to an `allow(unsafe_code)` item (the crate's `deny` still holds for the
//! code written here, which has no unsafe block).
extern crate alloc;

use alloc::boxed::Box;
use core::fmt;

use spin::RwLock;

use super::vma::{LinuxSegment, VmFlags, VmaAttrs, VmaChange};
use crate::linux::GrowsDown;
use crate::{RangeLink, Segment};

/// A VMA in a `Box`: [`LinuxSegment`] ready to use with
/// [`VmaAdapter`] (feature `alloc`).
///
/// Its attributes sit behind a reader-writer spin lock rather than a `Cell`,
/// so that a [`LinuxMm`](super::LinuxMm) of `Vma`s is `Sync`: a kernel can
/// keep a process's VMAs under a reader-writer lock and check page faults
/// against them from several CPUs at once. The personality writes them only
/// through `&mut LinuxMm`, so the lock is never contended.
///
/// # Examples
///
/// ```
/// use range_action_map::linux::{Backing, LinuxSegment, Vma, VmFlags, VmaAttrs};
///
/// let vma = Vma::new_vma(VmaAttrs::new(VmFlags::READ, Backing::Anonymous, 0x10), &mut ());
/// assert_eq!(vma.attrs().pgoff(), 0x10);
/// ```
pub struct Vma {
    link: RangeLink,
    attrs: RwLock<VmaAttrs>,
}

pub use decl::VmaAdapter;

/// The adapter's declaration: `intrusive_adapter!` generates an undocumented
/// `new` and `NEW` on it.
#[allow(missing_docs)]
mod decl {
    use super::{Box, Vma};

    crate::range_adapter!(
        /// The adapter of [`Vma`]s owned by `Box`.
        pub VmaAdapter = Box<Vma>: Vma { link }
    );
}

impl Segment for Vma {
    type Args = ();
    type Flags = VmaChange;
    type Pointer = Box<Vma>;

    fn remove(&self, _: &mut ()) {}

    fn shrink(&self, start: usize, _end: usize, _: &mut ()) {
        let old = self.link.range().start;
        self.set_attrs(self.attrs().advanced(start - old));
    }

    fn split(&self, pos: usize, args: &mut ()) -> Box<Vma> {
        let delta = pos - self.link.range().start;
        Vma::new_vma(self.attrs().advanced(delta), args)
    }

    fn modify(&self, change: VmaChange, _: &mut ()) {
        self.set_attrs(self.attrs().changed(change));
    }

    fn try_merge(&self, next: &Self, _: &mut ()) -> bool {
        let (attrs, len) = (self.attrs(), self.link.range().len());
        let mergeable = attrs.can_merge(len, &next.attrs());
        if mergeable {
            self.set_attrs(attrs.merged(&next.attrs()));
        }
        mergeable
    }
}

impl LinuxSegment for Vma {
    fn new_vma(attrs: VmaAttrs, _: &mut ()) -> Box<Vma> {
        Box::new(Vma {
            link: RangeLink::new(),
            attrs: RwLock::new(attrs),
        })
    }

    fn attrs(&self) -> VmaAttrs {
        *self.attrs.read()
    }

    fn set_attrs(&self, attrs: VmaAttrs) {
        *self.attrs.write() = attrs;
    }
}

impl GrowsDown for Vma {
    fn grows_down(&self) -> bool {
        self.attrs().flags().contains(VmFlags::GROWSDOWN)
    }
}

impl fmt::Display for Vma {
    /// As [`VmaAttrs`]'s `Display`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.attrs(), f)
    }
}

impl fmt::Debug for Vma {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vma")
            .field("range", &self.link.range())
            .field("attrs", &self.attrs())
            .finish()
    }
}

// A kernel keeps a process's VMAs under a reader-writer lock shared by its CPUs.
static_assertions::assert_impl_all!(super::LinuxMm<VmaAdapter>: Send, Sync);
