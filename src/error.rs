//! The one error type of the crate.

use core::fmt;

/// Why a map operation was refused. After any error the map is unchanged
/// (the few documented exceptions change no mapping), and no `Segment`
/// callback ran unless the variant says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MapError {
    /// `start >= end`: the range is empty or reversed.
    EmptyRange {
        /// The range's first address.
        start: usize,
        /// The range's end.
        end: usize,
    },
    /// A length of zero was asked for.
    ZeroLength,
    /// The range is not inside the window the map (or the call) allows.
    OutOfWindow {
        /// The range's first address.
        start: usize,
        /// The range's end.
        end: usize,
    },
    /// `start + len` (or an alignment round-up) would pass `usize::MAX`.
    Overflow {
        /// The first address.
        start: usize,
        /// The length that does not fit after it.
        len: usize,
    },
    /// An address is not a multiple of the alignment the layer requires.
    Misaligned {
        /// The address.
        addr: usize,
        /// The required alignment.
        align: usize,
    },
    /// An alignment that is zero or not a power of two, or, where a layer
    /// works in pages, smaller than a page.
    BadAlignment {
        /// The alignment asked for.
        align: usize,
    },
    /// An empty window, `low >= high`.
    BadWindow {
        /// The window's low end.
        low: usize,
        /// The window's high end.
        high: usize,
    },
    /// The range overlaps an existing segment (no-replace insertion).
    Overlap {
        /// The requested range's first address.
        start: usize,
        /// The requested range's end.
        end: usize,
    },
    /// No free hole holds the request.
    NoSpace {
        /// The length asked for.
        len: usize,
    },
    /// `Segment::try_split` could not allocate a node. Splits done before it
    /// in the same call remain (they change no mapping); nothing else ran.
    SplitFailed {
        /// The address of the failed split.
        pos: usize,
    },
    /// The node handed to the map is already in a map.
    AlreadyLinked,
}

impl core::error::Error for MapError {}

/// The result of a map operation.
pub type MapResult<T> = Result<T, MapError>;

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MapError::EmptyRange { start, end } => {
                write!(f, "empty or reversed range {start:#x}..{end:#x}")
            }
            MapError::ZeroLength => f.write_str("zero length"),
            MapError::OutOfWindow { start, end } => {
                write!(
                    f,
                    "range {start:#x}..{end:#x} is outside the allowed window"
                )
            }
            MapError::Overflow { start, len } => {
                write!(f, "{start:#x} + {len:#x} overflows the address space")
            }
            MapError::Misaligned { addr, align } => {
                write!(f, "address {addr:#x} is not aligned to {align:#x}")
            }
            MapError::BadAlignment { align } => {
                write!(f, "alignment {align:#x} is not a usable power of two")
            }
            MapError::BadWindow { low, high } => write!(f, "empty window {low:#x}..{high:#x}"),
            MapError::Overlap { start, end } => {
                write!(f, "range {start:#x}..{end:#x} overlaps a mapped segment")
            }
            MapError::NoSpace { len } => write!(f, "no free hole of {len:#x} bytes"),
            MapError::SplitFailed { pos } => write!(f, "no memory to split a segment at {pos:#x}"),
            MapError::AlreadyLinked => f.write_str("the node is already in a map"),
        }
    }
}

/// An insertion refused with its node handed back, so that it is neither
/// lost nor dropped behind the caller's back.
pub struct InsertError<P> {
    /// Why the node was refused.
    pub error: MapError,
    /// The node, untouched.
    pub node: P,
}

impl<P> fmt::Debug for InsertError<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InsertError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<P> fmt::Display for InsertError<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<P> From<InsertError<P>> for MapError {
    fn from(e: InsertError<P>) -> MapError {
        e.error
    }
}

impl<P> core::error::Error for InsertError<P> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.error)
    }
}
