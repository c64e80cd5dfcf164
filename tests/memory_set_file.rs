//! File mappings over the test kit's in-memory page cache: private mappings copy-on-write over
//! the cache, shared ones write through to it and `msync` writes them back, offsets follow
//! splits, and every frame's reference count is its mappings plus the cache's own.

use range_action_map::memory_set::{
    Access, FaultError, FileMapping, FrameAllocator, MemoryAttr, MemoryError, MemorySet, PageTable,
    PagingError, PAGE_SIZE,
};
use range_action_map_testkit::{mmu, CountingFrameAllocator, MemFile, SoftPageTable};

type Set = MemorySet<SoftPageTable, CountingFrameAllocator>;

const A: usize = 0x10000;

fn setup(frames: usize) -> (CountingFrameAllocator, Set, MemFile) {
    let fa = CountingFrameAllocator::new(frames);
    let set = MemorySet::new(SoftPageTable::new(fa.memory()), fa.clone());
    let file = MemFile::new(7, 16);
    (fa, set, file)
}

fn rw() -> MemoryAttr {
    MemoryAttr::new().set_user()
}

fn disk8(file: &MemFile, pgoff: usize) -> [u8; 8] {
    let mut buf = [0; 8];
    file.read_disk(pgoff, &mut buf);
    buf
}

/// Every live frame's references are the page-table entries mapping it plus the cache's.
fn assert_books(fa: &CountingFrameAllocator, sets: &[&Set], files: &[&MemFile]) {
    let mut expected = std::collections::BTreeMap::<usize, usize>::new();
    for set in sets {
        for (_, pa, _) in set.page_table().mapped_pages() {
            *expected.entry(pa).or_default() += 1;
        }
    }
    for file in files {
        for (_, pa) in file.cached() {
            *expected.entry(pa).or_default() += 1;
        }
    }
    let tables: usize = sets.iter().map(|s| s.page_table().table_frames()).sum();
    let counts: Vec<_> = fa.ref_counts();
    assert_eq!(counts.len(), expected.len() + tables, "live frames");
    for (pa, count) in expected {
        assert_eq!(fa.ref_count(pa), count, "references to {pa:#x}");
    }
}

#[test]
fn a_private_mapping_reads_the_cache_and_copies_on_write() {
    let (fa, mut set, file) = setup(64);
    set.push(
        A,
        A + 4 * PAGE_SIZE,
        rw(),
        FileMapping::private(file.clone(), 2),
    )
    .unwrap();
    assert_eq!(file.reads(), 0, "nothing is read before a fault");
    assert_eq!(
        mmu::read::<8, _>(&mut set, A + PAGE_SIZE),
        MemFile::initial(7, 3)
    );
    let (pa, attr) = set.page_table().translate(A + PAGE_SIZE).unwrap();
    assert_eq!((file.cached(), attr), (vec![(3, pa)], rw().set_readonly()));
    assert_eq!(fa.ref_count(pa), 2);

    mmu::store(&mut set, A + PAGE_SIZE, b"private!").unwrap();
    assert_eq!(mmu::read::<8, _>(&mut set, A + PAGE_SIZE), *b"private!");
    assert_ne!(set.page_table().translate(A + PAGE_SIZE).unwrap().0, pa);
    assert_eq!(fa.ref_count(pa), 1, "the cache's reference only");
    // A write to a page never read copies it straight from the cache.
    mmu::store(&mut set, A, b"first").unwrap();
    assert_eq!(fa.copies(), 2);
    assert_eq!(file.reads(), 2);
    assert_eq!(set.msync(A, A + 4 * PAGE_SIZE), Ok(0));
    assert_eq!(
        disk8(&file, 3),
        MemFile::initial(7, 3),
        "the file is untouched"
    );
    assert_books(&fa, &[&set], &[&file]);
    assert!(set.to_string().contains("rw-p 00002000 00:00 0 [file]"));
    drop(set);
    assert_eq!(file.evict(&mut fa.clone()), 2);
    assert_eq!(fa.live(), 0);
}

#[test]
fn a_shared_mapping_writes_through_and_msync_writes_back() {
    let (fa, mut one, file) = setup(64);
    let mut two = MemorySet::new(SoftPageTable::new(fa.memory()), fa.clone());
    one.push(
        A,
        A + 2 * PAGE_SIZE,
        rw(),
        FileMapping::shared(file.clone(), 0),
    )
    .unwrap();
    two.push(0x40000, 0x42000, rw(), FileMapping::shared(file.clone(), 0))
        .unwrap();
    assert_eq!(
        mmu::read::<8, _>(&mut one, A + PAGE_SIZE),
        MemFile::initial(7, 1)
    );
    assert!(!file.is_dirty(1));
    assert!(one
        .page_table()
        .translate(A + PAGE_SIZE)
        .unwrap()
        .1
        .is_readonly());

    mmu::store(&mut one, A + PAGE_SIZE, b"shared!!").unwrap();
    assert!(file.is_dirty(1));
    assert_eq!(mmu::read::<8, _>(&mut two, 0x41000), *b"shared!!");
    assert_eq!(fa.copies(), 0);
    assert_books(&fa, &[&one, &two], &[&file]);

    assert_eq!(one.msync(A, A + 2 * PAGE_SIZE), Ok(1));
    assert_eq!(disk8(&file, 1), *b"shared!!");
    assert_eq!(file.writebacks(), 1);
    assert!(one
        .page_table()
        .translate(A + PAGE_SIZE)
        .unwrap()
        .1
        .is_readonly());
    assert_eq!(one.msync(A, A + 2 * PAGE_SIZE), Ok(0), "clean now");
    // The next write dirties the page again.
    mmu::store(&mut two, 0x41000, b"again!!!").unwrap();
    assert_eq!(one.msync(A, A + 2 * PAGE_SIZE), Ok(1));
    assert_eq!(disk8(&file, 1), *b"again!!!");
    assert!(one.to_string().contains("rw-s 00000000 00:00 0 [file]"));
    drop((one, two));
    file.evict(&mut fa.clone());
    assert_eq!(fa.live(), 0);
}

#[test]
fn a_fork_shares_private_file_pages_and_refaults_shared_ones() {
    let (fa, mut set, file) = setup(64);
    set.push(
        A,
        A + 2 * PAGE_SIZE,
        rw(),
        FileMapping::private(file.clone(), 0),
    )
    .unwrap();
    set.push(0x40000, 0x42000, rw(), FileMapping::shared(file.clone(), 0))
        .unwrap();
    mmu::store(&mut set, A, b"mine").unwrap();
    mmu::store(&mut set, 0x40000, b"ours").unwrap();
    let _ = mmu::read::<8, _>(&mut set, A + PAGE_SIZE);
    let mut child = set.clone_for_fork(SoftPageTable::new(fa.memory())).unwrap();
    assert!(child.page_table().translate(0x40000).is_none(), "refaulted");
    assert_eq!(
        child.page_table().translate(A).map(|t| t.0),
        set.page_table().translate(A).map(|t| t.0)
    );
    assert_books(&fa, &[&set, &child], &[&file]);
    assert_eq!(mmu::read::<8, _>(&mut child, 0x40000)[..4], *b"ours");
    mmu::store(&mut child, 0x40004, b"kid!").unwrap();
    assert_eq!(mmu::read::<8, _>(&mut set, 0x40000), *b"ourskid!");
    mmu::store(&mut child, A, b"kid!").unwrap();
    assert_eq!(mmu::read::<8, _>(&mut set, A)[..4], *b"mine");
    assert_books(&fa, &[&set, &child], &[&file]);
}

#[test]
fn file_offsets_follow_splits_and_contiguous_pieces_merge_back() {
    let (fa, mut set, file) = setup(64);
    let end = A + 8 * PAGE_SIZE;
    set.push(A, end, rw(), FileMapping::private(file.clone(), 4))
        .unwrap();
    set.protect(A + 2 * PAGE_SIZE, A + 5 * PAGE_SIZE, rw().set_readonly())
        .unwrap();
    set.unmap(A + 6 * PAGE_SIZE, A + 7 * PAGE_SIZE).unwrap();
    assert_eq!(set.len(), 4);
    for (i, va) in (A..end).step_by(PAGE_SIZE).enumerate() {
        if i != 6 {
            assert_eq!(
                mmu::read::<8, _>(&mut set, va),
                MemFile::initial(7, 4 + i),
                "page {i}"
            );
        }
    }
    set.protect(A, end, rw()).unwrap();
    assert_eq!(set.len(), 2, "contiguous offsets of one file merge");
    // The same file at another offset, right after: no merge.
    set.push(
        A + 6 * PAGE_SIZE,
        A + 7 * PAGE_SIZE,
        rw(),
        FileMapping::private(file.clone(), 0),
    )
    .unwrap();
    assert_eq!(set.len(), 3);
    assert_eq!(
        mmu::read::<8, _>(&mut set, A + 6 * PAGE_SIZE),
        MemFile::initial(7, 0)
    );
    assert_books(&fa, &[&set], &[&file]);
}

#[test]
fn beyond_the_end_of_the_file_is_no_page_and_out_of_frames_changes_nothing() {
    let (fa, mut set, file) = setup(64);
    let at = set
        .map_anywhere(
            0x20000,
            4 * PAGE_SIZE,
            PAGE_SIZE,
            rw(),
            FileMapping::private(file.clone(), 14),
        )
        .unwrap();
    assert_eq!(
        mmu::read::<8, _>(&mut set, at + PAGE_SIZE),
        MemFile::initial(7, 15)
    );
    assert_eq!(
        set.handle_page_fault(at + 2 * PAGE_SIZE, Access::Read),
        Err(FaultError::Paging(PagingError::NoPage { pgoff: 16 }))
    );
    let before: Vec<_> = set.page_table().mapped_pages().collect();
    let counts = fa.ref_counts();
    fa.set_budget(Some(0));
    assert_eq!(
        set.handle_page_fault(at, Access::Read),
        Err(FaultError::Paging(PagingError::OutOfFrames))
    );
    assert_eq!(
        set.handle_page_fault(at + PAGE_SIZE, Access::Write),
        Err(FaultError::Paging(PagingError::OutOfFrames))
    );
    assert_eq!(set.page_table().mapped_pages().collect::<Vec<_>>(), before);
    assert_eq!(fa.ref_counts(), counts);
    fa.set_budget(None);
    assert_eq!(
        set.msync(at + 1, at + PAGE_SIZE),
        Err(MemoryError::Map(range_action_map::MapError::Misaligned {
            addr: at + 1,
            align: PAGE_SIZE
        }))
    );
}

#[test]
fn msync_writes_back_the_files_pages_and_unmapping_a_writable_page_loses_no_write() {
    let (fa, mut writer, file) = setup(64);
    let mut syncer = MemorySet::new(SoftPageTable::new(fa.memory()), fa.clone());
    writer
        .push(A, A + PAGE_SIZE, rw(), FileMapping::shared(file.clone(), 3))
        .unwrap();
    syncer
        .push(A, A + PAGE_SIZE, rw(), FileMapping::shared(file.clone(), 3))
        .unwrap();
    mmu::store(&mut writer, A, b"written1").unwrap();
    // The syncer never touched the page: msync writes the file's dirty page all the same.
    assert_eq!(syncer.msync(A, A + PAGE_SIZE), Ok(1));
    assert_eq!(disk8(&file, 3), *b"written1");
    // The writer's mapping is still writable: this store raises no fault...
    mmu::store(&mut writer, A, b"written2").unwrap();
    assert!(!file.is_dirty(3));
    // ...and unmapping it marks the page dirty, so dropping it writes it back.
    writer.unmap(A, A + PAGE_SIZE).unwrap();
    assert!(file.is_dirty(3));
    drop(syncer);
    assert_eq!(file.evict(&mut fa.clone()), 1);
    assert_eq!(disk8(&file, 3), *b"written2");
    assert_eq!(file.writebacks(), 2);
    drop(writer);
    assert_eq!(fa.live(), 0);
}
