//! [`Linear`] and [`Device`]: pages mapped to a fixed physical range, owned by no one.

use alloc::boxed::Box;
use core::fmt;
use core::ops::Range;

use super::{same, MemoryAttr, MemoryHandler, PageContext};
use crate::memory_set::page_table::{FrameAllocator, PageTable, PagingError};

/// Page `va` maps the physical address `va - offset`: a kernel's linear map of its image and
/// of physical memory, with 2 MiB and 1 GiB pages wherever the page table has them and the
/// alignment allows. The frames belong to no one: they are never allocated, never freed, and
/// a fork maps the same ones.
///
/// # Examples
///
/// ```
/// use range_action_map::memory_set::Linear;
///
/// let kernel = Linear::new(0xffff_ffff_4000_0000);
/// assert_eq!(kernel.frame_of(0xffff_ffff_c020_0000), 0x8020_0000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Linear {
    offset: usize,
}

impl Linear {
    /// Maps page `va` to `va - offset` (the tutorial's `PHYSICAL_MEMORY_OFFSET`), modulo
    /// 2^64: an `offset` "below zero" maps low virtual addresses to high physical ones.
    pub const fn new(offset: usize) -> Self {
        Linear { offset }
    }

    /// The offset subtracted from a virtual address.
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// The physical address page `va` maps.
    pub const fn frame_of(&self, va: usize) -> usize {
        va.wrapping_sub(self.offset)
    }

    /// Maps every page of `range` with `attr`.
    fn map_range<PT: PageTable, FA: FrameAllocator>(
        &self,
        cx: &mut PageContext<PT, FA>,
        range: Range<usize>,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        cx.map_linear(range.clone(), self.frame_of(range.start), attr)
    }
}

impl<PT: PageTable, FA: FrameAllocator> MemoryHandler<PT, FA> for Linear {
    fn box_clone(&self) -> Box<dyn MemoryHandler<PT, FA>> {
        Box::new(*self)
    }

    fn map(
        &self,
        cx: &mut PageContext<PT, FA>,
        range: Range<usize>,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        self.map_range(cx, range, attr)
    }

    fn unmap(&self, cx: &mut PageContext<PT, FA>, range: Range<usize>) {
        cx.unmap_pages(range, false);
    }

    fn fork(
        &self,
        parent: &PT,
        child: &mut PageContext<PT, FA>,
        range: Range<usize>,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        child.map_pages_of(parent, range, attr, false)
    }

    fn can_merge(&self, next: &dyn MemoryHandler<PT, FA>) -> bool {
        same(self, next)
    }

    fn offset_of(&self, start: usize) -> usize {
        self.frame_of(start)
    }
}

impl fmt::Display for Linear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[linear]")
    }
}

/// Device memory (MMIO registers): page `va` maps the physical address `va - offset` as
/// [`Linear`] does, always with the [device](MemoryAttr::set_device) attribute (uncached,
/// strongly ordered), whatever permissions the area is given. Never allocated, never freed,
/// never copied: a fork maps the same registers.
///
/// # Examples
///
/// A UART's page at physical `0x1000_0000`, mapped at `0xffff_ffd0_0000_0000`:
///
/// ```
/// use range_action_map::memory_set::Device;
///
/// let uart = Device::at(0xffff_ffd0_0000_0000, 0x1000_0000);
/// assert_eq!(uart.frame_of(0xffff_ffd0_0000_0000), 0x1000_0000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Device {
    linear: Linear,
}

impl Device {
    /// Maps page `va` to `va - offset`, as [`Linear::new`].
    pub const fn new(offset: usize) -> Self {
        Device {
            linear: Linear::new(offset),
        }
    }

    /// Maps virtual address `va` to physical address `pa`, and the pages after it to the
    /// registers after it.
    pub const fn at(va: usize, pa: usize) -> Self {
        Self::new(va.wrapping_sub(pa))
    }

    /// The offset subtracted from a virtual address.
    pub const fn offset(&self) -> usize {
        self.linear.offset()
    }

    /// The physical address page `va` maps.
    pub const fn frame_of(&self, va: usize) -> usize {
        self.linear.frame_of(va)
    }
}

impl<PT: PageTable, FA: FrameAllocator> MemoryHandler<PT, FA> for Device {
    fn box_clone(&self) -> Box<dyn MemoryHandler<PT, FA>> {
        Box::new(*self)
    }

    fn map(
        &self,
        cx: &mut PageContext<PT, FA>,
        range: Range<usize>,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        self.linear.map_range(cx, range, attr.set_device())
    }

    fn unmap(&self, cx: &mut PageContext<PT, FA>, range: Range<usize>) {
        MemoryHandler::<PT, FA>::unmap(&self.linear, cx, range);
    }

    fn protect(&self, cx: &mut PageContext<PT, FA>, range: Range<usize>, attr: MemoryAttr) {
        cx.protect_pages(range, attr.set_device(), false);
    }

    fn fork(
        &self,
        parent: &PT,
        child: &mut PageContext<PT, FA>,
        range: Range<usize>,
        attr: MemoryAttr,
    ) -> Result<(), PagingError> {
        child.map_pages_of(parent, range, attr.set_device(), false)
    }

    fn can_merge(&self, next: &dyn MemoryHandler<PT, FA>) -> bool {
        same(self, next)
    }

    fn offset_of(&self, start: usize) -> usize {
        self.frame_of(start)
    }

    fn is_shared(&self) -> bool {
        true
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[device]")
    }
}
