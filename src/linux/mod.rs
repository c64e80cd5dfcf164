//! Linux's memory system calls: where a non-fixed `mmap(hint, len)` goes in
//! the default x86-64 top-down layout ([`LinuxLayout`]), and a system-call
//! personality ([`LinuxMm`]) that answers `mmap`, `munmap`, `mprotect`,
//! `mremap`, `brk`, `madvise`, `mlock` and `munlock` as Linux 6.18 does,
//! merges included.
//!
//! Kernels that run Linux binaries, user-mode emulators, sandboxes and
//! record/replay tools must put mappings exactly where Linux would, or
//! programs that (knowingly or not) depend on the layout behave differently.
//! [`LinuxLayout`] answers that question over a [`RangeActionMap`] with the
//! algorithm of Linux 6.18 (`mm/mmap.c` `__get_unmapped_area`,
//! `arch/x86/kernel/sys_x86_64.c` `arch_get_unmapped_area_topdown`,
//! `mm/vma.c` `unmapped_area[_topdown]`, `mm/huge_memory.c`
//! `__thp_get_unmapped_area`), for a process without address randomisation.
//!
//! It was checked against the kernel itself: the crate's
//! `tests/linux_placement.rs` replays traces of random
//! `mmap`/`munmap`/`mprotect` series recorded under `setarch -R` on Linux
//! 6.18 (`tests/data/linux_mmap/`) and requires every placement and every
//! `-ENOMEM` to match.
//!
//! # The rules, in the order Linux applies them
//!
//! 1. **Length and hint.** `len` is rounded up to whole pages. The hint is
//!    rounded down to a page; a non-zero hint below `mmap_min_addr` is raised
//!    to it (`round_hint_to_min`).
//! 2. **Transparent huge pages.** With no hint and a length that is a
//!    multiple of the huge-page size, the search is for `len + huge` bytes
//!    and the result is moved up to a huge-page boundary (the highest aligned
//!    spot of the padded hole). If the padded request finds nothing at all,
//!    the plain length is searched, unaligned.
//! 3. **The hint**, if `[hint, hint + len)` lies below `task_size`, is free,
//!    and does not reach into the guard gap below a grows-down segment, is
//!    taken as is. Otherwise it is ignored (not an error).
//! 4. **Top-down search**: the highest hole in `[mmap_min_addr, mmap_base)`
//!    that holds `len`; the mapping goes at the top of it. If the segment
//!    right above that hole grows down and its guard gap reaches into the
//!    placement, the search starts again with `mmap_base` lowered to the
//!    bottom of the guard gap.
//! 5. **Bottom-up fallback** when the top-down search finds nothing: the
//!    lowest hole in `[unmapped_base, task_size)`, the mapping at its bottom;
//!    if the segment right above it grows down and its guard gap reaches the
//!    placement, the search starts again above that segment.
//!
//! A guard gap is *not* the same as "a grows-down segment occupies
//! `[start - guard_gap, end)`": only the segment directly above the hole a
//! search picked is looked at, so a hole inside the guard zone whose own
//! upper neighbour is an ordinary segment is accepted, while once the search
//! hits the grows-down segment every hole up to it is skipped. Linux does
//! exactly this, and the traces show both effects.
//!
//! # Not covered
//!
//! Address randomisation, 5-level paging (hints above 47 bits),
//! `MAP_ABOVE4G`, hugetlb mappings, shmem files with huge pages enabled,
//! 32-bit compat syscalls and the legacy bottom-up layout. File mappings
//! ([`ThpRule::File`]), shared anonymous memory ([`ThpRule::None`]) and
//! `MAP_32BIT` ([`LinuxLayout::get_unmapped_area_32bit`]) have their own
//! entry points. `MAP_FIXED` and `MAP_FIXED_NOREPLACE`
//! need no policy: they are [`RangeActionMap::mmap_fixed`] and
//! [`RangeActionMap::mmap_fixed_noreplace`].
//!
//! # Cost
//!
//! Every search is one *O*(log n) walk of the subtree-gap tree plus one
//! *O*(log n) look-up of the segment above the hole. A search restarts at
//! most once per grows-down segment (each restart passes one and never comes
//! back to it), and the huge-page rule runs at most two whole placements, so
//! a placement costs *O*((g + 1) log n) for g grows-down segments, which is
//! *O*(log n) in practice (a process has one stack). Nothing allocates.
//!
//! # The system-call personality
//!
//! [`LinuxMm`] owns a [`RangeActionMap`] of VMAs (any segment type that
//! implements [`LinuxSegment`]; [`Vma`] with the `alloc` feature) and takes
//! each system call's own arguments, returning what Linux returns: an
//! address or `0`, or an [`Errno`]. It applies Linux's argument checks in
//! Linux's order, its page rounding, its placement (the layout above, the
//! file THP rule of [`ThpRule::File`]), `mprotect`'s stop-at-the-first-hole
//! rule, the `VM_ACCOUNT` bit, and the rule for when two adjacent VMAs are
//! one ([`VmaAttrs::can_merge`]). `tests/linux_syscalls.rs` replays the
//! captures of `tests/data/linux_syscalls/` (`tools/linux-syscall-trace/`)
//! call by call through it and compares every result and the final
//! `/proc/self/maps`, VMA for VMA; `tests/linux_strace_replay.rs` replays
//! the `strace` logs of six real programs (`benches/data/`: CPython, gcc,
//! a JVM, Node, cargo; 13 514 calls, each address space built by
//! [`LinuxMm::exec`] from the programs' ELF headers) and gets every result
//! Linux logged.
//!
//! The rules it follows are those of `tools/linux-syscall-trace/NOTES.md`.
//! The commit charge is the heuristic of `vm.overcommit_memory` = 0
//! ([`LinuxMm::set_commit_limit`]); `RLIMIT_AS` and `RLIMIT_DATA` are
//! checked as `may_expand_vm` does ([`LinuxMm::set_rlimit`]). Not covered yet: `madvise` advice
//! that neither discards pages nor changes VMA flags (`MADV_WILLNEED`,
//! `MADV_FREE`, ...: refused with `EINVAL`), `MAP_HUGETLB` with reserved
//! huge pages.
//!
//! ```
//! use range_action_map::linux::{prot, map, Errno, LinuxMm, VmaAdapter};
//!
//! let mut mm = LinuxMm::<VmaAdapter>::new();
//! let anon = map::PRIVATE | map::ANONYMOUS;
//! let rw = prot::READ | prot::WRITE;
//! let a = mm.mmap(0, 0x3000, rw, anon, None, 0).unwrap();
//! // A second mapping lands right below and merges into one VMA.
//! let b = mm.mmap(0, 0x1000, rw, anon, None, 0).unwrap();
//! assert_eq!(b, a - 0x1000);
//! assert_eq!(mm.map().len(), 1);
//! // mprotect stops at the first hole: the mapped run changes, ENOMEM.
//! assert_eq!(mm.mprotect(b, 0x5000, prot::READ), Err(Errno::ENOMEM));
//! assert_eq!(mm.to_string(), format!("{b:08x}-{:08x} r--p 00000000 00:00 0\n", a + 0x3000));
//! // Zero length is EINVAL for mmap and a no-op for mprotect.
//! assert_eq!(mm.mmap(0, 0, rw, anon, None, 0), Err(Errno::EINVAL));
//! assert_eq!(mm.mprotect(b, 0, prot::NONE), Ok(0));
//! ```

#[cfg(feature = "alloc")]
mod boxed;
mod errno;
mod exec;
mod layout;
mod mm;
mod vma;

#[cfg(feature = "alloc")]
pub use boxed::{Vma, VmaAdapter};
pub use errno::Errno;
pub use exec::{
    ElfImage, ElfType, ExecLayout, ExecParams, ExecRandom, LoadSegment, NoRandom, SpecialMapping,
    STACK_EXPAND, X86_64_VDSO,
};
pub use layout::{GrowsDown, LinuxLayout, StackRlimit, ThpRule, DEFAULT_TASK_SIZE, PAGE_SIZE};
pub use mm::{madv, map, mremap, prot, FileKind, LinuxMm, MmapFile, Rlimit};
pub use vma::{Backing, LinuxSegment, VmFlags, VmaAttrs, VmaChange};

#[cfg(doc)]
use crate::RangeActionMap;
