//! The `x86_64` crate's `OffsetPageTable` adapter over host memory (mapped at the memory's
//! `phys_offset`): the unit checks of the `PageTable` contract, x86's user bit on parent
//! entries, and the `MemorySet` model test's operation sequences in step with the software
//! Sv39 table.
#![cfg(all(feature = "x86_64", target_pointer_width = "64"))]

use range_action_map::memory_set::{MemoryAttr, PageSize, PageTable};
use range_action_map_adapters::x86_64::OffsetTable;
use range_action_map_testkit::host::{self, HostFrames, TableKind};
use x86_64::structures::paging::mapper::{MappedFrame, Translate, TranslateResult};
use x86_64::VirtAddr;

const X86_64: TableKind<OffsetTable> = TableKind {
    new: |frames: &HostFrames| {
        // SAFETY: every frame of `frames`, which all tables of these tests come from, lies at
        // `phys_offset` plus its physical address, and nothing else borrows it.
        unsafe { OffsetTable::new(frames.phys_offset()) }.expect("a canonical offset")
    },
    table_frames: OffsetTable::table_frames,
    flushes: OffsetTable::flushes,
    va_bits: 48,
    pa_bits: 52,
};

/// Runs each of the test kit's unit checks on the table.
macro_rules! checks {
    ($($check:ident),* $(,)?) => {$(
        #[test]
        fn $check() {
            host::$check(&X86_64);
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
    for data in host::model_inputs(0x9e37_79b9_7f4a_7c15) {
        host::run_differential(&X86_64, &data);
    }
}

/// The flags of the entries on `va`'s path, from the root down to level 1.
fn parent_flags(fa: &HostFrames, pt: &OffsetTable, va: usize) -> Vec<u64> {
    let mut table = pt.root_paddr().expect("a root");
    (1..=3)
        .rev()
        .map(|level| {
            let entry = fa.read_u64(table, (va >> (12 + 9 * level) & 511) * 8);
            table = (entry & 0x000f_ffff_ffff_f000) as usize;
            entry & 0xfff
        })
        .collect()
}

#[test]
fn parents_of_user_pages_are_user_accessible_and_of_kernel_pages_not() {
    let (mut fa, mut pt) = host::setup(&X86_64, 16);
    let kernel = MemoryAttr::new();
    pt.map(0x40_0000, 0x1000, PageSize::Size4K, kernel, &mut fa)
        .expect("kernel page");
    // Present and writable; not user-accessible.
    assert_eq!(parent_flags(&fa, &pt, 0x40_0000), [0b011; 3]);
    pt.map(
        0x40_1000,
        0x2000,
        PageSize::Size4K,
        kernel.set_user(),
        &mut fa,
    )
    .expect("user page");
    assert_eq!(parent_flags(&fa, &pt, 0x40_0000), [0b111; 3]);
    // The kernel page's own entry still says kernel-only.
    assert_eq!(pt.query(0x40_0000).map(|leaf| leaf.attr), Some(kernel));
    // A split keeps a user huge page reachable from user mode.
    pt.map(1 << 30, 0, PageSize::Size1G, kernel.set_user(), &mut fa)
        .expect("1 GiB");
    pt.split(1 << 30, &mut fa).expect("split");
    assert_eq!(parent_flags(&fa, &pt, 1 << 30)[..2], [0b111; 2]);
}

#[test]
fn the_crates_own_translate_reads_what_the_adapter_wrote() {
    let (mut fa, mut pt) = host::setup(&X86_64, 16);
    let attr = MemoryAttr::new().set_global().set_device().set_readonly();
    pt.map(2 << 20, 4 << 20, PageSize::Size2M, attr, &mut fa)
        .expect("2 MiB");
    pt.split(2 << 20, &mut fa).expect("split");
    pt.remap(2 << 20, 0x9000, attr).expect("remap");
    let mapper = pt.mapper().expect("a root");
    match mapper.translate(VirtAddr::new((2 << 20) + 0x1008)) {
        TranslateResult::Mapped {
            frame: MappedFrame::Size4KiB(frame),
            offset,
            flags,
        } => {
            assert_eq!(frame.start_address().as_u64() + offset, (4 << 20) + 0x1008);
            assert_eq!(pt_flags(flags), attr);
        }
        other => panic!("{other:?}"),
    }
    let remapped = mapper.translate_addr(VirtAddr::new(2 << 20));
    assert_eq!(remapped.map(|pa| pa.as_u64()), Some(0x9000));
}

/// The attributes of `flags`, as the adapter reads them back.
fn pt_flags(flags: x86_64::structures::paging::PageTableFlags) -> MemoryAttr {
    use x86_64::structures::paging::PageTableFlags as F;
    let mut attr = MemoryAttr::new();
    if !flags.contains(F::WRITABLE) {
        attr = attr.set_readonly();
    }
    if flags.contains(F::NO_CACHE) {
        attr = attr.set_device();
    }
    if flags.contains(F::GLOBAL) {
        attr = attr.set_global();
    }
    assert!(flags.contains(F::NO_EXECUTE));
    attr
}

#[test]
fn the_root_comes_with_the_first_map_and_goes_with_destroy() {
    let (mut fa, mut pt) = host::setup(&X86_64, 16);
    assert_eq!(
        (pt.root_paddr(), pt.table_frames(), fa.live()),
        (None, 0, 0)
    );
    assert!(pt.mapper().is_none());
    pt.map(0x1000, 0x1000, PageSize::Size4K, MemoryAttr::new(), &mut fa)
        .expect("mapped");
    assert_eq!((pt.table_frames(), fa.live()), (4, 4));
    pt.flush_tlb(0x1000..0x2000);
    assert_eq!(pt.flushes(), 1);
    assert!(format!("{pt:?}").contains("table_frames: 4"));
    pt.destroy(&mut fa);
    assert_eq!((pt.root_paddr(), fa.live()), (None, 0));
}
