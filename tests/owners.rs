//! Every owner kind an adapter accepts (`Box`, `UnsafeRef`, `&'static`,
//! `Rc`, and a borrowed `&'a`) through every entry point that takes a
//! segment reference the map did not hand out ([`RangeActionMap::cursor_from`]
//! and [`RangeActionMap::range_of`]): segments of this map, of another live
//! map, of no map, of a leaked map whose other nodes were freed, and of a
//! dropped map. Membership must come from a lookup in the map asked, never
//! from the foreign segment's tree pointers, which may dangle (Miri checks
//! that, under Stacked and Tree Borrows).
//!
//! Also: a node is pinned before `mmap_fixed` runs its first callback, and
//! a `try_split` that hands back a linked node is refused with the map
//! unchanged.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::mem;
use std::ops::Deref;
use std::rc::Rc;

use range_action_map::intrusive_collections::{intrusive_adapter, UnsafeRef};
use range_action_map::{
    range_adapter, AllocError, ArgsOf, MapError, OwnedOf, RangeActionMap, RangeAdapter, RangeLink,
    Segment, SegmentOf,
};

const PAGE: usize = 0x1000;

/// One owner kind: an adapter, how to make an owned segment, and how test
/// code frees what no map owns any more (Miri checks that nothing leaks).
trait Kind {
    type A: RangeAdapter + Default;

    /// Whether a segment outlives the map that dropped it: its memory is
    /// not the owner's to free (a slab takes it back through
    /// `Segment::release`), or another owner remains.
    const OUTLIVES_DROP: bool;

    fn make(id: usize) -> OwnedOf<Self::A>;

    fn id(seg: &SegmentOf<Self::A>) -> usize;

    /// Frees a segment whose owner was leaked with a forgotten map.
    ///
    /// # Safety
    ///
    /// `seg` is live, in a map that was forgotten, and reclaimed once.
    unsafe fn reclaim(seg: *const SegmentOf<Self::A>);

    /// Frees what the kind kept aside: the slab's returned nodes, or the
    /// test's own references.
    fn finish();
}

/// A segment type, its adapter and its [`Kind`] for one owner pointer.
///
/// `kept` is where owners go that the test frees in `finish`: those the
/// map releases (`on_release`, a slab), or a second owner taken at `make`
/// (`on_make`, a reference count); `free` frees one of them.
macro_rules! kind {
    ($module:ident, $owner:ty, kept: $kept:ident,
     make: |$seg:ident| $make:expr,
     free: |$kept_owner:ident| $free:expr,
     reclaim: |$p:ident| $reclaim:expr) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;

            /// Every field is a `Cell`, and there is no padding, so that
            /// test code may free a segment through a pointer taken from a
            /// shared reference (Stacked Borrows).
            pub struct Seg {
                link: RangeLink,
                pub id: Cell<usize>,
            }

            intrusive_adapter!(pub Adapter = $owner: Seg { link: RangeLink });

            thread_local! {
                static KEPT: RefCell<Vec<$owner>> = const { RefCell::new(Vec::new()) };
            }

            const KEPT_ON: Kept = Kept::$kept;

            impl Segment for Seg {
                type Args = ();
                type Flags = ();
                type Pointer = $owner;

                fn remove(&self, _: &mut ()) {}

                fn shrink(&self, _: usize, _: usize, _: &mut ()) {}

                fn split(&self, _: usize, _: &mut ()) -> $owner {
                    K::make(self.id.get() + 100)
                }

                fn modify(&self, _: (), _: &mut ()) {}

                fn release(node: $owner, _: &mut ()) {
                    match KEPT_ON {
                        Kept::OnRelease => KEPT.with(|kept| kept.borrow_mut().push(node)),
                        // Dropped here, as the default `release` does.
                        Kept::Nothing | Kept::OnMake => {}
                    }
                }
            }

            pub struct K;

            impl Kind for K {
                type A = Adapter;

                const OUTLIVES_DROP: bool = !matches!(KEPT_ON, Kept::Nothing);

                fn make(id: usize) -> $owner {
                    let $seg = Seg {
                        link: RangeLink::new(),
                        id: Cell::new(id),
                    };
                    $make
                }

                fn id(seg: &Seg) -> usize {
                    seg.id.get()
                }

                unsafe fn reclaim($p: *const Seg) {
                    $reclaim
                }

                fn finish() {
                    for $kept_owner in KEPT.with(|kept| mem::take(&mut *kept.borrow_mut())) {
                        $free
                    }
                }
            }
        }
    };
}

/// Which owners a kind keeps for the test to free.
enum Kept {
    Nothing,
    OnRelease,
    OnMake,
}

kind!(boxed, Box<Seg>, kept: Nothing,
    make: |seg| Box::new(seg),
    free: |owner| drop(owner),
    // SAFETY: made by `Box::new`; its owner was forgotten (caller).
    reclaim: |seg| drop(unsafe { Box::from_raw(seg.cast_mut()) }));

kind!(unsafe_ref, UnsafeRef<Seg>, kept: OnRelease,
    make: |seg| UnsafeRef::from_box(Box::new(seg)),
    // SAFETY: made by `UnsafeRef::from_box`; released by its map, which is
    // gone.
    free: |owner| drop(unsafe { UnsafeRef::into_box(owner) }),
    // SAFETY: as `free`, the owner forgotten with the map (caller).
    reclaim: |seg| drop(unsafe { UnsafeRef::into_box(UnsafeRef::from_raw(seg)) }));

kind!(static_ref, &'static Seg, kept: OnRelease,
    make: |seg| Box::leak(Box::new(seg)),
    // SAFETY: made by `Box::leak`; released by its map, which is gone.
    free: |owner| drop(unsafe { Box::from_raw(std::ptr::from_ref(owner).cast_mut()) }),
    // SAFETY: as `free`, the owner forgotten with the map (caller).
    reclaim: |seg| drop(unsafe { Box::from_raw(seg.cast_mut()) }));

kind!(counted, Rc<Seg>, kept: OnMake,
make: |seg| {
    let rc = Rc::new(seg);
    KEPT.with(|kept| kept.borrow_mut().push(rc.clone()));
    rc
},
free: |owner| drop(owner),
reclaim: |seg| {
    let ours = KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        let at = kept.iter().position(|rc| std::ptr::eq(&**rc, seg)).unwrap();
        kept.swap_remove(at)
    });
    // Our reference, then the one forgotten with the map (caller).
    let raw = Rc::into_raw(ours);
    // SAFETY: `raw` is from `Rc::into_raw`, with two references left.
    unsafe {
        Rc::decrement_strong_count(raw);
        Rc::decrement_strong_count(raw);
    }
});

type Map<K> = RangeActionMap<<K as Kind>::A>;

/// Segments 1, 2, 3 at `[1, 2)`, `[2, 3)`, `[3, 4)` pages in `mine`; 4 at
/// `[2, 3)` and 5 at `[5, 6)` in `other`: the same start as one of `mine`,
/// so that a lookup by start alone would mistake one for the other.
fn two_maps<K: Kind>() -> (Map<K>, Map<K>)
where
    ArgsOf<K::A>: Default,
{
    let mut mine = Map::<K>::new(Default::default());
    for id in 1..=3 {
        let start = id * PAGE;
        mine.mmap_fixed(start, start + PAGE, || K::make(id))
            .unwrap();
    }
    let mut other = Map::<K>::new(Default::default());
    other.mmap_fixed(2 * PAGE, 3 * PAGE, || K::make(4)).unwrap();
    other.mmap_fixed(5 * PAGE, 6 * PAGE, || K::make(5)).unwrap();
    (mine, other)
}

/// Asserts that `map` does not take `seg` for one of its own.
fn foreign_to<K: Kind>(map: &Map<K>, seg: &SegmentOf<K::A>, range: std::ops::Range<usize>) {
    assert!(map.cursor_from(seg).is_none(), "segment {}", K::id(seg));
    assert_eq!(map.range_of(seg), range, "segment {}", K::id(seg));
    map.assert_valid();
}

/// Segments of this map, of another live map and of no map.
fn live_maps<K: Kind>()
where
    ArgsOf<K::A>: Default,
    OwnedOf<K::A>: Deref<Target = SegmentOf<K::A>>,
{
    let (mine, other) = two_maps::<K>();
    let two = mine.find(2 * PAGE).unwrap();
    let cursor = mine.cursor_from(two).unwrap();
    assert_eq!(cursor.range(), Some(2 * PAGE..3 * PAGE));
    assert_eq!(cursor.get().map(K::id), Some(2));
    assert_eq!(cursor.peek_prev().map(K::id), Some(1));
    assert_eq!(cursor.peek_next().map(K::id), Some(3));
    assert_eq!(mine.range_of(two), 2 * PAGE..3 * PAGE);
    foreign_to::<K>(&other, two, 2 * PAGE..3 * PAGE);
    foreign_to::<K>(&mine, other.find(2 * PAGE).unwrap(), 2 * PAGE..3 * PAGE);
    foreign_to::<K>(&mine, other.find(5 * PAGE).unwrap(), 5 * PAGE..6 * PAGE);

    let fresh = K::make(9);
    assert!(mine.cursor_from(&fresh).is_none());
    assert!(mine.range_of(&fresh).is_empty());
    <SegmentOf<K::A> as Segment>::release(fresh, &mut Default::default());
}

/// Segments of a leaked map whose other segments were freed: their tree
/// pointers dangle, and the map asked must not follow them.
fn leaked_map<K: Kind>()
where
    ArgsOf<K::A>: Default,
{
    let (mine, other) = two_maps::<K>();
    let leaked: Vec<*const SegmentOf<K::A>> = mine.iter().map(|s| s as *const _).collect();
    mem::forget(mine);
    // SAFETY: the map that owned 2 and 3 is forgotten; nothing uses them.
    unsafe {
        K::reclaim(leaked[1]);
        K::reclaim(leaked[2]);
    }
    // SAFETY: segment 1 is still live (leaked, not yet reclaimed).
    let one = unsafe { &*leaked[0] };
    foreign_to::<K>(&other, one, PAGE..2 * PAGE);
    // SAFETY: as above; reclaimed once.
    unsafe { K::reclaim(leaked[0]) };
}

/// Segments of a dropped map, for kinds whose segments outlive it.
fn dropped_map<K: Kind>()
where
    ArgsOf<K::A>: Default,
{
    let (mine, other) = two_maps::<K>();
    let kept: Vec<*const SegmentOf<K::A>> = mine.iter().map(|s| s as *const _).collect();
    drop(mine);
    for seg in kept {
        // SAFETY: the kind's segments outlive the map (OUTLIVES_DROP) until
        // `finish`.
        let seg = unsafe { &*seg };
        assert!(other.cursor_from(seg).is_none());
        other.assert_valid();
    }
}

fn every_case<K: Kind>()
where
    ArgsOf<K::A>: Default,
    OwnedOf<K::A>: Deref<Target = SegmentOf<K::A>>,
{
    live_maps::<K>();
    K::finish();
    leaked_map::<K>();
    K::finish();
    if K::OUTLIVES_DROP {
        dropped_map::<K>();
        K::finish();
    }
}

// A map moves with its nodes, so it is `Send` when they are (not with `Rc`
// owners), and it is never `Sync` (its links are `Cell`s); pinned so that a
// change to either is deliberate.
static_assertions::assert_impl_all!(Map<boxed::K>: Send);
static_assertions::assert_not_impl_any!(Map<boxed::K>: Sync);
static_assertions::assert_not_impl_any!(Map<counted::K>: Send, Sync);

#[test]
fn box_owners() {
    every_case::<boxed::K>();
}

#[test]
fn unsafe_ref_owners() {
    every_case::<unsafe_ref::K>();
}

#[test]
fn static_ref_owners() {
    every_case::<static_ref::K>();
}

#[test]
fn rc_owners() {
    every_case::<counted::K>();
}

// === a borrowed owner, `&'a`, from safe code alone ===

/// A segment borrowed for `'a` from memory the map does not own. The map's
/// args say whether `release` panics.
struct Borrowed<'a> {
    link: RangeLink,
    _arena: PhantomData<&'a ()>,
}

range_adapter!(BorrowedAdapter<'a> = &'a Borrowed<'a>: Borrowed<'a> { link });

/// Whether `Segment::release` panics.
struct FragileRelease(bool);

impl<'a> Segment for Borrowed<'a> {
    type Args = FragileRelease;
    type Flags = ();
    type Pointer = &'a Borrowed<'a>;

    fn remove(&self, _: &mut FragileRelease) {}

    fn shrink(&self, _: usize, _: usize, _: &mut FragileRelease) {}

    fn split(&self, _: usize, _: &mut FragileRelease) -> &'a Borrowed<'a> {
        unreachable!("no test here splits")
    }

    fn modify(&self, _: (), _: &mut FragileRelease) {}

    fn release(_: &'a Borrowed<'a>, fragile: &mut FragileRelease) {
        assert!(!fragile.0, "release fails");
    }
}

fn borrowed<'a>() -> Box<Borrowed<'a>> {
    Box::new(Borrowed {
        link: RangeLink::new(),
        _arena: PhantomData,
    })
}

type BorrowedMap<'a> = RangeActionMap<BorrowedAdapter<'a>>;

/// The use-after-free this test pins down was reachable from safe code:
/// leak a map of borrowed segments, free one of them, ask another map about
/// the other. Under Miri, following the leaked segment's parent pointer is a
/// dangling reference.
#[test]
fn borrowed_owners_of_a_leaked_map_with_a_freed_neighbour() {
    let (a, b, c) = (borrowed(), borrowed(), borrowed());
    let mut leaked = BorrowedMap::new(FragileRelease(false));
    leaked.mmap_fixed(PAGE, 2 * PAGE, || &*a).unwrap();
    leaked.mmap_fixed(2 * PAGE, 3 * PAGE, || &*b).unwrap();
    let mut other = BorrowedMap::new(FragileRelease(false));
    other.mmap_fixed(2 * PAGE, 3 * PAGE, || &*c).unwrap();

    mem::forget(leaked);
    drop(a);
    assert!(other.cursor_from(&b).is_none());
    assert_eq!(other.range_of(&b), 2 * PAGE..3 * PAGE);
    assert!(other.cursor_from(&c).is_some());
    other.assert_valid();
}

/// The same through the documented leak of a `Drop` whose `release`
/// panics: the nodes not yet released stay marked as linked.
#[test]
fn borrowed_owners_left_linked_by_a_panicking_release() {
    let segs: Vec<Box<Borrowed>> = (0..3).map(|_| borrowed()).collect();
    let probe = borrowed();
    let mut other = BorrowedMap::new(FragileRelease(false));
    other.mmap_fixed(PAGE, 2 * PAGE, || &*probe).unwrap();
    {
        let mut doomed = BorrowedMap::new(FragileRelease(true));
        for (i, seg) in segs.iter().enumerate() {
            let start = (i + 1) * PAGE;
            doomed.mmap_fixed(start, start + PAGE, || &**seg).unwrap();
        }
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(doomed)));
        assert!(dropped.is_err());
    }
    let linked: Vec<&Borrowed> = segs
        .iter()
        .map(|s| &**s)
        .filter(|s| s.link.is_linked())
        .collect();
    assert!(!linked.is_empty(), "the panic left some nodes linked");
    for seg in linked {
        assert!(other.cursor_from(seg).is_none());
    }
    other.assert_valid();
}

// === nodes handed back that are already linked ===

/// A segment whose callbacks can hand the map a node of the test's choice.
/// Every field is a `Cell` (and there is no padding), so that `free_thieves` may free it through a
/// pointer taken from a shared reference.
struct Thief {
    link: RangeLink,
    id: Cell<usize>,
}

intrusive_adapter!(ThiefAdapter = &'static Thief: Thief { link: RangeLink });

/// What the callbacks do: `remove` links `loot` into `other`; `try_split`
/// returns `split_to` instead of a fresh node.
#[derive(Default)]
struct Plot {
    other: Option<Box<RangeActionMap<ThiefAdapter>>>,
    loot: Option<&'static Thief>,
    stolen: Option<Result<(), MapError>>,
    split_to: Option<&'static Thief>,
    removed: Vec<usize>,
}

impl Segment for Thief {
    type Args = Plot;
    type Flags = ();
    type Pointer = &'static Thief;

    fn remove(&self, plot: &mut Plot) {
        plot.removed.push(self.id.get());
        if let (Some(other), Some(loot)) = (plot.other.as_mut(), plot.loot.take()) {
            let result = other.mmap_fixed_noreplace(0x100 * PAGE, 0x101 * PAGE, loot);
            plot.stolen = Some(result.map(|_| ()).map_err(|e| e.error));
        }
    }

    fn shrink(&self, _: usize, _: usize, _: &mut Plot) {}

    fn split(&self, pos: usize, plot: &mut Plot) -> &'static Thief {
        self.try_split(pos, plot).unwrap()
    }

    fn try_split(&self, _: usize, plot: &mut Plot) -> Result<&'static Thief, AllocError> {
        Ok(plot.split_to.unwrap_or_else(|| thief(self.id.get() + 100)))
    }

    fn modify(&self, _: (), _: &mut Plot) {}
}

thread_local! {
    /// Every thief made, freed at the end of each test (Miri checks leaks).
    static THIEVES: RefCell<Vec<*const Thief>> = const { RefCell::new(Vec::new()) };
}

fn thief(id: usize) -> &'static Thief {
    let t: &'static Thief = Box::leak(Box::new(Thief {
        link: RangeLink::new(),
        id: Cell::new(id),
    }));
    THIEVES.with(|all| all.borrow_mut().push(t));
    t
}

/// Frees every thief; the maps holding them are gone.
fn free_thieves() {
    for t in THIEVES.with(|all| mem::take(&mut *all.borrow_mut())) {
        // SAFETY: made by `Box::leak` in `thief`, freed once, and every map
        // that held it was dropped.
        drop(unsafe { Box::from_raw(t.cast_mut()) });
    }
}

fn ranges(map: &RangeActionMap<ThiefAdapter>) -> Vec<(usize, usize, usize)> {
    map.iter()
        .map(|t| (t.link.start(), t.link.end(), t.id.get()))
        .collect()
}

/// A `remove` callback tries to link the very node `mmap_fixed` was given
/// into another map: the node is already pinned, so that fails, and
/// `mmap_fixed` succeeds with every promise kept.
#[test]
fn mmap_fixed_pins_its_node_before_the_first_callback() {
    let node = thief(7);
    let mut map = RangeActionMap::<ThiefAdapter>::new(Plot {
        other: Some(Box::new(RangeActionMap::new(Plot::default()))),
        loot: Some(node),
        ..Plot::default()
    });
    map.mmap_fixed(PAGE, 4 * PAGE, || thief(1)).unwrap();
    let got = map.mmap_fixed(PAGE, 4 * PAGE, || node).map(|t| t.id.get());
    assert_eq!(got, Ok(7));
    assert_eq!(map.args().stolen, Some(Err(MapError::AlreadyLinked)));
    assert_eq!(map.args().removed, [1]);
    assert_eq!(ranges(&map), [(PAGE, 4 * PAGE, 7)]);
    assert!(map.args().other.as_ref().unwrap().is_empty());
    map.assert_valid();
    drop(map);
    free_thieves();
}

/// A panic in a callback after the node was pinned drops the node once and
/// leaves it free for another map.
#[test]
fn mmap_fixed_unpins_its_node_when_a_callback_panics() {
    struct Bomb {
        link: RangeLink,
        dropped: Rc<Cell<usize>>,
    }
    impl Drop for Bomb {
        fn drop(&mut self) {
            self.dropped.set(self.dropped.get() + 1);
        }
    }
    intrusive_adapter!(BombAdapter = Box<Bomb>: Bomb { link: RangeLink });
    impl Segment for Bomb {
        type Args = ();
        type Flags = ();
        type Pointer = Box<Bomb>;
        fn remove(&self, _: &mut ()) {
            panic!("remove fails");
        }
        fn shrink(&self, _: usize, _: usize, _: &mut ()) {}
        fn split(&self, _: usize, _: &mut ()) -> Box<Bomb> {
            unreachable!("no test here splits")
        }
        fn modify(&self, _: (), _: &mut ()) {}
    }
    let dropped = Rc::new(Cell::new(0));
    let bomb = || {
        Box::new(Bomb {
            link: RangeLink::new(),
            dropped: dropped.clone(),
        })
    };
    let mut map = RangeActionMap::<BombAdapter>::new(());
    map.mmap_fixed(PAGE, 2 * PAGE, bomb).unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        map.mmap_fixed(PAGE, 2 * PAGE, bomb).map(|_| ())
    }));
    assert!(result.is_err());
    // The old segment (unlinked before its `remove`) and the new one.
    assert_eq!(dropped.get(), 2);
    assert!(map.is_empty());
    map.assert_valid();
}

/// `unmap`, `mprotect` and `mmap_fixed` refuse a `try_split` that returns a
/// node already in a map, with the map unchanged and the node left alone.
#[test]
fn a_split_into_a_linked_node_is_refused() {
    let mut map = RangeActionMap::<ThiefAdapter>::new(Plot::default());
    map.mmap_fixed(PAGE, 8 * PAGE, || thief(1)).unwrap();
    map.mmap_fixed(10 * PAGE, 11 * PAGE, || thief(2)).unwrap();
    let linked = map.find(10 * PAGE).map(|t| t.id.get());
    assert_eq!(linked, Some(2));
    map.args_mut().split_to = Some(THIEVES.with(|all| {
        // SAFETY: thief 2 is alive (its map is).
        unsafe { &*all.borrow()[1] }
    }));
    let before = ranges(&map);
    assert_eq!(map.unmap(2 * PAGE, 3 * PAGE), Err(MapError::AlreadyLinked));
    assert_eq!(
        map.mprotect(2 * PAGE, 3 * PAGE, ()),
        Err(MapError::AlreadyLinked)
    );
    assert_eq!(
        map.mmap_fixed(2 * PAGE, 3 * PAGE, || thief(3))
            .map(|t| t.id.get()),
        Err(MapError::AlreadyLinked)
    );
    assert_eq!(ranges(&map), before);
    assert!(map.args().removed.is_empty());
    map.assert_valid();
    drop(map);
    free_thieves();
}
