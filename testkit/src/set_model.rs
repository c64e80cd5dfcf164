//! `MemorySet` against a model, page by page: the runner that the
//! `memory_set` fuzz target, the corpus replay and `tests/memory_set.rs`
//! share.
//!
//! The model is the sorted-`Vec` map model of [`model`](crate::model) (its segments are
//! the areas, a segment's `prot` is an index into [`kinds`]: permissions and
//! handler), plus the lazy pages faulted in. After every operation the
//! software page table is walked page by page and compared with it, every
//! frame an area owns is checked to hold what the test last wrote into it,
//! and the frame allocator's books must balance. Paging errors the model
//! cannot foresee exactly (frames running out) are accepted only when the
//! allocator really had too few frames left, and the set must then be as
//! it was.
//!
//! Input layout (decoded as [`op`](crate::op) decodes, through
//! [`arbitrary::Arbitrary`]):
//!
//! ```text
//! byte 0   bits 0-1 frame budget, bit 2 window, bits 3-4 address region
//! rest     operations, 1 tag byte + its operands each, until the end
//! ```

use std::collections::{BTreeMap, BTreeSet};

use std::any::Any;

use range_action_map::memory_set::{
    Access, ByFrame, Device, FaultError, FrameAllocator, Lazy, Linear, MemoryAttr, MemoryError,
    MemoryHandler, MemorySet, PageTable, PagingError, Shared, PAGE_SIZE,
};
use range_action_map::{Direction, Hint, MapError, Window};

use arbitrary::{Arbitrary, Unstructured};

use crate::harness::coverage_pair;
use crate::model::{Model, PlacementSpec};
use crate::op::Reader;
use crate::{CountingFrameAllocator, SoftPageTable};

/// The set under test: the test kit's Sv39 table and frame allocator.
pub type Set = MemorySet<SoftPageTable, CountingFrameAllocator>;

/// Operations per scenario (every step walks the whole page table).
pub const MAX_SET_OPS: usize = 300;

/// The lowest page of the low region, and the pages most addresses fall in.
const BASE: usize = 0x10000;
const PAGES: usize = 48;

/// Sv39's canonical addresses: below `LOW_END` or from `HIGH_START` up.
const LOW_END: usize = 1 << 38;
const HIGH_START: usize = LOW_END.wrapping_neg();
/// Physical addresses an Sv39 entry can hold are below this.
const PA_END: usize = 1 << 56;

/// The permissions an area may have.
pub fn attrs() -> [MemoryAttr; 4] {
    let user = MemoryAttr::new().set_user();
    [
        user,
        user.set_readonly(),
        user.set_readonly().set_execute(),
        MemoryAttr::new(),
    ]
}

/// The crate's handlers, as a value the model can compare and number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backing {
    /// [`Linear::new`] with this offset.
    Linear(usize),
    /// [`Device::new`] with this offset.
    Device(usize),
    /// [`ByFrame`].
    ByFrame,
    /// [`Lazy`].
    Lazy,
    /// [`Shared`].
    Shared,
}

impl Backing {
    /// The handler.
    pub fn boxed<PT: PageTable, FA: FrameAllocator>(self) -> Box<dyn MemoryHandler<PT, FA>> {
        match self {
            Backing::Linear(offset) => Box::new(Linear::new(offset)),
            Backing::Device(offset) => Box::new(Device::new(offset)),
            Backing::ByFrame => Box::new(ByFrame::new()),
            Backing::Lazy => Box::new(Lazy::new()),
            Backing::Shared => Box::new(Shared::new()),
        }
    }

    /// Which of the crate's handlers `handler` is.
    ///
    /// # Panics
    ///
    /// On a handler of another type.
    pub fn of(handler: &dyn MemoryHandler<SoftPageTable, CountingFrameAllocator>) -> Backing {
        let handler: &dyn Any = handler;
        if let Some(linear) = handler.downcast_ref::<Linear>() {
            Backing::Linear(linear.offset())
        } else if let Some(device) = handler.downcast_ref::<Device>() {
            Backing::Device(device.offset())
        } else if handler.is::<ByFrame>() {
            Backing::ByFrame
        } else if handler.is::<Lazy>() {
            Backing::Lazy
        } else if handler.is::<Shared>() {
            Backing::Shared
        } else {
            panic!("a handler the test kit does not know")
        }
    }

    /// Whether every page is mapped as soon as the area is (not `Lazy`).
    pub fn is_eager(self) -> bool {
        self != Backing::Lazy
    }

    /// Whether the pages map frames of the allocator (which they hold references to).
    pub fn owns_frames(self) -> bool {
        matches!(self, Backing::ByFrame | Backing::Lazy | Backing::Shared)
    }

    /// Whether the pages are private: shared copy-on-write by a fork.
    pub fn is_private(self) -> bool {
        matches!(self, Backing::ByFrame | Backing::Lazy)
    }

    /// The linear offset of a `Linear` or `Device` handler.
    pub fn offset(self) -> Option<usize> {
        match self {
            Backing::Linear(offset) | Backing::Device(offset) => Some(offset),
            _ => None,
        }
    }

    /// The attributes the area's pages get for the area's `attr`, before copy-on-write.
    pub fn page_attr(self, attr: MemoryAttr) -> MemoryAttr {
        match self {
            Backing::Device(_) => attr.set_device(),
            _ => attr,
        }
    }
}

/// The handlers an area may have: linear maps that work, one with a
/// misaligned offset and one whose offset is above the low region's pages
/// (both refused page by page), device memory, and the three frame-owning handlers.
pub const HANDLERS: [Backing; 8] = [
    Backing::Linear(0),
    Backing::Linear(PAGE_SIZE),
    Backing::Linear(0x800),
    Backing::Linear(BASE + 16 * PAGE_SIZE),
    Backing::Device(2 * PAGE_SIZE),
    Backing::ByFrame,
    Backing::Lazy,
    Backing::Shared,
];

/// Area kinds, numbered as the model's `prot`: permissions × handlers.
pub fn kinds() -> impl Iterator<Item = (MemoryAttr, Backing)> {
    attrs()
        .into_iter()
        .flat_map(|attr| HANDLERS.into_iter().map(move |h| (attr, h)))
}

fn kind(prot: u8) -> (MemoryAttr, Backing) {
    kinds().nth(prot.into()).expect("a kind number")
}

fn kind_number(attr: MemoryAttr, handler: Backing) -> u8 {
    let n = kinds().position(|k| k == (attr, handler));
    n.and_then(|n| u8::try_from(n).ok()).expect("a known kind")
}

/// One `MemorySet` operation.
#[derive(Clone, Copy, Debug)]
///
/// Area kinds are numbers into [`kinds`].
pub enum SetOp {
    /// `push(start, end, ..)` of an area of the kind.
    Push(usize, usize, u8),
    /// `map_anywhere(hint, len, align, ..)` of an area of the kind.
    MapAnywhere {
        /// The hint.
        hint: usize,
        /// Bytes to map.
        len: usize,
        /// Alignment of the start.
        align: usize,
        /// The area's kind.
        kind: u8,
    },
    /// `unmap(start, end)`.
    Unmap(usize, usize),
    /// `protect(start, end, attr)`.
    Protect(usize, usize, MemoryAttr),
    /// `handle_page_fault(addr, access)`.
    Fault(usize, Access),
    /// `clone_for_fork`, checked against the parent.
    Fork {
        /// Whether the child replaces the parent afterwards (else the child
        /// is dropped).
        keep_child: bool,
    },
    /// `clear()`.
    Clear,
}

fn is_canonical(va: usize) -> bool {
    !(LOW_END..HIGH_START).contains(&va)
}

/// Why the page table refuses page `va` of an area with `handler`, whatever
/// the frames: the checks of the Sv39 table, in their order.
fn page_error(handler: Backing, va: usize) -> Option<PagingError> {
    let out_of_range = |addr| Some(PagingError::OutOfRange { addr });
    if !is_canonical(va) {
        return out_of_range(va);
    }
    let pa = va.wrapping_sub(handler.offset()?);
    if pa % PAGE_SIZE != 0 {
        Some(PagingError::Misaligned { addr: pa })
    } else if pa >= PA_END {
        out_of_range(pa)
    } else {
        None
    }
}

/// The first page of `[start, end)` the page table refuses, with why. Each
/// reason holds on an interval of pages (a linear map's physical addresses
/// wrap around), so the first refused page is the start or where a reason
/// begins.
fn first_page_error(handler: Backing, start: usize, end: usize) -> Option<PagingError> {
    let offset = handler.offset().unwrap_or(0);
    let pa_too_wide = offset
        .wrapping_add(PA_END)
        .checked_next_multiple_of(PAGE_SIZE);
    [Some(start), Some(LOW_END), pa_too_wide]
        .into_iter()
        .flatten()
        .filter(|&va| start <= va && va < end)
        .min_by_key(|&va| (page_error(handler, va).is_none(), va))
        .and_then(|va| page_error(handler, va))
}

/// Pages of `[start, end)`, saturated (for budgets only).
fn page_count(start: usize, end: usize) -> usize {
    (end - start) / PAGE_SIZE
}

/// An upper bound on the table frames mapping `[start, end)` may allocate:
/// the root, and one middle and one leaf table per 1 GiB and 2 MiB region.
fn table_budget(start: usize, end: usize) -> usize {
    let regions = |shift: u32| ((end - 1) >> shift) - (start >> shift) + 1;
    1usize
        .saturating_add(regions(30))
        .saturating_add(regions(21))
}

/// One address space and its model.
struct Space {
    set: Set,
    areas: Model,
    /// Pages of lazy areas faulted in.
    faulted: BTreeSet<usize>,
    /// Frames the test has seen and tagged, by page: `(frame, tag)`.
    frames: BTreeMap<usize, (usize, u64)>,
}

/// The set and the model side by side.
pub struct SetHarness {
    fa: CountingFrameAllocator,
    space: Space,
    tag: u64,
    context: String,
}

impl SetHarness {
    /// An empty set in `window` over a machine of `frames` frames.
    pub fn new(frames: usize, window: Window) -> Self {
        let fa = CountingFrameAllocator::new(frames);
        // 4 KiB leaves only: the model predicts page by page what the table
        // refuses and when frames run out (and a linear area of 256 GiB in huge
        // pages would fit in a few frames, then cost its 2^26 pages to check).
        let pt = SoftPageTable::without_huge_pages(fa.memory());
        let set = MemorySet::with_window(window, pt, fa.clone());
        SetHarness {
            fa,
            space: Space {
                set,
                areas: Model {
                    never_merges: |prot| kind(prot).1 == Backing::Shared,
                    ..Model::new(window, true)
                },
                faulted: BTreeSet::new(),
                frames: BTreeMap::new(),
            },
            tag: 0,
            context: String::new(),
        }
    }

    fn free_frames(&self) -> usize {
        self.fa.capacity() - self.fa.live()
    }

    /// Runs `op` on the set and the model and asserts they agree.
    pub fn step(&mut self, op: SetOp) {
        self.context = format!("{op:?}");
        match op {
            SetOp::Push(start, end, kind) => self.push(start, end, kind),
            SetOp::MapAnywhere {
                hint,
                len,
                align,
                kind,
            } => self.map_anywhere(hint, len, align, kind),
            SetOp::Unmap(start, end) => {
                let got = self.space.set.unmap(start, end);
                let want = page_range(start, end).and_then(|()| self.space.areas.unmap(start, end));
                assert_eq!(
                    got.map(coverage_pair),
                    want.map_err(MemoryError::Map),
                    "{op:?}"
                );
                if want.is_ok() {
                    self.space.faulted.retain(|va| !(start..end).contains(va));
                }
            }
            SetOp::Protect(start, end, attr) => self.protect(start, end, attr),
            SetOp::Fault(addr, access) => self.fault(addr, access),
            SetOp::Fork { keep_child } => self.fork(keep_child),
            SetOp::Clear => {
                self.space.set.clear();
                self.space.areas.segs.clear();
                self.space.faulted.clear();
            }
        }
        self.space.areas.events.clear();
        check(&mut self.space, &mut self.fa, &mut self.tag, &self.context);
        self.check_books(&[&self.space]);
    }

    fn push(&mut self, start: usize, end: usize, kind_no: u8) {
        let (attr, handler) = kind(kind_no);
        let free = self.free_frames();
        let got = self.space.set.push(start, end, attr, handler.boxed());
        let before = self.space.areas.clone();
        let want = page_range(start, end)
            .and_then(|()| self.space.areas.mmap_fixed_noreplace(start, end, kind_no));
        match want {
            Err(error) => assert_eq!(got, Err(error.into()), "{}", self.context),
            Ok(_) => self.expect_mapped(got, start, end, handler, free, before),
        }
    }

    /// `got` is the result of adding `[start, end)` with `handler`, which
    /// the model has added; a paging error must be the page table's first
    /// refusal, or frames running out while `free` (the free frames before)
    /// were too few. On error the model goes back to `before`.
    fn expect_mapped(
        &mut self,
        got: Result<(), MemoryError>,
        start: usize,
        end: usize,
        handler: Backing,
        free: usize,
        before: Model,
    ) {
        let refused = if handler.is_eager() {
            first_page_error(handler, start, end)
        } else {
            None
        };
        let ctx = &self.context;
        match got {
            Ok(()) => assert_eq!(refused, None, "{ctx}: mapped"),
            Err(MemoryError::Paging(PagingError::OutOfFrames)) => {
                let owned = if handler.owns_frames() {
                    page_count(start, end)
                } else {
                    0
                };
                let need = owned.saturating_add(table_budget(start, end));
                assert!(free < need, "{ctx}: out of frames with {free} free");
                self.space.areas = before;
            }
            Err(MemoryError::Paging(error)) => {
                assert_eq!(Some(error), refused, "{ctx}");
                self.space.areas = before;
            }
            Err(error) => panic!("{ctx}: {error}"),
        }
    }

    /// The set's `map_anywhere` rule: the lowest hole at or above the hint
    /// rounded up to a page, of `len + align - PAGE_SIZE` bytes for an
    /// alignment above a page, its start rounded up to the alignment.
    fn map_anywhere(&mut self, hint: usize, len: usize, align: usize, kind_no: u8) {
        let (attr, handler) = kind(kind_no);
        let free = self.free_frames();
        let got = (self.space.set).map_anywhere(hint, len, align, attr, handler.boxed());
        let before = self.space.areas.clone();
        let want = self.place(hint, len, align).and_then(|start| {
            let end = start + len;
            self.space.areas.mmap_fixed_noreplace(start, end, kind_no)?;
            Ok(start)
        });
        match want {
            Err(error) => assert_eq!(got, Err(error.into()), "{}", self.context),
            Ok(start) => {
                let mapped = got.map(|at| assert_eq!(at, start, "{}", self.context));
                self.expect_mapped(mapped, start, start + len, handler, free, before);
            }
        }
    }

    fn place(&self, hint: usize, len: usize, align: usize) -> Result<usize, MapError> {
        if len % PAGE_SIZE != 0 {
            return Err(MapError::Misaligned {
                addr: len,
                align: PAGE_SIZE,
            });
        }
        if !align.is_power_of_two() {
            return Err(MapError::BadAlignment { align });
        }
        if len == 0 {
            return Err(MapError::ZeroLength);
        }
        let align = align.max(PAGE_SIZE);
        let search =
            (len.checked_add(align - PAGE_SIZE)).ok_or(MapError::Overflow { start: hint, len })?;
        let no_space = MapError::NoSpace { len };
        let floor = hint.checked_next_multiple_of(PAGE_SIZE).ok_or(no_space)?;
        let hole = self.space.areas.find_free_area(&PlacementSpec {
            len: search,
            align: 1,
            low: 0,
            high: usize::MAX,
            direction: Direction::BottomUp,
            hint: Hint::AtOrAbove(floor),
        })?;
        let start = hole.checked_next_multiple_of(align).ok_or(no_space)?;
        match start.checked_add(len) {
            None => Err(MapError::Overflow { start, len }),
            Some(end) if end > hole + search => Err(no_space),
            Some(_) => Ok(start),
        }
    }

    /// Areas in the range whose permissions differ get `attr`; nothing
    /// allocates frames, so it always succeeds on a good range.
    fn protect(&mut self, start: usize, end: usize, attr: MemoryAttr) {
        let got = self.space.set.protect(start, end, attr);
        let want = page_range(start, end).and_then(|()| self.space.areas.window.check(start, end));
        assert_eq!(got, want.map_err(MemoryError::Map), "{}", self.context);
        if want.is_err() {
            return;
        }
        let changes: Vec<_> = (self.space.areas.segs.iter())
            .filter(|s| s.start < end && s.end > start)
            .filter_map(|s| {
                let (old, handler) = kind(s.prot);
                let range = (s.start.max(start), s.end.min(end));
                (old != attr).then(|| (range, kind_number(attr, handler)))
            })
            .collect();
        for ((s, e), prot) in changes {
            self.space.areas.mprotect(s, e, prot).expect("a good range");
        }
    }

    fn fault(&mut self, addr: usize, access: Access) {
        let free = self.free_frames();
        let got = crate::mmu::fault(&mut self.space.set, addr, access);
        let va = addr & !(PAGE_SIZE - 1);
        let ctx = &self.context;
        let Some(area) = self.space.areas.find(addr) else {
            return assert_eq!(got, Err(FaultError::Unmapped { addr }), "{ctx}");
        };
        let (attr, handler) = kind(area.prot);
        if !access.is_allowed_by(attr) {
            let want = FaultError::AccessViolation { addr, access, attr };
            return assert_eq!(got, Err(want), "{ctx}");
        }
        if handler.is_eager() || self.space.faulted.contains(&va) {
            return assert_eq!(got, Ok(()), "{ctx}: spurious fault");
        }
        match got {
            Ok(()) => {
                assert_eq!(page_error(handler, va), None, "{ctx}");
                self.space.faulted.insert(va);
            }
            Err(FaultError::Paging(PagingError::OutOfFrames)) => {
                assert!(free < 4, "{ctx}: out of frames with {free} free");
            }
            Err(error) => assert_eq!(Some(error), page_error(handler, va).map(FaultError::Paging)),
        }
    }

    /// Forks; the child must equal the model and map the parent's frames
    /// (no page copied); then one of the two lives on.
    fn fork(&mut self, keep_child: bool) {
        let free = self.free_frames();
        let pt = SoftPageTable::without_huge_pages(self.fa.memory());
        let child = match self.space.set.clone_for_fork(pt) {
            Ok(child) => child,
            Err(MemoryError::Paging(PagingError::OutOfFrames)) => {
                let need = self.space.set.page_table().table_frames();
                return assert!(free < need, "{}: fork out of frames", self.context);
            }
            Err(error) => panic!("{}: fork failed: {error}", self.context),
        };
        let mut child = Space {
            set: child,
            areas: self.space.areas.clone(),
            faulted: self.space.faulted.clone(),
            frames: self.space.frames.clone(),
        };
        let parent: Vec<_> = self.space.set.page_table().mapped_pages().collect();
        let copied: Vec<_> = child.set.page_table().mapped_pages().collect();
        assert_eq!(
            copied.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(),
            parent.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(),
            "{}: the child maps the parent's frames",
            self.context
        );
        assert_eq!(
            self.fa.copies(),
            0,
            "{}: a fork copies no page",
            self.context
        );
        let before = self.tag;
        check(&mut child, &mut self.fa, &mut self.tag, &self.context);
        assert_eq!(
            self.tag, before,
            "{}: the child's frames are known",
            self.context
        );
        self.check_books(&[&self.space, &child]);
        if keep_child {
            self.space = child;
        }
    }

    /// Every live frame is a page table's or a page's that a model knows.
    fn check_books(&self, spaces: &[&Space]) {
        let frames: BTreeSet<usize> = (spaces.iter())
            .flat_map(|s| s.frames.values().map(|&(pa, _)| pa))
            .collect();
        let tables: usize = (spaces.iter())
            .map(|s| s.set.page_table().table_frames())
            .sum();
        let expected = frames.len() + tables;
        assert_eq!(self.fa.live(), expected, "{}: frame books", self.context);
    }

    /// Drops the set; every frame must come back.
    pub fn finish(self) {
        let fa = self.fa.clone();
        drop(self);
        assert_eq!(fa.live(), 0, "leaked frames");
        assert_eq!(fa.allocated(), fa.freed());
    }
}

/// `start` and `end` are page aligned (the set's first check).
fn page_range(start: usize, end: usize) -> Result<(), MapError> {
    match [start, end].into_iter().find(|a| a % PAGE_SIZE != 0) {
        Some(addr) => Err(MapError::Misaligned {
            addr,
            align: PAGE_SIZE,
        }),
        None => Ok(()),
    }
}

fn read_tag(fa: &CountingFrameAllocator, pa: usize) -> u64 {
    let mut buf = [0; 8];
    fa.read(pa, 0, &mut buf);
    u64::from_le_bytes(buf)
}

/// Compares `space`'s set and its page table with its model, page by
/// page, and tags every owned frame seen for the first time.
fn check(space: &mut Space, fa: &mut CountingFrameAllocator, next_tag: &mut u64, ctx: &str) {
    let set = &space.set;
    let got: Vec<_> = set
        .iter()
        .map(|a| {
            (
                a.range().start,
                a.range().end,
                kind_number(a.attr(), Backing::of(a.handler())),
            )
        })
        .collect();
    let want: Vec<_> = (space.areas.segs.iter())
        .map(|s| (s.start, s.end, s.prot))
        .collect();
    assert_eq!(got, want, "{ctx}: areas\n{set}");
    let mapped: BTreeMap<usize, (usize, MemoryAttr)> = set
        .page_table()
        .mapped_pages()
        .map(|(va, pa, attr)| (va, (pa, attr)))
        .collect();
    space.frames.retain(|va, _| mapped.contains_key(va));
    for (&va, &(pa, attr)) in &mapped {
        let area = (space.areas.find(va)).unwrap_or_else(|| panic!("{ctx}: {va:#x} mapped"));
        let (area_attr, handler) = kind(area.prot);
        assert!(
            handler.is_eager() || space.faulted.contains(&va),
            "{ctx}: lazy page {va:#x} mapped unasked"
        );
        let want = handler.page_attr(area_attr);
        // A private page stays read-only from a fork until its first write.
        let write_protected = handler.is_private() && attr == want.set_readonly();
        assert!(attr == want || write_protected, "{ctx}: flags of {va:#x}");
        if let Some(offset) = handler.offset() {
            assert_eq!(pa, va.wrapping_sub(offset), "{ctx}: frame of {va:#x}");
            continue;
        }
        if handler.is_private() && fa.ref_count(pa) > 1 {
            assert!(attr.is_readonly(), "{ctx}: {va:#x} shares {pa:#x} writable");
        }
        assert!(fa.is_live(pa), "{ctx}: {va:#x} maps a dead frame {pa:#x}");
        match space.frames.get(&va) {
            Some(&(known, tag)) => {
                assert_eq!(pa, known, "{ctx}: the frame of {va:#x} moved");
                assert_eq!(read_tag(fa, pa), tag, "{ctx}: contents of {va:#x}");
            }
            None => {
                *next_tag += 1;
                fa.write(pa, 0, &next_tag.to_le_bytes());
                space.frames.insert(va, (pa, *next_tag));
            }
        }
    }
    let frames: BTreeSet<usize> = space.frames.values().map(|&(pa, _)| pa).collect();
    assert_eq!(
        frames.len(),
        space.frames.len(),
        "{ctx}: two pages share a frame"
    );
    let eager: usize = (space.areas.segs.iter())
        .filter(|s| kind(s.prot).1.is_eager())
        .map(|s| page_count(s.start, s.end))
        .sum();
    assert_eq!(
        mapped.len(),
        eager + space.faulted.len(),
        "{ctx}: pages mapped"
    );
}

// === decoding ===

/// Where a scenario's addresses fall.
#[derive(Clone, Copy)]
struct Region(usize);

impl Region {
    /// Page `k` of the region (`k < 64`, a few pages past the window).
    fn page(self, k: usize) -> usize {
        self.0.wrapping_add(k * PAGE_SIZE)
    }
}

/// Decodes `MemorySet` operations from bytes.
struct SetDecoder<'u, 'a> {
    r: Reader<'u, 'a>,
    region: Region,
}

impl SetDecoder<'_, '_> {
    /// An address the page-table code must refuse or handle at an edge.
    fn wild(&mut self) -> usize {
        match self.r.u8() % 8 {
            0 => 0,
            1 => self.region.page(2) + 0x800,
            2 => usize::MAX,
            3 => usize::MAX - PAGE_SIZE + 1,
            4 => LOW_END,
            5 => HIGH_START - PAGE_SIZE,
            6 => PAGE_SIZE - 1,
            _ => self.r.usize(),
        }
    }

    fn addr(&mut self) -> usize {
        match self.r.u8() {
            v @ 0..=0xef => self.region.page(usize::from(v % 64)),
            _ => self.wild(),
        }
    }

    fn len(&mut self) -> usize {
        match self.r.u8() {
            v @ 0..=0xdf => (1 + usize::from(v % 8)) * PAGE_SIZE,
            0xe0..=0xe7 => 0,
            0xe8..=0xef => PAGE_SIZE / 2,
            0xf0..=0xf7 => usize::MAX & !(PAGE_SIZE - 1),
            _ => self.wild(),
        }
    }

    fn range(&mut self) -> (usize, usize) {
        let start = self.addr();
        if self.r.u8() < 0xf0 {
            (start, start.saturating_add(self.len()))
        } else {
            (start, self.addr())
        }
    }

    fn align(&mut self) -> usize {
        match self.r.u8() % 16 {
            0 => 0,
            1 => 3 * PAGE_SIZE,
            2 => 1,
            3 => 1 << (usize::BITS - 1),
            v => PAGE_SIZE << (v & 3),
        }
    }

    fn kind(&mut self) -> u8 {
        let n = attrs().len() * HANDLERS.len();
        self.r.u8() % u8::try_from(n).expect("few kinds")
    }

    fn op(&mut self) -> SetOp {
        match self.r.u8() % 32 {
            0..=8 => {
                let (start, end) = self.range();
                SetOp::Push(start, end, self.kind())
            }
            9..=12 => SetOp::MapAnywhere {
                hint: self.addr(),
                len: self.len(),
                align: self.align(),
                kind: self.kind(),
            },
            13..=17 => {
                let (start, end) = self.range();
                SetOp::Unmap(start, end)
            }
            18..=21 => {
                let (start, end) = self.range();
                SetOp::Protect(start, end, attrs()[usize::from(self.r.u8() % 4)])
            }
            22..=28 => {
                let addr = self.addr() | usize::from(self.r.u8()) << 4;
                let access = [Access::Read, Access::Write, Access::Execute];
                SetOp::Fault(addr, access[usize::from(self.r.u8() % 3)])
            }
            29 | 30 => SetOp::Fork {
                keep_child: self.r.u8() & 1 != 0,
            },
            _ => SetOp::Clear,
        }
    }
}

/// A random `MemorySet` scenario: the `memory_set` fuzz target's input,
/// and the model test's.
#[derive(Clone, Debug)]
pub struct SetScenario {
    /// Frames of the simulated machine.
    pub frames: usize,
    /// The set's window.
    pub window: Window,
    /// The operations, at most [`MAX_SET_OPS`].
    pub ops: Vec<SetOp>,
}

impl<'a> Arbitrary<'a> for SetScenario {
    /// Flags byte (frame budget, window, address region), then operations
    /// until the input runs out.
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut r = Reader(u);
        let flags = r.u8();
        let frames = [4 * PAGES + 16, 40, 12, 100][usize::from(flags & 3)];
        let window = if flags & 4 == 0 {
            Window::DEFAULT
        } else {
            Window::new(BASE + 4 * PAGE_SIZE, BASE + (PAGES - 4) * PAGE_SIZE).expect("a window")
        };
        // Low addresses; the top of Sv39's lower half, where ranges run into
        // non-canonical addresses; the top of the address space, where ends
        // overflow.
        let region = Region(
            [
                BASE,
                LOW_END - 32 * PAGE_SIZE,
                0usize.wrapping_sub(64 * PAGE_SIZE),
                BASE,
            ][usize::from(flags >> 3 & 3)],
        );
        let mut d = SetDecoder { r, region };
        let mut ops = Vec::new();
        while ops.len() < MAX_SET_OPS && !d.r.is_empty() {
            ops.push(d.op());
        }
        Ok(SetScenario {
            frames,
            window,
            ops,
        })
    }
}

/// Runs `scenario`: the operations on a `MemorySet` and its model side by
/// side, checked after each, then every frame back.
pub fn run_memory_set(scenario: SetScenario) {
    let mut h = SetHarness::new(scenario.frames, scenario.window);
    for op in scenario.ops {
        h.step(op);
    }
    h.finish();
}
