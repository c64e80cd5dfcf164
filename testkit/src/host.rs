//! What the tests of the page-table adapters (`range-action-map-adapters`) share: physical memory
//! that real page-table crates can dereference, and the checks every adapter must pass.
//!
//! - [`HostFrames`]: a reference-counting [`FrameAllocator`] over frames in host memory, whose
//!   physical addresses turn into host pointers ([`HostFrames::host_addr`],
//!   [`HostFrames::phys_offset`]): what a crate's physical-to-virtual conversion needs.
//!   [`install`] and [`current`] give the static conversion functions some crates want
//!   (`page_table_multiarch`'s `PagingHandler`) the allocator of the running test.
//! - [`run_differential`]: the `MemorySet` model test's random operation sequences
//!   ([`SetScenario`]) run over the software Sv39 table and over an adapter side by side,
//!   with every result, area, leaf, frame (up to renaming), reference count, frame content and
//!   TLB flush compared after every step.
//! - [`check_map_unmap`] and its siblings: the unit checks of the [`PageTable`] contract, on
//!   any table.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Debug;
use std::rc::Rc;

use range_action_map::memory_set::{
    FrameAllocator, Leaf, MemoryAttr, MemorySet, PageSize, PageTable, PagingError, PAGE_SIZE,
};
use range_action_map::Window;

use crate::op::decode;
use crate::set_model::{kinds, Backing, SetOp, SetScenario};
use crate::{CountingFrameAllocator, SoftPageTable};

// === impl HostFrames ===

/// One frame of host memory, aligned as a frame is.
#[derive(Clone, Copy)]
#[repr(C, align(4096))]
struct Frame([u8; PAGE_SIZE]);

/// Host memory holding `frames` frames, reached only through `base`.
///
/// # Invariants
///
/// `base` comes from `Box::into_raw` of a boxed slice of `frames` frames, freed only by
/// `Drop`; its provenance is exposed, so addresses made from it are valid pointers too.
struct Memory {
    base: *mut Frame,
    frames: usize,
}

impl Drop for Memory {
    fn drop(&mut self) {
        let slice = std::ptr::slice_from_raw_parts_mut(self.base, self.frames);
        // SAFETY: by the type's invariants, the boxed slice of `base`, freed once, here.
        drop(unsafe { Box::from_raw(slice) });
    }
}

/// The life cycle of a frame.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FrameState {
    Free,
    /// Allocated, with this many references (at least one).
    Live(usize),
}

/// The bookkeeping shared by the clones of one allocator.
struct Books {
    frames: Vec<FrameState>,
    free: BTreeSet<usize>,
    allocated: usize,
    freed: usize,
    budget: Option<usize>,
}

/// A [`FrameAllocator`] over frames in host memory, which a real page-table crate can
/// dereference: frame `i` has the physical address `phys_base + i * 4096` and lives at
/// [`host_addr`](Self::host_addr) of it, one fixed offset
/// ([`phys_offset`](Self::phys_offset)) away.
///
/// Like [`CountingFrameAllocator`] it hands out the lowest free frame, zero-filled, counts
/// references, poisons freed frames with [`CountingFrameAllocator::POISON`], runs out on
/// command ([`set_budget`](Self::set_budget)) and panics on a double free. Clones share the
/// frames and the books.
#[derive(Clone)]
pub struct HostFrames {
    memory: Rc<Memory>,
    phys_base: usize,
    books: Rc<RefCell<Books>>,
}

impl HostFrames {
    /// The physical address of the first frame by default (RISC-V's usual DRAM base, as
    /// [`PhysMemory::BASE`](crate::PhysMemory::BASE)).
    pub const BASE: usize = 0x8000_0000;

    /// An allocator of `frames` free frames from [`HostFrames::BASE`], or from their host
    /// address if that is lower (as it may be under Miri), so that
    /// [`phys_offset`](Self::phys_offset) never wraps: a table that adds it to a physical
    /// address must not overflow.
    pub fn new(frames: usize) -> Self {
        let boxed = vec![Frame([0; PAGE_SIZE]); frames].into_boxed_slice();
        let base = Box::into_raw(boxed).cast::<Frame>();
        // INVARIANT: the boxed slice of `frames` frames, its provenance exposed so that the
        // crates' integer addresses reach it.
        let phys_base = Self::BASE.min(base.expose_provenance());
        HostFrames {
            memory: Rc::new(Memory { base, frames }),
            phys_base,
            books: Rc::new(RefCell::new(Books {
                frames: vec![FrameState::Free; frames],
                free: (0..frames).collect(),
                allocated: 0,
                freed: 0,
                budget: None,
            })),
        }
    }

    /// The number of frames, live or not.
    pub fn capacity(&self) -> usize {
        self.memory.frames
    }

    /// How many frames are allocated and not freed.
    pub fn live(&self) -> usize {
        let books = self.books.borrow();
        books.allocated - books.freed
    }

    /// Whether `pa` is a live frame.
    pub fn is_live(&self, pa: usize) -> bool {
        (self.index(pa))
            .is_some_and(|i| matches!(self.books.borrow().frames[i], FrameState::Live(_)))
    }

    /// Lets `alloc` hand out only `frames` more frames, or any number with `None`.
    pub fn set_budget(&self, frames: Option<usize>) {
        self.books.borrow_mut().budget = frames;
    }

    /// What to add to a frame's physical address to get its host address (wrapping): the
    /// `phys_offset` of a table that reaches physical memory through a linear window.
    pub fn phys_offset(&self) -> usize {
        self.memory.base.addr().wrapping_sub(self.phys_base)
    }

    /// The host address of frame `pa` (exposed: an integer a crate may turn into a pointer).
    ///
    /// # Panics
    ///
    /// If `pa` is not a frame of this memory.
    pub fn host_addr(&self, pa: usize) -> usize {
        self.frame_ptr(pa).addr()
    }

    /// The 8 bytes at `offset` in frame `pa`, little endian.
    ///
    /// # Panics
    ///
    /// If `pa` is not a live frame or the word crosses its end.
    pub fn read_u64(&self, pa: usize, offset: usize) -> u64 {
        let mut word = [0; 8];
        self.bytes(pa, offset, 8, |bytes| word.copy_from_slice(bytes));
        u64::from_le_bytes(word)
    }

    /// Stores `value` at `offset` in frame `pa`, little endian.
    ///
    /// # Panics
    ///
    /// If `pa` is not a live frame or the word crosses its end.
    pub fn write_u64(&mut self, pa: usize, offset: usize, value: u64) {
        self.bytes(pa, offset, 8, |bytes| {
            bytes.copy_from_slice(&value.to_le_bytes())
        });
    }

    /// Runs `f` on the `len` bytes at `offset` in the live frame `pa`.
    fn bytes(&self, pa: usize, offset: usize, len: usize, f: impl FnOnce(&mut [u8])) {
        assert!(
            self.is_live(pa),
            "access to frame {pa:#x}, which is not live"
        );
        assert!(
            offset + len <= PAGE_SIZE,
            "{len} bytes at {offset:#x} cross the frame's end"
        );
        // SAFETY: `pa` is a frame of the memory (checked by `frame_ptr`), the bytes lie in
        // it, and no reference into the memory outlives a call of this type's methods.
        f(unsafe { std::slice::from_raw_parts_mut(self.frame_ptr(pa).add(offset), len) });
    }

    /// The index of frame `pa`, if it is one.
    fn index(&self, pa: usize) -> Option<usize> {
        let index = pa.checked_sub(self.phys_base)? / PAGE_SIZE;
        (pa % PAGE_SIZE == 0 && index < self.memory.frames).then_some(index)
    }

    /// A pointer to frame `pa`, with the memory's provenance.
    fn frame_ptr(&self, pa: usize) -> *mut u8 {
        let Some(index) = self.index(pa) else {
            panic!(
                "{pa:#x} is not a frame of the host memory from {:#x}",
                self.phys_base
            );
        };
        // SAFETY: `index < frames`, inside the slice behind `base` (the type's invariants).
        unsafe { self.memory.base.add(index).cast() }
    }

    /// Fills frame `pa` with `byte`.
    fn fill(&self, pa: usize, byte: u8) {
        // SAFETY: a whole frame of the memory; no reference into it is live.
        unsafe { self.frame_ptr(pa).write_bytes(byte, PAGE_SIZE) }
    }

    /// The index of the live frame `pa`.
    ///
    /// # Panics
    ///
    /// Naming `what`, if `pa` is not live.
    #[track_caller]
    fn live_index(&self, pa: usize, what: &str) -> usize {
        match self.index(pa) {
            Some(index) if matches!(self.books.borrow().frames[index], FrameState::Live(_)) => {
                index
            }
            _ => panic!("{what} frame {pa:#x}, which is not live"),
        }
    }
}

impl FrameAllocator for HostFrames {
    fn alloc(&mut self) -> Option<usize> {
        let pa = {
            let mut books = self.books.borrow_mut();
            if books.budget == Some(0) {
                return None;
            }
            let index = books.free.pop_first()?;
            books.budget = books.budget.map(|budget| budget - 1);
            books.frames[index] = FrameState::Live(1);
            books.allocated += 1;
            self.phys_base + index * PAGE_SIZE
        };
        self.fill(pa, 0);
        Some(pa)
    }

    /// # Panics
    ///
    /// On a frame that is not live (a double free).
    fn dealloc(&mut self, pa: usize) {
        let index = self.live_index(pa, "dealloc of");
        {
            let mut books = self.books.borrow_mut();
            match books.frames[index] {
                FrameState::Live(count) if count > 1 => {
                    books.frames[index] = FrameState::Live(count - 1);
                    return;
                }
                _ => {
                    books.frames[index] = FrameState::Free;
                    books.free.insert(index);
                    books.freed += 1;
                }
            }
        }
        self.fill(pa, CountingFrameAllocator::POISON);
    }

    fn add_ref(&mut self, pa: usize) {
        let index = self.live_index(pa, "add_ref of");
        if let FrameState::Live(count) = &mut self.books.borrow_mut().frames[index] {
            *count += 1;
        }
    }

    fn ref_count(&self, pa: usize) -> usize {
        let index = self.live_index(pa, "ref_count of");
        match self.books.borrow().frames[index] {
            FrameState::Live(count) => count,
            FrameState::Free => unreachable!("live_index checked it"),
        }
    }

    fn copy_frame(&mut self, src: usize, dst: usize) {
        self.live_index(src, "copy_frame from");
        self.live_index(dst, "copy_frame to");
        // SAFETY: two distinct whole frames of the memory (a frame is not copied onto
        // itself: `dst` is fresh); no reference into the memory is live.
        unsafe {
            std::ptr::copy_nonoverlapping(self.frame_ptr(src), self.frame_ptr(dst), PAGE_SIZE)
        }
    }
}

impl std::fmt::Debug for HostFrames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostFrames")
            .field("phys_base", &format_args!("{:#x}", self.phys_base))
            .field("capacity", &self.capacity())
            .field("live", &self.live())
            .finish()
    }
}

thread_local! {
    /// The allocator the running test installed for static conversion functions.
    static CURRENT: RefCell<Option<HostFrames>> = const { RefCell::new(None) };
}

/// Makes `frames` the allocator [`current`] returns on this thread (each test runs on its
/// own thread).
pub fn install(frames: &HostFrames) {
    CURRENT.with(|current| *current.borrow_mut() = Some(frames.clone()));
}

/// The allocator [`install`]ed on this thread.
///
/// # Panics
///
/// If none was.
pub fn current() -> HostFrames {
    CURRENT
        .with(|current| current.borrow().clone())
        .expect("no HostFrames installed on this thread")
}

// === the differential model test ===

/// How the checks make and read a table of one adapter.
pub struct TableKind<PT> {
    /// An empty table over `frames` (which is [`install`]ed).
    pub new: fn(&HostFrames) -> PT,
    /// The table frames it holds, its root included (all from the allocator).
    pub table_frames: fn(&PT) -> usize,
    /// How many times its `flush_tlb` ran.
    pub flushes: fn(&PT) -> usize,
    /// The bits of virtual address it translates (39 for Sv39, 48 for x86-64 and Sv48).
    pub va_bits: u32,
    /// The bits of physical address an entry holds (56 for Sv39, 52 for x86-64).
    pub pa_bits: u32,
}

/// Sv39's canonical addresses: below `LOW_END`, or from its negation up.
const LOW_END: usize = 1 << 38;

/// Frames for each side of a differential run: enough that only requests that could never
/// fit run out (on both sides alike).
const DIFF_FRAMES: usize = if cfg!(miri) { 512 } else { 4096 };

/// The inputs of the differential model runs from `seed`, each logged with its flags byte so
/// that a failure replays: 24 scenarios of 1200 bytes, or one of 160 under Miri, which
/// interprets every entry access.
pub fn model_inputs(seed: u64) -> impl Iterator<Item = Vec<u8>> {
    let (runs, bytes) = if cfg!(miri) { (1, 160) } else { (24, 1200) };
    let mut rng = crate::Rng(seed);
    (0..runs).map(move |run| {
        let data: Vec<u8> = rng.bytes(bytes).collect();
        eprintln!("run {run}: flags {:#04x}", data[0]);
        data
    })
}

/// Runs the `MemorySet` model test's scenario decoded from `data` ([`SetScenario`], as
/// `tests/memory_set.rs` decodes it) over the software Sv39 table and over the table of
/// `kind`, side by side, and after every operation checks that they agree: the operation's
/// result, the areas, every leaf (address, size, attributes, and frame: the same where the
/// area maps a physical range, the same up to a renaming of frames that stays one-to-one
/// where it owns them), each frame's reference count and contents, the TLB flushes,
/// `next_mapped` over assorted ranges and the frame books; then every frame must come back.
///
/// A table of 48-bit addresses runs in the Sv39 half of the address space the scenario's
/// addresses fall in, where both tables can map the same pages. Frames are plentiful, so
/// that only requests that could never fit run out, on both sides: running out at the edge
/// is the unit checks' business.
///
/// # Panics
///
/// At the first difference, with the operation and what differs.
pub fn run_differential<PT: PageTable>(kind: &TableKind<PT>, data: &[u8]) {
    let scenario: SetScenario = decode(data);
    let window = match (kind.va_bits, data.first().map(|flags| flags >> 3 & 3)) {
        (39, _) => scenario.window,
        // The top of the address space: the scenario's region 2.
        (_, Some(2)) => Window::new(LOW_END.wrapping_neg(), usize::MAX).expect("a window"),
        _ => (scenario.window)
            .intersect(0, LOW_END)
            .expect("the window meets the lower half"),
    };
    let soft_fa = CountingFrameAllocator::new(DIFF_FRAMES);
    let real_fa = HostFrames::new(DIFF_FRAMES);
    install(&real_fa);
    let soft_pt = SoftPageTable::new(soft_fa.memory());
    let mut soft = MemorySet::with_window(window, soft_pt, soft_fa.clone());
    let mut real = MemorySet::with_window(window, (kind.new)(&real_fa), real_fa.clone());
    let mut tag = 0;
    for (step, op) in scenario.ops.into_iter().enumerate() {
        let ctx = format!("step {step}: {op:?}");
        let want = apply(&mut soft, op, || SoftPageTable::new(soft_fa.memory()));
        let got = apply(&mut real, op, || (kind.new)(&real_fa));
        assert_eq!(got, want, "{ctx}: result");
        compare(kind, &soft, &real, &mut tag, &ctx);
    }
    drop((soft, real));
    assert_eq!(soft_fa.live(), 0, "the software side leaked");
    assert_eq!(real_fa.live(), 0, "the adapter's side leaked frames");
}

/// Runs `op` on `set` (forks get a table from `new_table`), and returns its result as text.
fn apply<PT: PageTable, FA: FrameAllocator + Clone>(
    set: &mut MemorySet<PT, FA>,
    op: SetOp,
    new_table: impl FnOnce() -> PT,
) -> String {
    let handler = |kind: u8| {
        let (attr, backing) = kinds().nth(kind.into()).expect("a kind number");
        (attr, backing.boxed::<PT, FA>())
    };
    match op {
        SetOp::Push(start, end, kind) => {
            let (attr, handler) = handler(kind);
            format!("{:?}", set.push(start, end, attr, handler))
        }
        SetOp::MapAnywhere {
            hint,
            len,
            align,
            kind,
        } => {
            let (attr, handler) = handler(kind);
            format!("{:?}", set.map_anywhere(hint, len, align, attr, handler))
        }
        SetOp::Unmap(start, end) => format!("{:?}", set.unmap(start, end)),
        SetOp::Protect(start, end, attr) => format!("{:?}", set.protect(start, end, attr)),
        SetOp::Fault(addr, access) => format!("{:?}", set.handle_page_fault(addr, access)),
        SetOp::Fork { keep_child } => match set.clone_for_fork(new_table()) {
            Ok(child) if keep_child => {
                *set = child;
                "Ok(child)".into()
            }
            Ok(_) => "Ok(parent)".into(),
            Err(error) => format!("Err({error:?})"),
        },
        SetOp::Clear => {
            set.clear();
            "cleared".into()
        }
    }
}

type SoftSet = MemorySet<SoftPageTable, CountingFrameAllocator>;

/// Checks that the adapter's set `real` agrees with the software set `soft` (see
/// [`run_differential`]); frames seen for the first time get tag `*tag + 1` on both sides.
fn compare<PT: PageTable>(
    kind: &TableKind<PT>,
    soft: &SoftSet,
    real: &MemorySet<PT, HostFrames>,
    tag: &mut u64,
    ctx: &str,
) {
    // An area's `Debug` shows its range, attributes and handler (offset included).
    let got: Vec<String> = real.iter().map(|area| format!("{area:?}")).collect();
    let want: Vec<String> = soft.iter().map(|area| format!("{area:?}")).collect();
    assert_eq!(got, want, "{ctx}: areas");
    let (soft_pt, real_pt) = (soft.page_table(), real.page_table());
    let (want, got) = (soft_pt.leaves(), leaves(&*real_pt));
    let shape =
        |leaves: &[Leaf]| -> Vec<_> { leaves.iter().map(|l| (l.va, l.size, l.attr)).collect() };
    assert_eq!(shape(&got), shape(&want), "{ctx}: leaves");
    let (soft_fa, real_fa) = (soft.frame_allocator(), real.frame_allocator());
    let (mut renamed, mut taken) = (HashMap::new(), HashMap::new());
    let mut owned = 0;
    for (w, g) in want.iter().zip(&got) {
        let area = soft
            .find(w.va)
            .unwrap_or_else(|| panic!("{ctx}: {:#x} in no area", w.va));
        if !Backing::of(area.handler()).owns_frames() {
            assert_eq!(g.pa, w.pa, "{ctx}: frame of {:#x}", w.va);
            continue;
        }
        // One renaming for every page: pages that share a frame on one side share one on the
        // other.
        let seen = *renamed.entry(w.pa).or_insert(g.pa);
        assert_eq!(
            seen, g.pa,
            "{ctx}: {:#x} shares a frame on one side only",
            w.va
        );
        assert_eq!(
            *taken.entry(g.pa).or_insert(w.pa),
            w.pa,
            "{ctx}: frames of {:#x}",
            w.va
        );
        let counts = (real_fa.ref_count(g.pa), soft_fa.ref_count(w.pa));
        assert_eq!(
            counts.0, counts.1,
            "{ctx}: references to the frame of {:#x}",
            w.va
        );
        let mut word = [0; 8];
        soft_fa.read(w.pa, 0, &mut word);
        let (mine, theirs) = (real_fa.read_u64(g.pa, 0), u64::from_le_bytes(word));
        assert_eq!(mine, theirs, "{ctx}: contents of {:#x}", w.va);
        if theirs == 0 {
            *tag += 1;
            soft_fa.clone().write(w.pa, 0, &tag.to_le_bytes());
            real_fa.clone().write_u64(g.pa, 0, *tag);
        }
        owned += 1;
    }
    assert_eq!(
        renamed.len(),
        taken.len(),
        "{ctx}: frames renamed one to one"
    );
    let pages = |live: usize, tables: usize| live - tables;
    assert_eq!(
        pages(real_fa.live(), (kind.table_frames)(&real_pt)),
        pages(soft_fa.live(), soft_pt.table_frames()),
        "{ctx}: frames held by pages ({owned} leaves own one)"
    );
    assert_eq!(
        (kind.flushes)(&real_pt),
        soft_pt.flushes(),
        "{ctx}: TLB flushes"
    );
    // A sample of the leaves' bounds: every pair costs a walk on each side.
    let every = want.len().div_ceil(8).max(1);
    let sample = want.iter().step_by(every);
    let mut bounds: Vec<usize> = sample
        .flat_map(|l| [l.va, l.va.wrapping_add(PAGE_SIZE)])
        .collect();
    bounds.extend([
        0,
        LOW_END,
        LOW_END.wrapping_neg(),
        usize::MAX & !(PAGE_SIZE - 1),
    ]);
    for &start in &bounds {
        for &end in bounds.iter().step_by(3) {
            let (got, want) = (
                real_pt.next_mapped(start, end),
                soft_pt.next_mapped(start, end),
            );
            assert_eq!(got, want, "{ctx}: next_mapped({start:#x}, {end:#x})");
        }
    }
}

/// Every leaf of `pt`, in address order, found as `MemorySet` finds them: by
/// [`next_mapped`](PageTable::next_mapped) from the end of the last leaf, and
/// [`query`](PageTable::query).
pub fn leaves<PT: PageTable>(pt: &PT) -> Vec<Leaf> {
    let top = usize::MAX & !(PAGE_SIZE - 1);
    let (mut from, mut found) = (Some(0), Vec::new());
    // Loop invariant: `found` holds every leaf below `from` (`None`: all of them).
    while let Some(va) = from.and_then(|from| pt.next_mapped(from, top)) {
        let leaf = pt.query(va).expect("next_mapped finds mapped pages");
        assert_eq!(
            leaf.va, va,
            "next_mapped from a leaf's end finds the next leaf's start"
        );
        found.push(leaf);
        from = va.checked_add(leaf.size.bytes());
    }
    // The last page cannot be in a range that ends below it.
    if let Some(leaf) = pt
        .query(top)
        .filter(|leaf| from.is_some_and(|from| leaf.va >= from))
    {
        found.push(leaf);
    }
    found
}

// === unit checks of the PageTable contract ===

/// 2 MiB and 1 GiB.
const MIB2: usize = 1 << 21;
const GIB: usize = 1 << 30;

/// A table of `kind` over `frames` fresh frames, [`install`]ed.
pub fn setup<PT: PageTable>(kind: &TableKind<PT>, frames: usize) -> (HostFrames, PT) {
    let fa = HostFrames::new(frames);
    install(&fa);
    let pt = (kind.new)(&fa);
    (fa, pt)
}

#[track_caller]
fn expect<T: Debug + PartialEq>(got: T, want: T) {
    assert_eq!(got, want);
}

/// Destroys and drops `pt`: every frame of `fa` must be back.
#[track_caller]
fn finish<PT: PageTable>(mut pt: PT, mut fa: HostFrames) {
    pt.destroy(&mut fa);
    drop(pt);
    expect(fa.live(), 0);
}

/// Maps, finds, refuses and unmaps 4 KiB pages, low and at the top of the address space, and
/// refuses what the table cannot express, as the test kit's Sv39 table does.
pub fn check_map_unmap<PT: PageTable>(kind: &TableKind<PT>) {
    let (mut fa, mut pt) = setup(kind, 16);
    let rw = MemoryAttr::new().set_user();
    let top = usize::MAX & !(PAGE_SIZE - 1);
    for (va, pa) in [(0x1000, 0x4000_0000), (top, 0x5000)] {
        expect(pt.map(va, pa, PageSize::Size4K, rw, &mut fa), Ok(()));
        expect(pt.translate(va + 0x123), Some((pa + 0x123, rw)));
        let leaf = Leaf {
            va,
            pa,
            size: PageSize::Size4K,
            attr: rw,
        };
        expect(pt.query(va + 0xfff), Some(leaf));
        expect(
            pt.map(va, pa, PageSize::Size4K, rw, &mut fa),
            Err(PagingError::AlreadyMapped { va }),
        );
        expect(pt.unmap(va), Ok(leaf));
        expect(pt.unmap(va), Err(PagingError::NotMapped { va }));
        expect(pt.query(va), None);
    }
    let wide = 1 << kind.pa_bits;
    let refused = [
        (0x1800, 0, PagingError::Misaligned { addr: 0x1800 }),
        (0x2000, 0x800, PagingError::Misaligned { addr: 0x800 }),
        (1 << 47, 0, PagingError::OutOfRange { addr: 1 << 47 }),
        (0x2000, wide, PagingError::OutOfRange { addr: wide }),
    ];
    for (va, pa, error) in refused {
        expect(pt.map(va, pa, PageSize::Size4K, rw, &mut fa), Err(error));
    }
    // The widest frame an entry holds is fine.
    let widest = wide - PAGE_SIZE;
    expect(
        pt.map(0x2000, widest, PageSize::Size4K, rw, &mut fa),
        Ok(()),
    );
    expect(pt.translate(0x2000), Some((widest, rw)));
    expect(pt.query(1 << 47), None);
    expect(
        pt.unmap(1 << 47),
        Err(PagingError::OutOfRange { addr: 1 << 47 }),
    );
    expect(
        pt.unmap(0x2800),
        Err(PagingError::Misaligned { addr: 0x2800 }),
    );
    finish(pt, fa);
}

/// `protect` returns the old attributes and `remap` the old frame, for every attribute
/// (global and device included), on 4 KiB and huge leaves; `remap` refuses a huge leaf.
pub fn check_protect_remap<PT: PageTable>(kind: &TableKind<PT>) {
    let (mut fa, mut pt) = setup(kind, 16);
    let all = || (0..32).map(|bits| MemoryAttr::try_from(bits).expect("five flag bits"));
    let mut old = MemoryAttr::new();
    pt.map(0x1000, 0x8000, PageSize::Size4K, old, &mut fa)
        .expect("map");
    pt.map(GIB, GIB, PageSize::Size1G, old, &mut fa)
        .expect("map 1 GiB");
    for attr in all() {
        for va in [0x1000, GIB] {
            expect(pt.protect(va, attr), Ok(old));
        }
        expect(pt.query(GIB + 0x5000).map(|leaf| leaf.attr), Some(attr));
        old = attr;
    }
    let mut frame = 0x8000;
    for (n, attr) in all().enumerate() {
        let pa = 0x10_0000 + n * PAGE_SIZE;
        expect(pt.remap(0x1000, pa, attr), Ok(frame));
        expect(pt.translate(0x1008), Some((pa + 8, attr)));
        frame = pa;
    }
    expect(
        pt.remap(GIB, 0, old),
        Err(PagingError::HugePage { va: GIB }),
    );
    expect(
        pt.remap(0x2000, 0, old),
        Err(PagingError::NotMapped { va: 0x2000 }),
    );
    expect(
        pt.protect(GIB + PAGE_SIZE, old),
        Err(PagingError::HugePage {
            va: GIB + PAGE_SIZE,
        }),
    );
    expect(
        pt.remap(0x1000, 0x800, old),
        Err(PagingError::Misaligned { addr: 0x800 }),
    );
    finish(pt, fa);
}

/// 2 MiB and 1 GiB leaves map, translate, list and unmap as leaves; the pages inside them are
/// mapped, but only a leaf's start unmaps or protects it; an emptied table gives way to a
/// huge leaf, a used one does not; `map_range` takes the largest leaves the alignment allows.
pub fn check_huge_pages<PT: PageTable>(kind: &TableKind<PT>) {
    let (mut fa, mut pt) = setup(kind, 32);
    let rw = MemoryAttr::new();
    expect(
        pt.page_sizes(),
        &[PageSize::Size4K, PageSize::Size2M, PageSize::Size1G][..],
    );
    pt.map(GIB, 0x4000_0000, PageSize::Size1G, rw, &mut fa)
        .expect("1 GiB");
    pt.map(2 * MIB2, 0x20_0000, PageSize::Size2M, rw, &mut fa)
        .expect("2 MiB");
    expect(pt.translate(GIB + 0x12_3456), Some((0x4012_3456, rw)));
    let leaf = pt.query(2 * MIB2 + 0x5000).expect("mapped");
    expect(
        (leaf.va, leaf.pa, leaf.size),
        (2 * MIB2, 0x20_0000, PageSize::Size2M),
    );
    expect(pt.next_mapped(GIB + 0x5000, 2 * GIB), Some(GIB + 0x5000));
    expect(pt.next_mapped(0, GIB), Some(2 * MIB2));
    let inside = GIB + PAGE_SIZE;
    expect(
        pt.map(inside, 0x1000, PageSize::Size4K, rw, &mut fa),
        Err(PagingError::AlreadyMapped { va: inside }),
    );
    expect(
        pt.map(GIB + MIB2, 0, PageSize::Size2M, rw, &mut fa),
        Err(PagingError::AlreadyMapped { va: GIB + MIB2 }),
    );
    expect(pt.unmap(inside), Err(PagingError::HugePage { va: inside }));
    expect(
        pt.protect(inside, rw.set_user()),
        Err(PagingError::HugePage { va: inside }),
    );
    // The failed map left the huge leaf as it was.
    expect(pt.query(inside).map(|leaf| leaf.attr), Some(rw));
    for (va, size) in [(GIB, PageSize::Size1G), (2 * MIB2, PageSize::Size2M)] {
        expect(pt.unmap(va).map(|leaf| leaf.size), Ok(size));
        expect(pt.translate(va), None);
    }
    let misaligned = MIB2 + PAGE_SIZE;
    expect(
        pt.map(misaligned, 0, PageSize::Size2M, rw, &mut fa),
        Err(PagingError::Misaligned { addr: misaligned }),
    );
    expect(
        pt.map(MIB2, PAGE_SIZE, PageSize::Size2M, rw, &mut fa),
        Err(PagingError::Misaligned { addr: PAGE_SIZE }),
    );
    // A used table where a huge leaf goes refuses it; emptied, it gives way.
    pt.map(MIB2 + PAGE_SIZE, 0x1000, PageSize::Size4K, rw, &mut fa)
        .expect("4 KiB");
    expect(
        pt.map(MIB2, 0, PageSize::Size2M, rw, &mut fa),
        Err(PagingError::AlreadyMapped { va: MIB2 }),
    );
    pt.unmap(MIB2 + PAGE_SIZE).expect("unmapped");
    let tables = (kind.table_frames)(&pt);
    pt.map(MIB2, 0, PageSize::Size2M, rw, &mut fa)
        .expect("the emptied table goes");
    expect((kind.table_frames)(&pt), tables - 1);
    pt.unmap(MIB2).expect("2 MiB");
    // map_range: 4 KiB up to 2 MiB alignment, 2 MiB up to 1 GiB, one 1 GiB leaf, and down.
    let (va, pa) = (GIB - MIB2 - PAGE_SIZE, 0x8000_0000 - MIB2 - PAGE_SIZE);
    let len = PAGE_SIZE + MIB2 + GIB + MIB2 + PAGE_SIZE;
    pt.map_range(va, pa, len, rw, &mut fa).expect("mapped");
    let sizes: Vec<_> = leaves(&pt).iter().map(|l| l.size).collect();
    use PageSize::*;
    expect(sizes, vec![Size4K, Size2M, Size1G, Size2M, Size4K]);
    expect(pt.translate(va + len - 1), Some((pa + len - 1, rw)));
    finish(pt, fa);
}

/// A split keeps every translation (attributes included) and `split_at` makes a boundary;
/// splitting a 4 KiB leaf or nothing is refused; a split without a frame changes nothing.
pub fn check_split<PT: PageTable>(kind: &TableKind<PT>) {
    let (mut fa, mut pt) = setup(kind, 16);
    let attr = MemoryAttr::new().set_readonly().set_global().set_device();
    pt.map(GIB, 0x4000_0000, PageSize::Size1G, attr, &mut fa)
        .expect("1 GiB");
    let sample = [GIB, GIB + 0x12_3000, GIB + 3 * MIB2, 2 * GIB - PAGE_SIZE];
    let before = sample.map(|va| pt.translate(va));
    let tables = (kind.table_frames)(&pt);
    fa.set_budget(Some(0));
    let addr = GIB + 3 * MIB2 + 5 * PAGE_SIZE;
    expect(pt.split_at(addr, &mut fa), Err(PagingError::OutOfFrames));
    expect(pt.query(GIB).map(|l| l.size), Some(PageSize::Size1G));
    fa.set_budget(None);
    pt.split_at(addr, &mut fa).expect("two splits");
    expect(
        pt.query(addr).map(|l| (l.va, l.size)),
        Some((addr, PageSize::Size4K)),
    );
    expect(pt.query(GIB).map(|l| l.size), Some(PageSize::Size2M));
    expect(sample.map(|va| pt.translate(va)), before);
    expect((kind.table_frames)(&pt), tables + 2);
    expect(
        pt.split(addr, &mut fa),
        Err(PagingError::NotMapped { va: addr }),
    );
    expect(
        pt.split(0x1000, &mut fa),
        Err(PagingError::NotMapped { va: 0x1000 }),
    );
    pt.split_at(GIB + 4 * MIB2, &mut fa)
        .expect("already a boundary");
    expect((kind.table_frames)(&pt), tables + 2);
    // Every page of the range still translates as before, leaf by leaf.
    let pages: usize = leaves(&pt).iter().map(|l| l.size.bytes() / PAGE_SIZE).sum();
    expect(pages, GIB / PAGE_SIZE);
    finish(pt, fa);
}

/// `next_mapped` finds the lowest mapped page across tables and both halves of the address
/// space, skipping emptied tables, for every pair of bounds around them.
pub fn check_next_mapped<PT: PageTable>(kind: &TableKind<PT>) {
    let (mut fa, mut pt) = setup(kind, 48);
    let top = usize::MAX & !(PAGE_SIZE - 1);
    let high = LOW_END.wrapping_neg();
    let pages = [
        0,
        0x5000,
        MIB2 - PAGE_SIZE,
        MIB2 + 0x3000,
        7 * GIB + 0x1000,
        LOW_END - PAGE_SIZE,
        high,
        high + 3 * GIB,
        top,
    ];
    let rw = MemoryAttr::new();
    expect(pt.next_mapped(0, top), None);
    for va in pages {
        pt.map(va, 0x1000, PageSize::Size4K, rw, &mut fa)
            .expect("map");
    }
    for va in [4 * MIB2, 9 * GIB] {
        pt.map(va, 0x1000, PageSize::Size4K, rw, &mut fa)
            .expect("map");
        pt.unmap(va).expect("unmap");
    }
    expect(
        leaves(&pt).iter().map(|l| l.va).collect::<Vec<_>>(),
        pages.to_vec(),
    );
    let mut bounds = vec![0, LOW_END, 1 << 47, high - PAGE_SIZE, 1 << 63];
    for va in pages.into_iter().chain([MIB2, GIB, 4 * MIB2, 9 * GIB]) {
        bounds.extend([va, va.wrapping_sub(PAGE_SIZE), va.wrapping_add(PAGE_SIZE)]);
    }
    bounds.retain(|&va| va <= top);
    // Miri interprets every entry read: a sample keeps it short.
    let sample = if cfg!(miri) { 29 } else { 1 };
    let ranges = bounds
        .iter()
        .flat_map(|&start| bounds.iter().map(move |&end| (start, end)));
    for (start, end) in ranges.step_by(sample) {
        let want = pages.iter().copied().find(|&va| start <= va && va < end);
        assert_eq!(pt.next_mapped(start, end), want, "[{start:#x}, {end:#x})");
    }
    expect(pt.next_mapped(1, GIB), Some(0x5000));
    finish(pt, fa);
}

/// `destroy` gives every table back but no mapped frame (a table whose root is not the
/// allocator's keeps it), leaves nothing mapped, and the table is usable afterwards; a map
/// that finds no frame for a table maps nothing.
pub fn check_destroy_and_out_of_frames<PT: PageTable>(kind: &TableKind<PT>) {
    let (mut fa, mut pt) = setup(kind, 16);
    let page = fa.alloc().expect("a page");
    fa.set_budget(Some(0));
    let rw = MemoryAttr::new();
    expect(
        pt.map(0x1000, page, PageSize::Size4K, rw, &mut fa),
        Err(PagingError::OutOfFrames),
    );
    expect(pt.translate(0x1000), None);
    fa.set_budget(None);
    for va in [0x1000, MIB2, GIB, usize::MAX & !(PAGE_SIZE - 1)] {
        pt.map(va, page, PageSize::Size4K, rw, &mut fa)
            .expect("map");
    }
    let tables = (kind.table_frames)(&pt);
    assert!(tables >= 5, "{tables} tables for pages in four leaf tables");
    expect(fa.live(), 1 + tables);
    pt.destroy(&mut fa);
    expect(leaves(&pt), vec![]);
    assert!((kind.table_frames)(&pt) <= 1, "at most the root stays");
    expect(fa.live(), 1 + (kind.table_frames)(&pt));
    expect(fa.ref_count(page), 1);
    pt.map(0x1000, page, PageSize::Size4K, rw, &mut fa)
        .expect("map after destroy");
    expect(pt.translate(0x1000), Some((page, rw)));
    pt.unmap(0x1000).expect("unmap");
    fa.dealloc(page);
    finish(pt, fa);
}
