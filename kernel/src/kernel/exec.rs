//! The user programs, loaded from their ELF files: each is built in the workspace
//! (`kernel/user/`, by `build.rs`) and embedded in the kernel image on pages of its own, and
//! the image is the file. [`ImageFile`] is the page cache over it: page `pgoff` of a program
//! is the image's own frame, which the kernel image holds in RAM, so a page is never read nor
//! copied to be cached. [`load`] maps each `PT_LOAD` segment as Linux's `execve` does: its
//! file pages as a private [`FileMapping`] (copy-on-write over the cached frame), the tail of
//! the last file page zeroed in the private copy when the segment has a `.bss`, and the rest
//! of the `.bss` [`Lazy`].

use core::fmt;
use core::ops::Range;

use alloc::vec::Vec;
use object::elf::{FileHeader64, EM_RISCV, PF_W, PF_X, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};
use object::Endianness;
use range_action_map::memory_set::{
    Access, FileMapping, FrameAllocator, Lazy, MemoryAttr, PageCache, PageTable, PagingError,
    PAGE_SIZE,
};

use super::boot::PHYS_OFFSET;
use super::frames::Frames;
use super::space::Space;

/// Bytes on pages of their own.
#[repr(C, align(4096))]
struct PageAligned<T: ?Sized>(T);

/// An ELF file embedded in the image, and whether its page cache took its references yet.
pub struct Elf {
    name: &'static str,
    bytes: &'static PageAligned<[u8]>,
    cached: spin::Once<()>,
}

/// The ELF file `user/{name}` that `build.rs` built into `OUT_DIR`.
macro_rules! embed {
    ($name:literal) => {
        Elf {
            name: $name,
            bytes: &PageAligned(*include_bytes!(concat!(env!("OUT_DIR"), "/", $name))),
            cached: spin::Once::new(),
        }
    };
}

/// The user programs.
#[derive(Clone, Copy, Debug)]
pub enum Program {
    /// `user/mmap.rs`.
    Mmap,
    /// `user/mprotect.rs`.
    Mprotect,
    /// `user/fork.rs`.
    Fork,
    /// `user/shared.rs`.
    Shared,
    /// `user/stack.rs`.
    Stack,
    /// `user/stress.rs` ([`super::stress`]).
    Stress,
    /// `user/linux.rs`.
    Linux,
}

impl Program {
    /// Its ELF file.
    pub fn elf(self) -> &'static Elf {
        static MMAP: Elf = embed!("mmap");
        static MPROTECT: Elf = embed!("mprotect");
        static FORK: Elf = embed!("fork");
        static SHARED: Elf = embed!("shared");
        static STACK: Elf = embed!("stack");
        static STRESS: Elf = embed!("stress");
        static LINUX: Elf = embed!("linux");
        match self {
            Program::Mmap => &MMAP,
            Program::Mprotect => &MPROTECT,
            Program::Fork => &FORK,
            Program::Shared => &SHARED,
            Program::Stack => &STACK,
            Program::Stress => &STRESS,
            Program::Linux => &LINUX,
        }
    }
}

impl Elf {
    /// The file's bytes.
    fn bytes(&self) -> &'static [u8] {
        &self.bytes.0
    }

    /// The image's frame that holds page `pgoff` of the file.
    pub fn frame(&self, pgoff: usize) -> usize {
        self.bytes().as_ptr().addr() - PHYS_OFFSET + pgoff * PAGE_SIZE
    }

    /// The file's pages.
    pub fn pages(&self) -> usize {
        self.bytes().len().div_ceil(PAGE_SIZE)
    }
}

/// The page cache of an embedded ELF file: every page is in RAM, in the image's own frame.
/// At its first request it takes a reference to each (the image holds one already, so a
/// private write always copies), and keeps them: the image is never dropped. The kernel maps
/// its programs private: nothing is written back.
#[derive(Clone, Copy)]
pub struct ImageFile(pub &'static Elf);

impl PartialEq for ImageFile {
    fn eq(&self, other: &Self) -> bool {
        core::ptr::eq(self.0, other.0)
    }
}

impl fmt::Debug for ImageFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageFile({})", self.0.name)
    }
}

impl PageCache<Frames> for ImageFile {
    fn page(&self, pgoff: usize, frames: &mut Frames) -> Result<usize, PagingError> {
        if pgoff >= self.0.pages() {
            return Err(PagingError::NoPage { pgoff });
        }
        let file = self.0;
        file.cached
            .call_once(|| (0..file.pages()).for_each(|page| frames.add_ref(file.frame(page))));
        Ok(file.frame(pgoff))
    }

    fn set_dirty(&self, _pgoff: usize) {}

    fn writeback(&self, _pgoffs: Range<usize>, _frames: &mut Frames) -> usize {
        0
    }
}

/// A `PT_LOAD` segment as [`load`] mapped it.
pub struct Segment {
    /// Its file pages, the first mapping file page `pgoff`.
    pub pages: Range<usize>,
    /// The file page the first maps.
    pub pgoff: usize,
    /// Its permissions.
    pub attr: MemoryAttr,
    /// The tail of its last file page, zeroed in the private copy (empty without `.bss`).
    pub zeroed: Range<usize>,
    /// The rest of its `.bss`, mapped [`Lazy`] (empty without).
    pub bss: Range<usize>,
}

/// Maps `program`'s `PT_LOAD` segments into `space` (see the module's documentation); returns
/// its entry point and the segments.
///
/// # Panics
///
/// If the embedded file is not a RISC-V ELF64 whose segments' offsets are congruent with their
/// addresses modulo the page size (`build.rs` links them so), or frames run out.
pub fn load(space: &mut Space, program: Program) -> (usize, Vec<Segment>) {
    let elf = program.elf();
    let bytes = elf.bytes();
    let header = FileHeader64::<Endianness>::parse(bytes).expect("an ELF64 file");
    let endian = header.endian().expect("a known byte order");
    assert_eq!(header.e_machine(endian), EM_RISCV, "a RISC-V program");
    let headers = header
        .program_headers(endian, bytes)
        .expect("program headers");
    let mut segments = Vec::new();
    for ph in headers.iter().filter(|ph| ph.p_type(endian) == PT_LOAD) {
        let [vaddr, offset, filesz, memsz] = [
            ph.p_vaddr(endian),
            ph.p_offset(endian),
            ph.p_filesz(endian),
            ph.p_memsz(endian),
        ]
        .map(|field| field as usize);
        assert_eq!(
            vaddr % PAGE_SIZE,
            offset % PAGE_SIZE,
            "a segment off its page"
        );
        let flags = ph.p_flags(endian);
        let writable = flags & PF_W != 0;
        let mut attr = MemoryAttr::new().set_user();
        if !writable {
            attr = attr.set_readonly();
        }
        if flags & PF_X != 0 {
            attr = attr.set_execute();
        }
        let start = vaddr - vaddr % PAGE_SIZE;
        let (file_end, mem_end) = (vaddr + filesz, vaddr + memsz);
        // A segment without file bytes has no file pages: its `.bss` starts on its first page.
        let pages = start..if filesz == 0 {
            start
        } else {
            file_end.next_multiple_of(PAGE_SIZE)
        };
        let pgoff = offset / PAGE_SIZE;
        if !pages.is_empty() {
            let file = FileMapping::private(ImageFile(elf), pgoff);
            space
                .push(pages.start, pages.end, attr, file)
                .expect("a segment's file pages");
        }
        // As Linux's `padzero`: a `.bss` that starts inside the last file page starts zeroed.
        let zeroed = if memsz > filesz && writable && !pages.is_empty() {
            zero(space, file_end..pages.end);
            file_end..pages.end
        } else {
            file_end..file_end
        };
        let bss = pages.end..mem_end.next_multiple_of(PAGE_SIZE);
        if !bss.is_empty() {
            space
                .push(bss.start, bss.end, attr, Lazy::new())
                .expect("a segment's .bss");
        }
        segments.push(Segment {
            pages,
            pgoff,
            attr,
            zeroed,
            bss,
        });
    }
    let entry = header.e_entry(endian) as usize;
    (entry, segments)
}

/// Zeroes `range` (within one page of a private mapping of `space`) in the page's private
/// copy, which a write fault makes.
fn zero(space: &mut Space, range: Range<usize>) {
    if range.is_empty() {
        return;
    }
    space
        .handle_page_fault(range.start, Access::Write)
        .expect("a private copy of the page");
    let (pa, _) = space
        .page_table()
        .translate(range.start)
        .expect("the page just copied");
    // SAFETY: the frame is the private copy this space just made (nothing else maps it), and
    // RAM is mapped at `pa + PHYS_OFFSET` in every kernel space; `range` is inside its page.
    unsafe {
        core::ptr::with_exposed_provenance_mut::<u8>(pa + PHYS_OFFSET).write_bytes(0, range.len());
    }
}
