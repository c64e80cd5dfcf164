//! A process's memory system calls as Linux answers them. The crate's Linux personality
//! ([`LinuxMm`]) decides over the process's VMAs (placement, page rounding, the errno,
//! `mprotect`'s stop at the first hole, merges), and the process's `MemorySet` (its
//! [`Space`], which the VMAs are kept beside, under the same lock: see [`space`]) follows with
//! the page-table work: each mapping `mmap` made
//! becomes an area, and over the range of every call the set's areas are made what the VMAs
//! there are ([`Mm::mirror`]: holes unmapped, mapped pieces given their VMA's access). The
//! VMAs are the one account of what a call changed, so the kernel applies exactly that
//! without knowing Linux's rules itself.
//!
//! Page faults are Linux's too: an access the VMA does not allow (none there, `PROT_NONE`, a
//! write to a read-only VMA) is a SIGSEGV ([`Mm::allows`], Linux's `access_error`) before the
//! set is asked for the page. A `PROT_NONE` area is kept in the set as kernel-only pages, so
//! the MMU refuses the user every access to pages already mapped, and its frames stay for
//! when `mprotect` gives access back.
//!
//! Both harts may check faults of one process at once, under the read side of its lock: an
//! access check only reads the VMAs ([`Mm::allows_shared`]), unless a write must first give a
//! private VMA its `anon_vma`, which is done under the write side ([`Mm::allows`]).

use range_action_map::linux::{
    map, Backing, Errno, LinuxLayout, LinuxMm, LinuxSegment, StackRlimit, VmFlags, VmaAdapter,
    VmaAttrs,
};
use range_action_map::memory_set::{
    Access, Lazy, MemoryAttr, MemoryResult, PageTable, Shared, PAGE_SIZE,
};

use super::boot::PHYS_OFFSET;
use super::exec::{self, Program};
use super::space::{self, Space};
use super::user::{STACK_RLIMIT, STACK_TOP};

/// The end of user space: Sv39's lower half.
pub const TASK_SIZE: usize = 0x40_0000_0000;

/// Where Linux would place a process's mappings in it, with the process's stack limit:
/// top-down from `mmap_base`, 128 MiB below the stack's top.
pub const LAYOUT: LinuxLayout =
    LinuxLayout::for_task_size(TASK_SIZE, StackRlimit::Bytes(STACK_RLIMIT));

/// A process's VMAs, kept by the crate's Linux personality.
pub struct Mm {
    vmas: LinuxMm<VmaAdapter>,
}

impl Mm {
    /// The VMAs of a process [`exec::load`] just loaded `program` into: a private file VMA
    /// for each segment's file pages and an anonymous one for the rest of its `.bss`, and the
    /// stack's, which covers the whole stack limit below [`STACK_TOP`] (as Linux's
    /// `setup_arg_pages` grows it for a limit under 128 KiB) while the set's stack area grows
    /// by faults within it. The heap starts at the end of the highest segment.
    pub fn exec(program: Program, segments: &[exec::Segment]) -> Mm {
        let mut vmas = LinuxMm::with_layout(LAYOUT, ());
        let file = Backing::File {
            id: program as u64,
            thp: false,
        };
        let mut insert = |start: usize, end: usize, flags: VmFlags, backing, pgoff| {
            if start < end {
                vmas.insert(start, end, VmaAttrs::new(flags, backing, pgoff))
                    .expect("the areas of a new process are disjoint and page aligned");
            }
        };
        let mut start_brk = 0;
        for segment in segments {
            start_brk = start_brk.max(segment.pages.end).max(segment.bss.end);
            let flags = vm_flags(segment.attr);
            let (pages, bss) = (&segment.pages, &segment.bss);
            insert(pages.start, pages.end, flags, file, segment.pgoff as u64);
            let pgoff = (bss.start / PAGE_SIZE) as u64;
            insert(bss.start, bss.end, flags, Backing::Anonymous, pgoff);
        }
        let stack = STACK_TOP - STACK_RLIMIT;
        let flags = vm_flags(MemoryAttr::new().set_user()) | VmFlags::GROWSDOWN;
        let pgoff = (stack / PAGE_SIZE) as u64;
        insert(stack, STACK_TOP, flags, Backing::Anonymous, pgoff);
        vmas.set_start_brk(start_brk);
        Mm { vmas }
    }

    /// `fork`: the child's VMAs.
    pub fn fork(&self) -> Mm {
        Mm {
            vmas: self.vmas.fork(()),
        }
    }

    /// `mmap(addr, len, prot, flags, fd, off)` for anonymous memory (there are no files to
    /// map: a file mapping is `EBADF`): the personality places it, and the new area goes into
    /// the process's set `space`, [`Shared`] for `MAP_SHARED`, else [`Lazy`], after whatever a
    /// `MAP_FIXED` mapping replaced is unmapped. `prot` and `flags` beyond 32 bits are
    /// `EINVAL`. A `MAP_GROWSDOWN` VMA's area does not grow: only the stack's does.
    pub fn mmap(
        &mut self,
        space: &mut Space,
        addr: usize,
        len: usize,
        prot: usize,
        flags: usize,
        off: usize,
    ) -> Result<usize, Errno> {
        let (prot, flags) = (bits(prot)?, bits(flags)?);
        let start = self.vmas.mmap(addr, len, prot, flags, None, off as u64)?;
        let end = start + len.next_multiple_of(PAGE_SIZE);
        let attr = attr_of(VmFlags::from_prot(prot));
        let pushed = space.unmap(start, end).and_then(|_| {
            if matches!(flags & map::TYPE, map::SHARED | map::SHARED_VALIDATE) {
                space.push(start, end, attr, Shared::new())
            } else {
                space.push(start, end, attr, Lazy::new())
            }
        });
        if pushed.is_err() {
            // The VMA goes again: the set had no room for its area.
            self.munmap(space, start, end - start)?;
            return Err(Errno::ENOMEM);
        }
        Ok(start)
    }

    /// `munmap(addr, len)`.
    pub fn munmap(&mut self, space: &mut Space, addr: usize, len: usize) -> Result<usize, Errno> {
        let result = self.vmas.munmap(addr, len);
        self.mirror(space, addr, len)?;
        result
    }

    /// `mprotect(addr, len, prot)`: whatever the personality changed (all of the range, the
    /// run before its first hole, or nothing) the set changes. `prot` beyond 32 bits is
    /// `EINVAL`.
    pub fn mprotect(
        &mut self,
        space: &mut Space,
        addr: usize,
        len: usize,
        prot: usize,
    ) -> Result<usize, Errno> {
        let result = self.vmas.mprotect(addr, len, bits(prot)?);
        self.mirror(space, addr, len)?;
        result
    }

    /// `brk(brk)`: the personality moves the break (or refuses, and the break stays), and the
    /// set follows: the heap's new pages become a [`Lazy`] area, those given back are
    /// unmapped. If the set cannot, the break goes back to where it was.
    pub fn brk(&mut self, space: &mut Space, brk: usize) -> usize {
        // Below the heap's start, `brk` answers the break as it is.
        let old = self.vmas.brk(0);
        let new = self.vmas.brk(brk);
        let (old_end, new_end) = (
            old.next_multiple_of(PAGE_SIZE),
            new.next_multiple_of(PAGE_SIZE),
        );
        let followed = if new_end > old_end {
            let attr = attr_of(VmFlags::READ | VmFlags::WRITE);
            (space.push(old_end, new_end, attr, Lazy::new())).map_err(|_| Errno::ENOMEM)
        } else {
            self.mirror(space, new_end, old_end - new_end)
        };
        match followed {
            Ok(()) => new,
            Err(_) => self.vmas.brk(old),
        }
    }

    /// Makes the areas of the process's set `space` in the pages of `[addr, addr + len)` (cut to user space)
    /// what the VMAs there are: the holes unmapped, each VMA's piece with its access.
    /// `ENOMEM` if the set could not (a frame for a page table).
    fn mirror(&self, space: &mut Space, addr: usize, len: usize) -> Result<(), Errno> {
        let start = addr - addr % PAGE_SIZE;
        let end = addr
            .saturating_add(len)
            .min(TASK_SIZE)
            .next_multiple_of(PAGE_SIZE);
        if start >= end {
            return Ok(());
        }
        let map = self.vmas.map();
        let mut mirror = || -> MemoryResult<()> {
            for gap in map.gaps(start, end) {
                space.unmap(gap.start, gap.end)?;
            }
            for vma in map.overlapping(start, end) {
                let range = map.range_of(vma);
                let attr = attr_of(vma.attrs().flags());
                space.protect(range.start.max(start), range.end.min(end), attr)?;
            }
            Ok(())
        };
        mirror().map_err(|_| Errno::ENOMEM)
    }

    /// Whether the VMA at `addr` allows `access` (Linux's RISC-V `access_error`: an
    /// instruction fetch needs `VM_EXEC`, a load `VM_READ` or `VM_WRITE`, a store `VM_WRITE`;
    /// a store gives a private VMA its `anon_vma`, as the personality's
    /// [`write_fault`](LinuxMm::write_fault) does). No VMA, no access.
    pub fn allows(&mut self, addr: usize, access: Access) -> bool {
        (self.allows_shared(addr, access)).unwrap_or_else(|| self.vmas.write_fault(addr))
    }

    /// [`allows`](Mm::allows) without changing the VMAs, for a fault served under the read
    /// lock: `None` for a store to a private writable VMA that has no `anon_vma` yet, which
    /// only `allows` can give it.
    pub fn allows_shared(&self, addr: usize, access: Access) -> Option<bool> {
        let Some(vma) = self.vmas.map().find(addr) else {
            return Some(false);
        };
        let attrs = vma.attrs();
        let flags = attrs.flags();
        match access {
            Access::Execute => Some(flags.contains(VmFlags::EXEC)),
            Access::Read => Some(flags.intersects(VmFlags::READ | VmFlags::WRITE)),
            Access::Write if !flags.contains(VmFlags::WRITE) => Some(false),
            Access::Write if flags.contains(VmFlags::MAYSHARE) || attrs.anon_vma().is_some() => {
                Some(true)
            }
            Access::Write => None,
        }
    }

    /// Linux's `put_user` of the `u32` `value` at the user's `addr` (4-byte aligned, in the
    /// process's set `space`): `EFAULT` unless its VMA allows the store; the page is faulted
    /// in (or copied, if copy-on-write) first, as a store from the process would.
    pub fn put_user(&mut self, space: &mut Space, addr: usize, value: u32) -> Result<(), Errno> {
        if !addr.is_multiple_of(4) || !self.allows(addr, Access::Write) {
            return Err(Errno::EFAULT);
        }
        space::fault_in(space, addr, Access::Write).map_err(|_| Errno::EFAULT)?;
        let (pa, _) = space.page_table().translate(addr).ok_or(Errno::EFAULT)?;
        // SAFETY: RAM is mapped at `pa + PHYS_OFFSET` in every kernel space; the frame is the
        // process's page at `addr`, which the fault just made its own writable one, and a
        // 4-byte aligned `u32` does not cross it.
        unsafe { core::ptr::with_exposed_provenance_mut::<u32>(pa + PHYS_OFFSET).write(value) };
        Ok(())
    }
}

/// A system call's `unsigned long` flags argument as the personality's 32 bits; `EINVAL` if
/// more are set.
fn bits(arg: usize) -> Result<u32, Errno> {
    u32::try_from(arg).map_err(|_| Errno::EINVAL)
}

/// The `vm_flags` of an area the kernel mapped with `attr`: its access, and every `VM_MAY*`.
fn vm_flags(attr: MemoryAttr) -> VmFlags {
    let mut flags = VmFlags::READ | VmFlags::MAYREAD | VmFlags::MAYWRITE | VmFlags::MAYEXEC;
    if !attr.is_readonly() {
        flags |= VmFlags::WRITE;
    }
    if attr.is_execute() {
        flags |= VmFlags::EXEC;
    }
    flags
}

/// The set's attributes for a VMA with `flags`: user pages, read-only unless `VM_WRITE`,
/// executable with `VM_EXEC`; with none of `VM_READ`, `VM_WRITE`, `VM_EXEC` (`PROT_NONE`),
/// kernel-only read-only pages, which the user cannot touch.
fn attr_of(flags: VmFlags) -> MemoryAttr {
    let mut attr = MemoryAttr::new();
    if flags.intersects(VmFlags::ACCESS) {
        attr = attr.set_user();
    }
    if !flags.contains(VmFlags::WRITE) {
        attr = attr.set_readonly();
    }
    if flags.contains(VmFlags::EXEC) {
        attr = attr.set_execute();
    }
    attr
}
