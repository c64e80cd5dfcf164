//! The `page_table_multiarch` adapter over host memory: its Sv39 table and its x86-64 table
//! pass the unit checks of the `PageTable` contract, and run the `MemorySet` model test's
//! operation sequences in step with the software Sv39 table.
//!
//! The crate compiles its Sv39 metadata and entries only for RISC-V targets. On any other
//! host the Sv39 table here is the crate's `PageTable64` with the same constants and a copy
//! of `page_table_entry`'s `Rv64PTE`, bit for bit; on RISC-V it is the crate's own.
#![cfg(all(feature = "page_table_multiarch", target_pointer_width = "64"))]

use memory_addr::{PhysAddr, VirtAddr};
use page_table_multiarch::{PagingHandler, PagingMetaData};
use range_action_map::memory_set::{FrameAllocator, MemoryAttr, PageSize, PageTable, PAGE_SIZE};
use range_action_map_adapters::page_table_multiarch::MultiarchTable;
use range_action_map_testkit::host::{self, HostFrames, TableKind};

/// The kernel's side of the crate: frames and the physical-memory window, here the host
/// memory of the running test.
struct Handler;

impl PagingHandler for Handler {
    fn alloc_frames(num: usize, _align: usize) -> Option<PhysAddr> {
        assert_eq!(num, 1, "the crate asks for one table frame at a time");
        host::current().alloc().map(PhysAddr::from)
    }

    fn dealloc_frames(paddr: PhysAddr, num: usize) {
        assert_eq!(num, 1);
        host::current().dealloc(paddr.as_usize());
    }

    fn phys_to_virt(paddr: PhysAddr) -> VirtAddr {
        VirtAddr::from(host::current().host_addr(paddr.as_usize()))
    }
}

#[cfg(target_arch = "riscv64")]
type Sv39 = range_action_map_adapters::page_table_multiarch::Sv39Table<Handler>;
#[cfg(not(target_arch = "riscv64"))]
type Sv39 = MultiarchTable<sv39::Sv39MetaData, sv39::Rv64PTE, Handler>;

#[cfg(target_arch = "x86_64")]
type X64 = range_action_map_adapters::page_table_multiarch::X64Table<Handler>;

/// A table over the host memory of the running test, which [`Handler`] reaches.
fn new_table<M, PTE>(frames: &HostFrames) -> MultiarchTable<M, PTE, Handler>
where
    M: PagingMetaData,
    PTE: range_action_map_adapters::page_table_multiarch::Entry,
{
    host::install(frames);
    // SAFETY: `Handler` maps every frame of the installed memory, which every table and
    // page of these tests comes from, at a host address nothing else borrows.
    unsafe { MultiarchTable::try_new() }.expect("a root frame")
}

const SV39: TableKind<Sv39> = TableKind {
    new: new_table,
    // The root, from the handler, is the same allocator's.
    table_frames: |pt| pt.table_frames() + 1,
    flushes: |pt| pt.flushes(),
    va_bits: 39,
    pa_bits: 56,
};

#[cfg(target_arch = "x86_64")]
const X64: TableKind<X64> = TableKind {
    new: new_table,
    table_frames: |pt| pt.table_frames() + 1,
    flushes: |pt| pt.flushes(),
    va_bits: 48,
    pa_bits: 52,
};

/// Runs each of the test kit's unit checks on the Sv39 table and, on x86-64 hosts, the
/// x86-64 one.
macro_rules! checks {
    ($($check:ident),* $(,)?) => {$(
        #[test]
        fn $check() {
            host::$check(&SV39);
            #[cfg(target_arch = "x86_64")]
            host::$check(&X64);
        }
    )*};
}

checks!(
    check_map_unmap,
    check_protect_remap,
    check_huge_pages,
    check_split,
    check_next_mapped,
    check_destroy_and_out_of_frames,
);

#[test]
fn model_operations_agree_with_the_software_table() {
    for data in host::model_inputs(0x2545_f491_4f6c_dd1d) {
        host::run_differential(&SV39, &data);
        #[cfg(target_arch = "x86_64")]
        host::run_differential(&X64, &data);
    }
}

#[test]
fn the_crates_own_query_reads_what_the_adapter_wrote() {
    let (mut fa, mut pt) = host::setup(&SV39, 16);
    let user = MemoryAttr::new().set_user().set_execute();
    pt.map(0x1000, 0x4000_0000, PageSize::Size4K, user, &mut fa)
        .expect("4 KiB");
    pt.map(1 << 30, 1 << 30, PageSize::Size1G, user, &mut fa)
        .expect("1 GiB");
    let found = pt.inner().query(VirtAddr::from(0x1234)).expect("mapped");
    assert_eq!(found.0, PhysAddr::from(0x4000_0234));
    assert_eq!(found.2, page_table_multiarch::PageSize::Size4K);
    let flags = page_table_multiarch::MappingFlags::READ
        | page_table_multiarch::MappingFlags::WRITE
        | page_table_multiarch::MappingFlags::EXECUTE
        | page_table_multiarch::MappingFlags::USER;
    assert_eq!(found.1, flags);
    let huge = pt.inner().query(VirtAddr::from((1 << 30) + 0x5000));
    assert_eq!(
        huge.map(|(pa, _, size)| (pa, size)),
        Ok((
            PhysAddr::from((1 << 30) + 0x5000),
            page_table_multiarch::PageSize::Size1G
        ))
    );
    pt.unmap(0x1000).expect("unmapped");
    assert!(pt.inner().query(VirtAddr::from(0x1000)).is_err());
}

#[test]
fn global_and_device_bits_are_written_into_the_entry() {
    let (mut fa, mut pt) = host::setup(&SV39, 16);
    let attr = MemoryAttr::new().set_global().set_device();
    pt.map(0x1000, 0x1000_0000, PageSize::Size4K, attr, &mut fa)
        .expect("mapped");
    let entry = raw_entry(&fa, &pt, 0x1000);
    assert_eq!(entry & (1 << 5), 1 << 5, "G");
    assert_eq!(entry >> 61 & 3, 2, "PBMT = IO");
    // Protecting to plain memory takes them away.
    pt.protect(0x1000, MemoryAttr::new()).expect("protected");
    assert_eq!(raw_entry(&fa, &pt, 0x1000) & (1 << 5 | 3 << 61), 0);
}

/// The raw Sv39 leaf entry of the 4 KiB page `va`, read from host memory.
fn raw_entry(fa: &HostFrames, pt: &Sv39, va: usize) -> u64 {
    let mut table = pt.root_paddr();
    for level in (1..=2).rev() {
        let entry = fa.read_u64(table, (va >> (12 + 9 * level) & 511) * 8);
        table = ((entry >> 10) << 12) as usize & ((1 << 56) - 1);
    }
    fa.read_u64(table, (va >> 12 & 511) * 8)
}

#[cfg(target_arch = "x86_64")]
#[test]
fn x86_parent_entries_are_user_accessible() {
    let (mut fa, mut pt) = host::setup(&X64, 16);
    let user = MemoryAttr::new().set_user();
    pt.map(0x40_0000, 0x1000, PageSize::Size4K, user, &mut fa)
        .expect("mapped");
    let mut table = pt.root_paddr();
    for level in (1..=3).rev() {
        let entry = fa.read_u64(table, (0x40_0000 >> (12 + 9 * level) & 511) * 8);
        assert_eq!(
            entry & 0b111,
            0b111,
            "level {level}: present, writable, user"
        );
        table = (entry & 0x000f_ffff_ffff_f000) as usize;
    }
}

#[test]
fn dropping_the_table_gives_the_root_back_to_the_handler() {
    let (mut fa, mut pt) = host::setup(&SV39, 16);
    assert_eq!(fa.live(), 1, "the root, from the handler");
    pt.map(0x1000, 0x1000, PageSize::Size4K, MemoryAttr::new(), &mut fa)
        .expect("mapped");
    assert_eq!(fa.live(), 3);
    // Without `destroy`, the tables below the root are the allocator's and stay with it
    // (leaked) rather than going to the handler.
    drop(pt);
    assert_eq!(fa.live(), 2);
}

#[test]
fn flush_tlb_is_counted_once_per_call() {
    let (mut fa, mut pt) = host::setup(&SV39, 16);
    pt.map(0x1000, 0x1000, PageSize::Size4K, MemoryAttr::new(), &mut fa)
        .expect("mapped");
    pt.flush_tlb(0x1000..0x1000 + PAGE_SIZE);
    pt.flush_tlb(0..usize::MAX);
    assert_eq!(pt.flushes(), 2);
    assert!(format!("{pt:?}").contains("flushes: 2"));
}

/// RISC-V Sv39 as `page_table_multiarch` describes it, for hosts where the crate does not
/// compile its own.
#[cfg(not(target_arch = "riscv64"))]
mod sv39 {
    use super::*;
    use page_table_multiarch::{GenericPTE, MappingFlags};
    use range_action_map_adapters::page_table_multiarch::Entry;

    /// `page_table_multiarch::riscv::Sv39MetaData`'s constants.
    pub struct Sv39MetaData;

    impl PagingMetaData for Sv39MetaData {
        const LEVELS: usize = 3;
        const PA_MAX_BITS: usize = 56;
        const VA_MAX_BITS: usize = 39;
        type VirtAddr = VirtAddr;

        fn flush_tlb(_: Option<VirtAddr>) {}
    }

    /// `page_table_entry::riscv::Rv64PTE` (0.6.2), bit for bit.
    #[derive(Clone, Copy, Debug)]
    #[repr(transparent)]
    pub struct Rv64PTE(u64);

    const V: u64 = 1 << 0;
    const R: u64 = 1 << 1;
    const W: u64 = 1 << 2;
    const X: u64 = 1 << 3;
    const U: u64 = 1 << 4;
    const A: u64 = 1 << 6;
    const D: u64 = 1 << 7;
    const PHYS_ADDR_MASK: u64 = (1 << 54) - (1 << 10);

    const PAIRS: [(MappingFlags, u64); 4] = [
        (MappingFlags::READ, R),
        (MappingFlags::WRITE, W),
        (MappingFlags::EXECUTE, X),
        (MappingFlags::USER, U),
    ];

    fn bits_of(flags: MappingFlags) -> u64 {
        if flags.is_empty() {
            return 0;
        }
        let set = PAIRS.iter().filter(|(flag, _)| flags.contains(*flag));
        set.fold(V | A | D, |bits, (_, bit)| bits | bit)
    }

    impl GenericPTE for Rv64PTE {
        fn new_page(paddr: PhysAddr, flags: MappingFlags, _: bool) -> Self {
            Rv64PTE(bits_of(flags) | (paddr.as_usize() as u64 >> 2 & PHYS_ADDR_MASK))
        }
        fn new_table(paddr: PhysAddr) -> Self {
            Rv64PTE(V | (paddr.as_usize() as u64 >> 2 & PHYS_ADDR_MASK))
        }
        fn paddr(&self) -> PhysAddr {
            PhysAddr::from(((self.0 & PHYS_ADDR_MASK) << 2) as usize)
        }
        fn flags(&self) -> MappingFlags {
            if self.0 & V == 0 {
                return MappingFlags::empty();
            }
            let set = PAIRS.iter().filter(|(_, bit)| self.0 & bit != 0);
            set.fold(MappingFlags::empty(), |flags, (flag, _)| flags | *flag)
        }
        fn set_paddr(&mut self, paddr: PhysAddr) {
            self.0 = (self.0 & !PHYS_ADDR_MASK) | (paddr.as_usize() as u64 >> 2 & PHYS_ADDR_MASK);
        }
        fn set_flags(&mut self, flags: MappingFlags, _: bool) {
            self.0 = (self.0 & PHYS_ADDR_MASK) | bits_of(flags);
        }
        fn bits(self) -> usize {
            self.0 as usize
        }
        fn is_unused(&self) -> bool {
            self.0 == 0
        }
        fn is_present(&self) -> bool {
            self.0 & V != 0
        }
        fn is_huge(&self) -> bool {
            self.0 & (R | X) != 0
        }
        fn clear(&mut self) {
            self.0 = 0;
        }
    }

    impl Entry for Rv64PTE {
        const GLOBAL: u64 = 1 << 5;
        const DEVICE: u64 = 2 << 61;
        const WHOLE_FLUSH_KEEPS_GLOBAL: bool = false;
    }
}
