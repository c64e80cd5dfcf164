//! The address space `execve` builds (`load_elf_binary` in
//! `fs/binfmt_elf.c`, `arch_pick_mmap_layout` and `mmap_base` in
//! `arch/x86/mm/mmap.c`, `setup_arg_pages` in `fs/exec.c`, `map_vdso` in
//! `arch/x86/entry/vdso/vma.c`), as Linux 6.18 x86-64 builds it with the
//! top-down or the legacy bottom-up layout.
//!
//! The steps are listed on [`LinuxMm::exec`].

#![forbid(unsafe_code)]

use super::errno::Errno;
use super::layout::{LinuxLayout, StackRlimit, PAGE_SIZE};
use super::mm::{map, prot, LinuxMm, MmapFile};
use super::vma::{Backing, LinuxSegment, VmFlags, VmaAttrs};
use crate::map::{ArgsOf, RangeAdapter, SegmentOf};

/// How many bytes `setup_arg_pages` adds below the argument pages
/// (`stack_expand`, 32 pages).
pub const STACK_EXPAND: usize = 128 << 10;

/// The type of an ELF file (`e_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElfType {
    /// `ET_EXEC`: loaded at its link addresses.
    Exec,
    /// `ET_DYN`: position independent, loaded at a base Linux chooses.
    Dyn,
}

/// One `PT_LOAD` program header, as the loader reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LoadSegment {
    /// `p_vaddr`: where the segment starts, relative to the load base for
    /// an [`ElfType::Dyn`] file.
    pub vaddr: usize,
    /// `p_offset`: where its bytes start in the file; congruent with
    /// `vaddr` modulo [`PAGE_SIZE`].
    pub offset: u64,
    /// `p_filesz`: how many bytes come from the file.
    pub filesz: usize,
    /// `p_memsz`: how many bytes it spans in memory (the rest are zero).
    pub memsz: usize,
    /// Its `PROT_*` bits (from `PF_R`, `PF_W`, `PF_X`).
    pub prot: u32,
}

/// An ELF file to load: its type, its `PT_LOAD` segments in file order
/// and the open file they map.
#[derive(Clone, Copy, Debug)]
pub struct ElfImage<'a> {
    /// `e_type`.
    pub kind: ElfType,
    /// The `PT_LOAD` headers, in ascending `p_vaddr` as the ELF
    /// specification requires.
    pub segments: &'a [LoadSegment],
    /// The largest power-of-two `p_align` of the segments
    /// (`maximum_alignment`), or [`PAGE_SIZE`] if none is larger.
    pub align: usize,
    /// The file the segments map.
    pub file: MmapFile,
}

impl ElfImage<'_> {
    /// `total_mapping_size`: from the first segment's page to the end of the
    /// last one's memory.
    fn span(&self) -> Result<(usize, usize), Errno> {
        let first = self.segments.first().ok_or(Errno::EINVAL)?;
        let last = self.segments.last().ok_or(Errno::EINVAL)?;
        let start = page_down(first.vaddr);
        let end = last.vaddr.checked_add(last.memsz).ok_or(Errno::EINVAL)?;
        Ok((start, end.checked_sub(start).ok_or(Errno::EINVAL)?))
    }
}

/// One special mapping of the vDSO (`_install_special_mapping`): its
/// length and the `vm_flags` Linux gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpecialMapping {
    /// Its length in bytes, a multiple of [`PAGE_SIZE`].
    pub len: usize,
    /// Its `vm_flags`.
    pub flags: VmFlags,
}

/// The vDSO of Linux 6.18 x86-64 in the order it is mapped: `[vvar]`
/// (4 pages), `[vvar_vclock]` (2 pages), `[vdso]` (2 pages).
pub const X86_64_VDSO: [SpecialMapping; 3] = {
    let vvar = VmFlags::READ
        .union(VmFlags::MAYREAD)
        .union(VmFlags::IO)
        .union(VmFlags::PFNMAP)
        .union(VmFlags::DONTEXPAND)
        .union(VmFlags::DONTDUMP);
    let text = VmFlags::READ
        .union(VmFlags::EXEC)
        .union(VmFlags::MAYREAD)
        .union(VmFlags::MAYWRITE)
        .union(VmFlags::MAYEXEC)
        .union(VmFlags::DONTEXPAND);
    [
        SpecialMapping {
            len: 4 * PAGE_SIZE,
            flags: vvar,
        },
        SpecialMapping {
            len: 2 * PAGE_SIZE,
            flags: vvar,
        },
        SpecialMapping {
            len: 2 * PAGE_SIZE,
            flags: text,
        },
    ]
};

/// What the loader knows besides the executable.
#[derive(Clone, Copy, Debug)]
pub struct ExecParams<'a> {
    /// The end of user space (`TASK_SIZE`, also `STACK_TOP`).
    pub task_size: usize,
    /// `RLIMIT_STACK`'s soft limit.
    pub stack_rlimit: StackRlimit,
    /// How many bytes the file name, argument and environment strings
    /// take below the stack top (`STACK_TOP - bprm->p`).
    pub arg_len: usize,
    /// Whether the legacy bottom-up layout is in force (the
    /// `ADDR_COMPAT_LAYOUT` personality or `vm.legacy_va_layout`; see
    /// [`LinuxLayout::with_legacy`]).
    pub legacy: bool,
    /// The interpreter (`PT_INTERP`), if any.
    pub interp: Option<ElfImage<'a>>,
    /// The vDSO's mappings, placed as one block (empty: no vDSO).
    pub vdso: &'a [SpecialMapping],
}

/// The random offsets `execve` adds with address-space randomisation.
/// Every method returns 0 unless overridden, which is Linux with
/// randomisation off (`setarch -R`, `norandmaps`); [`NoRandom`] is that.
/// Offsets should be multiples of [`PAGE_SIZE`].
pub trait ExecRandom {
    /// Subtracted from `mmap_base` (`arch_mmap_rnd`).
    fn mmap_offset(&mut self) -> usize {
        0
    }
    /// Subtracted from the stack top (`randomize_stack_top`).
    fn stack_offset(&mut self) -> usize {
        0
    }
    /// Added to `ELF_ET_DYN_BASE` for a PIE with an interpreter.
    fn load_offset(&mut self) -> usize {
        0
    }
    /// Added to the start of the heap (`arch_randomize_brk`).
    fn brk_offset(&mut self) -> usize {
        0
    }
}

/// No randomisation: every offset is 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NoRandom;

impl ExecRandom for NoRandom {}

/// Where `execve` put things (what the auxiliary vector and `mm_struct`
/// report).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExecLayout {
    /// `mm->mmap_base` (legacy layout: the bottom-up floor).
    pub mmap_base: usize,
    /// What was added to the executable's `p_vaddr`s (0 for `ET_EXEC`).
    pub load_bias: usize,
    /// The interpreter's load base (`AT_BASE`), if there is one.
    pub interp_base: Option<usize>,
    /// The start of the first vDSO mapping, if there is a vDSO.
    pub vdso_base: Option<usize>,
    /// `mm->start_brk`, where the heap starts.
    pub start_brk: usize,
    /// The stack VMA: `[stack_start, stack_end)`.
    pub stack_start: usize,
    /// The stack top (`mm->start_stack` is just below it).
    pub stack_end: usize,
}

// === impl LinuxMm: exec ===

impl<A> LinuxMm<A>
where
    A: RangeAdapter + Default,
    SegmentOf<A>: LinuxSegment,
{
    /// The address space `execve` of `image` builds, with the random
    /// offsets `random` gives ([`NoRandom`]: Linux with `setarch -R`), and
    /// where it put things.
    ///
    /// The steps, in Linux's order:
    ///
    /// 1. `mmap_base` from the stack rlimit ([`LinuxLayout::for_task_size`]),
    ///    less the hook's offset; with the legacy layout, `TASK_SIZE / 3`
    ///    page-aligned plus the offset, searched bottom-up.
    /// 2. The stack: one `VM_GROWSDOWN` VMA ending at `task_size` (less the
    ///    hook's offset) that holds the argument pages and 128 KiB more
    ///    (`stack_expand`), or `rlimit` bytes if that is less.
    /// 3. The executable's `PT_LOAD` segments (`elf_load`): each the file
    ///    pages of `[p_vaddr, p_vaddr + p_filesz)` at its page offset, then
    ///    anonymous zero pages up to `p_vaddr + p_memsz` (`vm_brk_flags`). An
    ///    `ET_EXEC` sits at its link address; an `ET_DYN` with an interpreter
    ///    at `ELF_ET_DYN_BASE` (2/3 of `task_size`) plus the hook's offset,
    ///    rounded down to the segments' alignment; an `ET_DYN` without one (a
    ///    static PIE) wherever `mmap` places its whole image.
    /// 4. The break: the page-aligned end of the executable's last segment, or
    ///    `PAGE_ALIGN(ELF_ET_DYN_BASE)` for a static PIE; plus the hook's
    ///    offset.
    /// 5. The interpreter, placed by `mmap` as one image of its whole span,
    ///    then cut to its segments.
    /// 6. The vDSO's special mappings (`[vvar]`, `[vvar_vclock]`, `[vdso]`),
    ///    placed together by the layout's search.
    ///
    /// # Examples
    ///
    /// ```
    /// use range_action_map::linux::{
    ///     prot, ElfImage, ElfType, ExecParams, FileKind, LinuxMm, LoadSegment, MmapFile,
    ///     NoRandom, StackRlimit, VmaAdapter, DEFAULT_TASK_SIZE, X86_64_VDSO,
    /// };
    ///
    /// // A static executable: text at 0x400000, data and 0x2000 bytes of bss.
    /// let segments = [
    ///     LoadSegment { vaddr: 0x40_0000, offset: 0, filesz: 0x1800, memsz: 0x1800,
    ///                   prot: prot::READ | prot::EXEC },
    ///     LoadSegment { vaddr: 0x40_2800, offset: 0x1800, filesz: 0x100, memsz: 0x2100,
    ///                   prot: prot::READ | prot::WRITE },
    /// ];
    /// let image = ElfImage {
    ///     kind: ElfType::Exec,
    ///     segments: &segments,
    ///     align: 0x1000,
    ///     file: MmapFile::new(3, FileKind::Thp, true, false),
    /// };
    /// let params = ExecParams {
    ///     task_size: DEFAULT_TASK_SIZE,
    ///     stack_rlimit: StackRlimit::DEFAULT,
    ///     arg_len: 100,
    ///     legacy: false,
    ///     interp: None,
    ///     vdso: &X86_64_VDSO,
    /// };
    /// let (mm, at) = LinuxMm::<VmaAdapter>::exec(&image, &params, &mut NoRandom, ()).unwrap();
    /// assert_eq!(at.start_brk, 0x40_5000);
    /// assert_eq!(at.vdso_base, Some(0x7fff_f7ff_7000));
    /// assert_eq!(
    ///     mm.to_string(),
    ///     "00400000-00402000 r-xp 00000000 00:00 3\n\
    ///      00402000-00403000 rw-p 00001000 00:00 3\n\
    ///      00403000-00405000 rw-p 00000000 00:00 0\n\
    ///      7ffff7ff7000-7ffff7ffb000 r--p 00000000 00:00 0\n\
    ///      7ffff7ffb000-7ffff7ffd000 r--p 00000000 00:00 0\n\
    ///      7ffff7ffd000-7ffff7fff000 r-xp 00000000 00:00 0\n\
    ///      7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0 [stack]\n"
    /// );
    /// ```
    ///
    /// # Errors
    ///
    /// `EINVAL` for an image without segments, a segment whose `p_offset`
    /// and `p_vaddr` differ modulo [`PAGE_SIZE`] or whose sizes overflow,
    /// or an `align` that is not a power of two; otherwise the errno of
    /// the `mmap` that failed (`EEXIST` for overlapping segments, `ENOMEM`
    /// when there is no room).
    pub fn exec(
        image: &ElfImage<'_>,
        params: &ExecParams<'_>,
        random: &mut impl ExecRandom,
        args: ArgsOf<A>,
    ) -> Result<(Self, ExecLayout), Errno> {
        let task_size = params.task_size;
        let base = LinuxLayout::for_task_size(task_size, params.stack_rlimit);
        // mm->mmap_base: the top-down ceiling less the offset, or the
        // legacy floor plus it.
        let offset = random.mmap_offset();
        let (layout, mmap_base) = if params.legacy {
            let floor = base
                .unmapped_base()
                .checked_add(offset)
                .ok_or(Errno::EINVAL)?;
            (base.with_unmapped_base(floor).with_legacy(true), floor)
        } else {
            let ceiling = base.mmap_base().checked_sub(offset).ok_or(Errno::EINVAL)?;
            (base.with_mmap_base(ceiling), ceiling)
        };
        let mut mm = LinuxMm::with_layout(layout, args);

        // setup_arg_pages(): the argument pages, then stack_expand more
        // unless that passes the rlimit.
        let stack_end = task_size
            .checked_sub(random.stack_offset())
            .ok_or(Errno::EINVAL)?;
        let arg_start = page_down(stack_end.checked_sub(params.arg_len).ok_or(Errno::EINVAL)?);
        let rlimit = match params.stack_rlimit {
            StackRlimit::Bytes(bytes) => page_down(bytes),
            StackRlimit::Unlimited => usize::MAX,
        };
        let stack_start = if stack_end - arg_start + STACK_EXPAND > rlimit {
            stack_end - rlimit
        } else {
            arg_start.checked_sub(STACK_EXPAND).ok_or(Errno::EINVAL)?
        };
        let stack_flags = VmFlags::READ
            .union(VmFlags::WRITE)
            .union(VmFlags::MAYREAD)
            .union(VmFlags::MAYWRITE)
            .union(VmFlags::MAYEXEC)
            .union(VmFlags::GROWSDOWN)
            .union(VmFlags::ACCOUNT);
        let pgoff = (stack_start / PAGE_SIZE) as u64;
        mm.insert(
            stack_start,
            stack_end,
            VmaAttrs::new(stack_flags, Backing::Anonymous, pgoff),
        )?;
        mm.set_start_stack(stack_end - PAGE_SIZE);
        // The strings are written: the stack has an anon_vma.
        mm.write_fault(stack_end - 1);

        // ELF_ET_DYN_BASE: 2/3 of the 47-bit window.
        let et_dyn_base = task_size / 3 * 2;
        let load_bias = match (image.kind, params.interp.is_some()) {
            (ElfType::Exec, _) => {
                mm.load(image, 0, true)?;
                0
            }
            (ElfType::Dyn, true) => {
                if !image.align.is_power_of_two() {
                    return Err(Errno::EINVAL);
                }
                let bias = (et_dyn_base + random.load_offset()) & !(image.align - 1);
                let bias = page_down(bias.wrapping_sub(image.segments[0].vaddr));
                mm.load(image, bias, true)?
            }
            (ElfType::Dyn, false) => mm.load(image, 0, false)?,
        };

        // The break: after the last segment, or (a static PIE) at
        // ELF_ET_DYN_BASE, far from its image.
        let start_brk = if image.kind == ElfType::Dyn && params.interp.is_none() {
            page_up(et_dyn_base)
        } else {
            let last = image.segments.last().ok_or(Errno::EINVAL)?;
            page_up(load_bias + last.vaddr + last.memsz)
        };
        let start_brk = start_brk + random.brk_offset();
        mm.set_start_brk(start_brk);
        // start_data and end_data: the highest segment start and file end.
        let start_data = image.segments.iter().map(|s| s.vaddr).max().unwrap_or(0);
        let end_data = image
            .segments
            .iter()
            .map(|s| s.vaddr + s.filesz)
            .max()
            .unwrap_or(0);
        mm.set_data_segment(end_data.saturating_sub(start_data));

        let interp_base = match &params.interp {
            Some(interp) => Some(mm.load(interp, 0, false)?),
            None => None,
        };

        let vdso_base = mm.map_specials(params.vdso)?;
        let layout = ExecLayout {
            mmap_base,
            load_bias,
            interp_base,
            vdso_base,
            start_brk,
            stack_start,
            stack_end,
        };
        Ok((mm, layout))
    }

    /// Maps `image`'s segments with `bias` added (`fixed`), or wherever
    /// `mmap` places the whole image (`!fixed`); returns the bias.
    fn load(&mut self, image: &ElfImage<'_>, bias: usize, fixed: bool) -> Result<usize, Errno> {
        let (first, total) = image.span()?;
        let bias = if fixed {
            bias
        } else {
            // elf_map() with total_size: the whole image where mmap puts
            // it, then the rest of it unmapped, then each segment fixed.
            let seg = image.segments[0];
            let off = seg.offset - (seg.vaddr % PAGE_SIZE) as u64;
            let at = self.mmap(0, total, seg.prot, map::PRIVATE, Some(&image.file), off)?;
            self.munmap(at, total)?;
            at - first
        };
        for seg in image.segments {
            self.load_segment(seg, bias, &image.file)?;
        }
        Ok(bias)
    }

    /// `elf_load()`: the file pages of one segment, then its zero pages.
    fn load_segment(
        &mut self,
        seg: &LoadSegment,
        bias: usize,
        file: &MmapFile,
    ) -> Result<(), Errno> {
        let page_off = seg.vaddr % PAGE_SIZE;
        if seg.offset % PAGE_SIZE as u64 != page_off as u64 {
            return Err(Errno::EINVAL);
        }
        let start = bias
            .checked_add(seg.vaddr - page_off)
            .ok_or(Errno::EINVAL)?;
        let file_end = start
            .checked_add(page_off + seg.filesz)
            .ok_or(Errno::EINVAL)?;
        let mem_end = start
            .checked_add(page_off + seg.memsz.max(seg.filesz))
            .ok_or(Errno::EINVAL)?;
        if seg.filesz > 0 {
            let off = seg.offset - page_off as u64;
            self.mmap(
                start,
                file_end - start,
                seg.prot,
                map::PRIVATE | map::FIXED_NOREPLACE,
                Some(file),
                off,
            )?;
            // padzero(): the rest of the last file page is cleared.
            if seg.memsz > seg.filesz && file_end % PAGE_SIZE != 0 && seg.prot & prot::WRITE != 0 {
                self.write_fault(file_end);
            }
        }
        let zero_start = if seg.filesz > 0 {
            page_up(file_end)
        } else {
            start
        };
        let zero_end = page_up(mem_end);
        if zero_end > zero_start {
            // vm_brk_flags(): anonymous, read-write, executable if the
            // segment is.
            let zero_prot = prot::READ | prot::WRITE | (seg.prot & prot::EXEC);
            self.mmap(
                zero_start,
                zero_end - zero_start,
                zero_prot,
                map::PRIVATE | map::ANONYMOUS | map::FIXED_NOREPLACE,
                None,
                0,
            )?;
        }
        Ok(())
    }

    /// `map_vdso()`: `specials` as one block placed by the layout.
    fn map_specials(&mut self, specials: &[SpecialMapping]) -> Result<Option<usize>, Errno> {
        let total = specials
            .iter()
            .try_fold(0usize, |sum, s| sum.checked_add(s.len))
            .ok_or(Errno::ENOMEM)?;
        if total == 0 {
            return Ok(None);
        }
        let base = self.get_unmapped_area(0, total, 0, None, false, 0)?;
        let mut at = base;
        for special in specials {
            self.insert(
                at,
                at + special.len,
                VmaAttrs::new(special.flags, Backing::Anonymous, 0),
            )?;
            at += special.len;
        }
        Ok(Some(base))
    }
}

/// `x` rounded down to a page.
const fn page_down(x: usize) -> usize {
    x & !(PAGE_SIZE - 1)
}

/// `x` rounded up to a page (saturating at the last page).
const fn page_up(x: usize) -> usize {
    match x.checked_add(PAGE_SIZE - 1) {
        Some(y) => page_down(y),
        None => page_down(x),
    }
}
