//! [`LinuxMm`]: `mmap`, `munmap` and `mprotect` with Linux's arguments,
//! checks, placement, VMA flags, merges and results.

#![forbid(unsafe_code)]

use core::fmt;

use super::errno::Errno;
use super::layout::{LinuxLayout, ThpRule, PAGE_SIZE};
use super::vma::{Backing, LinuxSegment, VmFlags, VmaAttrs, VmaChange};
use crate::map::{ArgsOf, RangeActionMap, RangeAdapter, SegmentOf};
use crate::range::Window;

/// `PROT_*` bits (x86-64 values).
pub mod prot {
    /// `PROT_NONE`.
    pub const NONE: u32 = 0;
    /// `PROT_READ`.
    pub const READ: u32 = 0x1;
    /// `PROT_WRITE`.
    pub const WRITE: u32 = 0x2;
    /// `PROT_EXEC`.
    pub const EXEC: u32 = 0x4;
    /// `PROT_SEM`: accepted and ignored.
    pub const SEM: u32 = 0x8;
    /// `PROT_GROWSDOWN` (`mprotect` only: extend down to the VMA's start).
    pub const GROWSDOWN: u32 = 0x0100_0000;
    /// `PROT_GROWSUP` (refused on x86-64).
    pub const GROWSUP: u32 = 0x0200_0000;
}

/// `MAP_*` flags of `mmap` (x86-64 values).
pub mod map {
    /// `MAP_SHARED`.
    pub const SHARED: u32 = 0x1;
    /// `MAP_PRIVATE`.
    pub const PRIVATE: u32 = 0x2;
    /// `MAP_SHARED_VALIDATE`: shared, and unknown flags are an error.
    pub const SHARED_VALIDATE: u32 = 0x3;
    /// `MAP_DROPPABLE`.
    pub const DROPPABLE: u32 = 0x8;
    /// `MAP_TYPE`: the bits that hold the mapping type.
    pub const TYPE: u32 = 0xf;
    /// `MAP_FIXED`.
    pub const FIXED: u32 = 0x10;
    /// `MAP_ANONYMOUS`.
    pub const ANONYMOUS: u32 = 0x20;
    /// `MAP_32BIT`: below 2 GiB (x86-64).
    pub const BIT32: u32 = 0x40;
    /// `MAP_GROWSDOWN`.
    pub const GROWSDOWN: u32 = 0x100;
    /// `MAP_DENYWRITE` (ignored).
    pub const DENYWRITE: u32 = 0x800;
    /// `MAP_EXECUTABLE` (ignored).
    pub const EXECUTABLE: u32 = 0x1000;
    /// `MAP_LOCKED`.
    pub const LOCKED: u32 = 0x2000;
    /// `MAP_NORESERVE`.
    pub const NORESERVE: u32 = 0x4000;
    /// `MAP_POPULATE`.
    pub const POPULATE: u32 = 0x8000;
    /// `MAP_NONBLOCK`.
    pub const NONBLOCK: u32 = 0x1_0000;
    /// `MAP_STACK`.
    pub const STACK: u32 = 0x2_0000;
    /// `MAP_HUGETLB`.
    pub const HUGETLB: u32 = 0x4_0000;
    /// `MAP_SYNC`.
    pub const SYNC: u32 = 0x8_0000;
    /// `MAP_FIXED_NOREPLACE`.
    pub const FIXED_NOREPLACE: u32 = 0x10_0000;
    /// `MAP_UNINITIALIZED`.
    pub const UNINITIALIZED: u32 = 0x400_0000;
    /// `LEGACY_MAP_MASK`: the flags `MAP_SHARED_VALIDATE` accepts on any
    /// file.
    pub const LEGACY_MASK: u32 = SHARED
        | PRIVATE
        | FIXED
        | ANONYMOUS
        | DENYWRITE
        | EXECUTABLE
        | UNINITIALIZED
        | GROWSDOWN
        | LOCKED
        | NORESERVE
        | POPULATE
        | NONBLOCK
        | STACK
        | HUGETLB;
}

/// `MREMAP_*` flags of `mremap`.
pub mod mremap {
    /// `MREMAP_MAYMOVE`: the mapping may move if it cannot grow in place.
    pub const MAYMOVE: u32 = 0x1;
    /// `MREMAP_FIXED`: move to `new_addr`, replacing what is there.
    pub const FIXED: u32 = 0x2;
    /// `MREMAP_DONTUNMAP`: move the pages and keep the old VMA.
    pub const DONTUNMAP: u32 = 0x4;
}

/// `MADV_*` advice of `madvise` (x86-64 values).
pub mod madv {
    /// `MADV_NORMAL`.
    pub const NORMAL: u32 = 0;
    /// `MADV_RANDOM`.
    pub const RANDOM: u32 = 1;
    /// `MADV_SEQUENTIAL`.
    pub const SEQUENTIAL: u32 = 2;
    /// `MADV_DONTNEED`.
    pub const DONTNEED: u32 = 4;
    /// `MADV_DONTFORK`.
    pub const DONTFORK: u32 = 10;
    /// `MADV_DOFORK`.
    pub const DOFORK: u32 = 11;
    /// `MADV_HUGEPAGE`.
    pub const HUGEPAGE: u32 = 14;
    /// `MADV_NOHUGEPAGE`.
    pub const NOHUGEPAGE: u32 = 15;
    /// `MADV_WIPEONFORK`.
    pub const WIPEONFORK: u32 = 18;
    /// `MADV_KEEPONFORK`.
    pub const KEEPONFORK: u32 = 19;
}

/// What kind of file a mapping is of: it decides the placement rule and
/// whether the file can be mapped at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A regular file of a file system that aligns mappings to huge pages
    /// relative to the file offset (`thp_get_unmapped_area`: ext4, xfs).
    Thp,
    /// A shmem file (tmpfs, memfd) with `shmem_enabled=never`, or any file
    /// system with no placement rule of its own: placed plainly.
    Shmem,
    /// `/dev/zero`: private, anonymous memory named after it; shared, a
    /// shmem object of its own (as `MAP_SHARED | MAP_ANONYMOUS`).
    DevZero,
    /// A file without an `mmap` operation (a directory, a pipe): `ENODEV`.
    NoMmap,
}

/// The open file an `mmap` maps: what the kernel's file table knows of the
/// descriptor that `mmap`'s `fd` names.
///
/// # Examples
///
/// ```
/// use range_action_map::linux::{FileKind, MmapFile};
///
/// // An ext4 file opened O_RDONLY, known to the caller as open file 7.
/// let file = MmapFile::new(7, FileKind::Thp, true, false);
/// assert!(file.readable() && !file.writable());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MmapFile {
    id: u64,
    kind: FileKind,
    readable: bool,
    writable: bool,
    write_sealed: bool,
}

impl MmapFile {
    /// The open file description `id` (its identity: mappings of two
    /// `open`s of one path never merge), of `kind`, opened for reading
    /// and/or writing.
    #[must_use]
    pub const fn new(id: u64, kind: FileKind, readable: bool, writable: bool) -> MmapFile {
        MmapFile {
            id,
            kind,
            readable,
            writable,
            write_sealed: false,
        }
    }

    /// The same file with a memfd write seal (`F_SEAL_WRITE` or
    /// `F_SEAL_FUTURE_WRITE`) or without: a shared mapping of it may not be
    /// writable (`EPERM`) and never becomes so (no `VM_MAYWRITE`).
    #[must_use]
    pub const fn with_write_seal(mut self, sealed: bool) -> MmapFile {
        self.write_sealed = sealed;
        self
    }

    /// Whether the file has a write seal.
    #[must_use]
    pub const fn write_sealed(&self) -> bool {
        self.write_sealed
    }

    /// The identity of the open file description.
    #[must_use]
    pub const fn id(&self) -> u64 {
        self.id
    }

    /// The kind of file.
    #[must_use]
    pub const fn kind(&self) -> FileKind {
        self.kind
    }

    /// Whether it was opened for reading.
    #[must_use]
    pub const fn readable(&self) -> bool {
        self.readable
    }

    /// Whether it was opened for writing.
    #[must_use]
    pub const fn writable(&self) -> bool {
        self.writable
    }
}

/// `PAGE_ALIGN(len)`, or `None` when it wraps.
const fn page_align(len: usize) -> Option<usize> {
    match len.checked_add(PAGE_SIZE - 1) {
        Some(x) => Some(x & !(PAGE_SIZE - 1)),
        None => None,
    }
}

/// `is_data_mapping`: writable, not shared, not a stack.
const fn is_data_mapping(flags: VmFlags) -> bool {
    flags.contains(VmFlags::WRITE) && !flags.intersects(VmFlags::SHARED.union(VmFlags::GROWSDOWN))
}

/// A process's address space under Linux's memory system calls: a
/// [`RangeActionMap`] of VMAs and the [`LinuxLayout`] that places them.
///
/// Each method takes the system call's own arguments and returns what
/// Linux 6.18 (x86-64, no address randomisation) returns: `Ok` with the
/// address or `0`, or `Err` with the errno. Nothing allocates inside; new
/// VMA nodes come from [`LinuxSegment::new_vma`].
///
/// # Examples
///
/// ```
/// use range_action_map::linux::{map, prot, FileKind, LinuxMm, MmapFile, VmaAdapter};
///
/// let mut mm = LinuxMm::<VmaAdapter>::new();
/// // 4 MiB of an ext4 file from offset 0: aligned to 2 MiB.
/// let file = MmapFile::new(3, FileKind::Thp, true, true);
/// let at = mm.mmap(0, 4 << 20, prot::READ, map::PRIVATE, Some(&file), 0).unwrap();
/// assert_eq!(at % (2 << 20), 0);
/// // Unmapping its middle leaves two VMAs with their file offsets.
/// mm.munmap(at + 0x1000, 0x1000).unwrap();
/// assert_eq!(
///     mm.to_string(),
///     format!(
///         "{at:08x}-{:08x} r--p 00000000 00:00 3\n{:08x}-{:08x} r--p 00002000 00:00 3\n",
///         at + 0x1000,
///         at + 0x2000,
///         at + (4 << 20),
///     )
/// );
/// ```
pub struct LinuxMm<A: RangeAdapter> {
    map: RangeActionMap<A>,
    layout: LinuxLayout,
    /// The next shmem object identity (shared anonymous memory).
    next_object: u64,
    /// The next `anon_vma` identity.
    next_anon_vma: u64,
    /// `mm->start_brk`: where the heap starts.
    start_brk: usize,
    /// `mm->brk`: the program break, as the program last set it.
    brk: usize,
    /// `mm->start_stack`: where the initial stack is (0: none).
    start_stack: usize,
    /// RAM + swap in bytes, for the heuristic overcommit check; `None`:
    /// no limit.
    commit_limit: Option<usize>,
    /// `RLIMIT_AS`'s soft limit in bytes; `None`: unlimited.
    rlimit_as: Option<usize>,
    /// `RLIMIT_DATA`'s soft limit in bytes; `None`: unlimited.
    rlimit_data: Option<usize>,
    /// `end_data - start_data`, which `brk` counts against `RLIMIT_DATA`.
    data_segment: usize,
    /// `RLIMIT_MEMLOCK`'s soft limit in bytes; `None`: unlimited.
    rlimit_memlock: Option<usize>,
    /// Whether the process has `CAP_SYS_RAWIO` and `CAP_IPC_LOCK` (root).
    privileged: bool,
    /// `vm.max_map_count`.
    max_map_count: usize,
}

/// A resource limit the personality enforces
/// ([`LinuxMm::set_rlimit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rlimit {
    /// `RLIMIT_AS`: the total size of the VMAs.
    As,
    /// `RLIMIT_DATA`: the private writable VMAs (stacks excluded), plus the
    /// data segment for `brk`.
    Data,
    /// `RLIMIT_MEMLOCK`: the `VM_LOCKED` VMAs, for a process without
    /// `CAP_IPC_LOCK` ([`LinuxMm::set_privileged`]); 8 MiB at first.
    Memlock,
}

impl<A> LinuxMm<A>
where
    A: RangeAdapter + Default,
    SegmentOf<A>: LinuxSegment,
    ArgsOf<A>: Default,
{
    /// An empty address space with the default layout
    /// ([`LinuxLayout::new`]: 8 MiB stack limit, 47-bit user space).
    #[must_use]
    pub fn new() -> Self {
        Self::with_layout(LinuxLayout::new(), ArgsOf::<A>::default())
    }
}

impl<A> Default for LinuxMm<A>
where
    A: RangeAdapter + Default,
    SegmentOf<A>: LinuxSegment,
    ArgsOf<A>: Default,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<A> LinuxMm<A>
where
    A: RangeAdapter + Default,
    SegmentOf<A>: LinuxSegment,
{
    /// Linux's default `vm.max_map_count`, 65530.
    pub const DEFAULT_MAX_MAP_COUNT: usize = 65530;

    /// An empty address space placed by `layout`, whose map hands `args` to
    /// the segment callbacks. The map's window is `[0, task_size)`.
    #[must_use]
    pub fn with_layout(layout: LinuxLayout, args: ArgsOf<A>) -> Self {
        let window = Window::new(0, layout.task_size()).unwrap_or_default();
        LinuxMm {
            map: RangeActionMap::with_window(window, args),
            layout,
            next_object: 1,
            next_anon_vma: 1,
            start_brk: 0,
            brk: 0,
            start_stack: 0,
            commit_limit: None,
            rlimit_as: None,
            rlimit_data: None,
            data_segment: 0,
            rlimit_memlock: Some(8 << 20),
            privileged: true,
            max_map_count: Self::DEFAULT_MAX_MAP_COUNT,
        }
    }
}

impl<A> LinuxMm<A>
where
    A: RangeAdapter,
    SegmentOf<A>: LinuxSegment,
{
    /// The VMAs.
    #[must_use]
    pub fn map(&self) -> &RangeActionMap<A> {
        &self.map
    }

    /// The layout that places non-fixed mappings.
    #[must_use]
    pub fn layout(&self) -> &LinuxLayout {
        &self.layout
    }

    /// Adds a VMA `[start, end)` with `attrs` as it is, for address spaces
    /// that start with VMAs (the layout at `execve`, a replay's first
    /// snapshot). It does not merge with its neighbours (later calls may
    /// merge it by Linux's rule).
    ///
    /// # Errors
    ///
    /// `EINVAL` for an empty, misaligned or out-of-window range, `EEXIST`
    /// if it overlaps a VMA.
    pub fn insert(&mut self, start: usize, end: usize, attrs: VmaAttrs) -> Result<(), Errno> {
        if start % PAGE_SIZE != 0 || end % PAGE_SIZE != 0 {
            return Err(Errno::EINVAL);
        }
        self.map
            .window()
            .check(start, end)
            .map_err(|_| Errno::EINVAL)?;
        if self.map.overlapping(start, end).next().is_some() {
            return Err(Errno::EEXIST);
        }
        self.insert_unmerged(start, end, attrs)
            .map_err(|_| Errno::EEXIST)
    }

    /// Inserts a VMA into the free, valid range `[start, end)` without
    /// merging it.
    fn insert_unmerged(&mut self, start: usize, end: usize, attrs: VmaAttrs) -> Result<(), Errno> {
        let node = SegmentOf::<A>::new_vma(attrs.unmergeable(true), self.map.args_mut());
        let vma = self
            .map
            .mmap_fixed_noreplace(start, end, node)
            .map_err(|_| Errno::ENOMEM)?;
        vma.set_attrs(attrs.unmergeable(false));
        Ok(())
    }

    /// Sets the memory the heuristic overcommit check
    /// (`vm.overcommit_memory` = 0, `__vm_enough_memory`) compares each
    /// charge with: RAM plus swap, in bytes. A `VM_ACCOUNT` mapping, growth
    /// or `mprotect` that charges more than this on its own is refused with
    /// `ENOMEM` (`brk`: refused). Without it, nothing is refused for lack of
    /// memory.
    pub fn set_commit_limit(&mut self, bytes: usize) {
        self.commit_limit = Some(bytes);
    }

    /// Sets the soft limit of `resource` in bytes (`None`:
    /// `RLIM_INFINITY`), as `setrlimit` does.
    ///
    /// With a limit set, the calls that add VMAs check it as Linux's
    /// `may_expand_vm` does (`mmap` and `mremap`: `ENOMEM`, `brk`:
    /// refused), at a cost of *O*(n) per such call to count the VMAs.
    pub fn set_rlimit(&mut self, resource: Rlimit, bytes: Option<usize>) {
        match resource {
            Rlimit::As => self.rlimit_as = bytes,
            Rlimit::Data => self.rlimit_data = bytes,
            Rlimit::Memlock => self.rlimit_memlock = bytes,
        }
    }

    /// Whether the process is privileged (root: `CAP_SYS_RAWIO`, which may
    /// map below `dac_mmap_min_addr` = 4096, and `CAP_IPC_LOCK`, which
    /// ignores `RLIMIT_MEMLOCK`). A new address space is.
    pub fn set_privileged(&mut self, privileged: bool) {
        self.privileged = privileged;
    }

    /// Sets `vm.max_map_count`, the number of VMAs beyond which Linux
    /// refuses new ones: `mmap` and a `brk` needing a new VMA fail when
    /// there are more than this many; a split (`munmap` inside a VMA,
    /// `mprotect`, `madvise`, `mlock` of part of one) when there are this
    /// many; an `mremap` move when there are this many less 3 (less 5 with
    /// `MREMAP_FIXED`). [`DEFAULT_MAX_MAP_COUNT`](Self::DEFAULT_MAX_MAP_COUNT)
    /// at first.
    pub fn set_max_map_count(&mut self, max_map_count: usize) {
        self.max_map_count = max_map_count;
    }

    /// `Err(ENOMEM)` unless `splits` more VMAs from splitting fit under
    /// `vm.max_map_count` (each split needs fewer than that many VMAs).
    /// The personality checks before any change, so a refused two-split
    /// change leaves no split behind (Linux may keep the first).
    fn split_room(&self, splits: usize) -> Result<(), Errno> {
        if splits > 0 && self.map.len() + splits > self.max_map_count {
            Err(Errno::ENOMEM)
        } else {
            Ok(())
        }
    }

    /// How many VMAs applying `change` to `[start, end)` splits: at each
    /// bound that falls inside a VMA whose flags it changes.
    fn splits_needed(&self, start: usize, end: usize, change: VmaChange) -> usize {
        let splits_at = |addr: usize| {
            self.map.find(addr).is_some_and(|v| {
                let r = self.map.range_of(v);
                r.start < addr && v.attrs().changed(change).flags() != v.attrs().flags()
            })
        };
        usize::from(start < end && splits_at(start)) + usize::from(start < end && splits_at(end))
    }

    /// The bytes of `[start, end)` in `VM_LOCKED` VMAs.
    fn locked_bytes(&self, start: usize, end: usize) -> usize {
        self.map
            .overlapping(start, end)
            .filter(|v| v.attrs().flags().contains(VmFlags::LOCKED))
            .map(|v| {
                let r = self.map.range_of(v);
                r.end.min(end) - r.start.max(start)
            })
            .sum()
    }

    /// `fork()`: the child's address space, a copy of this one without the
    /// `MADV_DONTFORK` (`VM_DONTCOPY`) VMAs, VMA for VMA (no merging, the
    /// pieces around a missing VMA stay split), with the break, the limits
    /// and the layout. `MADV_WIPEONFORK` VMAs start without anonymous
    /// pages (no `anon_vma`); the others keep an `anon_vma` that now has a
    /// parent, so they no longer merge with VMAs that have none. `args` is
    /// the child map's callback value.
    ///
    /// # Examples
    ///
    /// ```
    /// use range_action_map::linux::{madv, map, prot, LinuxMm, VmaAdapter};
    ///
    /// let mut mm = LinuxMm::<VmaAdapter>::new();
    /// let a = mm.mmap(0, 0x3000, prot::READ, map::PRIVATE | map::ANONYMOUS, None, 0).unwrap();
    /// mm.madvise(a + 0x1000, 0x1000, madv::DONTFORK).unwrap();
    /// let child = mm.fork(());
    /// assert_eq!(child.map().len(), 2);
    /// assert!(child.map().find(a + 0x1000).is_none());
    /// ```
    ///
    /// # Cost
    ///
    /// *O*(n log n); one new node per VMA copied.
    #[must_use]
    pub fn fork(&self, args: ArgsOf<A>) -> Self
    where
        A: Default,
    {
        let mut child = LinuxMm {
            map: RangeActionMap::with_window(self.map.window(), args),
            ..*self
        };
        for vma in self.map.iter() {
            let attrs = vma.attrs();
            if attrs.flags().contains(VmFlags::DONTCOPY) {
                continue;
            }
            // The child's anon_vma is chained to the parent's.
            let attrs = if attrs.flags().contains(VmFlags::WIPEONFORK) {
                attrs.with_anon_vma(None)
            } else {
                attrs
            }
            .forked();
            let range = self.map.range_of(vma);
            // The ranges are this map's: free, valid and page aligned in
            // the child's, so nothing can refuse them.
            let _ = child.insert_unmerged(range.start, range.end, attrs);
        }
        child
    }

    /// Sets the size of the data segment (`end_data - start_data`), which
    /// `brk` counts against `RLIMIT_DATA` with the heap
    /// (`check_data_rlimit`).
    pub fn set_data_segment(&mut self, len: usize) {
        self.data_segment = len;
    }

    /// `may_expand_vm`: whether `pages` more pages of a VMA with `flags`
    /// stay within `RLIMIT_AS` and, for a data mapping (writable, not
    /// shared, not a stack), `RLIMIT_DATA`.
    fn may_expand_vm(&self, flags: VmFlags, pages: usize) -> bool {
        let count = |data: bool| {
            self.map
                .iter()
                .filter(|v| !data || is_data_mapping(v.attrs().flags()))
                .map(|v| self.map.range_of(v).len() / PAGE_SIZE)
                .sum::<usize>()
        };
        let within = |limit: Option<usize>, data: bool| {
            limit.is_none_or(|limit| count(data) + pages <= limit / PAGE_SIZE)
        };
        within(self.rlimit_as, false) && (!is_data_mapping(flags) || within(self.rlimit_data, true))
    }

    /// The pages of `[start, end)` that are mapped.
    fn mapped_pages(&self, start: usize, end: usize) -> usize {
        self.map
            .overlapping(start, end)
            .map(|v| {
                let r = self.map.range_of(v);
                (r.end.min(end) - r.start.max(start)) / PAGE_SIZE
            })
            .sum()
    }

    /// Whether a charge of `bytes` passes the heuristic overcommit check.
    fn enough_memory(&self, bytes: usize) -> bool {
        self.commit_limit.is_none_or(|limit| bytes <= limit)
    }

    /// Sets where the heap starts, as `execve` does (`mm->start_brk`, the
    /// page-aligned end of the data segment), and the break to it. There is
    /// no heap VMA until [`brk`](Self::brk) grows it.
    pub fn set_start_brk(&mut self, start_brk: usize) {
        self.start_brk = start_brk;
        self.brk = start_brk;
    }

    /// `mm->start_brk`.
    #[must_use]
    pub fn start_brk(&self) -> usize {
        self.start_brk
    }

    /// Sets `mm->start_stack`, the address of the initial stack (set by
    /// `execve`): the VMA that holds it is `[stack]`.
    pub fn set_start_stack(&mut self, start_stack: usize) {
        self.start_stack = start_stack;
    }

    /// The name `/proc/self/maps` gives the VMA that starts at `start`:
    /// `[heap]` for an anonymous VMA that overlaps `[start_brk, brk)`
    /// (`vma_is_initial_heap`), `[stack]` for the VMA that holds the
    /// initial stack (`vma_is_initial_stack`), else none (a file's path
    /// is the caller's to print).
    ///
    /// # Examples
    ///
    /// ```
    /// use range_action_map::linux::{LinuxMm, VmaAdapter};
    ///
    /// let mut mm = LinuxMm::<VmaAdapter>::new();
    /// mm.set_start_brk(0x5555_5600_0000);
    /// mm.brk(0x5555_5602_0000);
    /// assert_eq!(mm.name(0x5555_5600_0000), Some("[heap]"));
    /// assert_eq!(
    ///     mm.to_string(),
    ///     "555556000000-555556020000 rw-p 00000000 00:00 0 [heap]\n"
    /// );
    /// ```
    #[must_use]
    pub fn name(&self, start: usize) -> Option<&'static str> {
        let vma = self.map.find(start)?;
        let range = self.map.range_of(vma);
        if range.start != start {
            return None;
        }
        let anonymous = vma.attrs().backing() == Backing::Anonymous;
        if anonymous && range.start < self.brk && range.end > self.start_brk {
            Some("[heap]")
        } else if self.start_stack != 0
            && range.start <= self.start_stack
            && self.start_stack <= range.end
        {
            Some("[stack]")
        } else {
            None
        }
    }

    /// `brk(brk)`: moves the program break and returns the new one, or the
    /// current one when it refuses (Linux's `brk` returns no errno;
    /// `brk(0)` asks for the current break).
    ///
    /// Linux's rules: below `start_brk` is refused; a break in the same
    /// page as the old one is kept as given; shrinking unmaps `[new, old)`
    /// (rounded to pages; refused if nothing is mapped there); growing
    /// needs one free page plus the guard gap of a grows-down VMA above
    /// `[old, new)`, and either extends the VMA that ends at the old break
    /// (if it starts at or above `start_brk` and can merge with the
    /// heap's `rw-p` attributes) or makes a new `rw-p` VMA that merges with
    /// nothing.
    ///
    /// Refused too: any break whose heap plus data segment exceeds
    /// `RLIMIT_DATA` (shrinking included), and a growth beyond `RLIMIT_AS`
    /// or `RLIMIT_DATA` ([`set_rlimit`](Self::set_rlimit)) or failing the
    /// commit charge ([`set_commit_limit`](Self::set_commit_limit)), and a
    /// new heap VMA beyond `vm.max_map_count`
    /// ([`set_max_map_count`](Self::set_max_map_count)).
    ///
    /// # Examples
    ///
    /// ```
    /// use range_action_map::linux::{LinuxMm, VmaAdapter};
    ///
    /// let mut mm = LinuxMm::<VmaAdapter>::new();
    /// mm.set_start_brk(0x5555_5597_6000);
    /// assert_eq!(mm.brk(0), 0x5555_5597_6000);
    /// assert_eq!(mm.brk(0x5555_5597_6001), 0x5555_5597_6001);
    /// assert_eq!(mm.map().len(), 1);
    /// assert_eq!(mm.brk(0x5555_5500_0000), 0x5555_5597_6001); // below the start
    /// ```
    ///
    /// # Cost
    ///
    /// *O*(log n + k) for k VMAs unmapped by a shrink.
    pub fn brk(&mut self, brk: usize) -> usize {
        let old_brk = self.brk;
        if brk < self.start_brk {
            return old_brk;
        }
        // check_data_rlimit(), shrinking too.
        if self
            .rlimit_data
            .is_some_and(|limit| (brk - self.start_brk).saturating_add(self.data_segment) > limit)
        {
            return old_brk;
        }
        let (Some(new), Some(old)) = (page_align(brk), page_align(old_brk)) else {
            return old_brk;
        };
        if new == old {
            self.brk = brk;
            return brk;
        }
        let done = if brk <= old_brk {
            self.brk_shrink(new, old)
        } else {
            self.brk_grow(old, new)
        };
        if done {
            self.brk = brk;
            brk
        } else {
            old_brk
        }
    }

    /// `brk`'s shrink from page `old` down to page `new`.
    fn brk_shrink(&mut self, new: usize, old: usize) -> bool {
        // Refused when no VMA intersects the range (it is not the heap).
        if self.map.overlapping(new, old).next().is_none() {
            return false;
        }
        self.map.unmap(new, old).is_ok()
    }

    /// `brk`'s growth from page `old` up to page `new` (`do_brk_flags`).
    fn brk_grow(&mut self, old: usize, new: usize) -> bool {
        // check_brk_limits(): the heap must stay below task_size.
        if new > self.layout.task_size() {
            return false;
        }
        // One free page above the new break, and a stack's guard gap.
        if let Some(next) = self.map.overlapping(old, usize::MAX).next() {
            let range = self.map.range_of(next);
            let start_gap = if next.attrs().flags().contains(VmFlags::GROWSDOWN) {
                range.start.saturating_sub(self.layout.guard_gap())
            } else {
                range.start
            };
            if new.saturating_add(PAGE_SIZE) > start_gap {
                return false;
            }
        }
        let heap = VmFlags::READ
            | VmFlags::WRITE
            | VmFlags::MAYREAD
            | VmFlags::MAYWRITE
            | VmFlags::MAYEXEC
            | VmFlags::ACCOUNT;
        if !self.may_expand_vm(heap, (new - old) / PAGE_SIZE) || !self.enough_memory(new - old) {
            return false;
        }
        let attrs = VmaAttrs::new(heap, Backing::Anonymous, (old / PAGE_SIZE) as u64);
        // The VMA ending at the old break is the heap's if it starts at or
        // above start_brk: extended when it can merge, else a new VMA.
        let extend = old
            .checked_sub(1)
            .and_then(|last| self.map.find(last))
            .is_some_and(|prev| {
                let range = self.map.range_of(prev);
                range.end == old
                    && range.start >= self.start_brk
                    && prev.attrs().can_merge(range.len(), &attrs)
            });
        if !extend && self.map.len() > self.max_map_count {
            return false;
        }
        if extend {
            let node = SegmentOf::<A>::new_vma(attrs, self.map.args_mut());
            self.map.mmap_fixed(old, new, || node).is_ok()
        } else {
            self.insert_unmerged(old, new, attrs).is_ok()
        }
    }

    /// `mremap(addr, old_len, new_len, flags, new_addr)`: shrinks, grows in
    /// place, or moves a mapping (`MREMAP_MAYMOVE`, `MREMAP_FIXED`,
    /// `MREMAP_DONTUNMAP`), as Linux 6.18 does; returns the mapping's
    /// (new) address.
    ///
    /// - Equal lengths (no `FIXED`/`DONTUNMAP`): `addr`, nothing changes.
    /// - Shrinking (no `FIXED`): `[addr + new_len, addr + old_len)` is
    ///   unmapped, whatever VMAs it crosses.
    /// - Growing in place, when the range ends at its VMA's end and the
    ///   pages above are free: the VMA is extended and merges with the one
    ///   above.
    /// - Otherwise, with `MAYMOVE`, a move to where an `mmap` of the same
    ///   kind without a hint would go (the old mapping still in place during
    ///   the search), or to `new_addr` with `FIXED` (whatever is there is
    ///   unmapped first; with equal lengths several VMAs move together). A
    ///   moved anonymous VMA that was never written takes the page offset of
    ///   its new address (it may then merge there); the moved VMAs merge
    ///   with their new neighbours. `DONTUNMAP` keeps the old VMA.
    /// - `old_len` 0 on a shared mapping: a second mapping of the same
    ///   object (needs `MAYMOVE`).
    ///
    /// The pages themselves are the caller's to move.
    ///
    /// # Errors
    ///
    /// `EINVAL`: unknown flags, `FIXED` or `DONTUNMAP` without `MAYMOVE`,
    /// misaligned `addr`, `new_len` 0 after rounding (or wrapping),
    /// `DONTUNMAP` with different lengths, `new_len > task_size`, a `FIXED`
    /// target misaligned, past `task_size` or overlapping the old range,
    /// `old_len` 0 on a private mapping. `EFAULT`: `addr` is not mapped,
    /// a grown range (or a `FIXED` move of several VMAs with different
    /// lengths) is not inside one VMA, or the VMA may not grow
    /// (`VM_DONTEXPAND`, `VM_PFNMAP`). `ENOMEM`: a growth beyond
    /// `RLIMIT_AS` or `RLIMIT_DATA` ([`set_rlimit`](Self::set_rlimit)), the
    /// growth of a `VM_ACCOUNT` mapping failing the commit charge
    /// ([`set_commit_limit`](Self::set_commit_limit)), no room to grow
    /// without `MAYMOVE`, no room anywhere, or a move with too many VMAs
    /// ([`set_max_map_count`](Self::set_max_map_count)).
    ///
    /// # Examples
    ///
    /// ```
    /// use range_action_map::linux::{map, mremap, prot, LinuxMm, VmaAdapter};
    ///
    /// let mut mm = LinuxMm::<VmaAdapter>::new();
    /// let anon = map::PRIVATE | map::ANONYMOUS;
    /// let a = mm.mmap(0, 0x4000, prot::READ, anon, None, 0).unwrap();
    /// let b = mm.mmap(0, 0x1000, prot::READ | prot::WRITE, anon, None, 0).unwrap();
    /// // No room above `b` to grow: without MAYMOVE, ENOMEM; with it, a move.
    /// assert!(mm.mremap(b, 0x1000, 0x2000, 0, 0).is_err());
    /// let moved = mm.mremap(b, 0x1000, 0x2000, mremap::MAYMOVE, 0).unwrap();
    /// assert_eq!(moved, b - 0x2000);
    /// // Shrinking in place.
    /// assert_eq!(mm.mremap(a, 0x4000, 0x1000, 0, 0), Ok(a));
    /// ```
    ///
    /// # Cost
    ///
    /// *O*((k + 1) log n) for k VMAs moved or unmapped.
    pub fn mremap(
        &mut self,
        addr: usize,
        old_len: usize,
        new_len: usize,
        flags: u32,
        new_addr: usize,
    ) -> Result<usize, Errno> {
        let task_size = self.layout.task_size();
        let may_move = flags & mremap::MAYMOVE != 0;
        let fixed = flags & mremap::FIXED != 0;
        let dontunmap = flags & mremap::DONTUNMAP != 0;
        if flags & !(mremap::MAYMOVE | mremap::FIXED | mremap::DONTUNMAP) != 0
            || (fixed || dontunmap) && !may_move
            || addr % PAGE_SIZE != 0
        {
            return Err(Errno::EINVAL);
        }
        let old_len = page_align(old_len).unwrap_or(0);
        let new_len = page_align(new_len).unwrap_or(0);
        if new_len == 0 || dontunmap && old_len != new_len || new_len > task_size {
            return Err(Errno::EINVAL);
        }
        if fixed
            && (new_addr % PAGE_SIZE != 0
                || new_addr > task_size - new_len
                || new_addr < addr.saturating_add(old_len.max(new_len))
                    && addr < new_addr + new_len)
        {
            return Err(Errno::EINVAL);
        }
        let vma = self.map.find(addr).ok_or(Errno::EFAULT)?;
        let range = self.map.range_of(vma);
        let attrs = vma.attrs();
        if old_len == 0 && !attrs.flags().contains(VmFlags::MAYSHARE) {
            return Err(Errno::EINVAL);
        }
        let old_end = addr.checked_add(old_len).ok_or(Errno::EFAULT)?;
        if fixed {
            if self.map.len() + 5 >= self.max_map_count {
                return Err(Errno::ENOMEM);
            }
            let mut vmas = self.map.overlapping(addr, old_end);
            let multi = old_len != 0
                && (vmas
                    .next()
                    .is_some_and(|v| self.map.range_of(v).end < old_end)
                    || vmas.next().is_some());
            if multi && old_len != new_len || !multi && new_len > old_len && old_end > range.end {
                return Err(Errno::EFAULT);
            }
            return self.mremap_move(addr, old_len, new_len, flags, new_addr);
        }
        if old_len == new_len && !dontunmap {
            return Ok(addr);
        }
        if new_len < old_len {
            self.map
                .unmap(addr + new_len, old_end)
                .map_err(|_| Errno::ENOMEM)?;
            return Ok(addr);
        }
        if old_end > range.end
            || attrs
                .flags()
                .intersects(VmFlags::DONTEXPAND | VmFlags::PFNMAP)
        {
            return Err(Errno::EFAULT);
        }
        if !self.may_expand_vm(attrs.flags(), (new_len - old_len) / PAGE_SIZE)
            || attrs.flags().contains(VmFlags::ACCOUNT) && !self.enough_memory(new_len - old_len)
        {
            return Err(Errno::ENOMEM);
        }
        // Saturates only past the end of user space, which refuses it.
        let new_end = addr.saturating_add(new_len);
        if !dontunmap
            && old_len != 0
            && old_end == range.end
            && new_end <= task_size
            && self.map.overlapping(range.end, new_end).next().is_none()
        {
            // Grow in place: the new pages continue the VMA (same object,
            // contiguous offset, same anon_vma), so they merge into it, and
            // the grown VMA with the one above if it can.
            let piece = attrs.advanced(range.len());
            let node = SegmentOf::<A>::new_vma(piece, self.map.args_mut());
            self.map
                .mmap_fixed(range.end, new_end, || node)
                .map_err(|_| Errno::ENOMEM)?;
            return Ok(addr);
        }
        if !may_move || self.map.len() + 3 >= self.max_map_count {
            return Err(Errno::ENOMEM);
        }
        let shared = attrs.flags().contains(VmFlags::MAYSHARE);
        // Page offsets wrap as Linux's unsigned long does.
        let pgoff = attrs
            .pgoff()
            .wrapping_add(((addr - range.start) / PAGE_SIZE) as u64);
        let rule = match attrs.backing() {
            Backing::File { thp: true, .. } => ThpRule::File {
                offset: pgoff.wrapping_mul(PAGE_SIZE as u64),
            },
            _ if shared => ThpRule::None,
            Backing::File { .. } | Backing::Shmem(_) => ThpRule::None,
            Backing::Anonymous | Backing::DevZero => ThpRule::Anonymous,
        };
        let grows_down = |s: &SegmentOf<A>| s.attrs().flags().contains(VmFlags::GROWSDOWN);
        let to = self
            .layout
            .get_unmapped_area_for(&self.map, 0, new_len, rule, grows_down)
            .map_err(|_| Errno::ENOMEM)?;
        if to > task_size - new_len {
            return Err(Errno::ENOMEM);
        }
        self.mremap_move(addr, old_len, new_len, flags, to)
    }

    /// The move of `mremap` to the checked, page-aligned `to`
    /// (`move_vma`, `copy_vma`): every VMA piece of the old range goes to
    /// the same offset from `to` (a single piece stretched to `new_len`).
    fn mremap_move(
        &mut self,
        addr: usize,
        mut old_len: usize,
        new_len: usize,
        flags: u32,
        to: usize,
    ) -> Result<usize, Errno> {
        let dontunmap = flags & mremap::DONTUNMAP != 0;
        let split_err = |_| Errno::ENOMEM;
        if flags & mremap::FIXED != 0 {
            self.map.unmap(to, to + new_len).map_err(split_err)?;
            if old_len > new_len && !dontunmap {
                self.map
                    .unmap(addr + new_len, addr + old_len)
                    .map_err(split_err)?;
                old_len = new_len;
            }
        }
        let dup = old_len == 0;
        let span_end = addr + old_len.max(PAGE_SIZE);
        let pieces = self.map.overlapping(addr, span_end).count();
        // Pieces move one at a time, the one farthest from the target
        // first, so that no moved piece ever lands next to an old piece that
        // has yet to go (it could merge with it).
        let downward = to < addr;
        let (mut low, mut high) = (addr, span_end);
        for _ in 0..pieces {
            // Loop invariant: the pieces outside [low, high) are at their
            // new place, the rest of the old range is as it was.
            let mut vmas = self.map.overlapping(low, high);
            let vma = if downward {
                vmas.next()
            } else {
                vmas.next_back()
            };
            let Some(vma) = vma else { break };
            let range = self.map.range_of(vma);
            let (s, e) = (range.start.max(low), range.end.min(high));
            let mut piece = vma.attrs().advanced(s - range.start);
            let (ns, mut ne) = (s - addr + to, e - addr + to);
            if pieces == 1 {
                ne = to + new_len;
            }
            if piece.is_anonymous() && piece.anon_vma().is_none() {
                // copy_vma(): an unfaulted anonymous VMA follows the move.
                piece = VmaAttrs::new(piece.flags(), piece.backing(), (ns / PAGE_SIZE) as u64);
            }
            if !dup && !dontunmap {
                self.map.unmap(s, e).map_err(split_err)?;
            }
            let node = SegmentOf::<A>::new_vma(piece, self.map.args_mut());
            self.map.mmap_fixed(ns, ne, || node).map_err(split_err)?;
            if downward {
                low = e;
            } else {
                high = s;
            }
        }
        Ok(to)
    }

    /// `madvise(addr, len, advice)` for the advice the personality models:
    /// `MADV_DONTNEED` (the VMAs stay; the caller, which owns the pages,
    /// discards the private pages of every mapped part of the range when
    /// the result is `Ok` or `ENOMEM`), and the advice that changes VMA
    /// flags, which splits and merges like `mprotect`: `MADV_NORMAL`
    /// (clears `rr sr`), `MADV_RANDOM`, `MADV_SEQUENTIAL`, `MADV_DONTFORK`,
    /// `MADV_DOFORK`, `MADV_HUGEPAGE`, `MADV_NOHUGEPAGE`, `MADV_WIPEONFORK`
    /// (private anonymous memory only), `MADV_KEEPONFORK`. Unlike
    /// `mprotect`, the walk goes on past holes.
    ///
    /// # Errors
    ///
    /// `EINVAL` for other advice (Linux knows more, such as `MADV_WILLNEED`
    /// or `MADV_FREE`: the personality refuses what it does not model, so
    /// a kernel handles those before calling), a misaligned `addr`, a
    /// length that wraps when rounded up, `MADV_DONTNEED` over a
    /// `VM_LOCKED` or `VM_PFNMAP` VMA (nothing discarded), or
    /// `MADV_WIPEONFORK` reaching a file or shared VMA (the VMAs before it
    /// changed); `ENOMEM` when part of the range is unmapped (the mapped
    /// parts got the advice all the same). `len` 0 is `Ok(0)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use range_action_map::linux::{madv, map, prot, Errno, LinuxMm, VmaAdapter};
    ///
    /// let mut mm = LinuxMm::<VmaAdapter>::new();
    /// let a = mm.mmap(0, 0x3000, prot::READ, map::PRIVATE | map::ANONYMOUS, None, 0).unwrap();
    /// // DONTFORK on the middle page splits the VMA in three; DOFORK joins it again.
    /// assert_eq!(mm.madvise(a + 0x1000, 0x1000, madv::DONTFORK), Ok(0));
    /// assert_eq!(mm.map().len(), 3);
    /// assert_eq!(mm.madvise(a, 0x3000, madv::DOFORK), Ok(0));
    /// assert_eq!(mm.map().len(), 1);
    /// assert_eq!(mm.madvise(a, 0x4000, madv::DONTNEED), Err(Errno::ENOMEM));
    /// assert_eq!(mm.madvise(a, 0x1000, 12345), Err(Errno::EINVAL));
    /// ```
    ///
    /// # Cost
    ///
    /// *O*((k + 1) log n) for k VMAs in the range.
    pub fn madvise(&mut self, addr: usize, len: usize, advice: u32) -> Result<usize, Errno> {
        let none = VmFlags::EMPTY;
        let (set, clear) = match advice {
            madv::DONTNEED => (none, none),
            madv::NORMAL => (none, VmFlags::RAND_READ | VmFlags::SEQ_READ),
            madv::RANDOM => (VmFlags::RAND_READ, VmFlags::SEQ_READ),
            madv::SEQUENTIAL => (VmFlags::SEQ_READ, VmFlags::RAND_READ),
            madv::DONTFORK => (VmFlags::DONTCOPY, none),
            madv::DOFORK => (none, VmFlags::DONTCOPY),
            madv::HUGEPAGE => (VmFlags::HUGEPAGE, VmFlags::NOHUGEPAGE),
            madv::NOHUGEPAGE => (VmFlags::NOHUGEPAGE, VmFlags::HUGEPAGE),
            madv::WIPEONFORK => (VmFlags::WIPEONFORK, none),
            madv::KEEPONFORK => (none, VmFlags::WIPEONFORK),
            _ => return Err(Errno::EINVAL),
        };
        if addr % PAGE_SIZE != 0 {
            return Err(Errno::EINVAL);
        }
        let rounded = page_align(len).ok_or(Errno::EINVAL)?;
        if len != 0 && rounded == 0 {
            return Err(Errno::EINVAL);
        }
        let end = addr.checked_add(rounded).ok_or(Errno::EINVAL)?;
        if end == addr {
            return Ok(0);
        }
        let mut mapped = 0;
        for vma in self.map.overlapping(addr, end) {
            let range = self.map.range_of(vma);
            mapped += range.end.min(end) - range.start.max(addr);
            let flags = vma.attrs().flags();
            if advice == madv::DONTNEED && flags.intersects(VmFlags::LOCKED | VmFlags::PFNMAP) {
                return Err(Errno::EINVAL);
            }
        }
        if advice == madv::WIPEONFORK {
            // Only private anonymous VMAs take it: stop at the first other.
            let stop = self
                .map
                .overlapping(addr, end)
                .find(|v| {
                    let a = v.attrs();
                    !a.is_anonymous() || a.flags().contains(VmFlags::SHARED)
                })
                .map(|v| self.map.range_of(v).start.max(addr));
            if let Some(stop) = stop {
                self.change_mapped(addr, stop, VmaChange::Flags { set, clear })?;
                return Err(Errno::EINVAL);
            }
        }
        if advice != madv::DONTNEED {
            let change = VmaChange::Flags { set, clear };
            self.split_room(self.splits_needed(addr, end, change))?;
            self.change_mapped(addr, end, change)?;
        }
        if mapped < end - addr {
            Err(Errno::ENOMEM)
        } else {
            Ok(0)
        }
    }

    /// `mlock(addr, len)`: sets `VM_LOCKED` on the mapped run from `addr`
    /// (rounded down to a page) to `addr + len` (rounded up), stopping at
    /// the first hole like `mprotect`; special and droppable VMAs are left
    /// alone. The pages themselves are the caller's to fault in.
    ///
    /// # Errors
    ///
    /// `ENOMEM` when the start is unmapped (nothing changed) or a hole
    /// follows (the run before it changed); for an unprivileged process
    /// ([`set_privileged`](Self::set_privileged)), `EPERM` when
    /// `RLIMIT_MEMLOCK` is 0 and `ENOMEM` when the locked memory would
    /// exceed it (nothing changed).
    ///
    /// # Cost
    ///
    /// *O*((k + 1) log n) for k VMAs in the range.
    pub fn mlock(&mut self, addr: usize, len: usize) -> Result<usize, Errno> {
        self.lock_flags(addr, len, true)
    }

    /// `munlock(addr, len)`: clears `VM_LOCKED` as [`mlock`](Self::mlock)
    /// sets it.
    ///
    /// # Errors
    ///
    /// As [`mlock`](Self::mlock).
    pub fn munlock(&mut self, addr: usize, len: usize) -> Result<usize, Errno> {
        self.lock_flags(addr, len, false)
    }

    /// `apply_vma_lock_flags`.
    fn lock_flags(&mut self, addr: usize, len: usize, lock: bool) -> Result<usize, Errno> {
        let start = addr & !(PAGE_SIZE - 1);
        let end = addr
            .checked_add(len)
            .and_then(page_align)
            .ok_or(Errno::EINVAL)?;
        if end == start {
            return Ok(0);
        }
        if lock && !self.privileged {
            if let Some(limit) = self.rlimit_memlock {
                if limit == 0 {
                    return Err(Errno::EPERM);
                }
                let locked = self.locked_bytes(0, usize::MAX) - self.locked_bytes(start, end);
                if end - start + locked > limit {
                    return Err(Errno::ENOMEM);
                }
            }
        }
        let first = self.map.find(start).ok_or(Errno::ENOMEM)?;
        let mut tmp = self.map.range_of(first).start;
        let mut result = Ok(0);
        for vma in self.map.overlapping(start, end) {
            let range = self.map.range_of(vma);
            if range.start != tmp {
                result = Err(Errno::ENOMEM);
                break;
            }
            tmp = range.end.min(end);
        }
        if result.is_ok() && tmp < end {
            result = Err(Errno::ENOMEM);
        }
        let change = if lock {
            VmaChange::Flags {
                set: VmFlags::LOCKED,
                clear: VmFlags::EMPTY,
            }
        } else {
            VmaChange::Flags {
                set: VmFlags::EMPTY,
                clear: VmFlags::LOCKED,
            }
        };
        self.split_room(self.splits_needed(start, tmp.min(end), change))?;
        let mut at = start;
        while at < tmp.min(end) {
            // Loop invariant: [start, at) is done; the rest of the run is
            // mapped. Special and droppable VMAs keep their flags.
            let Some(vma) = self.map.find(at) else { break };
            let range = self.map.range_of(vma);
            let piece_end = range.end.min(tmp);
            let special = VmFlags::SPECIAL | VmFlags::DROPPABLE;
            if !vma.attrs().flags().intersects(special) {
                self.change_mapped(at, piece_end, change)?;
            }
            at = piece_end;
        }
        result
    }

    /// A write fault at `addr` (`anon_vma_prepare`): a private VMA that has
    /// no `anon_vma` gets a new one. This is what makes written VMAs
    /// distinct for merging. Returns whether `addr` is mapped and writable.
    pub fn write_fault(&mut self, addr: usize) -> bool {
        let Some(vma) = self.map.find(addr) else {
            return false;
        };
        let attrs = vma.attrs();
        if !attrs.flags().contains(VmFlags::WRITE) {
            return false;
        }
        if !attrs.flags().contains(VmFlags::MAYSHARE) && attrs.anon_vma().is_none() {
            let id = core::num::NonZeroU64::new(self.next_anon_vma);
            self.next_anon_vma += 1;
            vma.set_attrs(attrs.with_anon_vma(id));
        }
        true
    }

    /// `mmap(addr, len, prot, flags, fd, off)`: `file` is the open file
    /// `fd` names (`None` when no file is open under it; ignored with
    /// `MAP_ANONYMOUS`).
    ///
    /// Placement: `MAP_FIXED` at `addr` (replacing what was there),
    /// `MAP_FIXED_NOREPLACE` at `addr` if it is free, otherwise the
    /// [`LinuxLayout`] with the huge-page rule of the kind of memory
    /// ([`ThpRule`]). The new VMA merges with its neighbours.
    ///
    /// # Errors
    ///
    /// In Linux's order: `EINVAL` (misaligned `off`), `EBADF` (no file),
    /// `ENOMEM` (`MAP_HUGETLB`: no huge pages reserved), `EINVAL` (`len`
    /// 0), `ENOMEM` (`len` wraps when rounded, exceeds `task_size`, no
    /// room, or a fixed range past `task_size`), `EINVAL` (misaligned fixed
    /// address), `EEXIST` (`MAP_FIXED_NOREPLACE` over a VMA), then for
    /// files `EOPNOTSUPP` (unknown `MAP_SHARED_VALIDATE` flags, `MAP_SYNC`),
    /// `EACCES` (shared writable of a read-only file, or a file not open
    /// for reading), `EINVAL` (bad type), `ENODEV` (not mappable),
    /// `EOVERFLOW` (offset past `MAX_LFS_FILESIZE`), and for anonymous
    /// memory `EINVAL` (bad type); last, `ENOMEM` beyond `RLIMIT_AS` or
    /// `RLIMIT_DATA` ([`set_rlimit`](Self::set_rlimit); a `MAP_FIXED`
    /// mapping counts only the pages it adds) or when a `VM_ACCOUNT`
    /// mapping fails the commit charge
    /// ([`set_commit_limit`](Self::set_commit_limit)).
    ///
    /// # Cost
    ///
    /// *O*(log n + k) for k VMAs replaced; no allocation but the new node.
    pub fn mmap(
        &mut self,
        addr: usize,
        len: usize,
        prot: u32,
        flags: u32,
        file: Option<&MmapFile>,
        off: u64,
    ) -> Result<usize, Errno> {
        if off % PAGE_SIZE as u64 != 0 {
            return Err(Errno::EINVAL);
        }
        let file = if flags & map::ANONYMOUS != 0 {
            None
        } else {
            Some(file.ok_or(Errno::EBADF)?)
        };
        if flags & map::HUGETLB != 0 && file.is_none() {
            return Err(Errno::ENOMEM);
        }
        let pgoff = off / PAGE_SIZE as u64;
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let mut flags = flags;
        if flags & map::FIXED_NOREPLACE != 0 {
            flags |= map::FIXED;
        }
        let len = page_align(len).ok_or(Errno::ENOMEM)?;
        if self.map.len() > self.max_map_count {
            return Err(Errno::ENOMEM);
        }
        let mtype = flags & map::TYPE;
        let shared = matches!(mtype, map::SHARED | map::SHARED_VALIDATE);
        let addr = self.get_unmapped_area(addr, len, flags, file, shared, off)?;
        let end = addr + len;
        // cap_mmap_addr(): below dac_mmap_min_addr needs CAP_SYS_RAWIO.
        if addr < PAGE_SIZE && !self.privileged {
            return Err(Errno::EPERM);
        }
        if flags & map::FIXED_NOREPLACE != 0 && self.map.overlapping(addr, end).next().is_some() {
            return Err(Errno::EEXIST);
        }
        let (vm_flags, backing) = self.vma_kind(prot, flags, file, shared)?;
        if let Some(file) = file {
            // file_mmap_ok(): the last page must stay below MAX_LFS_FILESIZE.
            let max = (i64::MAX as u64) - len as u64;
            if file.kind != FileKind::DevZero && pgoff > max >> 12 {
                return Err(Errno::EOVERFLOW);
            }
        }
        // mlock_future_ok(): MAP_LOCKED within RLIMIT_MEMLOCK.
        if flags & map::LOCKED != 0
            && !self.privileged
            && self.rlimit_memlock.is_some_and(|limit| len > limit)
        {
            return Err(Errno::EAGAIN);
        }
        let replaced = if flags & map::FIXED != 0 {
            self.mapped_pages(addr, end)
        } else {
            0
        };
        if !self.may_expand_vm(vm_flags, len / PAGE_SIZE - replaced) {
            return Err(Errno::ENOMEM);
        }
        if vm_flags.contains(VmFlags::ACCOUNT) && !self.enough_memory(len) {
            return Err(Errno::ENOMEM);
        }
        // A write-sealed memfd: no shared writable mapping, ever.
        let mut vm_flags = vm_flags;
        if file.is_some_and(|f| shared && f.write_sealed) {
            if prot & prot::WRITE != 0 {
                return Err(Errno::EPERM);
            }
            vm_flags = vm_flags.difference(VmFlags::MAYWRITE);
        }
        let backing = match backing {
            Some(backing) => backing,
            None => {
                self.next_object += 1;
                Backing::Shmem(self.next_object - 1)
            }
        };
        let pgoff = match backing {
            Backing::Anonymous | Backing::DevZero => (addr / PAGE_SIZE) as u64,
            Backing::Shmem(_) if file.is_none_or(|f| f.kind == FileKind::DevZero) => 0,
            _ => pgoff,
        };
        let node =
            SegmentOf::<A>::new_vma(VmaAttrs::new(vm_flags, backing, pgoff), self.map.args_mut());
        // The range is page aligned, below `task_size` and (for a
        // non-fixed placement) free: only a failed split can fail here.
        self.map
            .mmap_fixed(addr, end, || node)
            .map_err(|_| Errno::ENOMEM)?;
        Ok(addr)
    }

    /// `__get_unmapped_area` for a page-rounded `len`.
    pub(super) fn get_unmapped_area(
        &self,
        addr: usize,
        len: usize,
        flags: u32,
        file: Option<&MmapFile>,
        shared: bool,
        off: u64,
    ) -> Result<usize, Errno> {
        let task_size = self.layout.task_size();
        if len > task_size {
            return Err(Errno::ENOMEM);
        }
        let grows_down = |s: &SegmentOf<A>| s.attrs().flags().contains(VmFlags::GROWSDOWN);
        let start = if flags & map::FIXED != 0 {
            addr
        } else if flags & map::BIT32 != 0 {
            self.layout
                .get_unmapped_area_32bit(&self.map, addr, len, grows_down)
                .map_err(|_| Errno::ENOMEM)?
        } else {
            let rule = match file.map(MmapFile::kind) {
                Some(FileKind::Thp) => ThpRule::File { offset: off },
                Some(FileKind::DevZero) if !shared => ThpRule::Anonymous,
                Some(_) => ThpRule::None,
                None if shared => ThpRule::None,
                None => ThpRule::Anonymous,
            };
            self.layout
                .get_unmapped_area_for(&self.map, addr, len, rule, grows_down)
                .map_err(|_| Errno::ENOMEM)?
        };
        if start > task_size - len {
            return Err(Errno::ENOMEM);
        }
        if start % PAGE_SIZE != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(start)
    }

    /// The checks of `do_mmap` on the mapping type and the file, and the
    /// VMA's flags and backing (`None`: a new shmem object).
    fn vma_kind(
        &self,
        prot: u32,
        flags: u32,
        file: Option<&MmapFile>,
        shared: bool,
    ) -> Result<(VmFlags, Option<Backing>), Errno> {
        let mtype = flags & map::TYPE;
        let mut vm =
            VmFlags::from_prot(prot) | VmFlags::MAYREAD | VmFlags::MAYWRITE | VmFlags::MAYEXEC;
        let backing = if let Some(file) = file {
            if shared {
                let known = map::LEGACY_MASK | map::SYNC | map::FIXED_NOREPLACE;
                if mtype == map::SHARED_VALIDATE && flags & !known != 0 {
                    return Err(Errno::EOPNOTSUPP);
                }
                if prot & prot::WRITE != 0 && !file.writable {
                    return Err(Errno::EACCES);
                }
                if file.writable {
                    vm |= VmFlags::SHARED;
                } else {
                    // A read-only shared mapping keeps only VM_MAYSHARE.
                    vm = vm.difference(VmFlags::MAYWRITE);
                }
                vm |= VmFlags::MAYSHARE;
            } else if mtype != map::PRIVATE {
                return Err(Errno::EINVAL);
            }
            if !file.readable {
                return Err(Errno::EACCES);
            }
            if file.kind == FileKind::NoMmap {
                return Err(Errno::ENODEV);
            }
            if mtype == map::SHARED_VALIDATE && flags & map::SYNC != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
            match (file.kind, shared) {
                (FileKind::DevZero, false) => Some(Backing::DevZero),
                (FileKind::DevZero, true) => {
                    vm |= VmFlags::SHARED;
                    None
                }
                _ => Some(Backing::File {
                    id: file.id,
                    thp: file.kind == FileKind::Thp,
                }),
            }
        } else {
            match mtype {
                map::SHARED => {
                    vm |= VmFlags::MAYSHARE | VmFlags::SHARED;
                    None
                }
                map::DROPPABLE => {
                    vm |= VmFlags::WIPEONFORK
                        | VmFlags::DONTDUMP
                        | VmFlags::DROPPABLE
                        | VmFlags::NORESERVE;
                    Some(Backing::Anonymous)
                }
                map::PRIVATE => Some(Backing::Anonymous),
                _ => return Err(Errno::EINVAL),
            }
        };
        for (bit, vm_bit) in [
            (map::GROWSDOWN, VmFlags::GROWSDOWN),
            (map::STACK, VmFlags::NOHUGEPAGE),
            (map::NORESERVE, VmFlags::NORESERVE),
            (map::LOCKED, VmFlags::LOCKED),
        ] {
            if flags & bit != 0 {
                vm |= vm_bit;
            }
        }
        // accountable_mapping(): private, writable, not MAP_NORESERVE.
        let is_shared = shared || (file.is_none() && mtype == map::SHARED);
        if !is_shared && prot & prot::WRITE != 0 && !vm.contains(VmFlags::NORESERVE) {
            vm |= VmFlags::ACCOUNT;
        }
        Ok((vm, backing))
    }

    /// `munmap(addr, len)`: every VMA piece in `[addr, addr +
    /// PAGE_ALIGN(len))` goes; pieces outside keep their attributes (file
    /// pieces their offsets) and nothing merges. Unmapping a hole is fine.
    ///
    /// # Errors
    ///
    /// `EINVAL` when `addr` is misaligned, `addr > task_size`, `len >
    /// task_size - addr`, or `len` is 0.
    ///
    /// # Cost
    ///
    /// *O*(log n + k) for k VMAs touched.
    pub fn munmap(&mut self, addr: usize, len: usize) -> Result<usize, Errno> {
        let task_size = self.layout.task_size();
        if addr % PAGE_SIZE != 0 || addr > task_size || len > task_size - addr {
            return Err(Errno::EINVAL);
        }
        let len = page_align(len).ok_or(Errno::EINVAL)?;
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let window = self.map.window();
        let (start, end) = (addr.max(window.low()), (addr + len).min(window.high()));
        // Cutting a hole inside one VMA makes one more.
        let inside = self.map.find(start).is_some_and(|v| {
            let r = self.map.range_of(v);
            r.start < start && end < r.end
        });
        if inside && self.map.len() >= self.max_map_count {
            return Err(Errno::ENOMEM);
        }
        if start < end {
            self.map.unmap(start, end).map_err(|_| Errno::ENOMEM)?;
        }
        Ok(0)
    }

    /// `mprotect(addr, len, prot)` with Linux's walk: VMAs from `addr` on
    /// get the new protection until the first hole (or the first VMA that
    /// may not take it); each changed range is split off, changed
    /// ([`VmaAttrs::protected`], `VM_ACCOUNT` included) and merged with its
    /// neighbours. A VMA whose flags do not change is left alone.
    ///
    /// ```text
    ///   [ A ][hole][ B ]   mprotect(A.start, all) -> ENOMEM, A changed, B not
    ///   hole[ A ]          mprotect(hole.start, all) -> ENOMEM, nothing changed
    /// ```
    ///
    /// # Errors
    ///
    /// `EINVAL` for both `PROT_GROWSDOWN` and `PROT_GROWSUP`, a misaligned
    /// `addr`, unknown `prot` bits, `PROT_GROWSDOWN` on a VMA that does not
    /// grow down, or `PROT_GROWSUP`; `ENOMEM` when the rounded range wraps,
    /// nothing is mapped in it, its start is in a hole (nothing changed),
    /// or a hole follows (the run before it changed); `EACCES` when a VMA
    /// may not get `prot` (`VM_MAYWRITE` missing, ...; the run before it
    /// changed); `ENOMEM` too when making a VMA writable charges it more
    /// than the commit check allows (the run before it changed). `len` 0 is
    /// `Ok(0)` after the alignment check.
    ///
    /// # Cost
    ///
    /// *O*((k + 1) log n) for k VMAs in the range.
    pub fn mprotect(&mut self, addr: usize, len: usize, prot: u32) -> Result<usize, Errno> {
        let grows = prot & (prot::GROWSDOWN | prot::GROWSUP);
        let prot = prot & !grows;
        if grows == prot::GROWSDOWN | prot::GROWSUP || addr % PAGE_SIZE != 0 {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Ok(0);
        }
        let end = page_align(len)
            .and_then(|len| addr.checked_add(len))
            .ok_or(Errno::ENOMEM)?;
        if prot & !(prot::READ | prot::WRITE | prot::EXEC | prot::SEM) != 0 {
            return Err(Errno::EINVAL);
        }
        let prot = prot & (prot::READ | prot::WRITE | prot::EXEC);
        let (start, stop, result) = self.mprotect_run(addr, end, prot, grows)?;
        let change = VmaChange::Protect(prot);
        self.split_room(self.splits_needed(start, stop, change))?;
        self.change_mapped(start, stop, change)?;
        result
    }

    /// Applies `change` to every mapped piece of `[start, end)`, one VMA at
    /// a time (`vma_modify_flags`): a VMA whose flags stay as they are is
    /// neither split nor merged (Linux's early return); a changed piece is
    /// split off and merged with its neighbours. Holes are skipped.
    fn change_mapped(&mut self, start: usize, end: usize, change: VmaChange) -> Result<(), Errno> {
        let mut at = start;
        while at < end {
            // Loop invariant: [start, at) is done.
            let Some(vma) = self.map.overlapping(at, end).next() else {
                break;
            };
            let range = self.map.range_of(vma);
            let (piece_start, piece_end) = (range.start.max(at), range.end.min(end));
            let attrs = vma.attrs();
            if attrs.changed(change).flags() != attrs.flags() {
                self.map
                    .mprotect(piece_start, piece_end, change)
                    .map_err(|_| Errno::ENOMEM)?;
            }
            at = piece_end;
        }
        Ok(())
    }

    /// The checks and the walk of `do_mprotect_pkey` without changing
    /// anything: where the change starts, where it stops, and the result.
    fn mprotect_run(
        &self,
        addr: usize,
        end: usize,
        prot: u32,
        grows: u32,
    ) -> Result<(usize, usize, Result<usize, Errno>), Errno> {
        let mut vmas = self
            .map
            .overlapping(addr, end.min(self.map.window().high()));
        let first = vmas.next().ok_or(Errno::ENOMEM)?;
        let first_range = self.map.range_of(first);
        let start = if grows & prot::GROWSDOWN != 0 {
            if !first.attrs().flags().contains(VmFlags::GROWSDOWN) {
                return Err(Errno::EINVAL);
            }
            first_range.start
        } else {
            if first_range.start > addr {
                return Err(Errno::ENOMEM);
            }
            if grows & prot::GROWSUP != 0 {
                return Err(Errno::EINVAL);
            }
            addr
        };
        let wanted = VmFlags::from_prot(prot);
        let may = |v: &SegmentOf<A>| {
            let f = v.attrs().flags();
            [
                (VmFlags::READ, VmFlags::MAYREAD),
                (VmFlags::WRITE, VmFlags::MAYWRITE),
                (VmFlags::EXEC, VmFlags::MAYEXEC),
            ]
            .into_iter()
            .all(|(bit, may)| !wanted.contains(bit) || f.contains(may))
        };
        let mut tmp = first_range.start;
        for vma in core::iter::once(first).chain(vmas) {
            // Loop invariant: [start, tmp) is mapped by VMAs that take `prot`.
            let range = self.map.range_of(vma);
            if range.start != tmp {
                return Ok((start, tmp, Err(Errno::ENOMEM)));
            }
            if !may(vma) {
                return Ok((start, tmp.max(start), Err(Errno::EACCES)));
            }
            let attrs = vma.attrs();
            let charged = attrs.protected(prot).flags().contains(VmFlags::ACCOUNT)
                && !attrs.flags().contains(VmFlags::ACCOUNT);
            let piece = range.end.min(end) - range.start.max(start);
            if charged && !self.enough_memory(piece) {
                return Ok((start, tmp.max(start), Err(Errno::ENOMEM)));
            }
            tmp = range.end.min(end);
        }
        let result = if tmp < end { Err(Errno::ENOMEM) } else { Ok(0) };
        Ok((start, tmp, result))
    }
}

impl<A> fmt::Display for LinuxMm<A>
where
    A: RangeAdapter,
    SegmentOf<A>: LinuxSegment,
{
    /// The VMAs as `/proc/self/maps` lines, one per VMA, merges included:
    /// `start-end perms offset dev inode` ([`VmaAttrs`]'s `Display`), then
    /// ` [heap]` or ` [stack]` where Linux names the VMA so
    /// ([`name`](LinuxMm::name)). File paths are the caller's: the inode
    /// column holds the file's identity.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for vma in self.map.iter() {
            let range = self.map.range_of(vma);
            write!(f, "{:08x}-{:08x} {}", range.start, range.end, vma.attrs())?;
            match self.name(range.start) {
                Some(name) => writeln!(f, " {name}")?,
                None => writeln!(f)?,
            }
        }
        Ok(())
    }
}
