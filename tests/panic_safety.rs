//! Crash-test segments panic on the N-th call of a callback; the map must
//! stay valid and every node must be accounted for: still in the map, or
//! dropped exactly once.

use std::panic::{catch_unwind, AssertUnwindSafe};

use range_action_map::Window;
use range_action_map_testkit::logging::{live_nodes, Crash, Log, Map, Seg};

const PAGE: usize = 0x1000;

/// Ten segments with holes, merging on.
fn map_with_segments() -> Map {
    let mut map = Map::with_window(
        Window::DEFAULT,
        Log {
            merge: true,
            ..Log::default()
        },
    );
    for i in 0..10 {
        let prot = (i % 3) as u8;
        map.mmap_fixed(PAGE * (4 * i + 1), PAGE * (4 * i + 4), || Seg::boxed(prot))
            .unwrap();
    }
    map
}

/// Operations that reach every callback kind.
fn workload(map: &mut Map) {
    map.mprotect(PAGE * 2, PAGE * 30, 1).unwrap();
    map.mprotect(PAGE * 6, PAGE * 7, 2).unwrap();
    map.unmap(PAGE * 10, PAGE * 20).unwrap();
    map.unmap(PAGE * 21, PAGE * 22).unwrap();
    map.mmap_fixed(PAGE * 5, PAGE * 25, || Seg::boxed(1))
        .unwrap();
    map.mmap_anywhere(PAGE, PAGE * 3, |_| Seg::boxed(1))
        .unwrap();
    map.clear();
}

#[test]
fn a_panic_in_any_callback_leaves_the_map_valid() {
    let baseline = live_nodes();
    for kind in [
        Crash::Remove,
        Crash::Shrink,
        Crash::Split,
        Crash::Modify,
        Crash::Merge,
        Crash::Release,
    ] {
        for n in 0..12 {
            let mut map = map_with_segments();
            map.args_mut().crash = Some((kind, n));
            let result = catch_unwind(AssertUnwindSafe(|| workload(&mut map)));
            map.assert_valid();
            assert_eq!(
                live_nodes() - baseline,
                map.len() as isize,
                "{kind:?} #{n}: every live node is in the map (panicked: {})",
                result.is_err()
            );
            // The map keeps working after the panic.
            map.args_mut().crash = None;
            map.mmap_fixed(PAGE * 100, PAGE * 101, || Seg::boxed(0))
                .unwrap();
            map.unmap(PAGE, PAGE * 200).unwrap();
            map.assert_valid();
            drop(map);
            assert_eq!(
                live_nodes(),
                baseline,
                "{kind:?} #{n}: no node leaked or dropped twice"
            );
        }
    }
}

#[test]
fn a_panicking_node_constructor_changes_no_mapping() {
    let mut map = map_with_segments();
    let before: Vec<_> = map.iter().map(|s| (s.link.range(), s.prot.get())).collect();
    let result = catch_unwind(AssertUnwindSafe(|| {
        map.mmap_fixed(PAGE * 2, PAGE * 3, || panic!("constructor"))
            .unwrap();
    }));
    assert!(result.is_err());
    map.assert_valid();
    // The split of [1, 4) at 3 happened (it changes no mapping); nothing
    // was removed, so every address maps to the same protection.
    for addr in (0..50).map(|p| p * PAGE) {
        let prot = map.find(addr).map(|s| s.prot.get());
        let want = before
            .iter()
            .find(|(r, _)| r.contains(&addr))
            .map(|&(_, p)| p);
        assert_eq!(prot, want, "{addr:#x}");
    }
}

#[test]
fn a_panicking_remove_drops_its_node_and_keeps_the_rest() {
    let mut map = map_with_segments();
    let before = live_nodes();
    map.args_mut().crash = Some((Crash::Remove, 1));
    let result = catch_unwind(AssertUnwindSafe(|| map.unmap(PAGE, PAGE * 40).unwrap()));
    assert!(result.is_err());
    map.assert_valid();
    assert_eq!(
        map.len(),
        8,
        "two segments removed, the second one panicking"
    );
    assert_eq!(live_nodes(), before - 2);
    assert!(map.find(PAGE).is_none() && map.find(PAGE * 5).is_none());
    assert!(map.find(PAGE * 9).is_some());
}
