//! Where Linux puts a non-fixed `mmap`: [`LinuxLayout`] and the rules it
//! follows (see the [module docs](crate::linux)).

#![forbid(unsafe_code)]

use crate::map::{OwnedOf, Placement, RangeActionMap, RangeAdapter, SegmentOf};
use crate::range::{check_align, checked_end};
use crate::{MapError, MapResult};

/// The page size of the layout, 4 KiB.
pub const PAGE_SIZE: usize = 0x1000;

/// The default end of user space: x86-64's `TASK_SIZE` with 4-level
/// paging, `(1 << 47) - PAGE_SIZE` = `0x7ffffffff000`.
///
/// On targets whose `usize` is narrower than 64 bits it is 3 GiB instead
/// (i386's `TASK_SIZE`), so that [`LinuxLayout::new`] is meaningful
/// everywhere.
pub const DEFAULT_TASK_SIZE: usize = if usize::BITS >= 64 {
    // Only evaluated on 64-bit targets, where it fits.
    0x7fff_ffff_f000_u64 as usize
} else {
    0xc000_0000
};

/// Linux's smallest gap between `mmap_base` and the top of user space,
/// 128 MiB (`arch/x86/mm/mmap.c`, `SIZE_128M`).
const MIN_STACK_GAP: usize = 128 << 20;

/// A segment kind the layout must keep a guard gap below: Linux's
/// `VM_GROWSDOWN` (stacks, `MAP_GROWSDOWN` mappings).
///
/// Implement it on your segment type to use
/// [`LinuxLayout::get_unmapped_area`]; with no such bit in the type, pass a
/// closure to [`LinuxLayout::get_unmapped_area_with`] instead.
///
/// # Implementing this trait
///
/// Answer from the segment's own state, and keep the answer stable while a
/// placement runs (it is asked several times). When the map splits a
/// segment, both pieces must keep the bit (Linux's pieces keep
/// `VM_GROWSDOWN`): copy it in [`Segment::split`](crate::Segment::split).
/// If you merge segments through
/// [`Segment::try_merge`](crate::Segment::try_merge), merge only segments
/// whose bits agree, or a stack's guard gap silently disappears.
///
/// # Examples
///
/// ```
/// use core::cell::Cell;
/// use range_action_map::linux::GrowsDown;
/// use range_action_map::RangeLink;
///
/// struct Vma {
///     link: RangeLink,
///     grows_down: Cell<bool>,
/// }
///
/// impl GrowsDown for Vma {
///     fn grows_down(&self) -> bool {
///         self.grows_down.get()
///     }
/// }
/// ```
pub trait GrowsDown {
    /// Whether the segment grows down, so that the layout keeps
    /// [`LinuxLayout::guard_gap`] bytes free below it.
    fn grows_down(&self) -> bool;
}

/// The stack size limit (`RLIMIT_STACK`) a process starts with; it decides
/// how much room Linux leaves for the stack below the top of user space, and
/// so where `mmap_base` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StackRlimit {
    /// A limit in bytes (8 MiB is the usual default, `ulimit -s 8192`).
    Bytes(usize),
    /// No limit (`RLIM_INFINITY`, `ulimit -s unlimited`).
    Unlimited,
}

impl StackRlimit {
    /// The usual default, 8 MiB.
    pub const DEFAULT: StackRlimit = StackRlimit::Bytes(8 << 20);

    /// The limit as `getrlimit` reports it, where `u64::MAX`
    /// (`RLIM_INFINITY`) means unlimited. A finite value that does not fit in
    /// `usize` is as good as unlimited: it is clamped the same way.
    pub const fn from_raw(rlim_cur: u64) -> StackRlimit {
        if rlim_cur == u64::MAX || rlim_cur > usize::MAX as u64 {
            StackRlimit::Unlimited
        } else {
            StackRlimit::Bytes(rlim_cur as usize)
        }
    }

    /// Whether a stack of `len` bytes is within the limit.
    pub const fn allows(self, len: usize) -> bool {
        match self {
            StackRlimit::Bytes(bytes) => len <= bytes,
            StackRlimit::Unlimited => true,
        }
    }
}

impl Default for StackRlimit {
    fn default() -> Self {
        StackRlimit::DEFAULT
    }
}

/// Linux's placement policy for non-fixed anonymous `mmap`, x86-64 default
/// (top-down) layout, no address randomisation.
///
/// The parameters are Linux's, with Linux's defaults:
///
/// | parameter | default | Linux |
/// | --- | --- | --- |
/// | [`task_size`](Self::task_size) | `0x7ffffffff000` | `TASK_SIZE` (47-bit, 4-level paging) |
/// | [`mmap_base`](Self::mmap_base) | `0x7ffff7fff000` (8 MiB stack) | `mm->mmap_base`, see [`compute_mmap_base`](Self::compute_mmap_base) |
/// | [`mmap_min_addr`](Self::mmap_min_addr) | `0x10000` | `mmap_min_addr` (see below) |
/// | [`guard_gap`](Self::guard_gap) | 256 pages = 1 MiB | `stack_guard_gap` |
/// | [`huge_page_size`](Self::huge_page_size) | 2 MiB | `HPAGE_PMD_SIZE` |
/// | [`unmapped_base`](Self::unmapped_base) | `0x2aaaaaaab000` | `mmap_legacy_base`, `PAGE_ALIGN(TASK_SIZE / 3)` |
///
/// **Why `mmap_min_addr` is 64 KiB, not the 4 KiB of
/// `/proc/sys/vm/mmap_min_addr`.** With `CONFIG_SECURITY=y` (every distro
/// kernel) the kernel's effective value is
/// `max(vm.mmap_min_addr, CONFIG_LSM_MMAP_MIN_ADDR)`, and
/// `CONFIG_LSM_MMAP_MIN_ADDR` is 65536 on common configurations; the sysctl
/// only shows the first term. The traces this policy was checked against
/// (Linux 6.18) show it: hints in `[0x1000, 0x10000)` come back as
/// `0x10000`, and no search goes below it. Use
/// [`with_mmap_min_addr`](Self::with_mmap_min_addr) for another kernel.
///
/// # Examples
///
/// ```
/// # use range_action_map_testkit::doc::{area, AreaAdapter};
/// use range_action_map::linux::LinuxLayout;
/// use range_action_map::RangeActionMap;
///
/// let layout = LinuxLayout::new();
/// let mut map = RangeActionMap::<AreaAdapter>::new(Vec::new());
/// // This segment type has no grows-down segments.
/// let flat = |_: &_| false;
///
/// // Top-down from mmap_base, length rounded up to a page.
/// let a = layout.get_unmapped_area_with(&map, 0, 100, flat).unwrap();
/// assert_eq!(a, 0x7fff_f7ff_e000);
/// map.mmap_fixed(a, a + 0x1000, || area(3)).unwrap();
///
/// // A free hint is taken as is.
/// let b = layout.get_unmapped_area_with(&map, 0x4000_0000, 0x2000, flat).unwrap();
/// assert_eq!(b, 0x4000_0000);
///
/// // A multiple of 2 MiB with no hint is 2 MiB-aligned.
/// let c = layout.get_unmapped_area_with(&map, 0, 4 << 20, flat).unwrap();
/// assert_eq!(c, 0x7fff_f7a0_0000);
/// ```
///
/// # Invariants
///
/// `huge_page_size` is 0 or a power of two of at least [`PAGE_SIZE`]
/// ([`with_huge_page_size`](Self::with_huge_page_size) refuses the rest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinuxLayout {
    task_size: usize,
    mmap_base: usize,
    mmap_min_addr: usize,
    guard_gap: usize,
    huge_page_size: usize,
    unmapped_base: usize,
    legacy: bool,
}

impl Default for LinuxLayout {
    fn default() -> Self {
        LinuxLayout::new()
    }
}

// === impl LinuxLayout: construction ===

impl LinuxLayout {
    /// Linux's default stack guard gap, 256 pages (`stack_guard_gap`).
    pub const DEFAULT_GUARD_GAP: usize = 256 * PAGE_SIZE;
    /// The x86-64 PMD huge-page size, 2 MiB.
    pub const DEFAULT_HUGE_PAGE_SIZE: usize = 2 << 20;
    /// The effective `mmap_min_addr` of a kernel with
    /// `CONFIG_LSM_MMAP_MIN_ADDR=65536` (see the [type docs](Self)).
    pub const DEFAULT_MMAP_MIN_ADDR: usize = 0x10000;

    /// The layout of an x86-64 process with an 8 MiB stack limit and no
    /// address randomisation: `mmap_base` = `0x7ffff7fff000`.
    ///
    /// # Examples
    ///
    /// ```
    /// use range_action_map::linux::LinuxLayout;
    ///
    /// let l = LinuxLayout::new();
    /// assert_eq!(l.task_size(), 0x7fff_ffff_f000);
    /// assert_eq!(l.mmap_base(), 0x7fff_f7ff_f000);
    /// assert_eq!(l.unmapped_base(), 0x2aaa_aaaa_b000);
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Self::from_stack_rlimit(StackRlimit::DEFAULT)
    }

    /// The x86-64 layout of a process started with stack limit `rlimit`:
    /// Linux leaves `rlimit + guard_gap` (at least 128 MiB, at most 5/6 of
    /// user space) for the stack below the top, and maps from there down.
    /// An unlimited stack keeps the top-down layout, with `mmap_base` at
    /// 1/6 of user space.
    ///
    /// # Examples
    ///
    /// ```
    /// use range_action_map::linux::{LinuxLayout, StackRlimit};
    ///
    /// let gib = LinuxLayout::from_stack_rlimit(StackRlimit::Bytes(1 << 30));
    /// assert_eq!(gib.mmap_base(), 0x7fff_bfef_f000);
    /// let unlimited = LinuxLayout::from_stack_rlimit(StackRlimit::Unlimited);
    /// assert_eq!(unlimited.mmap_base(), 0x1555_5555_6000);
    /// ```
    #[must_use]
    pub const fn from_stack_rlimit(rlimit: StackRlimit) -> Self {
        Self::for_task_size(DEFAULT_TASK_SIZE, rlimit)
    }

    /// The layout of a user space `[0, task_size)` (another paging mode or
    /// architecture) and stack limit `rlimit`, with `mmap_base` and
    /// `unmapped_base` derived from them as Linux derives them, and the
    /// other parameters at their defaults. `task_size` should be a multiple
    /// of [`PAGE_SIZE`].
    ///
    /// # Examples
    ///
    /// ```
    /// use range_action_map::linux::{LinuxLayout, StackRlimit};
    ///
    /// // A 39-bit (Sv39-style) user space.
    /// let l = LinuxLayout::for_task_size(1 << 38, StackRlimit::DEFAULT);
    /// assert_eq!(l.mmap_base(), (1 << 38) - (128 << 20));
    /// ```
    #[must_use]
    pub const fn for_task_size(task_size: usize, rlimit: StackRlimit) -> Self {
        LinuxLayout {
            task_size,
            mmap_base: Self::compute_mmap_base(task_size, rlimit, Self::DEFAULT_GUARD_GAP),
            mmap_min_addr: Self::DEFAULT_MMAP_MIN_ADDR,
            guard_gap: Self::DEFAULT_GUARD_GAP,
            huge_page_size: Self::DEFAULT_HUGE_PAGE_SIZE,
            unmapped_base: page_align_saturating(task_size / 3),
            legacy: false,
        }
    }

    /// Linux's `mmap_base()` (`arch/x86/mm/mmap.c`) without randomisation:
    /// `PAGE_ALIGN(task_size - clamp(rlimit + guard_gap, 128 MiB,
    /// task_size / 6 * 5))`, where a sum that overflows keeps `rlimit` alone.
    ///
    /// # Examples
    ///
    /// ```
    /// use range_action_map::linux::{LinuxLayout, StackRlimit, DEFAULT_TASK_SIZE};
    ///
    /// let base = LinuxLayout::compute_mmap_base(
    ///     DEFAULT_TASK_SIZE,
    ///     StackRlimit::Bytes(8 << 20),
    ///     LinuxLayout::DEFAULT_GUARD_GAP,
    /// );
    /// assert_eq!(base, 0x7fff_f7ff_f000);
    /// ```
    #[must_use]
    pub const fn compute_mmap_base(
        task_size: usize,
        rlimit: StackRlimit,
        guard_gap: usize,
    ) -> usize {
        let gap = match rlimit {
            StackRlimit::Bytes(bytes) => bytes,
            StackRlimit::Unlimited => usize::MAX,
        };
        // `if (gap + pad > gap) gap += pad;` with pad = stack_maxrandom_size()
        // (0 without randomisation) + stack_guard_gap.
        let gap = match gap.checked_add(guard_gap) {
            Some(padded) => padded,
            None => gap,
        };
        let gap_max = task_size / 6 * 5;
        let gap = if gap < MIN_STACK_GAP {
            MIN_STACK_GAP
        } else if gap > gap_max {
            gap_max
        } else {
            gap
        };
        page_align_saturating(task_size.saturating_sub(gap))
    }

    /// Sets `mmap_base`, the ceiling of the top-down search (`mm->mmap_base`;
    /// with randomisation, the randomised value).
    #[must_use]
    pub const fn with_mmap_base(mut self, mmap_base: usize) -> Self {
        self.mmap_base = mmap_base;
        self
    }

    /// Sets `task_size`, the end of user space. `mmap_base` and
    /// `unmapped_base` stay as they are; use
    /// [`for_task_size`](Self::for_task_size) to derive them.
    #[must_use]
    pub const fn with_task_size(mut self, task_size: usize) -> Self {
        self.task_size = task_size;
        self
    }

    /// Sets `mmap_min_addr`, the lowest address a search may return and the
    /// value a lower non-zero hint is raised to.
    #[must_use]
    pub const fn with_mmap_min_addr(mut self, mmap_min_addr: usize) -> Self {
        self.mmap_min_addr = mmap_min_addr;
        self
    }

    /// Sets the stack guard gap (`stack_guard_gap=` on the kernel command
    /// line). `mmap_base` is not recomputed.
    #[must_use]
    pub const fn with_guard_gap(mut self, guard_gap: usize) -> Self {
        self.guard_gap = guard_gap;
        self
    }

    /// Sets the huge-page size of the alignment rule, a power of two of at
    /// least [`PAGE_SIZE`]; 0 turns the rule off (a kernel without
    /// `CONFIG_TRANSPARENT_HUGEPAGE`).
    ///
    /// # Errors
    ///
    /// [`MapError::BadAlignment`] for a size that is not a power of two or
    /// is below a page: it would place mappings off page boundaries.
    ///
    /// # Examples
    ///
    /// ```
    /// use range_action_map::linux::LinuxLayout;
    /// use range_action_map::MapError;
    ///
    /// assert!(LinuxLayout::new().with_huge_page_size(1 << 30).is_ok());
    /// assert_eq!(
    ///     LinuxLayout::new().with_huge_page_size(0x800),
    ///     Err(MapError::BadAlignment { align: 0x800 })
    /// );
    /// ```
    pub const fn with_huge_page_size(mut self, huge_page_size: usize) -> MapResult<Self> {
        if huge_page_size != 0 && (!huge_page_size.is_power_of_two() || huge_page_size < PAGE_SIZE)
        {
            return Err(MapError::BadAlignment {
                align: huge_page_size,
            });
        }
        // INVARIANT: `huge_page_size` is 0 or a power of two >= PAGE_SIZE.
        self.huge_page_size = huge_page_size;
        Ok(self)
    }

    /// Sets the floor of the bottom-up fallback search (`mmap_legacy_base`).
    #[must_use]
    pub const fn with_unmapped_base(mut self, unmapped_base: usize) -> Self {
        self.unmapped_base = unmapped_base;
        self
    }

    /// Chooses the legacy bottom-up layout (`legacy`: the
    /// `ADDR_COMPAT_LAYOUT` personality or `vm.legacy_va_layout`) or the
    /// default top-down one. Bottom-up, a search takes the lowest hole from
    /// [`unmapped_base`](Self::unmapped_base) up to `task_size`
    /// (`arch_get_unmapped_area`), and the huge-page rule never moves an
    /// aligned start up (no `MMF_TOPDOWN`); `mmap_base` is unused.
    ///
    /// # Examples
    ///
    /// ```
    /// use range_action_map::linux::{LinuxMm, LinuxLayout, VmaAdapter, map, prot};
    ///
    /// let layout = LinuxLayout::new().with_legacy(true);
    /// let mut mm = LinuxMm::<VmaAdapter>::with_layout(layout, ());
    /// let anon = map::PRIVATE | map::ANONYMOUS;
    /// let a = mm.mmap(0, 0x1000, prot::READ, anon, None, 0).unwrap();
    /// assert_eq!(a, 0x2aaa_aaaa_b000);
    /// let b = mm.mmap(0, 0x1000, prot::READ, anon, None, 0).unwrap();
    /// assert_eq!(b, a + 0x1000);
    /// // 2 MiB: padded, then up to the next 2 MiB boundary.
    /// let c = mm.mmap(0, 2 << 20, prot::READ, anon, None, 0).unwrap();
    /// assert_eq!(c, 0x2aaa_aac0_0000);
    /// // From an aligned start it does not move up a whole huge page, as
    /// // the top-down layout does.
    /// let d = mm.mmap(0, 2 << 20, prot::READ, anon, None, 0).unwrap();
    /// assert_eq!(d, c + (2 << 20));
    /// ```
    #[must_use]
    pub const fn with_legacy(mut self, legacy: bool) -> Self {
        self.legacy = legacy;
        self
    }

    /// Whether searches are bottom-up ([`with_legacy`](Self::with_legacy)).
    #[must_use]
    pub const fn legacy(&self) -> bool {
        self.legacy
    }

    /// The end of user space, `TASK_SIZE`.
    #[must_use]
    pub const fn task_size(&self) -> usize {
        self.task_size
    }

    /// The ceiling of the top-down search.
    #[must_use]
    pub const fn mmap_base(&self) -> usize {
        self.mmap_base
    }

    /// The lowest address a search returns.
    #[must_use]
    pub const fn mmap_min_addr(&self) -> usize {
        self.mmap_min_addr
    }

    /// The room kept free below a grows-down segment.
    #[must_use]
    pub const fn guard_gap(&self) -> usize {
        self.guard_gap
    }

    /// The huge-page size of the alignment rule (0: no rule).
    #[must_use]
    pub const fn huge_page_size(&self) -> usize {
        self.huge_page_size
    }

    /// The floor of the bottom-up fallback search (`TASK_UNMAPPED_BASE`).
    #[must_use]
    pub const fn unmapped_base(&self) -> usize {
        self.unmapped_base
    }

    /// The length Linux maps for a request of `len` bytes: `len` rounded up
    /// to a whole page.
    ///
    /// # Errors
    ///
    /// [`MapError::ZeroLength`] for 0 (Linux: `-EINVAL`);
    /// [`MapError::Overflow`] when the rounding passes `usize::MAX` (Linux:
    /// `-ENOMEM`).
    ///
    /// # Examples
    ///
    /// ```
    /// use range_action_map::linux::LinuxLayout;
    /// use range_action_map::MapError;
    ///
    /// assert_eq!(LinuxLayout::mapping_len(1), Ok(0x1000));
    /// assert_eq!(LinuxLayout::mapping_len(0x2000), Ok(0x2000));
    /// assert_eq!(LinuxLayout::mapping_len(0), Err(MapError::ZeroLength));
    /// assert!(matches!(LinuxLayout::mapping_len(usize::MAX), Err(MapError::Overflow { .. })));
    /// ```
    pub const fn mapping_len(len: usize) -> MapResult<usize> {
        if len == 0 {
            return Err(MapError::ZeroLength);
        }
        match len.checked_add(PAGE_SIZE - 1) {
            Some(padded) => Ok(padded & !(PAGE_SIZE - 1)),
            None => Err(MapError::Overflow { start: 0, len }),
        }
    }
}

// === impl LinuxLayout: placement ===

impl LinuxLayout {
    /// Where Linux puts a non-fixed anonymous `mmap(hint, len)` in `map`
    /// (`get_unmapped_area`), for segment types that know whether they grow
    /// down. The mapping is `[start, start + mapping_len(len))`: `len` is
    /// rounded up to a page. Nothing is mapped; see [`mmap`](Self::mmap).
    ///
    /// See [`get_unmapped_area_with`](Self::get_unmapped_area_with) for the
    /// rules, errors and cost.
    ///
    /// # Examples
    ///
    /// ```
    /// # use core::cell::Cell;
    /// # use intrusive_collections::intrusive_adapter;
    /// # use range_action_map::{RangeActionMap, RangeLink, Segment};
    /// use range_action_map::linux::{GrowsDown, LinuxLayout};
    ///
    /// struct Vma {
    ///     link: RangeLink,
    ///     grows_down: bool,
    /// }
    /// intrusive_adapter!(VmaAdapter = Box<Vma>: Vma { link: RangeLink });
    /// # impl Segment for Vma {
    /// #     type Args = ();
    /// #     type Flags = ();
    /// #     type Pointer = Box<Vma>;
    /// #     fn remove(&self, _: &mut ()) {}
    /// #     fn shrink(&self, _: usize, _: usize, _: &mut ()) {}
    /// #     fn split(&self, _: usize, _: &mut ()) -> Box<Vma> {
    /// #         Box::new(Vma { link: RangeLink::new(), grows_down: self.grows_down })
    /// #     }
    /// #     fn modify(&self, _: (), _: &mut ()) {}
    /// # }
    /// impl GrowsDown for Vma {
    ///     fn grows_down(&self) -> bool {
    ///         self.grows_down
    ///     }
    /// }
    /// let vma = |grows_down| Box::new(Vma { link: RangeLink::new(), grows_down });
    ///
    /// let layout = LinuxLayout::new();
    /// let mut map = RangeActionMap::<VmaAdapter>::new(());
    /// // A grows-down segment right below mmap_base.
    /// let stack = layout.mmap_base() - 0x10000;
    /// map.mmap_fixed(stack, layout.mmap_base(), || vma(true)).unwrap();
    /// // The next mapping keeps the 1 MiB guard gap below it.
    /// let at = layout.get_unmapped_area(&map, 0, 0x1000).unwrap();
    /// assert_eq!(at, stack - (1 << 20) - 0x1000);
    /// ```
    ///
    /// # Errors
    ///
    /// As [`get_unmapped_area_with`](Self::get_unmapped_area_with).
    pub fn get_unmapped_area<A>(
        &self,
        map: &RangeActionMap<A>,
        hint: usize,
        len: usize,
    ) -> MapResult<usize>
    where
        A: RangeAdapter,
        SegmentOf<A>: GrowsDown,
    {
        self.get_unmapped_area_aligned(map, hint, len, PAGE_SIZE)
    }

    /// Where Linux puts a non-fixed anonymous `mmap(hint, len)` in `map`;
    /// `grows_down` says which segments are `VM_GROWSDOWN` (stacks). The
    /// mapping is `[start, start + mapping_len(len))`. Nothing is mapped.
    ///
    /// The rules, in order (details in the [module docs](crate::linux)):
    ///
    /// - `len` is rounded up to a page; the hint is rounded down to a page,
    ///   and a non-zero hint below `mmap_min_addr` is raised to it. A hint
    ///   below [`PAGE_SIZE`] is thus no hint.
    /// - No hint and a length that is a multiple of the huge-page size: the
    ///   placement is huge-page aligned (searched with one huge page of
    ///   padding; if even that finds nothing, searched again unpadded and
    ///   unaligned).
    /// - A hint whose range lies below `task_size`, is free and keeps clear
    ///   of the guard gap of the next segment (if it grows down) is taken.
    /// - Otherwise: the highest fitting hole in `[mmap_min_addr, mmap_base)`,
    ///   at its top, keeping the guard gap below a grows-down segment right
    ///   above; failing that, the lowest fitting hole in
    ///   `[unmapped_base, task_size)`, at its bottom.
    ///
    /// Placements are also kept inside the map's
    /// [`window`](RangeActionMap::window).
    ///
    /// # Returns
    ///
    /// The start of the placement, page aligned unless a parameter is not.
    ///
    /// # Errors
    ///
    /// - [`MapError::ZeroLength`]: `len == 0` (Linux: `-EINVAL`).
    /// - [`MapError::Overflow`]: rounding `len` up to a page overflows
    ///   (Linux: `-ENOMEM`).
    /// - [`MapError::NoSpace`]: `len` exceeds `task_size`, or no hole in
    ///   either direction holds it (Linux: `-ENOMEM`). The `len` it carries
    ///   is the page-rounded length.
    /// - [`MapError::BadAlignment`]: the huge-page size is neither 0 nor a
    ///   power of two.
    ///
    /// # Cost
    ///
    /// *O*((g + 1) log n) for g grows-down segments (one *O*(log n) search
    /// per guard-gap restart, at most one restart per grows-down segment),
    /// times at most two for the huge-page rule. No allocation.
    ///
    /// # Examples
    ///
    /// ```
    /// # use range_action_map_testkit::doc::{area, AreaAdapter};
    /// use range_action_map::linux::LinuxLayout;
    /// use range_action_map::{MapError, RangeActionMap};
    ///
    /// let layout = LinuxLayout::new();
    /// let mut map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// map.mmap_fixed(0x4000_0000, 0x4000_2000, || area(3)).unwrap();
    /// // Whatever knows the segments' kind can answer: a flag in the
    /// // segment, a side table, or (here) nothing grows down.
    /// let stack = |_: &_| false;
    ///
    /// // An occupied hint is ignored: top-down search instead.
    /// let at = layout.get_unmapped_area_with(&map, 0x4000_1000, 0x1000, stack);
    /// assert_eq!(at, Ok(layout.mmap_base() - 0x1000));
    /// // The hint right below the segment fits exactly.
    /// let at = layout.get_unmapped_area_with(&map, 0x3fff_f000, 0x1000, stack);
    /// assert_eq!(at, Ok(0x3fff_f000));
    /// // Too big for user space.
    /// let at = layout.get_unmapped_area_with(&map, 0, 1 << 47, stack);
    /// assert_eq!(at, Err(MapError::NoSpace { len: 1 << 47 }));
    /// ```
    pub fn get_unmapped_area_with<A, G>(
        &self,
        map: &RangeActionMap<A>,
        hint: usize,
        len: usize,
        grows_down: G,
    ) -> MapResult<usize>
    where
        A: RangeAdapter,
        G: Fn(&SegmentOf<A>) -> bool,
    {
        let len = Self::mapping_len(len)?;
        self.in_map(map, &grows_down, PAGE_SIZE)
            .get_unmapped_area(hint, len, ThpRule::Anonymous)
    }

    /// Where Linux puts a non-fixed `mmap(hint, len)` of the given kind:
    /// as [`get_unmapped_area_with`](Self::get_unmapped_area_with), with the
    /// transparent-huge-page rule `thp` in place of the anonymous one.
    ///
    /// - [`ThpRule::Anonymous`]: private anonymous memory (no hint and a
    ///   multiple of the huge-page size: huge-page aligned).
    /// - [`ThpRule::None`]: shared anonymous memory, tmpfs and memfd files
    ///   (`shmem_get_unmapped_area` with `shmem_enabled=never`): never
    ///   aligned.
    /// - [`ThpRule::File`]: a file whose file system uses
    ///   `thp_get_unmapped_area` (ext4, xfs): whenever `[offset, offset +
    ///   len)` holds a whole huge-page-aligned block of the file, the
    ///   mapping starts at an address congruent to `offset` modulo the
    ///   huge-page size, found by searching for `len` plus one huge page
    ///   (hint included: a hint with room for `len` but not for the padding
    ///   is refused); if the padded search fails, the plain search is run.
    ///
    /// # Errors
    ///
    /// As [`get_unmapped_area_with`](Self::get_unmapped_area_with).
    ///
    /// # Examples
    ///
    /// ```
    /// use range_action_map::linux::{LinuxLayout, ThpRule};
    /// # use range_action_map_testkit::doc::AreaAdapter;
    /// use range_action_map::RangeActionMap;
    ///
    /// let layout = LinuxLayout::new();
    /// let map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// let no_stack = |_: &_| false;
    /// // 4 MiB of a file from its second page: one page past a 2 MiB boundary.
    /// let rule = ThpRule::File { offset: 0x1000 };
    /// let at = layout.get_unmapped_area_for(&map, 0, 4 << 20, rule, no_stack);
    /// assert_eq!(at, Ok(0x7fff_f7a0_1000));
    /// // Shared anonymous memory is placed plainly, right below mmap_base.
    /// let at = layout.get_unmapped_area_for(&map, 0, 4 << 20, ThpRule::None, no_stack);
    /// assert_eq!(at, Ok(layout.mmap_base() - (4 << 20)));
    /// ```
    ///
    /// # Cost
    ///
    /// As [`get_unmapped_area_with`](Self::get_unmapped_area_with).
    pub fn get_unmapped_area_for<A, G>(
        &self,
        map: &RangeActionMap<A>,
        hint: usize,
        len: usize,
        thp: ThpRule,
        grows_down: G,
    ) -> MapResult<usize>
    where
        A: RangeAdapter,
        G: Fn(&SegmentOf<A>) -> bool,
    {
        let len = Self::mapping_len(len)?;
        self.in_map(map, &grows_down, PAGE_SIZE)
            .get_unmapped_area(hint, len, thp)
    }

    /// Where Linux puts a non-fixed `mmap(hint, len)` with `MAP_32BIT`
    /// (x86-64): the hint if `[hint, hint + len)` is free and ends at or
    /// below 2 GiB, otherwise the lowest hole of `[1 GiB, 2 GiB)` that holds
    /// it (`arch_get_unmapped_area` with `find_start_end`'s window). No
    /// huge-page rule.
    ///
    /// # Errors
    ///
    /// As [`get_unmapped_area_with`](Self::get_unmapped_area_with);
    /// [`MapError::NoSpace`] when the window has no room.
    ///
    /// # Examples
    ///
    /// ```
    /// use range_action_map::linux::LinuxLayout;
    /// # use range_action_map_testkit::doc::AreaAdapter;
    /// use range_action_map::RangeActionMap;
    ///
    /// let layout = LinuxLayout::new();
    /// let map = RangeActionMap::<AreaAdapter>::new(Vec::new());
    /// let at = layout.get_unmapped_area_32bit(&map, 0, 0x4000, |_: &_| false);
    /// assert_eq!(at, Ok(0x4000_0000));
    /// ```
    ///
    /// # Cost
    ///
    /// As [`get_unmapped_area_with`](Self::get_unmapped_area_with).
    pub fn get_unmapped_area_32bit<A, G>(
        &self,
        map: &RangeActionMap<A>,
        hint: usize,
        len: usize,
        grows_down: G,
    ) -> MapResult<usize>
    where
        A: RangeAdapter,
        G: Fn(&SegmentOf<A>) -> bool,
    {
        const BEGIN: usize = 0x4000_0000;
        const END: usize = 0x8000_0000;
        let len = Self::mapping_len(len)?;
        if len > END {
            return Err(MapError::NoSpace { len });
        }
        let search = self.in_map(map, &grows_down, PAGE_SIZE);
        let mut hint = hint & !(PAGE_SIZE - 1);
        if hint != 0 && hint < self.mmap_min_addr {
            hint = page_align_saturating(self.mmap_min_addr);
        }
        if hint != 0 && END - len >= hint && search.hint_fits(hint, len) {
            return Ok(hint);
        }
        search.search_bottomup(len, BEGIN, END)
    }

    /// Where Linux puts a non-fixed `len`-byte mapping whose start must be a
    /// multiple of `align`: as [`get_unmapped_area`](Self::get_unmapped_area),
    /// with the alignment of a hugetlbfs mapping (`vm_unmapped_area_info`'s
    /// `align_mask`). With `align <= PAGE_SIZE` it *is*
    /// `get_unmapped_area`.
    ///
    /// For a larger `align`, Linux's `hugetlb_get_unmapped_area` and
    /// `unmapped_area[_topdown]` rules hold:
    ///
    /// - the hint (after rule 1 of the [module docs](crate::linux)) is rounded up to
    ///   `align`, then taken if it fits, as any hint;
    /// - the huge-page rule is off (the alignment is asked for, not a bonus);
    /// - each search wants a hole of `len + align - PAGE_SIZE` bytes and takes
    ///   the highest (top-down) or lowest (bottom-up) aligned start in it;
    ///   the guard-gap checks look at the whole padded request, as Linux's do.
    ///
    /// # Returns
    ///
    /// The start of the placement, a multiple of `align` (given page-aligned
    /// layout parameters and window).
    ///
    /// # Errors
    ///
    /// As [`get_unmapped_area_with`](Self::get_unmapped_area_with), and
    /// [`MapError::BadAlignment`] when `align` is not a power of two.
    /// [`MapError::NoSpace`] carries the page-rounded, unpadded length.
    ///
    /// # Examples
    ///
    /// ```
    /// # use intrusive_collections::intrusive_adapter;
    /// # use range_action_map::{RangeActionMap, RangeLink, Segment};
    /// use range_action_map::linux::{GrowsDown, LinuxLayout};
    ///
    /// # struct Vma { link: RangeLink, grows_down: bool }
    /// # intrusive_adapter!(VmaAdapter = Box<Vma>: Vma { link: RangeLink });
    /// # impl Segment for Vma {
    /// #     type Args = ();
    /// #     type Flags = ();
    /// #     type Pointer = Box<Vma>;
    /// #     fn remove(&self, _: &mut ()) {}
    /// #     fn shrink(&self, _: usize, _: usize, _: &mut ()) {}
    /// #     fn split(&self, _: usize, _: &mut ()) -> Box<Vma> {
    /// #         Box::new(Vma { link: RangeLink::new(), grows_down: self.grows_down })
    /// #     }
    /// #     fn modify(&self, _: (), _: &mut ()) {}
    /// # }
    /// # impl GrowsDown for Vma { fn grows_down(&self) -> bool { self.grows_down } }
    /// let layout = LinuxLayout::new();
    /// let map = RangeActionMap::<VmaAdapter>::new(());
    /// let mib = 1 << 20;
    /// // The highest 1 MiB-aligned start below mmap_base (0x7fff_f7ff_f000).
    /// let at = layout.get_unmapped_area_aligned(&map, 0, 0x3000, mib);
    /// assert_eq!(at, Ok(0x7fff_f7f0_0000));
    /// // A hint is rounded up to the alignment.
    /// let at = layout.get_unmapped_area_aligned(&map, 0x4000_1000, 0x3000, mib);
    /// assert_eq!(at, Ok(0x4010_0000));
    /// ```
    pub fn get_unmapped_area_aligned<A>(
        &self,
        map: &RangeActionMap<A>,
        hint: usize,
        len: usize,
        align: usize,
    ) -> MapResult<usize>
    where
        A: RangeAdapter,
        SegmentOf<A>: GrowsDown,
    {
        check_align(align)?;
        let len = Self::mapping_len(len)?;
        self.in_map(map, &SegmentOf::<A>::grows_down, align.max(PAGE_SIZE))
            .get_unmapped_area(hint, len, ThpRule::Anonymous)
    }

    /// Maps a non-fixed anonymous `mmap(hint, len)` where Linux would put it
    /// and returns its start: [`get_unmapped_area`](Self::get_unmapped_area)
    /// then [`RangeActionMap::mmap_fixed_noreplace`] over
    /// `[start, start + mapping_len(len))`, which is free. `f(start)` builds
    /// the node (set its grows-down bit for `MAP_GROWSDOWN`) and is called
    /// only once a placement is found.
    ///
    /// # Examples
    ///
    /// ```
    /// # use core::cell::Cell;
    /// # use intrusive_collections::intrusive_adapter;
    /// # use range_action_map::{RangeActionMap, RangeLink, Segment};
    /// use range_action_map::linux::{GrowsDown, LinuxLayout};
    ///
    /// # struct Vma { link: RangeLink, grows_down: bool }
    /// # intrusive_adapter!(VmaAdapter = Box<Vma>: Vma { link: RangeLink });
    /// # impl Segment for Vma {
    /// #     type Args = ();
    /// #     type Flags = ();
    /// #     type Pointer = Box<Vma>;
    /// #     fn remove(&self, _: &mut ()) {}
    /// #     fn shrink(&self, _: usize, _: usize, _: &mut ()) {}
    /// #     fn split(&self, _: usize, _: &mut ()) -> Box<Vma> {
    /// #         Box::new(Vma { link: RangeLink::new(), grows_down: self.grows_down })
    /// #     }
    /// #     fn modify(&self, _: (), _: &mut ()) {}
    /// # }
    /// # impl GrowsDown for Vma { fn grows_down(&self) -> bool { self.grows_down } }
    /// let layout = LinuxLayout::new();
    /// let mut map = RangeActionMap::<VmaAdapter>::new(());
    /// let vma = |_| Box::new(Vma { link: RangeLink::new(), grows_down: false });
    /// let a = layout.mmap(&mut map, 0, 10, vma).unwrap();
    /// let b = layout.mmap(&mut map, 0, 10, vma).unwrap();
    /// assert_eq!((a, b), (0x7fff_f7ff_e000, 0x7fff_f7ff_d000));
    /// assert_eq!(map.find(a).map(|v| v.link.range()), Some(a..a + 0x1000));
    /// ```
    ///
    /// # Errors
    ///
    /// As [`get_unmapped_area_with`](Self::get_unmapped_area_with), and
    /// [`MapError::AlreadyLinked`] if `f` returns a node that is in a map
    /// (the node is dropped; the map is unchanged).
    ///
    /// # Panics
    ///
    /// Only if `f` panics; the map is then unchanged.
    pub fn mmap<A>(
        &self,
        map: &mut RangeActionMap<A>,
        hint: usize,
        len: usize,
        f: impl FnOnce(usize) -> OwnedOf<A>,
    ) -> MapResult<usize>
    where
        A: RangeAdapter,
        SegmentOf<A>: GrowsDown,
    {
        let len = Self::mapping_len(len)?;
        let start = self
            .in_map(map, &SegmentOf::<A>::grows_down, PAGE_SIZE)
            .get_unmapped_area(hint, len, ThpRule::Anonymous)?;
        // The placement is free and lies below `task_size` (no overflow):
        // `MAP_FIXED_NOREPLACE` says so, and would refuse rather than unmap
        // anything if it were not.
        map.mmap_fixed_noreplace(start, start + len, f(start))?;
        Ok(start)
    }

    /// One placement in `map`, where `grows_down` tells stacks apart, at a
    /// multiple of `align` (a power of two, at least [`PAGE_SIZE`]).
    fn in_map<'a, A, G>(
        &'a self,
        map: &'a RangeActionMap<A>,
        grows_down: &'a G,
        align: usize,
    ) -> Search<'a, A, G>
    where
        A: RangeAdapter,
    {
        Search {
            layout: self,
            map,
            grows_down,
            align_mask: align - PAGE_SIZE,
        }
    }
}

/// One placement in progress: the layout, the map, the grows-down test and
/// the alignment.
struct Search<'a, A: RangeAdapter, G> {
    layout: &'a LinuxLayout,
    map: &'a RangeActionMap<A>,
    grows_down: &'a G,
    /// Linux's `align_mask`: the address bits between the page size and the
    /// alignment, 0 for a page-aligned request.
    align_mask: usize,
}

impl<A, G> Search<'_, A, G>
where
    A: RangeAdapter,
    G: Fn(&SegmentOf<A>) -> bool,
{
    /// The first segment that ends above `addr` (Linux's `find_vma()`), as
    /// its `vm_start_gap()`: where a range below it must end at the latest
    /// (`guard_gap` bytes below its start if it grows down), whether it grows
    /// down, and its end.
    fn next_segment(&self, addr: usize) -> Option<Next> {
        let cursor = self.map.lower_bound(addr);
        let (segment, range) = (cursor.get()?, cursor.range()?);
        let grows_down = (self.grows_down)(segment);
        let start_gap = if grows_down {
            range.start.saturating_sub(self.layout.guard_gap)
        } else {
            range.start
        };
        Some(Next {
            start_gap,
            grows_down,
            end: range.end,
        })
    }

    /// `do_mmap()` from `round_hint_to_min()` on, for a page-rounded `len`:
    /// `__get_unmapped_area()`, then the check of its result.
    fn get_unmapped_area(&self, hint: usize, len: usize, thp: ThpRule) -> MapResult<usize> {
        let layout = self.layout;
        let mut hint = hint & !(PAGE_SIZE - 1);
        if hint != 0 && hint < layout.mmap_min_addr {
            hint = page_align_saturating(layout.mmap_min_addr);
        }
        // hugetlbfs's `ALIGN(addr, size)`; one that wraps to 0 is no hint.
        let hint = hint
            .checked_next_multiple_of(self.align_mask + PAGE_SIZE)
            .unwrap_or(0);
        if len > layout.task_size {
            return Err(MapError::NoSpace { len });
        }
        // The huge-page rule looks at the hint as passed, not at whether it
        // would be taken.
        let huge = layout.huge_page_size;
        let start = match thp {
            _ if self.align_mask != 0 || huge == 0 => self.topdown(hint, len)?,
            ThpRule::Anonymous if hint == 0 && len % huge == 0 => self.thp_area(len)?,
            ThpRule::File { offset } => self.file_thp_area(hint, len, offset)?,
            _ => self.topdown(hint, len)?,
        };
        // `if (addr > TASK_SIZE - len) return -ENOMEM`.
        if start > layout.task_size - len {
            return Err(MapError::NoSpace { len });
        }
        Ok(start)
    }

    /// `thp_get_unmapped_area_vmflags()` for an anonymous mapping, `len` a
    /// multiple of the huge-page size: search for one huge page more, then
    /// move up to the boundary; without room for the padding, search again
    /// plainly.
    fn thp_area(&self, len: usize) -> MapResult<usize> {
        let huge = self.layout.huge_page_size;
        // `if (len_pad < len) return 0;`: an overflowing pad is a failed one,
        // and so is no space, the only error `topdown` returns.
        let Some(start) = len
            .checked_add(huge)
            .and_then(|padded| self.topdown(0, padded).ok())
        else {
            return self.topdown(0, len);
        };
        // `off_sub = (off - ret) & (size - 1)`, off = 0. Top-down
        // (MMF_TOPDOWN) with an already aligned start moves up a whole huge
        // page, to the top of the padded hole. Either way the result plus
        // `len` stays inside the padded range, so nothing overflows.
        let off_sub = start.wrapping_neg() & (huge - 1);
        Ok(if off_sub == 0 && !self.layout.legacy {
            start + huge
        } else {
            start + off_sub
        })
    }

    /// `__thp_get_unmapped_area()` for a file mapping at byte `offset` of
    /// its file, plus `thp_get_unmapped_area_vmflags()`'s unpadded retry.
    fn file_thp_area(&self, hint: usize, len: usize, offset: u64) -> MapResult<usize> {
        let huge = self.layout.huge_page_size as u64;
        // Eligible iff `[offset, offset + len)` holds a whole aligned block:
        // `off_end - off_align >= size` (and `off_end > off_align`).
        let eligible = offset
            .checked_next_multiple_of(huge)
            .zip(offset.checked_add(len as u64))
            .is_some_and(|(off_align, off_end)| off_end > off_align && off_end - off_align >= huge);
        if !eligible {
            return self.topdown(hint, len);
        }
        // The whole search (hint included) for one huge page more; a failed
        // or overflowing padded search falls back to the plain one.
        let Some(start) = len
            .checked_add(huge as usize)
            .and_then(|padded| self.topdown(hint, padded).ok())
        else {
            return self.topdown(hint, len);
        };
        if start == hint {
            return Ok(start);
        }
        // `off_sub = (off - ret) & (size - 1)`; top-down, an already
        // congruent start moves up a whole huge page. Either way the
        // mapping stays inside the padded range.
        let off_sub = (offset.wrapping_sub(start as u64) & (huge - 1)) as usize;
        Ok(if off_sub == 0 && !self.layout.legacy {
            start + huge as usize
        } else {
            start + off_sub
        })
    }

    /// `arch_get_unmapped_area_topdown()` for a page-aligned `hint`: the
    /// hint if it fits, else the top-down search, else the bottom-up
    /// fallback; with the legacy layout, `arch_get_unmapped_area()`: the
    /// hint if it fits, else the bottom-up search.
    fn topdown(&self, hint: usize, len: usize) -> MapResult<usize> {
        let layout = self.layout;
        // Already checked for `len` itself; the padded huge-page request may
        // not fit, and then searching is pointless.
        if len > layout.task_size {
            return Err(MapError::NoSpace { len });
        }
        if hint != 0 && self.hint_fits(hint, len) {
            return Ok(hint);
        }
        // arch_get_unmapped_area() of the legacy layout: bottom-up only.
        if layout.legacy {
            return self.search_bottomup(len, layout.unmapped_base, layout.task_size);
        }
        match self.search_topdown(len, PAGE_SIZE, layout.mmap_base) {
            Err(MapError::NoSpace { .. }) => {}
            found => return found,
        }
        // arch_get_unmapped_area(), the bottom-up fallback, re-checks the
        // hint with the same test that just refused it, so it goes straight
        // to the search, over [mmap_legacy_base, TASK_SIZE).
        self.search_bottomup(len, layout.unmapped_base, layout.task_size)
    }

    /// Whether Linux takes the page-aligned `hint` for `len` bytes:
    /// `mmap_address_hint_valid()` (the range ends at or below `task_size`;
    /// the 47-bit boundary rule is a no-op with 4-level paging), then
    /// `find_vma()`: the range must end at or below the next segment's
    /// `vm_start_gap()`. The segment below is not looked at (no `VM_GROWSUP`
    /// on x86). The range must also lie in the map's window.
    fn hint_fits(&self, hint: usize, len: usize) -> bool {
        checked_end(hint, len).is_ok_and(|end| {
            end <= self.layout.task_size
                && self.map.window().check(hint, end).is_ok()
                && self
                    .next_segment(hint)
                    .is_none_or(|next| end <= next.start_gap)
        })
    }

    /// `unmapped_area_topdown()`: the highest aligned start in the highest
    /// hole whose part in `[low, high)` holds `len` bytes and the alignment's
    /// worst case.
    fn search_topdown(&self, len: usize, low: usize, mut high: usize) -> MapResult<usize> {
        let low = low.max(self.layout.mmap_min_addr);
        let padded = self.padded(len)?;
        loop {
            // Loop invariant: every hole above `high` was rejected, each time
            // because the grows-down segment above it reserves its guard gap,
            // and `high` strictly decreased at each restart.
            let found = self.search(len, low, high, Placement::new(padded).top_down())?;
            // The padded request ends at the top of the hole cut to `high`.
            let gap_end = found + padded;
            // Only the segment directly above the chosen hole is checked;
            // if its guard gap reaches into the hole, every hole up to it is
            // out too: restart below the guard gap.
            match self.next_segment(gap_end) {
                Some(next) if next.grows_down && next.start_gap < gap_end => high = next.start_gap,
                _ => {
                    // `gap -= (gap - align_offset) & align_mask`, offset 0.
                    let start = gap_end - len;
                    return Ok(start - (start & self.align_mask));
                }
            }
        }
    }

    /// `unmapped_area()`: the lowest aligned start in the lowest hole whose
    /// part in `[low, high)` holds `len` bytes and the alignment's worst case.
    fn search_bottomup(&self, len: usize, low: usize, high: usize) -> MapResult<usize> {
        let mut low = low.max(self.layout.mmap_min_addr);
        let padded = self.padded(len)?;
        loop {
            // Loop invariant: every hole below `low` was rejected, each time
            // because the grows-down segment above it reserves its guard gap,
            // and `low` strictly increased at each restart.
            let found = self.search(len, low, high, Placement::new(padded))?;
            // `gap += (align_offset - gap) & align_mask`, offset 0: at most
            // `align_mask` up, inside the padded request.
            let start = found + (found.wrapping_neg() & self.align_mask);
            // Linux compares with the padded request's last byte from the
            // aligned start, `gap + length - 1`.
            let last = start.saturating_add(padded - 1);
            match self.next_segment(found) {
                Some(next) if next.grows_down && next.start_gap < last => low = next.end,
                _ => return Ok(start),
            }
        }
    }

    /// `len` plus the alignment's worst case, `align_mask` (Linux: `-ENOMEM`
    /// if that overflows).
    fn padded(&self, len: usize) -> MapResult<usize> {
        len.checked_add(self.align_mask)
            .ok_or(MapError::NoSpace { len })
    }

    /// One *O*(log n) free-area search for a `len`-byte request (padded in
    /// `placement`) in `[low, high)`, cut to the whole pages of the map's
    /// window; an empty window is no space.
    fn search(
        &self,
        len: usize,
        low: usize,
        high: usize,
        placement: Placement,
    ) -> MapResult<usize> {
        let Ok(pages) = self.map.window().align_inward(PAGE_SIZE) else {
            return Err(MapError::NoSpace { len });
        };
        let placement = placement.window(low.max(pages.low()), high.min(pages.high()));
        match self.map.find_free_area(&placement) {
            Err(MapError::BadWindow { .. } | MapError::NoSpace { .. }) => {
                Err(MapError::NoSpace { len })
            }
            found => found,
        }
    }
}

/// Which transparent-huge-page alignment rule a placement follows
/// (`thp_get_unmapped_area` and its callers), for
/// [`LinuxLayout::get_unmapped_area_for`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThpRule {
    /// Private anonymous memory: with no hint, a length that is a multiple
    /// of the huge-page size is huge-page aligned.
    Anonymous,
    /// No alignment: shared anonymous memory, tmpfs and memfd files with
    /// `shmem_enabled=never`, and files whose file system has no rule.
    None,
    /// A file mapping of a file system that uses `thp_get_unmapped_area`
    /// (ext4, xfs), starting at byte `offset` of the file.
    File {
        /// The mapping's byte offset in its file (a multiple of the page).
        offset: u64,
    },
}

/// The segment above a hole, as a search sees it.
struct Next {
    /// `vm_start_gap()`: its start, less the guard gap if it grows down.
    start_gap: usize,
    /// Whether it grows down.
    grows_down: bool,
    /// Its end.
    end: usize,
}

/// `x` rounded up to a page, or the highest page boundary if that overflows.
const fn page_align_saturating(x: usize) -> usize {
    match x.checked_add(PAGE_SIZE - 1) {
        Some(x) => x & !(PAGE_SIZE - 1),
        None => usize::MAX & !(PAGE_SIZE - 1),
    }
}
