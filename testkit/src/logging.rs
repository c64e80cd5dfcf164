//! A segment that logs every callback the map makes, with its arguments,
//! and can fail or panic on command: the map side of the model tests.

use std::cell::Cell;
use std::fmt;

use range_action_map::{AllocError, RangeActionMap, RangeLink, Segment};

/// Asserts that an expression fails with the given `MapError` variant.
#[macro_export]
macro_rules! assert_err {
    ($expr:expr, $variant:pat) => {
        match $expr {
            Err($variant) => {}
            other => panic!("expected {}, got {:?}", stringify!($variant), other),
        }
    };
}

thread_local! {
    /// Identity of the next node built, shared by the map's callbacks and
    /// the closures the tests pass to `mmap_*`.
    static NEXT_ID: Cell<u32> = const { Cell::new(0) };
}

/// A fresh node identity.
pub fn fresh_id() -> u32 {
    NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    })
}

/// Restarts identities at 0.
pub fn reset_ids() {
    NEXT_ID.with(|n| n.set(0));
}

/// One callback the map made, with its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Event {
    /// `remove` of node `id` covering `start..end`.
    Remove {
        /// The node.
        id: u32,
        /// Its start.
        start: usize,
        /// Its end.
        end: usize,
    },
    /// `shrink` of node `id` from `from` to `to`.
    Shrink {
        /// The node.
        id: u32,
        /// Its range before, as `(start, end)`.
        from: (usize, usize),
        /// The range it keeps.
        to: (usize, usize),
    },
    /// `split` of node `id` (covering `start..end`) at `pos`, giving `new_id`.
    Split {
        /// The node split, which keeps the left part.
        id: u32,
        /// Its start.
        start: usize,
        /// Its end before the split.
        end: usize,
        /// Where it is split.
        pos: usize,
        /// The new node, which takes `pos..end`.
        new_id: u32,
    },
    /// `modify` of node `id` covering `start..end` to `prot`.
    Modify {
        /// The node.
        id: u32,
        /// Its start.
        start: usize,
        /// Its end.
        end: usize,
        /// The new protection.
        prot: u8,
    },
    /// Node `id` absorbed node `next`.
    Merge {
        /// The node that grows.
        id: u32,
        /// Its successor, merged away.
        next: u32,
    },
}

/// How the panics of crash-test segments start, to tell them from bugs.
pub const CRASH_MESSAGE: &str = "crash-test segment";

/// Which callback a crash-test segment panics in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    /// [`Segment::remove`].
    Remove,
    /// [`Segment::shrink`].
    Shrink,
    /// [`Segment::try_split`].
    Split,
    /// [`Segment::modify`].
    Modify,
    /// [`Segment::try_merge`].
    Merge,
    /// [`Segment::release`].
    Release,
}

/// The map's `Args`: the callback log and the test's knobs.
#[derive(Default)]
pub struct Log {
    /// The callbacks so far, in order.
    pub events: Vec<Event>,
    /// Merge adjacent segments with equal protection.
    pub merge: bool,
    /// Make the next `try_split` fail.
    pub fail_next_split: bool,
    /// Panic in the given callback after this many more calls of it.
    pub crash: Option<(Crash, usize)>,
}

impl Log {
    fn maybe_crash(&mut self, kind: Crash) {
        if let Some((k, n)) = self.crash {
            if k == kind {
                if n == 0 {
                    self.crash = None;
                    panic!("{CRASH_MESSAGE}: {kind:?}");
                }
                self.crash = Some((k, n - 1));
            }
        }
    }
}

thread_local! {
    /// Nodes alive (built and not yet dropped), to prove none is lost or
    /// dropped twice.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

/// Number of `Seg` nodes alive on this thread.
pub fn live_nodes() -> isize {
    LIVE.with(Cell::get)
}

/// A segment that logs its callbacks.
pub struct Seg {
    /// The map's link.
    pub link: RangeLink,
    /// The node's identity, from [`fresh_id`].
    pub id: u32,
    /// Its protection, which `modify` sets.
    pub prot: Cell<u8>,
}

pub use adapter::SegAdapter;

mod adapter {
    //! Apart because the macro gives the adapter's `NEW` and `new` no docs.
    #![allow(missing_docs)]

    use range_action_map::intrusive_collections::intrusive_adapter;
    use range_action_map::RangeLink;

    use super::Seg;

    intrusive_adapter!(pub SegAdapter = Box<Seg>: Seg { link: RangeLink });
}

/// The map under test.
pub type Map = RangeActionMap<SegAdapter>;

impl Seg {
    /// A new boxed node with a fresh identity.
    pub fn boxed(prot: u8) -> Box<Seg> {
        LIVE.with(|l| l.set(l.get() + 1));
        Box::new(Seg {
            link: RangeLink::new(),
            id: fresh_id(),
            prot: Cell::new(prot),
        })
    }
}

impl Drop for Seg {
    fn drop(&mut self) {
        LIVE.with(|l| l.set(l.get() - 1));
    }
}

impl fmt::Debug for Seg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} prot {}", self.id, self.prot.get())
    }
}

impl Segment for Seg {
    type Args = Log;
    type Flags = u8;
    type Pointer = Box<Seg>;

    fn remove(&self, log: &mut Log) {
        let r = self.link.range();
        log.events.push(Event::Remove {
            id: self.id,
            start: r.start,
            end: r.end,
        });
        log.maybe_crash(Crash::Remove);
    }

    fn shrink(&self, start: usize, end: usize, log: &mut Log) {
        let r = self.link.range();
        log.events.push(Event::Shrink {
            id: self.id,
            from: (r.start, r.end),
            to: (start, end),
        });
        log.maybe_crash(Crash::Shrink);
    }

    fn split(&self, _pos: usize, _log: &mut Log) -> Box<Seg> {
        unreachable!("the map calls try_split")
    }

    fn try_split(&self, pos: usize, log: &mut Log) -> Result<Box<Seg>, AllocError> {
        if std::mem::take(&mut log.fail_next_split) {
            return Err(AllocError);
        }
        log.maybe_crash(Crash::Split);
        let right = Seg::boxed(self.prot.get());
        let r = self.link.range();
        log.events.push(Event::Split {
            id: self.id,
            start: r.start,
            end: r.end,
            pos,
            new_id: right.id,
        });
        Ok(right)
    }

    fn modify(&self, prot: u8, log: &mut Log) {
        let r = self.link.range();
        log.events.push(Event::Modify {
            id: self.id,
            start: r.start,
            end: r.end,
            prot,
        });
        self.prot.set(prot);
        log.maybe_crash(Crash::Modify);
    }

    fn release(node: Box<Seg>, log: &mut Log) {
        // The node drops either way, also while a crash unwinds.
        let _node = node;
        log.maybe_crash(Crash::Release);
    }

    fn try_merge(&self, next: &Seg, log: &mut Log) -> bool {
        log.maybe_crash(Crash::Merge);
        let yes = log.merge && self.prot.get() == next.prot.get();
        if yes {
            log.events.push(Event::Merge {
                id: self.id,
                next: next.id,
            });
        }
        yes
    }
}
