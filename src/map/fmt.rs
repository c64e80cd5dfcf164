//! `Debug`, and a `/proc/<pid>/maps`-style `Display`.

use core::fmt;

use super::{RangeActionMap, RangeAdapter, SegmentOf};

/// A range printed as `start..end` in hex, for `Debug` output.
struct HexRange(usize, usize);

impl fmt::Debug for HexRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}..{:#x}", self.0, self.1)
    }
}

impl<A: RangeAdapter> fmt::Debug for RangeActionMap<A>
where
    SegmentOf<A>: fmt::Debug,
{
    /// The segments as a map from `start..end` to segment.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for segment in self {
            let range = self.range_of(segment);
            map.entry(&HexRange(range.start, range.end), segment);
        }
        map.finish()
    }
}

impl<A: RangeAdapter> fmt::Display for RangeActionMap<A>
where
    SegmentOf<A>: fmt::Display,
{
    /// One line per segment, as in `/proc/<pid>/maps`: `start-end` in hex
    /// (at least 8 digits), a space, then the segment's own `Display` (for
    /// a kernel area: permissions, offset, device, inode, name).
    ///
    /// ```
    /// # use range_action_map_testkit::doc::{area, AreaAdapter};
    /// # use range_action_map::RangeActionMap;
    /// let mut map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// map.mmap_fixed(0x400000, 0x401000, || area(5)).unwrap();
    /// assert_eq!(map.to_string(), "00400000-00401000 r-x\n");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for segment in self {
            let range = self.range_of(segment);
            writeln!(f, "{:08x}-{:08x} {}", range.start, range.end, segment)?;
        }
        Ok(())
    }
}
