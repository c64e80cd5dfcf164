//! Fork trees of `MemorySet`s against a model, page by page and frame by
//! frame: the runner that the `fork_tree` fuzz target, the corpus replay and
//! `tests/fork_tree.rs` share.
//!
//! A scenario runs a list of live processes, each a [`Set`] over one shared
//! [`CountingFrameAllocator`], and two [`MemFile`]s. Steps fork a process
//! (its child joins the list, so grandchildren occur), make one exit (in any
//! order: parents before their children too), push private anonymous
//! (`ByFrame`, `Lazy`), shared anonymous (`Shared`) and private or shared
//! file mappings (`FileMapping`) on a small page range, so that areas
//! overlap, split and merge, unmap and protect there, load and store
//! distinct values as a user program would ([`mmu`]), `msync`,
//! and evict the files' unused pages. Before a step the frames may run out
//! ([`CountingFrameAllocator::set_budget`]).
//!
//! The model is plain data: for each process the area and permissions of
//! each page (areas are the maximal runs of pages that would merge, under
//! the crate's rules: private anonymous memory of one kind, file mappings of
//! one file, private or shared, at contiguous offsets, with equal
//! permissions; `Shared` never merges), and the abstract frame each mapped
//! page maps, with whether it is writable. Abstract frames hold the value a
//! load returns; two pages share a real frame exactly when they share an
//! abstract one. A fork gives the child the parent's private frames
//! read-only, and both sides' next write copies them (or takes the page
//! back in place when no one else holds the frame); shared anonymous frames
//! are shared writable; shared file pages are left to fault in again from
//! the file's cache, which holds its own abstract frame per cached page,
//! with its dirty bit and the disk's contents.
//!
//! After every step the runner checks each live process's areas and, walking
//! its page table ([`SoftPageTable::mapped_pages`]), every mapped page: in an
//! area, with the area's permissions, read-only exactly where the model says
//! (private pages while their frame is shared, shared file pages until
//! dirtied), mapping the frame its sharing class maps; every frame's value
//! and reference count (its mappings plus one if a file caches it); that
//! the live frames are those frames plus the page tables'; every cached
//! page's dirty bit and every disk page; and that no write can be lost (a
//! cached page that differs from the disk is dirty, or writable in some
//! process, which marks it dirty when it stops being). A step refused for
//! want of frames must have spent its whole budget and left every page
//! table (leaf by leaf), area and reference count as it was (a page table
//! may keep the empty tables it allocated, and a file's cache the page it
//! read in); the model is then unchanged. At the end every process exits,
//! the files evict their pages, and every frame must be back.
//!
//! Input layout (decoded as [`op`](crate::op) decodes, through
//! [`arbitrary::Arbitrary`]):
//!
//! ```text
//! byte 0   bits 0-1: the two files' lengths in pages
//! rest     steps until the end: a tag byte, then the operation's operands
//!          (process, pages, permissions, kind: a byte each, a file
//!          mapping's offset one more)
//! tag      bits 0-3 the operation: 0-2 push, 3 unmap, 4 protect, 5 load,
//!          6-9 store, 10-11 fork, 12-13 exit, 14 msync, 15 evict;
//!          bits 4-7 the frame budget: 12-15 for 0, 1, 2 or 4 frames, below
//!          12 for none
//! ```

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::{fmt, iter};

use arbitrary::{Arbitrary, Unstructured};
use range_action_map::memory_set::{
    Access, FaultError, FileMapping, FrameAllocator, MemoryArea, MemoryAttr, MemoryError,
    MemoryHandler, MemorySet, PagingError, PAGE_SIZE,
};
use range_action_map::MapError;

use crate::op::Reader;
use crate::set_model::{attrs, Backing, Set};
use crate::{mmu, CountingFrameAllocator, MemFile, SoftPageTable};

/// Steps per scenario (every step walks every process's page table).
pub const MAX_FORK_STEPS: usize = 200;

/// Processes alive at once; a fork beyond is skipped.
pub const MAX_PROCESSES: usize = 6;

/// Page 0 of the region: 8 pages below a 2 MiB boundary, so that the region
/// spans two leaf tables and a fork or fault may run out between them.
pub const BASE: usize = 0x20_0000 - 8 * PAGE_SIZE;

/// Pages that loads and stores reach; areas start in the first 16.
pub const PAGES: usize = 22;

/// The longest area a step pushes, in pages.
const MAX_LEN: usize = 6;

/// Frames of the simulated machine: enough that only budgets run out.
const FRAMES: usize = 256;

/// The permissions an area may have: the test kit's user ones.
fn user_attrs() -> [MemoryAttr; 3] {
    let [rw, ro, rx, _] = attrs();
    [rw, ro, rx]
}

/// The address of page `page` of the region.
fn va(page: usize) -> usize {
    BASE + page * PAGE_SIZE
}

// === the scenario ===

/// What backs an area a step pushes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AreaKind {
    /// One of the crate's anonymous handlers: [`Backing::ByFrame`],
    /// [`Backing::Lazy`] or [`Backing::Shared`].
    Anon(Backing),
    /// [`FileMapping::private`] or [`FileMapping::shared`] of the scenario's
    /// file `file` (0 or 1) from page `pgoff` on.
    File {
        /// Which of the two files.
        file: usize,
        /// `MAP_SHARED` rather than `MAP_PRIVATE`.
        shared: bool,
        /// The file page the area's first page maps.
        pgoff: usize,
    },
}

/// One step's operation. `proc` picks a live process, modulo their number
/// (in the order they were made); pages are pages of the region from
/// [`BASE`].
#[derive(Clone, Copy, Debug)]
pub enum ForkOp {
    /// `push` of an area of `pages` pages from page `start`.
    Push {
        /// The process.
        proc: usize,
        /// The first page.
        start: usize,
        /// How many pages.
        pages: usize,
        /// The area's permissions.
        attr: MemoryAttr,
        /// What backs it.
        kind: AreaKind,
    },
    /// `unmap` of `pages` pages from page `start`.
    Unmap {
        /// The process.
        proc: usize,
        /// The first page.
        start: usize,
        /// How many pages.
        pages: usize,
    },
    /// `protect` of `pages` pages from page `start`.
    Protect {
        /// The process.
        proc: usize,
        /// The first page.
        start: usize,
        /// How many pages.
        pages: usize,
        /// The new permissions.
        attr: MemoryAttr,
    },
    /// A user load of page `page` ([`mmu::load`]).
    Load {
        /// The process.
        proc: usize,
        /// The page: below [`PAGES`] that page, else [`ForkOp::IN_AREA`]
        /// plus `n` for the `n`-th page in the process's areas (modulo
        /// their number; page 0 if there is none).
        page: usize,
    },
    /// A user store of a value no other store wrote to page `page`
    /// ([`mmu::store`]).
    Store {
        /// The process.
        proc: usize,
        /// The page, as [`Load`](ForkOp::Load)'s.
        page: usize,
    },
    /// `msync` of `pages` pages from page `start`.
    Msync {
        /// The process.
        proc: usize,
        /// The first page.
        start: usize,
        /// How many pages.
        pages: usize,
    },
    /// `clone_for_fork`: the child joins the list, last.
    Fork {
        /// The parent.
        proc: usize,
    },
    /// The process exits: its set is dropped (unless it is the last).
    Exit {
        /// The process.
        proc: usize,
    },
    /// [`MemFile::evict`] of file `file`.
    Evict {
        /// Which of the two files.
        file: usize,
    },
}

impl ForkOp {
    /// The first `page` of a load or store that picks a page in the
    /// process's areas rather than a page of the region.
    pub const IN_AREA: usize = 0x100;

    /// Whether the operation acts on a process (all but `Evict`).
    fn needs_process(self) -> bool {
        !matches!(self, ForkOp::Evict { .. })
    }
}

/// One step: an operation, run with at most `budget` more frames if set.
#[derive(Clone, Copy, Debug)]
pub struct ForkStep {
    /// The operation.
    pub op: ForkOp,
    /// How many frames may be allocated during it; `None` for no limit.
    pub budget: Option<usize>,
}

impl From<ForkOp> for ForkStep {
    /// The step with no frame budget.
    fn from(op: ForkOp) -> Self {
        ForkStep { op, budget: None }
    }
}

/// A random fork-tree scenario: the `fork_tree` fuzz target's input, and
/// the model test's.
#[derive(Clone, Debug)]
pub struct ForkScenario {
    /// The lengths of the two files, in pages.
    pub file_pages: [usize; 2],
    /// The steps, at most [`MAX_FORK_STEPS`].
    pub steps: Vec<ForkStep>,
}

impl ForkScenario {
    /// Smaller scenarios to try when this one fails: the first half of the
    /// steps, then every step left out in turn, last first.
    pub fn shrink(&self) -> impl Iterator<Item = ForkScenario> {
        let (file_pages, steps) = (self.file_pages, self.steps.clone());
        let half = steps[..steps.len() / 2].to_vec();
        let singles = (0..steps.len()).rev().map(move |i| {
            let mut fewer = steps.clone();
            fewer.remove(i);
            fewer
        });
        iter::once(half)
            .filter(|h| !h.is_empty())
            .chain(singles)
            .map(move |steps| ForkScenario { file_pages, steps })
    }
}

/// Decodes steps from bytes.
struct StepDecoder<'u, 'a> {
    r: Reader<'u, 'a>,
    file_pages: [usize; 2],
}

impl StepDecoder<'_, '_> {
    fn proc(&mut self) -> usize {
        usize::from(self.r.u8())
    }

    /// A page of an access: most of the time one in the process's areas.
    fn page(&mut self) -> usize {
        match self.r.u8() {
            b @ 0..=0x3f => usize::from(b) % PAGES,
            b => ForkOp::IN_AREA + usize::from(b),
        }
    }

    /// A range: its first page (among the first 16) and its length.
    fn range(&mut self) -> (usize, usize) {
        let start = usize::from(self.r.u8()) % 16;
        (start, 1 + usize::from(self.r.u8()) % MAX_LEN)
    }

    /// Permissions, mostly writable (stores are what copy pages).
    fn attr(&mut self) -> MemoryAttr {
        let [rw, ro, rx] = user_attrs();
        [rw, rw, rw, rw, rw, ro, ro, rx][usize::from(self.r.u8() % 8)]
    }

    /// An area kind; a file mapping's offset may start at the file's end,
    /// whose pages are then beyond it.
    fn kind(&mut self) -> AreaKind {
        let byte = self.r.u8();
        let file = usize::from(byte >> 3 & 1);
        match byte % 5 {
            0 => AreaKind::Anon(Backing::ByFrame),
            1 => AreaKind::Anon(Backing::Lazy),
            2 => AreaKind::Anon(Backing::Shared),
            kind => AreaKind::File {
                file,
                shared: kind == 4,
                pgoff: usize::from(self.r.u8()) % (self.file_pages[file] + 1),
            },
        }
    }

    fn step(&mut self) -> ForkStep {
        let tag = self.r.u8();
        let budget = match tag >> 4 {
            b @ 12.. => Some([0, 1, 2, 4][usize::from(b - 12)]),
            _ => None,
        };
        let op = match tag & 15 {
            0..=2 => {
                let (proc, (start, pages)) = (self.proc(), self.range());
                let attr = self.attr();
                ForkOp::Push {
                    proc,
                    start,
                    pages,
                    attr,
                    kind: self.kind(),
                }
            }
            3 => {
                let (proc, (start, pages)) = (self.proc(), self.range());
                ForkOp::Unmap { proc, start, pages }
            }
            4 => {
                let (proc, (start, pages)) = (self.proc(), self.range());
                let attr = self.attr();
                ForkOp::Protect {
                    proc,
                    start,
                    pages,
                    attr,
                }
            }
            5 => ForkOp::Load {
                proc: self.proc(),
                page: self.page(),
            },
            6..=9 => ForkOp::Store {
                proc: self.proc(),
                page: self.page(),
            },
            10 | 11 => ForkOp::Fork { proc: self.proc() },
            12 | 13 => ForkOp::Exit { proc: self.proc() },
            14 => {
                let (proc, (start, pages)) = (self.proc(), self.range());
                ForkOp::Msync { proc, start, pages }
            }
            _ => ForkOp::Evict {
                file: usize::from(self.r.u8() & 1),
            },
        };
        ForkStep { op, budget }
    }
}

impl<'a> Arbitrary<'a> for ForkScenario {
    /// Flags byte (the files' lengths), then steps until the input runs out.
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut r = Reader(u);
        let file_pages = [[4, 6], [8, 3], [12, 1], [3, 10]][usize::from(r.u8() & 3)];
        let mut d = StepDecoder { r, file_pages };
        let mut steps = Vec::new();
        while steps.len() < MAX_FORK_STEPS && !d.r.is_empty() {
            steps.push(d.step());
        }
        Ok(ForkScenario { file_pages, steps })
    }
}

// === the model ===

/// What backs a page, as the model merges areas: file mappings by the page
/// (in page units from [`BASE`]) that file page 0 would have, which a split
/// does not change, so that equal kinds are exactly contiguous offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Anon(Backing),
    File {
        file: usize,
        shared: bool,
        origin: isize,
    },
}

impl Kind {
    /// Copy-on-write memory: shared read-only by a fork, copied on write.
    fn is_private(self) -> bool {
        matches!(
            self,
            Kind::Anon(Backing::ByFrame | Backing::Lazy) | Kind::File { shared: false, .. }
        )
    }

    fn is_shared_file(self) -> bool {
        matches!(self, Kind::File { shared: true, .. })
    }

    /// Every page mapped when the area is pushed.
    fn is_eager(self) -> bool {
        matches!(self, Kind::Anon(Backing::ByFrame | Backing::Shared))
    }

    /// Whether a mapped page is writable after its area's permissions are
    /// (re)written to `attr`, given whether it was and how many references
    /// its frame has: a private page only while it holds the frame alone, a
    /// shared file page only if it was (it is dirty).
    fn writable_after_protect(self, attr: MemoryAttr, was: bool, refs: usize) -> bool {
        let rw = !attr.is_readonly();
        match self {
            kind if kind.is_private() => rw && refs == 1,
            Kind::File { .. } => rw && was,
            _ => rw,
        }
    }
}

/// The area a page is in: its permissions, kind, and for areas that never
/// merge, which piece of one it is (a `Shared` area cut in two stays two).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PageArea {
    attr: MemoryAttr,
    kind: Kind,
    piece: u64,
}

/// A mapped page: its abstract frame, and whether the entry is writable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Mapping {
    frame: u64,
    writable: bool,
}

/// One address space of the model, by page of the region.
#[derive(Clone, Debug, Default)]
struct Space {
    areas: BTreeMap<usize, PageArea>,
    mapped: BTreeMap<usize, Mapping>,
}

impl Space {
    /// The areas: maximal runs of pages with equal [`PageArea`]s, as
    /// `(first page, end page, area)`.
    fn runs(&self) -> Vec<(usize, usize, PageArea)> {
        let mut runs: Vec<(usize, usize, PageArea)> = Vec::new();
        for (&page, &area) in &self.areas {
            match runs.last_mut() {
                Some(last) if last.1 == page && last.2 == area => last.1 += 1,
                _ => runs.push((page, page + 1, area)),
            }
        }
        runs
    }
}

/// One file of the model: its cache (abstract frame and dirty bit by page)
/// and the first 8 bytes of each disk page written back.
#[derive(Clone, Debug)]
struct FileModel {
    id: u64,
    pages: usize,
    cache: BTreeMap<usize, (u64, bool)>,
    disk: BTreeMap<usize, u64>,
}

impl FileModel {
    /// What the disk holds in page `pgoff`'s first 8 bytes.
    fn disk(&self, pgoff: usize) -> u64 {
        let initial = u64::from_le_bytes(MemFile::initial(self.id, pgoff));
        self.disk.get(&pgoff).copied().unwrap_or(initial)
    }
}

/// The whole model: the address spaces (in the order of the live
/// processes), the files, and the value of every abstract frame.
#[derive(Clone, Debug)]
struct Model {
    spaces: Vec<Space>,
    files: Vec<FileModel>,
    values: BTreeMap<u64, u64>,
    next_frame: u64,
    next_piece: u64,
    /// Frame copies made (copy-on-write breaks and private copies of file
    /// pages).
    copies: usize,
}

impl Model {
    fn new_frame(&mut self, value: u64) -> u64 {
        self.next_frame += 1;
        self.values.insert(self.next_frame, value);
        self.next_frame
    }

    fn fresh_piece(&mut self) -> u64 {
        self.next_piece += 1;
        self.next_piece
    }

    /// The references to every abstract frame: its mappings, plus one if a
    /// file caches it.
    fn refs(&self) -> BTreeMap<u64, usize> {
        let mut refs = BTreeMap::new();
        let mapped = self.spaces.iter().flat_map(|s| s.mapped.values());
        let cached = self.files.iter().flat_map(|f| f.cache.values());
        for frame in mapped.map(|m| m.frame).chain(cached.map(|c| c.0)) {
            *refs.entry(frame).or_default() += 1;
        }
        refs
    }

    fn refs_of(&self, frame: u64) -> usize {
        self.refs().get(&frame).copied().unwrap_or(0)
    }

    /// Forgets the frames nothing refers to any more.
    fn collect_garbage(&mut self) {
        let refs = self.refs();
        self.values.retain(|frame, _| refs.contains_key(frame));
    }

    /// The cached frame of page `pgoff` of `file`, read in from the disk if
    /// it is not cached.
    fn cache_page(&mut self, file: usize, pgoff: usize) -> Result<u64, PagingError> {
        if pgoff >= self.files[file].pages {
            return Err(PagingError::NoPage { pgoff });
        }
        if let Some(&(frame, _)) = self.files[file].cache.get(&pgoff) {
            return Ok(frame);
        }
        let frame = self.new_frame(self.files[file].disk(pgoff));
        self.files[file].cache.insert(pgoff, (frame, false));
        Ok(frame)
    }

    /// The file page that page `page` of an area of `kind` maps.
    fn file_page(kind: Kind, page: usize) -> Option<(usize, usize)> {
        match kind {
            Kind::File { file, origin, .. } => {
                let pgoff = (page as isize - origin) as usize;
                Some((file, pgoff))
            }
            Kind::Anon(_) => None,
        }
    }

    /// Marks dirty the cached page behind a writable shared file page.
    fn note_dirty(&mut self, kind: Kind, page: usize, mapping: Mapping) {
        if let (true, true, Some((file, pgoff))) = (
            kind.is_shared_file(),
            mapping.writable,
            Self::file_page(kind, page),
        ) {
            if let Some(cached) = self.files[file].cache.get_mut(&pgoff) {
                cached.1 = true;
            }
        }
    }

    fn push(
        &mut self,
        p: usize,
        (start, end): (usize, usize),
        attr: MemoryAttr,
        kind: AreaKind,
    ) -> Result<(), MemoryError> {
        if self.spaces[p].areas.range(start..end).next().is_some() {
            let (start, end) = (va(start), va(end));
            return Err(MapError::Overlap { start, end }.into());
        }
        let (kind, piece) = match kind {
            AreaKind::Anon(Backing::Shared) => (Kind::Anon(Backing::Shared), self.fresh_piece()),
            AreaKind::Anon(backing) => (Kind::Anon(backing), 0),
            AreaKind::File {
                file,
                shared,
                pgoff,
            } => {
                let origin = start as isize - pgoff as isize;
                (
                    Kind::File {
                        file,
                        shared,
                        origin,
                    },
                    0,
                )
            }
        };
        for page in start..end {
            let area = PageArea { attr, kind, piece };
            self.spaces[p].areas.insert(page, area);
            if kind.is_eager() {
                let frame = self.new_frame(0);
                let writable = !attr.is_readonly();
                self.spaces[p]
                    .mapped
                    .insert(page, Mapping { frame, writable });
            }
        }
        Ok(())
    }

    /// Unmaps the pages of `[start, end)`; writable shared file pages are
    /// marked dirty on their way out.
    fn unmap(&mut self, p: usize, (start, end): (usize, usize)) {
        let pages: Vec<usize> = self.spaces[p]
            .areas
            .range(start..end)
            .map(|a| *a.0)
            .collect();
        for page in pages {
            let area = self.spaces[p].areas.remove(&page).expect("listed");
            if let Some(mapping) = self.spaces[p].mapped.remove(&page) {
                self.note_dirty(area.kind, page, mapping);
            }
        }
    }

    /// Areas in the range whose permissions differ get `attr`: a `Shared`
    /// piece cut by the range becomes a piece of its own. A shared file page
    /// made read-only is marked dirty (it may have been written since it was
    /// last clean).
    fn protect(&mut self, p: usize, (start, end): (usize, usize), attr: MemoryAttr) {
        let refs = self.refs();
        let mut write_protected = Vec::new();
        let mut pieces = BTreeMap::new();
        let changed: Vec<usize> = (self.spaces[p].areas.range(start..end))
            .filter(|(_, area)| area.attr != attr)
            .map(|(&page, _)| page)
            .collect();
        for page in changed {
            let mut area = self.spaces[p].areas[&page];
            if area.piece != 0 {
                area.piece = *pieces
                    .entry(area.piece)
                    .or_insert_with(|| self.fresh_piece());
            }
            area.attr = attr;
            self.spaces[p].areas.insert(page, area);
            if let Some(m) = self.spaces[p].mapped.get_mut(&page) {
                let was = *m;
                m.writable = (area.kind).writable_after_protect(attr, was.writable, refs[&m.frame]);
                if was.writable && !m.writable {
                    write_protected.push((area.kind, page, was));
                }
            }
        }
        for (kind, page, mapping) in write_protected {
            self.note_dirty(kind, page, mapping);
        }
    }

    /// A user load: the value, faulting the page in if it is absent.
    fn load(&mut self, p: usize, page: usize) -> Result<u64, FaultError> {
        let addr = va(page);
        let area = *self.spaces[p]
            .areas
            .get(&page)
            .ok_or(FaultError::Unmapped { addr })?;
        if let Some(m) = self.spaces[p].mapped.get(&page) {
            return Ok(self.values[&m.frame]);
        }
        let mapping = match area.kind {
            Kind::Anon(Backing::Lazy) => Mapping {
                frame: self.new_frame(0),
                writable: !area.attr.is_readonly(),
            },
            Kind::File { .. } => {
                let (file, pgoff) = Self::file_page(area.kind, page).expect("a file page");
                let frame = self.cache_page(file, pgoff).map_err(FaultError::Paging)?;
                Mapping {
                    frame,
                    writable: false,
                }
            }
            Kind::Anon(_) => panic!("model: eager page {page} is not mapped"),
        };
        self.spaces[p].mapped.insert(page, mapping);
        Ok(self.values[&mapping.frame])
    }

    /// A user store of `value`: faults (a fresh frame, a copy, a page of the
    /// cache, a dirty bit) as the page and its area say, then writes.
    fn store(&mut self, p: usize, page: usize, value: u64) -> Result<(), FaultError> {
        let addr = va(page);
        let area = *self.spaces[p]
            .areas
            .get(&page)
            .ok_or(FaultError::Unmapped { addr })?;
        if area.attr.is_readonly() {
            let (access, attr) = (Access::Write, area.attr);
            return Err(FaultError::AccessViolation { addr, access, attr });
        }
        let file_page = Self::file_page(area.kind, page);
        let frame = match (self.spaces[p].mapped.get(&page).copied(), area.kind) {
            (Some(m), _) if m.writable => m.frame,
            (Some(m), kind) if kind.is_private() => {
                if self.refs_of(m.frame) == 1 {
                    m.frame
                } else {
                    self.copies += 1;
                    self.new_frame(self.values[&m.frame])
                }
            }
            (Some(m), Kind::File { .. }) => m.frame,
            (Some(_), _) => panic!("model: shared page {page} mapped read-only in {area:?}"),
            (None, Kind::Anon(Backing::Lazy)) => self.new_frame(0),
            (None, Kind::File { shared, .. }) => {
                let (file, pgoff) = file_page.expect("a file page");
                let cached = self.cache_page(file, pgoff).map_err(FaultError::Paging)?;
                if shared {
                    cached
                } else {
                    self.copies += 1;
                    self.new_frame(self.values[&cached])
                }
            }
            (None, _) => panic!("model: eager page {page} is not mapped"),
        };
        let faulted = !self.spaces[p].mapped.get(&page).is_some_and(|m| m.writable);
        if let (true, true, Some((file, pgoff))) = (faulted, area.kind.is_shared_file(), file_page)
        {
            self.files[file].cache.get_mut(&pgoff).expect("cached").1 = true;
        }
        let mapping = Mapping {
            frame,
            writable: true,
        };
        self.spaces[p].mapped.insert(page, mapping);
        self.values.insert(frame, value);
        Ok(())
    }

    /// `msync`, area by area in address order: this process's writable
    /// shared file pages of the range are marked dirty and write-protected,
    /// then every dirty cached page behind the range is written back.
    fn msync(&mut self, p: usize, (start, end): (usize, usize)) -> usize {
        let mut written = 0;
        let runs = self.spaces[p].runs();
        for (first, last, area) in runs {
            let (first, last) = (first.max(start), last.min(end));
            if first >= last || !area.kind.is_shared_file() {
                continue;
            }
            for page in first..last {
                if let Some(m) = self.spaces[p].mapped.get(&page).copied() {
                    self.note_dirty(area.kind, page, m);
                    self.spaces[p]
                        .mapped
                        .get_mut(&page)
                        .expect("mapped")
                        .writable = false;
                }
            }
            let (file, from) = Self::file_page(area.kind, first).expect("a file page");
            let (_, to) = Self::file_page(area.kind, last - 1).expect("a file page");
            let dirty: Vec<(usize, u64)> = (self.files[file].cache.range(from..=to))
                .filter(|(_, cached)| cached.1)
                .map(|(&pgoff, &(frame, _))| (pgoff, frame))
                .collect();
            for (pgoff, frame) in dirty {
                let value = self.values[&frame];
                let model = &mut self.files[file];
                model.disk.insert(pgoff, value);
                model.cache.insert(pgoff, (frame, false));
                written += 1;
            }
        }
        written
    }

    /// The child's space: private pages share the parent's frames
    /// read-only, shared anonymous pages share them writable, shared file
    /// pages are left to fault in; then the parent's pages are protected
    /// again with their areas' permissions.
    fn fork(&mut self, p: usize) {
        let parent = &self.spaces[p];
        let mut child = Space {
            areas: parent.areas.clone(),
            mapped: BTreeMap::new(),
        };
        for (&page, &m) in &parent.mapped {
            let area = parent.areas[&page];
            let writable = match area.kind {
                kind if kind.is_private() => false,
                Kind::Anon(Backing::Shared) => !area.attr.is_readonly(),
                _ => continue,
            };
            let frame = m.frame;
            child.mapped.insert(page, Mapping { frame, writable });
        }
        self.spaces.push(child);
        let refs = self.refs();
        let parent = &mut self.spaces[p];
        for (page, m) in parent.mapped.iter_mut() {
            let area = parent.areas[page];
            m.writable = (area.kind).writable_after_protect(area.attr, m.writable, refs[&m.frame]);
        }
    }

    /// The process exits: everything is unmapped.
    fn exit(&mut self, p: usize) {
        self.unmap(p, (0, usize::MAX));
        self.spaces.remove(p);
    }

    /// [`MemFile::evict`]: every page only the cache holds is written back
    /// if dirty, and dropped.
    fn evict(&mut self, file: usize) -> usize {
        let refs = self.refs();
        let unused: Vec<usize> = (self.files[file].cache.iter())
            .filter(|(_, (frame, _))| refs[frame] == 1)
            .map(|(&pgoff, _)| pgoff)
            .collect();
        for &pgoff in &unused {
            let (frame, dirty) = self.files[file].cache.remove(&pgoff).expect("listed");
            if dirty {
                let value = self.values[&frame];
                self.files[file].disk.insert(pgoff, value);
            }
        }
        unused.len()
    }
}

// === the harness ===

/// What a step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The operation ran (successfully or with the error the model
    /// predicted).
    Done,
    /// It failed for want of frames under its budget, and changed nothing.
    Refused,
    /// There was no process: a new, empty one was made instead.
    Spawned,
    /// A fork with [`MAX_PROCESSES`] alive, or an exit of the last one
    /// (the tree would start over empty; the final exits cover it): nothing
    /// was done.
    Skipped,
}

/// What the scenarios ran, for a test's closing note.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForkStats {
    /// Steps run (the final exits and evictions not included).
    pub steps: usize,
    /// Successful forks.
    pub forks: usize,
    /// Processes that exited, the final ones included.
    pub exits: usize,
    /// Empty processes made because none was left.
    pub spawns: usize,
    /// The most processes alive at once.
    pub max_processes: usize,
    /// The deepest process: 1 for a child, 2 for a grandchild...
    pub max_depth: usize,
    /// User loads and stores.
    pub accesses: usize,
    /// Frame copies ([`CountingFrameAllocator::copies`]: copy-on-write breaks
    /// and private copies of file pages, a copy made by a refused step
    /// included).
    pub copies: usize,
    /// Steps refused for want of frames.
    pub refusals: usize,
}

impl ForkStats {
    /// Adds `other`'s counts to these (and keeps the larger maxima).
    pub fn add(&mut self, other: &ForkStats) {
        self.steps += other.steps;
        self.forks += other.forks;
        self.exits += other.exits;
        self.spawns += other.spawns;
        self.max_processes = self.max_processes.max(other.max_processes);
        self.max_depth = self.max_depth.max(other.max_depth);
        self.accesses += other.accesses;
        self.copies += other.copies;
        self.refusals += other.refusals;
    }
}

impl fmt::Display for ForkStats {
    /// One line, for a test's closing note.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} steps, {} forks (depth up to {}, {} processes at once), {} exits, {} spawns, \
             {} loads and stores, {} frame copies, {} out-of-frames refusals",
            self.steps,
            self.forks,
            self.max_depth,
            self.max_processes,
            self.exits,
            self.spawns,
            self.accesses,
            self.copies,
            self.refusals
        )
    }
}

/// A live process: its address space, its number and its depth in the
/// fork tree.
struct Process {
    set: Set,
    pid: usize,
    depth: usize,
}

/// How an area of a real set compares with the model's: its range,
/// permissions and backing (a file mapping by the file page its first page
/// maps).
#[derive(Debug, PartialEq, Eq)]
struct AreaView {
    start: usize,
    end: usize,
    attr: MemoryAttr,
    kind: AreaKind,
}

/// What a refused step must leave as it was: every process's leaf mappings
/// and areas, and the references of every frame they or a cache hold.
struct Snapshot {
    pages: Vec<Vec<(usize, usize, MemoryAttr)>>,
    areas: Vec<String>,
    refs: BTreeMap<usize, usize>,
    cached: Vec<Vec<(usize, usize)>>,
    allocated: usize,
}

/// The processes of a fork tree, their files, and the model, side by side.
pub struct ForkHarness {
    fa: CountingFrameAllocator,
    files: Vec<MemFile>,
    procs: Vec<Process>,
    model: Model,
    stats: ForkStats,
    next_pid: usize,
    next_value: u64,
    context: String,
}

impl ForkHarness {
    /// One empty process, and two files of `file_pages` pages.
    pub fn new(file_pages: [usize; 2]) -> Self {
        let fa = CountingFrameAllocator::new(FRAMES);
        let files = (0..2).map(|i| MemFile::new(i as u64 + 1, file_pages[i]));
        let files: Vec<_> = files.collect();
        let model = Model {
            spaces: Vec::new(),
            files: (files.iter().enumerate())
                .map(|(i, f)| FileModel {
                    id: i as u64 + 1,
                    pages: f.pages(),
                    cache: BTreeMap::new(),
                    disk: BTreeMap::new(),
                })
                .collect(),
            values: BTreeMap::new(),
            next_frame: 0,
            next_piece: 0,
            copies: 0,
        };
        let mut h = ForkHarness {
            fa,
            files,
            procs: Vec::new(),
            model,
            stats: ForkStats::default(),
            next_pid: 0,
            next_value: 0,
            context: String::from("start"),
        };
        h.spawn();
        h
    }

    /// The counts so far.
    pub fn stats(&self) -> ForkStats {
        ForkStats {
            copies: self.fa.copies(),
            ..self.stats
        }
    }

    /// The frame allocator all processes share.
    pub fn frame_allocator(&self) -> &CountingFrameAllocator {
        &self.fa
    }

    /// The numbers of the live processes, in the order `proc` operands
    /// index (the first process is 0, each new one the next number).
    pub fn processes(&self) -> Vec<usize> {
        self.procs.iter().map(|p| p.pid).collect()
    }

    /// The address space of live process `proc` (an index, as operands).
    pub fn set(&self, proc: usize) -> &Set {
        &self.procs[proc % self.procs.len()].set
    }

    /// The value the next store writes: distinct from every other store's,
    /// from zero and from every file's initial contents.
    fn next_value(&mut self) -> u64 {
        self.next_value += 1;
        0x5eed_0000_0000_0000 | self.next_value
    }

    fn spawn(&mut self) {
        let set = MemorySet::new(SoftPageTable::new(self.fa.memory()), self.fa.clone());
        self.procs.push(Process {
            set,
            pid: self.next_pid,
            depth: 0,
        });
        self.next_pid += 1;
        self.model.spaces.push(Space::default());
        self.stats.max_processes = self.stats.max_processes.max(self.procs.len());
    }

    /// Runs `step` on the processes and the model and checks that they
    /// agree, and that a step refused for want of frames changed nothing.
    ///
    /// # Panics
    ///
    /// With the step in the message, where the sets and the model disagree.
    pub fn step(&mut self, step: impl Into<ForkStep>) -> Outcome {
        let step = step.into();
        self.stats.steps += 1;
        self.context = format!("step {} {step:?}", self.stats.steps);
        if self.procs.is_empty() && step.op.needs_process() {
            self.spawn();
            self.stats.spawns += 1;
            self.check();
            return Outcome::Spawned;
        }
        let step = ForkStep {
            op: self.resolve(step.op),
            ..step
        };
        self.context = format!("step {} {step:?}", self.stats.steps);
        let before = step.budget.map(|budget| (budget, self.snapshot()));
        let copies = (self.fa.copies(), self.model.copies);
        self.fa.set_budget(step.budget);
        let outcome = self.run(step.op);
        self.fa.set_budget(None);
        let ctx = &self.context;
        let copied = self.fa.copies() - copies.0;
        match (outcome, before) {
            (Outcome::Refused, Some((budget, before))) => {
                let spent = self.fa.allocated() - before.allocated;
                assert_eq!(spent, budget, "{ctx}: refused with frames left");
                assert!(copied <= 1, "{ctx}: a refused step copied {copied} frames");
                self.expect_unchanged(&before, step.op);
                self.stats.refusals += 1;
            }
            (Outcome::Refused, None) => panic!("{ctx}: out of frames with no budget"),
            _ => assert_eq!(
                copied,
                self.model.copies - copies.1,
                "{ctx}: frame copies (a fork copies none, a write one at most)"
            ),
        }
        self.model.collect_garbage();
        self.check();
        outcome
    }

    /// `op` as it runs: a load's or store's process taken modulo their
    /// number, and its page, if it is one in the process's areas
    /// ([`ForkOp::IN_AREA`]), looked up.
    fn resolve(&self, op: ForkOp) -> ForkOp {
        let live = self.procs.len();
        let in_area = |proc: usize, page: usize| {
            let pages = &self.model.spaces[proc % live].areas;
            match page.checked_sub(ForkOp::IN_AREA) {
                None => page,
                Some(n) => pages
                    .keys()
                    .nth(n % pages.len().max(1))
                    .copied()
                    .unwrap_or(0),
            }
        };
        match op {
            ForkOp::Load { proc, page } => ForkOp::Load {
                proc: proc % live,
                page: in_area(proc, page),
            },
            ForkOp::Store { proc, page } => ForkOp::Store {
                proc: proc % live,
                page: in_area(proc, page),
            },
            op => op,
        }
    }

    /// Runs `op`; `Refused` if it failed with `OutOfFrames` (checked by the
    /// caller), else the real result must be the model's.
    fn run(&mut self, op: ForkOp) -> Outcome {
        let len = self.procs.len();
        let mut next = self.model.clone();
        let ctx = self.context.clone();
        let oom = Outcome::Refused;
        let refused = |e: &MemoryError| *e == MemoryError::Paging(PagingError::OutOfFrames);
        let fault_refused = |e: &FaultError| *e == FaultError::Paging(PagingError::OutOfFrames);
        let range = |start: usize, pages: usize| (start, start + pages);
        match op {
            ForkOp::Push {
                proc,
                start,
                pages,
                attr,
                kind,
            } => {
                let p = proc % len;
                let want = next.push(p, range(start, pages), attr, kind);
                let handler = self.handler(kind);
                let got = (self.procs[p].set).push(va(start), va(start + pages), attr, handler);
                match got {
                    Err(e) if refused(&e) && want.is_ok() => return oom,
                    got => assert_eq!(got, want, "{ctx}"),
                }
            }
            ForkOp::Unmap { proc, start, pages } => {
                let p = proc % len;
                next.unmap(p, range(start, pages));
                let got = self.procs[p].set.unmap(va(start), va(start + pages));
                assert!(got.is_ok(), "{ctx}: {got:?}");
            }
            ForkOp::Protect {
                proc,
                start,
                pages,
                attr,
            } => {
                let p = proc % len;
                next.protect(p, range(start, pages), attr);
                let got = self.procs[p]
                    .set
                    .protect(va(start), va(start + pages), attr);
                assert_eq!(got, Ok(()), "{ctx}");
            }
            ForkOp::Load { proc, page } => {
                let p = proc % len;
                self.stats.accesses += 1;
                let want = next.load(p, page);
                let mut buf = [0; 8];
                let got = mmu::load(&mut self.procs[p].set, va(page), &mut buf);
                match got.map(|()| u64::from_le_bytes(buf)) {
                    Err(e) if fault_refused(&e) && want.is_ok() => return oom,
                    got => assert_eq!(got, want, "{ctx}: loaded"),
                }
            }
            ForkOp::Store { proc, page } => {
                let p = proc % len;
                self.stats.accesses += 1;
                let value = self.next_value();
                let want = next.store(p, page, value);
                let got = mmu::store(&mut self.procs[p].set, va(page), &value.to_le_bytes());
                match got {
                    Err(e) if fault_refused(&e) && want.is_ok() => return oom,
                    got => assert_eq!(got, want, "{ctx}: stored"),
                }
            }
            ForkOp::Msync { proc, start, pages } => {
                let p = proc % len;
                let want = next.msync(p, range(start, pages));
                let got = self.procs[p].set.msync(va(start), va(start + pages));
                assert_eq!(got, Ok(want), "{ctx}: pages written back");
            }
            ForkOp::Fork { proc } => {
                if len >= MAX_PROCESSES {
                    return Outcome::Skipped;
                }
                let p = proc % len;
                next.fork(p);
                let pt = SoftPageTable::new(self.fa.memory());
                let child = match self.procs[p].set.clone_for_fork(pt) {
                    Err(e) if refused(&e) => return oom,
                    got => got.unwrap_or_else(|e| panic!("{ctx}: fork failed: {e}")),
                };
                let depth = self.procs[p].depth + 1;
                self.procs.push(Process {
                    set: child,
                    pid: self.next_pid,
                    depth,
                });
                self.next_pid += 1;
                self.stats.forks += 1;
                self.stats.max_depth = self.stats.max_depth.max(depth);
                self.stats.max_processes = self.stats.max_processes.max(self.procs.len());
            }
            ForkOp::Exit { .. } if len == 1 => return Outcome::Skipped,
            ForkOp::Exit { proc } => {
                let p = proc % len;
                next.exit(p);
                drop(self.procs.remove(p));
                self.stats.exits += 1;
            }
            ForkOp::Evict { file } => {
                let want = next.evict(file);
                let got = self.files[file].evict(&mut self.fa);
                assert_eq!(got, want, "{ctx}: pages evicted");
            }
        }
        self.model = next;
        Outcome::Done
    }

    /// The handler of an area of `kind`.
    fn handler(
        &self,
        kind: AreaKind,
    ) -> Box<dyn MemoryHandler<SoftPageTable, CountingFrameAllocator>> {
        match kind {
            AreaKind::Anon(backing) => backing.boxed(),
            AreaKind::File {
                file,
                shared: false,
                pgoff,
            } => Box::new(FileMapping::private(self.files[file].clone(), pgoff)),
            AreaKind::File { file, pgoff, .. } => {
                Box::new(FileMapping::shared(self.files[file].clone(), pgoff))
            }
        }
    }

    fn snapshot(&self) -> Snapshot {
        let pages: Vec<Vec<_>> = (self.procs.iter())
            .map(|p| p.set.page_table().mapped_pages().collect())
            .collect();
        let cached: Vec<Vec<_>> = self.files.iter().map(MemFile::cached).collect();
        let frames: BTreeSet<usize> = (pages.iter().flatten().map(|p| p.1))
            .chain(cached.iter().flatten().map(|c| c.1))
            .collect();
        let refs = (self.fa.ref_counts().into_iter())
            .filter(|(pa, _)| frames.contains(pa))
            .collect();
        Snapshot {
            areas: self.procs.iter().map(|p| p.set.to_string()).collect(),
            pages,
            refs,
            cached,
            allocated: self.fa.allocated(),
        }
    }

    /// After a refused `op`: every process as `before`, every reference
    /// count as before, the caches as before but for the page `op` faulted
    /// in, which the model then learns.
    fn expect_unchanged(&mut self, before: &Snapshot, op: ForkOp) {
        let ctx = &self.context;
        let after = self.snapshot();
        assert_eq!(
            after.areas, before.areas,
            "{ctx}: refused, yet areas changed"
        );
        assert_eq!(
            after.pages, before.pages,
            "{ctx}: refused, yet pages changed"
        );
        for (&pa, &refs) in &before.refs {
            assert_eq!(
                after.refs.get(&pa),
                Some(&refs),
                "{ctx}: references to {pa:#x}"
            );
        }
        let faulted = match op {
            ForkOp::Load { proc, page } | ForkOp::Store { proc, page } => {
                let space = &self.model.spaces[proc % self.procs.len()];
                let area = space.areas.get(&page);
                area.and_then(|a| Model::file_page(a.kind, page))
            }
            _ => None,
        };
        for (file, (now, was)) in after.cached.iter().zip(&before.cached).enumerate() {
            let read_in: Vec<_> = now.iter().filter(|c| !was.contains(c)).collect();
            match (read_in.as_slice(), faulted) {
                ([], _) => {}
                ([&(pgoff, pa)], Some(f)) if f == (file, pgoff) => {
                    assert_eq!(self.fa.ref_count(pa), 1, "{ctx}: page read in");
                    let value = self.model.files[file].disk(pgoff);
                    let frame = self.model.new_frame(value);
                    self.model.files[file].cache.insert(pgoff, (frame, false));
                }
                (pages, _) => panic!("{ctx}: refused, yet file {file} cached {pages:?}"),
            }
        }
    }

    /// How `area` of a real set compares with the model's.
    fn view(&self, area: &MemoryArea<SoftPageTable, CountingFrameAllocator>) -> AreaView {
        let (range, handler) = (area.range(), area.handler());
        let any: &dyn Any = handler;
        let kind = match any.downcast_ref::<FileMapping<MemFile>>() {
            Some(mapping) => AreaKind::File {
                file: (self.files.iter())
                    .position(|f| f == mapping.cache())
                    .expect("a file of the scenario"),
                shared: handler.is_shared(),
                pgoff: mapping.pgoff_of(range.start),
            },
            None => AreaKind::Anon(Backing::of(handler)),
        };
        AreaView {
            start: range.start,
            end: range.end,
            attr: area.attr(),
            kind,
        }
    }

    /// Compares every process, frame and file with the model.
    fn check(&self) {
        let ctx = &self.context;
        let refs = self.model.refs();
        let mut pa_of: BTreeMap<u64, usize> = BTreeMap::new();
        let mut frame_at: BTreeMap<usize, u64> = BTreeMap::new();
        let mut bind = |frame: u64, pa: usize, what: &dyn Fn() -> String| {
            if let Some(other) = pa_of.insert(frame, pa).filter(|&other| other != pa) {
                panic!(
                    "{ctx}: {}: maps {pa:#x}, yet shares a frame with pages that map {other:#x}",
                    what()
                );
            }
            if let Some(other) = frame_at.insert(pa, frame).filter(|&other| other != frame) {
                panic!(
                    "{ctx}: {}: maps {pa:#x}, which pages it shares nothing with map too \
                     (model frames {frame} and {other})",
                    what()
                );
            }
        };
        let mut tables = 0;
        for (proc, space) in self.procs.iter().zip(&self.model.spaces) {
            let pid = proc.pid;
            tables += proc.set.page_table().table_frames();
            let got: Vec<AreaView> = proc.set.iter().map(|a| self.view(a)).collect();
            let want: Vec<AreaView> = (space.runs().into_iter())
                .map(|(first, end, area)| AreaView {
                    start: va(first),
                    end: va(end),
                    attr: area.attr,
                    kind: match area.kind {
                        Kind::Anon(backing) => AreaKind::Anon(backing),
                        Kind::File {
                            file,
                            shared,
                            origin,
                        } => AreaKind::File {
                            file,
                            shared,
                            pgoff: (first as isize - origin) as usize,
                        },
                    },
                })
                .collect();
            assert_eq!(got, want, "{ctx}: areas of process {pid}\n{}", proc.set);
            let pages: Vec<_> = proc.set.page_table().mapped_pages().collect();
            let got: Vec<usize> = pages.iter().map(|p| p.0).collect();
            let want: Vec<usize> = space.mapped.keys().map(|&page| va(page)).collect();
            assert_eq!(got, want, "{ctx}: pages mapped by process {pid}");
            for (&(va, pa, attr), (page, m)) in pages.iter().zip(&space.mapped) {
                let area = space.areas.get(page);
                let area = area.unwrap_or_else(|| panic!("{ctx}: {va:#x} mapped outside areas"));
                let what = || format!("page {va:#x} of process {pid}");
                let want = if m.writable {
                    area.attr
                } else {
                    area.attr.set_readonly()
                };
                assert_eq!(attr, want, "{ctx}: permissions of {}", what());
                if area.kind.is_private() && refs[&m.frame] > 1 {
                    assert!(attr.is_readonly(), "{ctx}: {} is shared writable", what());
                }
                bind(m.frame, pa, &what);
            }
        }
        for (i, (file, model)) in self.files.iter().zip(&self.model.files).enumerate() {
            let got: Vec<usize> = file.cached().iter().map(|c| c.0).collect();
            let want: Vec<usize> = model.cache.keys().copied().collect();
            assert_eq!(got, want, "{ctx}: pages file {i} caches");
            for ((pgoff, pa), (frame, dirty)) in file.cached().into_iter().zip(model.cache.values())
            {
                bind(*frame, pa, &|| format!("page {pgoff} of file {i}'s cache"));
                assert_eq!(
                    file.is_dirty(pgoff),
                    *dirty,
                    "{ctx}: dirty bit of {i}:{pgoff}"
                );
            }
            for pgoff in 0..model.pages {
                let mut disk = [0; 8];
                file.read_disk(pgoff, &mut disk);
                let disk = u64::from_le_bytes(disk);
                assert_eq!(
                    disk,
                    model.disk(pgoff),
                    "{ctx}: disk page {pgoff} of file {i}"
                );
            }
        }
        for (frame, &pa) in &pa_of {
            let mut value = [0; 8];
            self.fa.read(pa, 0, &mut value);
            let value = u64::from_le_bytes(value);
            assert_eq!(
                value, self.model.values[frame],
                "{ctx}: contents of {pa:#x}"
            );
            let want = refs[frame];
            assert_eq!(self.fa.ref_count(pa), want, "{ctx}: references to {pa:#x}");
        }
        let live = pa_of.len() + tables;
        assert_eq!(
            self.fa.live(),
            live,
            "{ctx}: live frames (pages and tables)"
        );
        self.check_no_write_is_lost();
    }

    /// A cached page that differs from the disk must be dirty, or writable
    /// in a process (which marks it dirty when it unmaps it or syncs it):
    /// else the cache drops it clean and the write is lost.
    fn check_no_write_is_lost(&self) {
        let writable: BTreeSet<u64> = (self.model.spaces.iter())
            .flat_map(|s| s.mapped.values())
            .filter(|m| m.writable)
            .map(|m| m.frame)
            .collect();
        for (i, file) in self.model.files.iter().enumerate() {
            for (&pgoff, &(frame, dirty)) in &file.cache {
                let changed = self.model.values[&frame] != file.disk(pgoff);
                assert!(
                    !changed || dirty || writable.contains(&frame),
                    "{}: page {pgoff} of file {i} was written, yet it is clean and no mapping \
                     of it is writable: evicting it loses the write",
                    self.context
                );
            }
        }
    }

    /// Every process exits (the first one first), every file evicts its
    /// pages, each checked; then every frame must be back and the disks
    /// hold what the model says. Returns the counts.
    ///
    /// # Panics
    ///
    /// Where the sets and the model disagree, or a frame is not back.
    pub fn finish(mut self) -> ForkStats {
        while !self.procs.is_empty() {
            self.context = format!("final exit of process {}", self.procs[0].pid);
            self.model.exit(0);
            drop(self.procs.remove(0));
            self.stats.exits += 1;
            self.model.collect_garbage();
            self.check();
        }
        for file in 0..self.files.len() {
            self.context = format!("final eviction of file {file}");
            let want = self.model.evict(file);
            let got = self.files[file].evict(&mut self.fa);
            assert_eq!(got, want, "{}: evicted", self.context);
            self.model.collect_garbage();
            self.check();
        }
        assert_eq!(self.fa.live(), 0, "leaked frames");
        assert_eq!(self.fa.allocated(), self.fa.freed());
        self.stats()
    }
}

impl Drop for ForkHarness {
    /// After a failed check the frame books may be wrong, and dropping the
    /// sets could panic again (a double free) while unwinding, which aborts
    /// the test run: the processes are leaked instead.
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.procs.drain(..).for_each(std::mem::forget);
        }
    }
}

/// Runs `scenario`: its steps on a fork tree of `MemorySet`s and on the
/// model side by side, checked after each, then every process exits and
/// every frame comes back. Returns what ran.
pub fn run_fork_tree(scenario: ForkScenario) -> ForkStats {
    let mut h = ForkHarness::new(scenario.file_pages);
    for step in scenario.steps {
        h.step(step);
    }
    h.finish()
}
