//! The one place that validates addresses: range shape, window, overflow and
//! alignment.

use crate::{MapError, MapResult};

/// The addresses a map accepts, `[low, high)`. The default is the seed's
/// `[0x1000, usize::MAX)`: page 0 stays unmapped, as Linux's
/// `mmap_min_addr` keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    low: usize,
    high: usize,
}

impl Window {
    /// The default window, `[0x1000, usize::MAX)`.
    pub const DEFAULT: Window = Window {
        low: 0x1000,
        high: usize::MAX,
    };

    /// The window `[low, high)`.
    ///
    /// # Errors
    ///
    /// [`MapError::BadWindow`] when `low >= high`.
    pub const fn new(low: usize, high: usize) -> MapResult<Window> {
        if low < high {
            Ok(Window { low, high })
        } else {
            Err(MapError::BadWindow { low, high })
        }
    }

    /// The lowest allowed address.
    #[must_use]
    pub const fn low(&self) -> usize {
        self.low
    }

    /// One past the highest allowed address.
    #[must_use]
    pub const fn high(&self) -> usize {
        self.high
    }

    /// Checks that `[start, end)` is a non-empty range inside the window.
    ///
    /// # Errors
    ///
    /// [`MapError::EmptyRange`] or [`MapError::OutOfWindow`].
    pub const fn check(&self, start: usize, end: usize) -> MapResult<()> {
        if start >= end {
            Err(MapError::EmptyRange { start, end })
        } else if start < self.low || end > self.high {
            Err(MapError::OutOfWindow { start, end })
        } else {
            Ok(())
        }
    }

    /// The part of `[low, high)` inside this window.
    ///
    /// # Errors
    ///
    /// [`MapError::BadWindow`] when nothing is left.
    pub fn intersect(&self, low: usize, high: usize) -> MapResult<Window> {
        Window::new(low.max(self.low), high.min(self.high))
    }

    /// The window rounded inward to multiples of `align`, a power of two:
    /// the largest window of whole `align`-sized blocks inside this one.
    ///
    /// # Examples
    ///
    /// ```
    /// use range_action_map::Window;
    ///
    /// let w = Window::new(0x1800, 0x9800).unwrap();
    /// assert_eq!(w.align_inward(0x1000), Window::new(0x2000, 0x9000));
    /// ```
    ///
    /// # Errors
    ///
    /// [`MapError::BadAlignment`]; [`MapError::BadWindow`] when no whole
    /// block fits.
    pub const fn align_inward(&self, align: usize) -> MapResult<Window> {
        if !align.is_power_of_two() {
            return Err(MapError::BadAlignment { align });
        }
        let high = self.high & !(align - 1);
        match self.low.checked_next_multiple_of(align) {
            Some(low) => Window::new(low, high),
            None => Err(MapError::BadWindow {
                low: self.low,
                high,
            }),
        }
    }
}

impl Default for Window {
    fn default() -> Self {
        Window::DEFAULT
    }
}

/// `start + len`, refusing zero lengths and overflow.
///
/// # Errors
///
/// [`MapError::ZeroLength`] or [`MapError::Overflow`].
pub const fn checked_end(start: usize, len: usize) -> MapResult<usize> {
    if len == 0 {
        return Err(MapError::ZeroLength);
    }
    match start.checked_add(len) {
        Some(end) => Ok(end),
        None => Err(MapError::Overflow { start, len }),
    }
}

/// Checks that `align` is a power of two.
///
/// # Errors
///
/// [`MapError::BadAlignment`].
pub const fn check_align(align: usize) -> MapResult<()> {
    if align.is_power_of_two() {
        Ok(())
    } else {
        Err(MapError::BadAlignment { align })
    }
}

/// Checks that `addr` is a multiple of `align`, a power of two.
///
/// # Errors
///
/// [`MapError::BadAlignment`] or [`MapError::Misaligned`].
pub const fn check_aligned(addr: usize, align: usize) -> MapResult<()> {
    if !align.is_power_of_two() {
        Err(MapError::BadAlignment { align })
    } else if addr & (align - 1) == 0 {
        Ok(())
    } else {
        Err(MapError::Misaligned { addr, align })
    }
}
