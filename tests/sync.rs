//! Many CPUs: a map is `Sync`, so readers on several threads look segments up at once
//! (behind a reader-writer lock, between writers), and two threads linking the same
//! `&'static` segment into two maps at once cannot both succeed. Run under Miri, which
//! reports any data race.

use std::sync::{Barrier, RwLock};
use std::thread;

use range_action_map::memory_set::{FrameAllocator, MemorySet, PageTable};
use range_action_map::{range_adapter, MapError, RangeActionMap, RangeLink, Segment};

/// A segment whose data is plain: it is `Sync` because its link is.
struct Area {
    link: RangeLink,
    tag: usize,
}

range_adapter!(AreaAdapter = Box<Area>: Area { link });

fn area(tag: usize) -> Area {
    Area {
        link: RangeLink::new(),
        tag,
    }
}

impl Segment for Area {
    type Args = ();
    type Flags = usize;
    type Pointer = Box<Area>;

    fn remove(&self, _: &mut ()) {}
    fn shrink(&self, _: usize, _: usize, _: &mut ()) {}
    fn split(&self, _: usize, _: &mut ()) -> Box<Area> {
        Box::new(area(self.tag))
    }
    fn modify(&self, _: usize, _: &mut ()) {}
}

/// A segment owned as `&'static` (from a static, or leaked), which several threads can hold
/// at once.
struct Leaked {
    link: RangeLink,
}

range_adapter!(LeakedAdapter = &'static Leaked: Leaked { link });

fn leaked() -> &'static Leaked {
    Box::leak(Box::new(Leaked {
        link: RangeLink::new(),
    }))
}

impl Segment for Leaked {
    type Args = ();
    type Flags = ();
    type Pointer = &'static Leaked;

    fn remove(&self, _: &mut ()) {}
    fn shrink(&self, _: usize, _: usize, _: &mut ()) {}
    fn split(&self, _: usize, _: &mut ()) -> &'static Leaked {
        leaked()
    }
    fn modify(&self, _: (), _: &mut ()) {}
}

const fn assert_sync<T: Sync + Send>() {}
const _: () = assert_sync::<RangeActionMap<AreaAdapter>>();

/// An address space is `Send + Sync` whenever its page table and frame allocator are (a
/// kernel's behind their own locks): it compiles only if that holds for every such pair.
#[allow(dead_code)]
const fn set_is_sync<PT, FA>()
where
    PT: PageTable + Send + Sync,
    FA: FrameAllocator + Send + Sync,
{
    assert_sync::<MemorySet<PT, FA>>();
}

/// Segments and threads: small under Miri, which runs every access.
const SEGMENTS: usize = if cfg!(miri) { 64 } else { 4096 };
const THREADS: usize = 4;
const PAGE: usize = 0x1000;

fn build() -> RangeActionMap<AreaAdapter> {
    let mut map = RangeActionMap::<AreaAdapter>::new(());
    for i in 0..SEGMENTS {
        let start = (2 * i + 1) * PAGE;
        map.mmap_fixed(start, start + PAGE, || Box::new(area(i)))
            .unwrap();
    }
    map
}

/// What a reader sees: every segment by lookup, in order, and the gaps.
fn read_all(map: &RangeActionMap<AreaAdapter>, from: usize) -> usize {
    let mut sum = 0;
    for k in 0..SEGMENTS {
        let i = (from + k * 7) % SEGMENTS;
        let found = map.find((2 * i + 1) * PAGE + 8).expect("mapped");
        assert_eq!(found.tag, i);
        assert!(map.find(2 * i * PAGE + 8).is_none(), "a gap");
        sum += found.tag;
    }
    assert_eq!(map.iter().count(), SEGMENTS);
    assert_eq!(map.gaps(PAGE, (2 * SEGMENTS) * PAGE).count(), SEGMENTS - 1);
    sum
}

#[test]
fn readers_on_several_threads_find_the_same_segments() {
    let map = build();
    let want = read_all(&map, 0);
    thread::scope(|s| {
        let readers: Vec<_> = (0..THREADS)
            .map(|t| {
                let map = &map;
                s.spawn(move || read_all(map, t * 13))
            })
            .collect();
        for reader in readers {
            assert_eq!(reader.join().unwrap(), want);
        }
    });
}

#[test]
fn readers_and_writers_take_turns_behind_a_rwlock() {
    let map = RwLock::new(build());
    let rounds = if cfg!(miri) { 3 } else { 50 };
    thread::scope(|s| {
        for t in 0..THREADS {
            let map = &map;
            s.spawn(move || {
                for round in 0..rounds {
                    if (t + round) % THREADS == 0 {
                        // A writer punches a hole and fills it again.
                        let mut map = map.write().unwrap();
                        let i = (t * 31 + round) % SEGMENTS;
                        let start = (2 * i + 1) * PAGE;
                        map.unmap(start, start + PAGE).unwrap();
                        map.mmap_fixed(start, start + PAGE, || Box::new(area(i)))
                            .unwrap();
                    } else {
                        let map = map.read().unwrap();
                        read_all(&map, t + round);
                    }
                }
            });
        }
    });
    map.into_inner().unwrap().assert_valid();
}

#[test]
fn two_threads_linking_one_static_segment_cannot_both_succeed() {
    /// A segment in a static: one that every thread can reach, reused by every try.
    static SHARED: Leaked = Leaked {
        link: RangeLink::new(),
    };
    let tries = if cfg!(miri) { 4 } else { 200 };
    for _ in 0..tries {
        let shared = &SHARED;
        let barrier = Barrier::new(2);
        let linked: Vec<bool> = thread::scope(|s| {
            let racers: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        let mut map = RangeActionMap::<LeakedAdapter>::new(());
                        barrier.wait();
                        let got = map.mmap_fixed_noreplace(PAGE, 2 * PAGE, shared);
                        let linked = match got {
                            Ok(_) => true,
                            Err(refused) => {
                                assert_eq!(refused.error, MapError::AlreadyLinked);
                                false
                            }
                        };
                        // Read the range while the other thread may be linking it.
                        let _ = shared.link.range();
                        // Both have tried before either unlinks.
                        barrier.wait();
                        map.clear();
                        linked
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert_eq!(linked.iter().filter(|&&l| l).count(), 1, "{linked:?}");
        assert!(!shared.link.is_linked());
    }
}
