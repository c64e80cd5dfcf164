//! The segment type the crate's documentation examples use, so that each
//! example shows the call it is about; the crate docs' tour and the README
//! show how to write one.

use std::cell::Cell;
use std::fmt;

use range_action_map::{range_adapter, RangeLink, Segment};

/// An area with a protection value (bit 0 read, 1 write, 2 execute) that
/// logs every callback into the map's `Vec<String>`.
#[derive(Debug)]
pub struct Area {
    /// The tree link.
    pub link: RangeLink,
    /// The protection bits.
    pub prot: Cell<usize>,
}

pub use adapter::AreaAdapter;

#[allow(missing_docs)] // the undocumented `NEW` and `new` the adapter macro adds
mod adapter {
    use super::{range_adapter, Area};

    range_adapter!(
        /// The adapter of [`Area`], owned as a `Box`.
        pub AreaAdapter = Box<Area>: Area { link }
    );
}

/// A new boxed area with protection `prot`.
pub fn area(prot: usize) -> Box<Area> {
    Box::new(Area {
        link: RangeLink::new(),
        prot: Cell::new(prot),
    })
}

impl Segment for Area {
    type Args = Vec<String>;
    type Flags = usize;
    type Pointer = Box<Area>;

    fn remove(&self, log: &mut Vec<String>) {
        log.push(format!("remove {:#x?}", self.link.range()));
    }

    fn shrink(&self, start: usize, end: usize, log: &mut Vec<String>) {
        log.push(format!(
            "shrink {:#x?} to {start:#x}..{end:#x}",
            self.link.range()
        ));
    }

    fn split(&self, pos: usize, log: &mut Vec<String>) -> Box<Area> {
        log.push(format!("split {:#x?} at {pos:#x}", self.link.range()));
        area(self.prot.get())
    }

    fn modify(&self, prot: usize, log: &mut Vec<String>) {
        log.push(format!("modify {:#x?} to {prot}", self.link.range()));
        self.prot.set(prot);
    }

    fn try_merge(&self, next: &Area, _log: &mut Vec<String>) -> bool {
        self.prot.get() == next.prot.get()
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.prot.get();
        let bit = |mask, c| if p & mask != 0 { c } else { '-' };
        write!(f, "{}{}{}", bit(1, 'r'), bit(2, 'w'), bit(4, 'x'))
    }
}
