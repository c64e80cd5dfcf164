//! The checks each boot runs, each printing one line: `ok` with what it verified, or `FAIL`
//! with what it found instead. [`run`] returns whether all passed.

use core::fmt;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use range_action_map::memory_set::{
    Access, FrameAllocator, Lazy, Linear, MemoryAttr, PageSize, PageTable, PAGE_SIZE,
};

use super::boot::PHYS_OFFSET;
use super::exec::{self, Program};
use super::frames::{self, Frames};
use super::space::{self, with_active as active, FINISHER_VA};
use super::tlb::HartTable;
use super::user::{self, Exit};
use super::{finisher, hart, linux, stress, tlb, trap};

/// A word of `.data`, written before the switch to the kernel's own space and read after it.
static DATA_WORD: AtomicU64 = AtomicU64::new(1);

/// Where the alias check maps a frame a second time.
const ALIAS_VA: usize = 0xffff_ffd0_0000_0000;
/// Where the lazy check maps 64 MiB.
const LAZY_VA: usize = 0xffff_ffe0_0000_0000;
const LAZY_LEN: usize = 64 << 20;
/// The pages of the lazy area the check touches: one in every 4 MiB, at a different offset in
/// each.
const TOUCHED: usize = 16;

/// The checks' verdicts so far.
struct Verdicts {
    failed: usize,
    run: usize,
}

impl Verdicts {
    /// Records a check and prints its line.
    fn check(&mut self, ok: bool, name: &str, line: fmt::Arguments) {
        self.run += 1;
        if !ok {
            self.failed += 1;
        }
        println!("[{}] {name}: {line}", if ok { "ok" } else { "FAIL" });
    }
}

/// Runs every check on a machine whose RAM ends at `ram_end` (physical); `true` if all passed.
pub fn run(hart: usize, ram_end: usize) -> bool {
    let mut verdicts = Verdicts { failed: 0, run: 0 };
    let at_start = frames::live();
    activate(&mut verdicts, ram_end);
    huge_pages(&mut verdicts);
    alias(&mut verdicts);
    device(&mut verdicts);
    let kernel_frames = frames::live();
    lazy(&mut verdicts, ram_end, kernel_frames);
    fork(&mut verdicts, ram_end, kernel_frames);
    processes(&mut verdicts, ram_end, kernel_frames);
    two_harts(&mut verdicts, hart);
    shootdown(&mut verdicts);
    // The two checks above left tables in the kernel's space.
    processes_on_harts(&mut verdicts, ram_end, frames::live());
    let Verdicts { failed, run } = verdicts;
    println!(
        "{run} checks, {failed} failed; frames: {} in use by the kernel's space ({at_start} before it), {} free",
        frames::live(),
        frames::capacity() - frames::live()
    );
    failed == 0
}

/// The kernel switches to an address space the crate built, and goes on running on it.
fn activate(verdicts: &mut Verdicts, ram_end: usize) {
    DATA_WORD.store(0x5eed_0000_0000_0001, Ordering::SeqCst);
    let space = space::new_kernel_space(ram_end).expect("frames for the kernel's space");
    let root = space.page_table().root_paddr();
    // SAFETY: a kernel space maps the image, its stack (in `.bss`) and physical memory.
    let boot = unsafe { space::activate(space) };
    assert!(boot.is_none(), "the first space activated");
    // From here on, the finisher is reached through the crate's device page.
    finisher::set_va(FINISHER_VA);
    let word = DATA_WORD.load(Ordering::SeqCst);
    let addr = (&raw const DATA_WORD).addr();
    let translated = active(|space| space.page_table().translate(addr).map(|(pa, _)| pa));
    verdicts.check(
        space::satp_root() == root && word == 0x5eed_0000_0000_0001 && translated == Some(addr - PHYS_OFFSET),
        "activate",
        format_args!(
            "satp holds the crate's Sv39 root {:#x} (expected {root:#x}); .data word at {addr:#x} read back {word:#x} through its high-half leaf to {:#x}",
            space::satp_root(),
            translated.unwrap_or(0),
        ),
    );
}

/// The linear map takes huge pages where they fit: far fewer table frames than 4 KiB pages
/// would need.
fn huge_pages(verdicts: &mut Verdicts) {
    let (used, need, leaf, probe, mib) = active(|space| {
        // Tables 4 KiB leaves would need: the root, one per gigabyte and one per 2 MiB that
        // an area touches (areas come in address order, so each is counted once).
        let (mut need, mut last_1g, mut last_2m, mut bytes) = (1, None, None, 0);
        for area in space.iter() {
            let range = area.range();
            bytes += range.len();
            for (shift, last) in [(30, &mut last_1g), (21, &mut last_2m)] {
                for region in range.start >> shift..=(range.end - 1) >> shift {
                    if *last != Some(region) {
                        *last = Some(region);
                        need += 1;
                    }
                }
            }
        }
        // A 2 MiB page in the middle of the linear window onto RAM.
        let physical = space
            .iter()
            .max_by_key(|area| area.range().len())
            .map(|a| a.range());
        let probe = physical.map_or(0, |r| (r.start + r.len() / 2) & !((2 << 20) - 1));
        let leaf = space.page_table().query(probe);
        (
            1 + space.page_table().table_frames(),
            need,
            leaf,
            probe,
            bytes >> 20,
        )
    });
    let size = leaf.map(|leaf| leaf.size);
    verdicts.check(
        used < need && size == Some(PageSize::Size2M),
        "huge pages",
        format_args!(
            "{mib} MiB mapped linear in {used} table frames (4 KiB pages would need {need}); {probe:#x} is a {} leaf",
            size.map_or("missing", |s| match s {
                PageSize::Size4K => "4 KiB",
                PageSize::Size2M => "2 MiB",
                PageSize::Size1G => "1 GiB",
            })
        ),
    );
}

/// A frame mapped a second time through the crate (`Linear`) is the same memory as through
/// the window onto RAM; once unmapped, a write to the alias faults.
fn alias(verdicts: &mut Verdicts) {
    let frame = Frames.alloc().expect("a frame");
    let window = frame + PHYS_OFFSET;
    let pushed = active(|space| {
        space.push(
            ALIAS_VA,
            ALIAS_VA + PAGE_SIZE,
            MemoryAttr::new(),
            Linear::new(ALIAS_VA - frame),
        )
    });
    pushed.expect("the alias area");
    // SAFETY: both addresses map the frame just allocated, which nothing else uses.
    let (seen_at_alias, seen_in_window) = unsafe {
        ptr(window).write_volatile(0xa11a5);
        let seen = ptr(ALIAS_VA).read_volatile();
        ptr(ALIAS_VA + 8).write_volatile(0xb0b);
        (seen, ptr(window + 8).read_volatile())
    };
    let unmapped = active(|space| space.unmap(ALIAS_VA, ALIAS_VA + PAGE_SIZE));
    unmapped.expect("the alias area unmaps");
    // SAFETY: if the write succeeds, it writes the frame, still ours.
    let after_unmap = unsafe { trap::probe_write(ALIAS_VA, 1) };
    Frames.dealloc(frame);
    verdicts.check(
        seen_at_alias == 0xa11a5 && seen_in_window == 0xb0b && after_unmap == Err(ALIAS_VA),
        "linear alias",
        format_args!(
            "frame {frame:#x} written at {window:#x} read {seen_at_alias:#x} at {ALIAS_VA:#x} and back ({seen_in_window:#x}); after unmap a write there {}",
            if after_unmap == Err(ALIAS_VA) { "faulted" } else { "did not fault" },
        ),
    );
}

/// The finisher this kernel exits through is a device leaf the crate mapped.
fn device(verdicts: &mut Verdicts) {
    let leaf = active(|space| space.page_table().query(FINISHER_VA));
    let ok = leaf.is_some_and(|l| l.pa == finisher::PA && l.attr.is_device() && !l.attr.is_user());
    verdicts.check(
        ok && finisher::va() == FINISHER_VA,
        "device",
        format_args!(
            "the test finisher {:#x} is mapped at {FINISHER_VA:#x} as {}, and the kernel exits through it",
            leaf.map_or(0, |l| l.pa),
            leaf.map_or("nothing", |l| if l.attr.is_device() { "device memory" } else { "normal memory" }),
        ),
    );
}

/// In a second kernel space: a 64 MiB `Lazy` area touched sparsely costs one frame per
/// touched page, its pages fault in through `handle_page_fault`; `protect` makes a page
/// read-only in the MMU; and dropping the space gives back every frame it took.
fn lazy(verdicts: &mut Verdicts, ram_end: usize, before: usize) {
    let mut second = space::new_kernel_space(ram_end).expect("frames for a second space");
    second
        .push(LAZY_VA, LAZY_VA + LAZY_LEN, MemoryAttr::new(), Lazy::new())
        .expect("the lazy area");
    // SAFETY: a kernel space maps the image, its stack and physical memory.
    let kernel = unsafe { space::activate(second) }.expect("the kernel's space was active");
    let (frames_before, tables_before) = (frames::live(), tables());
    let page = |i: usize| LAZY_VA + i * (LAZY_LEN / TOUCHED) + (i * 7 % 1024) * PAGE_SIZE;
    for i in 0..TOUCHED {
        // SAFETY: a page of the lazy area, which no one else uses; the write faults it in.
        unsafe { ptr(page(i)).write_volatile(0x1a2e_0000 + i as u64) };
    }
    // SAFETY: as above, the pages are mapped now.
    let intact =
        (0..TOUCHED).all(|i| unsafe { ptr(page(i)).read_volatile() } == 0x1a2e_0000 + i as u64);
    let tables_taken = tables() - tables_before;
    let pages_taken = frames::live() - frames_before - tables_taken;
    let mapped = active(|space| {
        let (mut va, mut n) = (LAZY_VA, 0);
        while let Some(at) = space.page_table().next_mapped(va, LAZY_VA + LAZY_LEN) {
            (va, n) = (at + PAGE_SIZE, n + 1);
        }
        n
    });
    verdicts.check(
        intact && pages_taken == TOUCHED && mapped == TOUCHED,
        "lazy",
        format_args!(
            "{} MiB Lazy area, {TOUCHED} pages written and read back through page faults: {pages_taken} page frames (+{tables_taken} table frames), {mapped} pages mapped",
            LAZY_LEN >> 20
        ),
    );

    // `protect` takes write permission away in the MMU, and gives it back.
    let target = page(3);
    let ro =
        active(|space| space.protect(target, target + PAGE_SIZE, MemoryAttr::new().set_readonly()));
    // SAFETY: a page of the lazy area, ours.
    let refused = unsafe { trap::probe_write(target, 0xdead) };
    // SAFETY: as above.
    let kept = unsafe { ptr(target).read_volatile() };
    let rw = active(|space| space.protect(target, target + PAGE_SIZE, MemoryAttr::new()));
    // SAFETY: as above.
    let allowed = unsafe { trap::probe_write(target, 0xbeef) };
    verdicts.check(
        ro.is_ok() && rw.is_ok() && refused == Err(target) && kept == 0x1a2e_0003 && allowed.is_ok(),
        "protect",
        format_args!(
            "a write to {target:#x} made read-only {} (the page kept {kept:#x}); made writable again, a write {}",
            if refused.is_err() { "faulted" } else { "went through" },
            if allowed.is_ok() { "went through" } else { "faulted" },
        ),
    );

    // Unmapping the area frees its pages; dropping the space, its tables too.
    let unmapped = active(|space| space.unmap(LAZY_VA, LAZY_VA + LAZY_LEN));
    let after_unmap = frames::live() - frames_before;
    let tables_kept = tables() - tables_before;
    // SAFETY: `kernel` is a kernel space as `second` is.
    let second = unsafe { space::activate(kernel) }.expect("the second space was active");
    drop(second);
    let after_drop = frames::live();
    verdicts.check(
        unmapped.is_ok() && after_unmap == tables_kept && after_drop == before,
        "frames back",
        format_args!(
            "after unmap {after_unmap} frames above the count before the touches, the {tables_kept} tables kept; after the space was dropped {after_drop} frames in use, as before it was built ({before})"
        ),
    );
}

/// Copy-on-write between two kernel spaces, parent and child of `clone_for_fork`: each side
/// reads back what it wrote and the other side's writes never; a write copies a page only
/// while its frame is shared; dropping both spaces gives back every frame.
fn fork(verdicts: &mut Verdicts, ram_end: usize, before: usize) {
    const PAGES: usize = 4;
    let page = |i: usize| LAZY_VA + i * PAGE_SIZE;
    let mut parent = space::new_kernel_space(ram_end).expect("frames for a parent space");
    parent
        .push(LAZY_VA, page(PAGES), MemoryAttr::new(), Lazy::new())
        .expect("the parent's private area");
    // SAFETY: a kernel space maps the image, its stack and physical memory.
    let kernel = unsafe { space::activate(parent) }.expect("the kernel's space was active");
    for i in 0..PAGES {
        // SAFETY: a page of the private area, ours; the write faults it in.
        unsafe { ptr(page(i)).write_volatile(0x9a7e_0000 + i as u64) };
    }
    // SAFETY: as for `try_new` in `new_kernel_space`: every frame is mapped at
    // `pa + PHYS_OFFSET`.
    let table = unsafe { HartTable::try_new() }.expect("a root for the child");
    let child = active(|parent| parent.clone_for_fork(table)).expect("the child's space");
    let at_fork = frames::live();

    // Sides take turns: `write` pages get a side's own value, then every page is read.
    let turn = |space: space::Space, own: u64, write: &[usize]| {
        // SAFETY: a kernel space maps the image, its stack and physical memory.
        let other = unsafe { space::activate(space) }.expect("a space was active");
        for &i in write {
            // SAFETY: a page of the private area, ours.
            unsafe { ptr(page(i)).write_volatile(own + i as u64) };
        }
        // SAFETY: as above.
        let seen: [u64; PAGES] = core::array::from_fn(|i| unsafe { ptr(page(i)).read_volatile() });
        (other, seen)
    };
    let (parent, child_seen) = turn(child, 0xc41d_0000, &[0, 1]);
    let (child, parent_seen) = turn(parent, 0x9a7e_1000, &[0, 2]);
    let copies = frames::live() - at_fork;
    let (parent, child_later) = turn(child, 0, &[]);
    // Parent: its own pages 0 and 2, the fork's 1 and 3. Child: its own 0 and 1, the fork's
    // 2 and 3. The child's writes copied pages 0 and 1 (shared); the parent's write to 2
    // copied it (still shared), to 0 did not (the child had copied it away).
    let (fork, child_own, parent_own) = (0x9a7e_0000, 0xc41d_0000, 0x9a7e_1000);
    let want_parent = [parent_own, fork + 1, parent_own + 2, fork + 3];
    let want_child = [child_own, child_own + 1, fork + 2, fork + 3];
    drop(parent);
    // SAFETY: `kernel` is a kernel space as the child is.
    let child = unsafe { space::activate(kernel) }.expect("the child's space was active");
    drop(child);
    let after = frames::live();
    let separate =
        parent_seen == want_parent && child_seen == want_child && child_later == want_child;
    verdicts.check(
        separate && copies == 3 && after == before,
        "copy-on-write",
        format_args!(
            "after fork the child wrote pages 0 and 1, the parent 0 and 2; {}; {copies} frames copied for 3 writes to shared pages; both spaces dropped, {after} frames in use as before ({before})",
            if separate {
                "each read back its own writes and never the other's"
            } else {
                "a side read the other's writes or lost its own"
            },
        ),
    );
    if !separate {
        println!("    parent read {parent_seen:x?}, child {child_seen:x?} then {child_later:x?}");
    }
}

/// U-mode processes, their system calls and page faults served through their own
/// `MemorySet`: one maps, writes, unmaps, says hello and exits; one writes a page it made
/// read-only and is killed at that address; then every frame is back.
fn processes(verdicts: &mut Verdicts, ram_end: usize, before: usize) {
    let first = user::run(Program::Mmap, ram_end);
    let said = &first.written.0[..first.written.1];
    verdicts.check(
        first.exit == Exit::Code(42)
            && said == b"hello from U-mode\n"
            && first.faults == 2
            && first.pages == 1,
        "user mmap",
        format_args!(
            "a process mapped 64 KiB at {:#x}, wrote 2 pages ({} faults), unmapped 1 ({} left mapped), wrote {} bytes, ended with {}",
            first.mapped,
            first.faults,
            first.pages,
            said.len(),
            first.exit
        ),
    );
    let second = user::run(Program::Mprotect, ram_end);
    let after = frames::live();
    verdicts.check(
        second.exit == (Exit::Segv { addr: second.mapped }) && second.mapped != 0 && after == before,
        "user mprotect",
        format_args!(
            "a process that wrote to its page {:#x} after mprotect(PROT_READ) ended with {}; both processes gone, {after} frames in use as before ({before})",
            second.mapped, second.exit
        ),
    );
    user_fork(verdicts, ram_end, before);
    user_shared(verdicts, ram_end, before);
    user_stack(verdicts, ram_end, before);
    user_stress(verdicts, ram_end, before);
    user_linux(verdicts, ram_end, before);
    user_elf(verdicts, ram_end, before);
}

/// Linux's answers from U-mode: a process (`user/linux.rs`) makes memory calls (`mmap`,
/// `munmap`, `mprotect`, `brk`) whose results Linux fixes and checks each (it exits 0 if all held, else the number of the step that did
/// not); the kernel checks that its first mapping went where Linux's top-down layout puts it,
/// and that its last child died of SIGSEGV at the `PROT_NONE` page.
fn user_linux(verdicts: &mut Verdicts, ram_end: usize, before: usize) {
    let run = user::run(Program::Linux, ram_end);
    let after = frames::live();
    let [first, second, none] = [run.registers[11], run.registers[12], run.registers[13]];
    let top = linux::LAYOUT.mmap_base() - 3 * PAGE_SIZE;
    let child = run.reaped.map(|(_, exit)| exit);
    verdicts.check(
        run.exit == Exit::Code(0)
            && first == top
            && child == Some(Exit::Segv { addr: none })
            && run.left == 0
            && after == before,
        "user linux",
        format_args!(
            "a process checked Linux's answers and ended with {} (0 if all held): mmap(NULL, 12 KiB) at {first:#x} (mmap_base {:#x} less 12 KiB: {top:#x}), mmap(NULL, 4 KiB) right below at {second:#x}, a free hint taken as is, MAP_FIXED_NOREPLACE over a mapping EEXIST, munmap of a misaligned address EINVAL, mprotect(PROT_READ) across a hole ENOMEM with the run before the hole read-only (a child's write there killed by SIGSEGV) and the page after it still writable, mprotect from the hole ENOMEM changing nothing; wait4 with wstatus pointing into that read-only run EFAULT, the child reaped all the same (ECHILD next); a page made PROT_NONE at {none:#x}, where its last child's read ended with {}, kept its word when made writable again; brk grew the heap by 2 pages (one written and read back) and shrank it back, its first page free for MAP_FIXED_NOREPLACE again; {} processes left, {after} frames in use ({before} before)",
            run.exit,
            linux::LAYOUT.mmap_base(),
            Reaped(run.reaped),
            run.left,
        ),
    );
}

/// The programs are mapped from their ELF files in the image ([`exec`]): in two processes of
/// one program, each text page maps the image's own frame of it (no copy), and a write to one
/// process's text page, made writable, copies it and is not seen in the other process nor in
/// the image (copy-on-write of the file page); the page where `.data` ends and `.bss` starts
/// is each process's private copy, its file bytes the image's and the rest zeroed, and a
/// write to one copy is not seen in the other. Dropping both, every frame is back, and the
/// image's frames hold their references of before (the kernel's and the page cache's).
fn user_elf(verdicts: &mut Verdicts, ram_end: usize, before: usize) {
    let elf = Program::Mmap.elf();
    let refs = || {
        (0..elf.pages())
            .map(|page| Frames.ref_count(elf.frame(page)))
            .sum::<usize>()
    };
    let refs_before = refs();
    let load = || {
        let mut space = space::new_kernel_space(ram_end).expect("frames for a process");
        let (_, segments) = exec::load(&mut space, Program::Mmap);
        (space, segments)
    };
    let ((mut a, segments), (mut b, _)) = (load(), load());
    let (mut text_pages, mut shared) = (0, 0);
    for segment in segments.iter().filter(|segment| segment.attr.is_readonly()) {
        for (i, va) in segment.pages.clone().step_by(PAGE_SIZE).enumerate() {
            let image = elf.frame(segment.pgoff + i);
            let faulted =
                [&mut a, &mut b].map(|space| space.handle_page_fault(va, Access::Execute));
            text_pages += 1;
            shared += usize::from(
                faulted.iter().all(Result::is_ok)
                    && frame_at(&a, va) == Some(image)
                    && frame_at(&b, va) == Some(image),
            );
        }
    }
    let text = segments.iter().find(|segment| segment.attr.is_readonly());
    let text = text.expect("a text segment");
    let (text_copy, text_unseen) = write_text(&mut a, &b, text.pages.start, elf.frame(text.pgoff));

    let data = segments.iter().find(|segment| !segment.zeroed.is_empty());
    let data = data.expect("a writable segment with a .bss");
    let page = data.zeroed.start - data.zeroed.start % PAGE_SIZE;
    let image = elf.frame(data.pgoff + (page - data.pages.start) / PAGE_SIZE);
    let (copy_a, copy_b) = (
        frame_at(&a, page).unwrap_or(image),
        frame_at(&b, page).unwrap_or(image),
    );
    let tail = data.zeroed.start - page;
    let [in_image, in_a, in_b] = [image, copy_a, copy_b].map(frame_bytes);
    let copied = copy_a != image && copy_b != image && copy_a != copy_b;
    let as_file = in_a[..tail] == in_image[..tail] && in_b[..tail] == in_image[..tail];
    let zeroed = in_a[tail..]
        .iter()
        .chain(&in_b[tail..])
        .all(|&byte| byte == 0);
    let nonzero = in_image[tail..].iter().filter(|&&byte| byte != 0).count();
    let first = in_image[0];
    // SAFETY: `copy_a` is `a`'s private copy (checked `copied`), mapped at `pa + PHYS_OFFSET`.
    unsafe {
        if copied {
            core::ptr::with_exposed_provenance_mut::<u8>(copy_a + PHYS_OFFSET).write(!first);
        }
    }
    let unseen = frame_bytes(copy_b)[0] == first && frame_bytes(image)[0] == first;
    drop((a, b));
    let (after, refs_after) = (frames::live(), refs());
    verdicts.check(
        text_pages > 0
            && shared == text_pages
            && text_unseen
            && copied
            && as_file
            && zeroed
            && unseen
            && after == before
            && refs_after == refs_before,
        "user elf",
        format_args!(
            "two processes of `mmap` loaded from its ELF: {shared} of {text_pages} text pages map the image's own frame in both; a write to one's text page, made writable, {} (the other's and the image's bytes {}); the .data/.bss page at {page:#x} is a copy in each ({copy_a:#x}, {copy_b:#x}; image {image:#x}), {} bytes {} the file's, {} tail bytes {} (the file has {nonzero} nonzero there), and a write to one copy {} the other; both dropped, {after} frames in use ({before} before), {refs_after} references to the file's {} image frames ({refs_before} before)",
            Copied(text_copy),
            if text_unseen { "unchanged" } else { "changed" },
            tail,
            if as_file { "as" } else { "not as" },
            PAGE_SIZE - tail,
            if zeroed { "zeroed" } else { "not zeroed" },
            if unseen { "is not seen in" } else { "shows in" },
            elf.pages(),
        ),
    );
}

/// Makes the text page `va` of `a` (which maps the image's frame `image` there, as `b` does)
/// writable and writes its first byte: the write fault copies it. Returns `a`'s copy, and
/// whether the write shows in it and neither in `b`'s page (the image's frame still) nor in
/// the image.
fn write_text(
    a: &mut space::Space,
    b: &space::Space,
    va: usize,
    image: usize,
) -> (Option<usize>, bool) {
    let first = frame_bytes(image)[0];
    let writable = MemoryAttr::new().set_user().set_execute();
    let faulted = a.protect(va, va + PAGE_SIZE, writable).is_ok()
        && a.handle_page_fault(va, Access::Write).is_ok();
    let copy = frame_at(a, va).filter(|&pa| faulted && pa != image);
    if let Some(copy) = copy {
        // SAFETY: `copy` is `a`'s private copy of the page (another frame than the image's),
        // mapped at `pa + PHYS_OFFSET`.
        unsafe { core::ptr::with_exposed_provenance_mut::<u8>(copy + PHYS_OFFSET).write(!first) };
    }
    let unseen = copy.is_some_and(|copy| frame_bytes(copy)[0] == !first)
        && frame_at(b, va) == Some(image)
        && frame_bytes(image)[0] == first;
    (copy, unseen)
}

/// Where a write copied a page, for a check's line.
struct Copied(Option<usize>);

impl fmt::Display for Copied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(pa) => write!(f, "copied it to {pa:#x}"),
            None => write!(f, "did not copy it"),
        }
    }
}

/// The frame `space` maps at `va`.
fn frame_at(space: &space::Space, va: usize) -> Option<usize> {
    space.page_table().translate(va).map(|(pa, _)| pa)
}

/// The page of RAM at `pa`, through the kernel's window onto RAM.
fn frame_bytes(pa: usize) -> &'static [u8] {
    // SAFETY: RAM is mapped at `pa + PHYS_OFFSET` in every kernel space; the callers read
    // frames that nothing writes meanwhile.
    unsafe {
        core::slice::from_raw_parts(
            core::ptr::with_exposed_provenance(pa + PHYS_OFFSET),
            PAGE_SIZE,
        )
    }
}

/// The stress program ([`stress`]): thousands of random `mmap`/`munmap`/`mprotect` calls
/// checked against the program's own model of its pages (which predicts Linux's answers), with children sent to touch the pages
/// that must fault; every process gone and every frame back after.
fn user_stress(verdicts: &mut Verdicts, ram_end: usize, before: usize) {
    let run = user::run(Program::Stress, ram_end);
    let after = frames::live();
    let counts = stress::Counts::of(&run.registers);
    let calls = counts.mmaps + counts.munmaps + counts.mprotects;
    let failure = match run.exit {
        Exit::Code(code) => stress::Failure::of(code),
        Exit::Segv { .. } => None,
    };
    verdicts.check(
        stress_passed(&run) && run.left == 0 && after == before,
        "user stress",
        format_args!(
            "{calls} calls over {} pages ({} mmap, {} munmap, {} mprotect; PROT_NONE, read-only or read-write), each answer as the model predicted Linux's (top-down placement, mprotect's ENOMEM at a hole with only the run before it changed), {} pages verified against the model, {} children (each checking its fork's copy of every readable page first) sent to touch a page that must fault and {} seen killed by SIGSEGV at that address through wait4; ended with {}{}; {} processes left, {after} frames in use ({before} before)",
            stress::WINDOW,
            counts.mmaps,
            counts.munmaps,
            counts.mprotects,
            counts.verified,
            counts.expected,
            counts.seen,
            run.exit,
            Detail(failure, run.registers[5], run.registers[6]),
            run.left,
        ),
    );
}

/// Whether a run of the stress program passed: it exited 0 after at least [`stress::OPS`]
/// calls, and saw every fault it expected.
fn stress_passed(run: &user::Run) -> bool {
    let counts = stress::Counts::of(&run.registers);
    run.exit == Exit::Code(0)
        && counts.mmaps + counts.munmaps + counts.mprotects >= stress::OPS
        && counts.expected > 0
        && counts.seen == counts.expected
}

/// A stress program's failure and what it found (its `t0` and `t1`), for a check's line.
struct Detail(Option<stress::Failure>, usize, usize);

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(stress::Failure::Fault) => write!(
                f,
                " (Fault at {:#x}: wait4 reported wstatus {:#x})",
                self.1, self.2
            ),
            Some(failure) => write!(f, " ({failure:?} at {:#x})", self.1),
            None => Ok(()),
        }
    }
}

/// A user-level fork: parent and child write different values to the same two of four private
/// pages and each reads back its own (the programs check, and exit 42 and the child's pid);
/// the writes copied one frame per page written; every frame is back after.
fn user_fork(verdicts: &mut Verdicts, ram_end: usize, before: usize) {
    let run = user::run(Program::Fork, ram_end);
    let copies = run.live_at_child_exit.wrapping_sub(run.live_at_fork);
    let after = frames::live();
    verdicts.check(
        fork_passed(&run)
            && copies == 2
            && run.left == 0
            && after == before,
        "user fork",
        format_args!(
            "after fork the parent wrote pages 0 and 1 of 4 before its child ran, the child found the fork's values there and wrote them too; both checked they read back their own writes and the fork's: the parent (42 if so) ended with {}, the child its wait4 reaped was {} (exit(its getpid) if so); {copies} frames copied for 2 pages written; {} processes left, {after} frames in use ({before} before)",
            run.exit,
            Reaped(run.reaped),
            run.left,
        ),
    );
}

/// Whether a run of the fork program passed: the parent exited 42 and its child with its pid
/// (each checked the values it read).
fn fork_passed(run: &user::Run) -> bool {
    let child = run.reaped.map_or(0, |(pid, _)| pid);
    run.exit == Exit::Code(42) && run.reaped == Some((child, Exit::Code(child)))
}

/// Shared anonymous memory (`MAP_SHARED | MAP_ANONYMOUS`, the crate's `Shared`): the parent
/// reads what its child wrote (the program checks it and exits 42).
fn user_shared(verdicts: &mut Verdicts, ram_end: usize, before: usize) {
    let run = user::run(Program::Shared, ram_end);
    let after = frames::live();
    verdicts.check(
        run.exit == Exit::Code(42)
            && matches!(run.reaped, Some((_, Exit::Code(0))))
            && run.left == 0
            && after == before,
        "user shared",
        format_args!(
            "a child, checking it reads its parent's 0x11, wrote 0x5ead to a MAP_SHARED page at {:#x}; the parent's wait4 reaped {} (exit(0) if it read 0x11); the parent, checking it reads 0x5ead after wait4, ended with {} (42 if so); {after} frames in use ({before} before)",
            run.mapped,
            Reaped(run.reaped),
            run.exit,
        ),
    );
}

/// A growing stack: a process writes 8 pages down from its stack's top, the stack (one page
/// at first) growing through faults retried under the write lock; its child writes 32 pages
/// down, beyond the stack rlimit, and dies by SIGSEGV at that address, which the parent sees
/// through `wait4` (the program checks, and exits 42).
fn user_stack(verdicts: &mut Verdicts, ram_end: usize, before: usize) {
    let run = user::run(Program::Stack, ram_end);
    let after = frames::live();
    let expected = user::STACK_TOP - (32 << 12);
    let child = run.reaped.map(|(_, exit)| exit);
    verdicts.check(
        run.exit == Exit::Code(42)
            && run.grown == 7
            && child == Some(Exit::Segv { addr: expected })
            && run.left == 0
            && after == before,
        "user stack",
        format_args!(
            "a process wrote 8 pages down from its stack top and read them back, {} faults growing a stack under the write lock (7 expected); its child wrote 32 pages down (rlimit {} KiB), and the parent's wait4 reaped {}; the parent, checking that wait4 reported SIGSEGV at that address, ended with {} (42 if so); {after} frames in use ({before} before)",
            run.grown,
            user::STACK_RLIMIT >> 10,
            Reaped(run.reaped),
            run.exit,
        ),
    );
}

/// What a parent's `wait4` reaped, for a check's line.
struct Reaped(Option<(usize, Exit)>);

impl fmt::Display for Reaped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some((pid, exit)) => write!(f, "pid {pid}, ended with {exit}"),
            None => write!(f, "no child"),
        }
    }
}

/// Where the two-hart check maps its lazy area, and the pages of it each hart writes (every
/// other one, from its own end: the harts' pages interleave, and their faults run at once).
const SMP_VA: usize = 0xffff_ffe8_0000_0000;
const SMP_PAGES: usize = 256;

/// How many harts finished their share of the two-hart check.
static HARTS_DONE: AtomicUsize = AtomicUsize::new(0);
/// How many harts arrived at the start of their share.
static HARTS_ARRIVED: AtomicUsize = AtomicUsize::new(0);
/// Writes to the two-hart area so far, both harts together: a clock.
static TICKS: AtomicUsize = AtomicUsize::new(0);
/// Each hart's first and last tick: `[first of share 0, last of 0, first of 1, last of 1]`.
static SPANS: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

/// One hart's share of the two-hart check: waits (a while) for the other hart, writes its
/// pages of the lazy area (faulting each in) noting when, then reads them back; counts
/// itself done if all held.
fn smp_share(share: usize) {
    HARTS_ARRIVED.fetch_add(1, Ordering::SeqCst);
    let mut spins = 0u64;
    while HARTS_ARRIVED.load(Ordering::SeqCst) < 2 && spins < 1 << 30 {
        core::hint::spin_loop();
        spins += 1;
    }
    let pages = (0..SMP_PAGES).filter(|i| i % 2 == share);
    let value = |i: usize| 0x5a1e_0000 + (share << 12 | i) as u64;
    for i in pages.clone() {
        // SAFETY: a page of the lazy area that only this hart touches; the write faults it in.
        unsafe { ptr(SMP_VA + i * PAGE_SIZE).write_volatile(value(i)) };
        let tick = TICKS.fetch_add(1, Ordering::SeqCst);
        if i < 2 {
            SPANS[2 * share].store(tick, Ordering::SeqCst);
        }
        SPANS[2 * share + 1].store(tick, Ordering::SeqCst);
    }
    let read = |i: usize| {
        // SAFETY: as above, the page is mapped now.
        unsafe { ptr(SMP_VA + i * PAGE_SIZE).read_volatile() }
    };
    if pages.clone().all(|i| read(i) == value(i)) {
        HARTS_DONE.fetch_add(1, Ordering::SeqCst);
    }
}

/// Two harts fault in the pages of one lazy area of the kernel's space, through the same
/// `MemorySet` (behind its lock), both running: every page costs one frame, and holds what
/// its hart wrote. Whether their faults interleaved in time is reported.
fn two_harts(verdicts: &mut Verdicts, hart: usize) {
    active(|space| {
        space.push(
            SMP_VA,
            SMP_VA + SMP_PAGES * PAGE_SIZE,
            MemoryAttr::new(),
            Lazy::new(),
        )
    })
    .expect("the two-hart area");
    let (before, tables_before) = (frames::live(), tables());
    let other = hart::other();
    let started = hart::start_other(|| smp_share(1));
    smp_share(0);
    // Waits for the other hart, for a while.
    let mut spins = 0u64;
    while HARTS_DONE.load(Ordering::SeqCst) < 2 && spins < 1 << 28 {
        core::hint::spin_loop();
        spins += 1;
    }
    let done = HARTS_DONE.load(Ordering::SeqCst);
    let [first0, last0, first1, last1] = SPANS.each_ref().map(|tick| tick.load(Ordering::SeqCst));
    // Each hart wrote (and faulted) before the other's last write: their faults interleaved.
    // Reported, not required: on a loaded host one hart's share may run before the other's.
    let interleaved = first0 < last1 && first1 < last0;
    let pages = frames::live() - before - (tables() - tables_before);
    let unmapped = active(|space| space.unmap(SMP_VA, SMP_VA + SMP_PAGES * PAGE_SIZE));
    verdicts.check(
        started.is_ok() && done == 2 && pages == SMP_PAGES && unmapped.is_ok(),
        "two harts",
        format_args!(
            "harts {hart} and {other} each faulted in every other page of a {SMP_PAGES}-page Lazy area through one MemorySet: {done} of 2 read theirs back, {pages} page frames; the harts' writes {} (ticks {first0}-{last0} and {first1}-{last1})",
            if interleaved { "interleaved" } else { "did not interleave this time" }
        ),
    );
}

/// Table frames below the root in the active space.
fn tables() -> usize {
    active(|space| space.page_table().table_frames())
}

/// The kernel's pointer to the `u64` at `va`.
fn ptr(va: usize) -> *mut u64 {
    core::ptr::with_exposed_provenance_mut(va)
}

/// The programs the check of processes on two harts runs at once.
const ON_HARTS: [Program; 4] = [
    Program::Stress,
    Program::Fork,
    Program::Stress,
    Program::Fork,
];

/// Processes on both harts: two stress programs (whose model predicts Linux's answers) and
/// two fork programs run at once, each process on whichever hart takes it when it is ready,
/// its page faults (its VMA's access check, then the page) served under its own space's lock,
/// which keeps its VMAs too, while the other hart serves another process's; all pass as they
/// do on one hart, both harts ran processes and served faults, and every frame is back after.
fn processes_on_harts(verdicts: &mut Verdicts, ram_end: usize, before: usize) {
    let (runs, smp) = user::run_on_harts(&ON_HARTS, ram_end);
    let after = frames::live();
    let passed = ON_HARTS
        .iter()
        .zip(&runs)
        .filter(|&(program, run)| {
            run.left == 0
                && match program {
                    Program::Stress => stress_passed(run),
                    _ => fork_passed(run),
                }
        })
        .count();
    let [h0, h1] = smp.harts;
    let both = h0.turns > 0 && h1.turns > 0 && h0.faults > 0 && h1.faults > 0;
    // Each hart served a fault before the other's last one.
    let interleaved = h0.ticks.0 < h1.ticks.1 && h1.ticks.0 < h0.ticks.1;
    verdicts.check(
        smp.joined && passed == ON_HARTS.len() && both && interleaved && after == before,
        "processes on two harts",
        format_args!(
            "2 stress and 2 fork programs at once: {passed} of {} passed (stress: every call answered as its model predicts Linux's, every fault as it says; fork: parent 42, child its pid) with no process left; hart 0 ran {} turns and served {} user page faults ({} begun while hart 1 served one), hart 1 {} turns and {} faults ({} while hart 0 did), their faults {} (ticks {}-{} and {}-{}); {} processes ran on both harts; {after} frames in use ({before} before)",
            ON_HARTS.len(),
            h0.turns,
            h0.faults,
            h0.overlapped,
            h1.turns,
            h1.faults,
            h1.overlapped,
            if interleaved { "interleaved" } else { "did not interleave" },
            h0.ticks.0,
            h0.ticks.1,
            h1.ticks.0,
            h1.ticks.1,
            smp.migrated,
        ),
    );
}

/// Where the shootdown check maps its pages, and how many.
const SHOOTDOWN_VA: usize = 0xffff_ffe9_0000_0000;
const SHOOTDOWN_PAGES: usize = 8;

/// The shootdown check's step: this hart moves it to even steps, the other hart to odd ones.
static STEP: AtomicUsize = AtomicUsize::new(0);
/// What the other hart found: writes refused after `protect`, values intact, reads refused
/// after `unmap`.
static FOUND: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];

/// Waits (a while) for the shootdown check to reach `step`; whether it did.
fn await_step(step: usize) -> bool {
    let mut spins = 0u64;
    while STEP.load(Ordering::SeqCst) < step && spins < 1 << 28 {
        core::hint::spin_loop();
        spins += 1;
    }
    STEP.load(Ordering::SeqCst) >= step
}

/// A page of the shootdown check's area.
fn shootdown_page(i: usize) -> usize {
    SHOOTDOWN_VA + i * PAGE_SIZE
}

/// The other hart's share of the shootdown check: it writes every page (faulting them in, its
/// TLB caching writable translations); after `protect` it tries to write each again and reads
/// each (caching read-only translations); after `unmap` it tries to read each.
fn shootdown_other() {
    let value = |i: usize| 0x5d00_0000 + i as u64;
    for i in 0..SHOOTDOWN_PAGES {
        // SAFETY: a page of the area, which only this hart touches until step 1.
        unsafe { ptr(shootdown_page(i)).write_volatile(value(i)) };
    }
    STEP.store(1, Ordering::SeqCst);
    if !await_step(2) {
        return;
    }
    let refused = (0..SHOOTDOWN_PAGES)
        // SAFETY: a page of the area; a write that goes through writes a page of ours.
        .filter(|&i| unsafe { trap::probe_write(shootdown_page(i), 0) } == Err(shootdown_page(i)))
        .count();
    let intact = (0..SHOOTDOWN_PAGES)
        // SAFETY: as above, and a read-only page is read.
        .filter(|&i| unsafe { trap::probe_read(shootdown_page(i)) } == Ok(value(i)))
        .count();
    FOUND[0].store(refused, Ordering::SeqCst);
    FOUND[1].store(intact, Ordering::SeqCst);
    STEP.store(3, Ordering::SeqCst);
    if !await_step(4) {
        return;
    }
    let refused = (0..SHOOTDOWN_PAGES)
        // SAFETY: as above; the page was unmapped, and a read that goes through reads a frame
        // no longer the area's, which nothing else writes.
        .filter(|&i| unsafe { trap::probe_read(shootdown_page(i)) } == Err(shootdown_page(i)))
        .count();
    FOUND[2].store(refused, Ordering::SeqCst);
    STEP.store(5, Ordering::SeqCst);
}

/// TLB shootdowns in the kernel's space, which both harts run on: the other hart caches
/// writable translations of a Lazy area's pages; this hart makes them read-only with one
/// `protect`, and every write of the other hart then faults; it caches read-only translations,
/// this hart unmaps the area, and every read of the other hart faults. Each operation sent
/// one remote fence, for all its pages.
fn shootdown(verdicts: &mut Verdicts) {
    let end = shootdown_page(SHOOTDOWN_PAGES);
    active(|space| space.push(SHOOTDOWN_VA, end, MemoryAttr::new(), Lazy::new()))
        .expect("the shootdown area");
    STEP.store(0, Ordering::SeqCst);
    let started = hart::start_other(shootdown_other).is_ok();
    let cached = await_step(1);
    let fences = tlb::remote_fences();
    let protected =
        active(|space| space.protect(SHOOTDOWN_VA, end, MemoryAttr::new().set_readonly()));
    let protect_fences = tlb::remote_fences() - fences;
    STEP.store(2, Ordering::SeqCst);
    let checked = await_step(3);
    let fences = tlb::remote_fences();
    let unmapped = active(|space| space.unmap(SHOOTDOWN_VA, end));
    let unmap_fences = tlb::remote_fences() - fences;
    STEP.store(4, Ordering::SeqCst);
    let done = await_step(5) && hart::join_other();
    let [writes, intact, reads] = FOUND.each_ref().map(|found| found.load(Ordering::SeqCst));
    verdicts.check(
        started
            && cached
            && checked
            && done
            && protected.is_ok()
            && unmapped.is_ok()
            && [writes, intact, reads] == [SHOOTDOWN_PAGES; 3]
            && (protect_fences, unmap_fences) == (1, 1),
        "tlb shootdown",
        format_args!(
            "hart {} wrote {SHOOTDOWN_PAGES} pages of the kernel's space, caching them; one protect(read-only) on hart {} sent {protect_fences} remote fence, then {writes} of its writes faulted ({intact} pages read back intact); one unmap sent {unmap_fences} remote fence, then {reads} of its reads faulted",
            hart::other(),
            hart::id(),
        ),
    );
}
