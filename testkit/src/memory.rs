//! Simulated physical memory: the frames the allocator hands out and the
//! page tables live in, and the pieces of CPU state the doubles model
//! (which table is active, which frames the TLBs still reach).

use std::cell::{Ref, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use range_action_map::memory_set::PAGE_SIZE;

/// Simulated physical memory: a fixed number of 4 KiB frames starting at [`PhysMemory::BASE`].
///
/// A `PhysMemory` is a handle: clones share the same bytes. It also models the one piece of CPU
/// state the doubles need, the address space that is active (see
/// [`SoftPageTable::is_active`](crate::SoftPageTable::is_active)).
#[derive(Clone)]
pub struct PhysMemory {
    machine: Rc<RefCell<Machine>>,
}

/// The state behind every handle of one simulated machine.
struct Machine {
    /// `frames * PAGE_SIZE` bytes; frame `i` starts at `BASE + i * PAGE_SIZE`.
    bytes: Vec<u8>,
    /// The identity of the last activated [`SoftPageTable`](crate::SoftPageTable).
    active_table: Option<u64>,
    /// The identity the next [`SoftPageTable`](crate::SoftPageTable) gets.
    next_table_id: u64,
    /// How many TLB entries of any table map each frame.
    tlb_frames: BTreeMap<usize, usize>,
}

impl PhysMemory {
    /// The physical address of the first frame (RISC-V's usual DRAM base).
    pub const BASE: usize = 0x8000_0000;

    pub(crate) fn new(frames: usize) -> Self {
        let len = frames
            .checked_mul(PAGE_SIZE)
            .unwrap_or_else(|| panic!("{frames} frames do not fit in the address space"));
        PhysMemory {
            machine: Rc::new(RefCell::new(Machine {
                bytes: vec![0; len],
                active_table: None,
                next_table_id: 0,
                tlb_frames: BTreeMap::new(),
            })),
        }
    }

    /// The number of frames.
    pub fn frames(&self) -> usize {
        self.machine.borrow().bytes.len() / PAGE_SIZE
    }

    /// Whether `pa` is the address of one of the frames (page aligned and in range).
    pub fn contains(&self, pa: usize) -> bool {
        self.frame_index(pa).is_some()
    }

    /// Copies `buf.len()` bytes at `offset` in frame `pa` into `buf`.
    ///
    /// # Panics
    ///
    /// If `pa` is not a frame of this memory or the bytes cross the end of the frame.
    pub fn read(&self, pa: usize, offset: usize, buf: &mut [u8]) {
        let start = self.byte_index(pa, offset, buf.len());
        buf.copy_from_slice(&self.machine.borrow().bytes[start..start + buf.len()]);
    }

    /// Copies `data` to `offset` in frame `pa`.
    ///
    /// # Panics
    ///
    /// If `pa` is not a frame of this memory or the bytes cross the end of the frame.
    pub fn write(&self, pa: usize, offset: usize, data: &[u8]) {
        let start = self.byte_index(pa, offset, data.len());
        self.machine.borrow_mut().bytes[start..start + data.len()].copy_from_slice(data);
    }

    /// The index of frame `pa`, if `pa` is one.
    pub(crate) fn frame_index(&self, pa: usize) -> Option<usize> {
        let index = pa.checked_sub(Self::BASE)? / PAGE_SIZE;
        (pa % PAGE_SIZE == 0 && index < self.frames()).then_some(index)
    }

    /// The index in `bytes` of `offset` in frame `pa`, checking that `len` bytes fit the frame.
    fn byte_index(&self, pa: usize, offset: usize, len: usize) -> usize {
        let Some(index) = self.frame_index(pa) else {
            panic!(
                "{pa:#x} is not a frame of the simulated memory [{:#x}, {:#x})",
                Self::BASE,
                Self::BASE + self.frames() * PAGE_SIZE
            );
        };
        match offset.checked_add(len) {
            Some(end) if end <= PAGE_SIZE => index * PAGE_SIZE + offset,
            _ => panic!("{len} bytes at offset {offset:#x} cross the end of frame {pa:#x}"),
        }
    }

    /// The bytes of frame `pa`, borrowed in place so that a scan reads them without a lookup
    /// each.
    pub(crate) fn frame(&self, pa: usize) -> Ref<'_, [u8]> {
        let start = self.byte_index(pa, 0, PAGE_SIZE);
        Ref::map(self.machine.borrow(), |machine| {
            &machine.bytes[start..start + PAGE_SIZE]
        })
    }

    /// The little-endian word at physical address `addr` (8-byte aligned).
    pub(crate) fn read_u64(&self, addr: usize) -> u64 {
        let mut word = [0; 8];
        self.read(addr - addr % PAGE_SIZE, addr % PAGE_SIZE, &mut word);
        u64::from_le_bytes(word)
    }

    /// Stores a little-endian word at physical address `addr` (8-byte aligned).
    pub(crate) fn write_u64(&self, addr: usize, value: u64) {
        self.write(
            addr - addr % PAGE_SIZE,
            addr % PAGE_SIZE,
            &value.to_le_bytes(),
        );
    }

    /// Sets every byte of frame `pa` to `byte`.
    pub(crate) fn fill(&self, pa: usize, byte: u8) {
        let start = self.byte_index(pa, 0, PAGE_SIZE);
        self.machine.borrow_mut().bytes[start..start + PAGE_SIZE].fill(byte);
    }

    /// Copies frame `src` over frame `dst`.
    pub(crate) fn copy(&self, src: usize, dst: usize) {
        let from = self.byte_index(src, 0, PAGE_SIZE);
        let to = self.byte_index(dst, 0, PAGE_SIZE);
        self.machine
            .borrow_mut()
            .bytes
            .copy_within(from..from + PAGE_SIZE, to);
    }

    /// A fresh identity for a page table over this memory.
    pub(crate) fn new_table_id(&self) -> u64 {
        let mut machine = self.machine.borrow_mut();
        machine.next_table_id += 1;
        machine.next_table_id
    }

    /// The identity of the table activated last.
    pub(crate) fn active_table(&self) -> Option<u64> {
        self.machine.borrow().active_table
    }

    /// Records table `id` as the active one.
    pub(crate) fn set_active_table(&self, id: u64) {
        self.machine.borrow_mut().active_table = Some(id);
    }

    /// A TLB entry now maps frame `pa`.
    pub(crate) fn tlb_cache(&self, pa: usize) {
        *self.machine.borrow_mut().tlb_frames.entry(pa).or_default() += 1;
    }

    /// A TLB entry mapping frame `pa` was flushed.
    pub(crate) fn tlb_flush(&self, pa: usize) {
        let mut machine = self.machine.borrow_mut();
        if let Some(count) = machine.tlb_frames.get_mut(&pa) {
            *count -= 1;
            if *count == 0 {
                machine.tlb_frames.remove(&pa);
            }
        }
    }

    /// Whether some TLB entry still maps frame `pa`: it must not be freed yet.
    pub fn tlb_reaches(&self, pa: usize) -> bool {
        self.machine.borrow().tlb_frames.contains_key(&pa)
    }
}

impl fmt::Debug for PhysMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhysMemory")
            .field("base", &format_args!("{:#x}", Self::BASE))
            .field("frames", &self.frames())
            .finish()
    }
}
