//! The kernel case: segment nodes come from a slab filled once at boot, as
//! `UnsafeRef`s, and every node the map is done with (unmapped, merged
//! away, or left at teardown) goes back to the slab through
//! `Segment::release`. No map operation allocates, and a split that finds
//! the slab empty fails cleanly (`MapError::SplitFailed`, nothing changed).
//!
//! `cargo run --example slab`

use std::cell::Cell;

use range_action_map::intrusive_collections::UnsafeRef;
use range_action_map::{range_adapter, AllocError, MapError, RangeActionMap, RangeLink, Segment};

/// A virtual-memory area: the tree's link and its protection.
struct Vma {
    link: RangeLink,
    prot: Cell<u8>,
}

range_adapter!(VmaAdapter = UnsafeRef<Vma>: Vma { link });

/// The slab: nodes made once, at boot. The map's `Args`, so every callback
/// can take nodes from it and give them back.
struct Slab {
    free: Vec<UnsafeRef<Vma>>,
}

impl Slab {
    fn with_capacity(nodes: usize) -> Self {
        let free = (0..nodes)
            .map(|_| {
                UnsafeRef::from_box(Box::new(Vma {
                    link: RangeLink::new(),
                    prot: Cell::new(0),
                }))
            })
            .collect();
        Slab { free }
    }

    fn take(&mut self, prot: u8) -> Result<UnsafeRef<Vma>, AllocError> {
        let node = self.free.pop().ok_or(AllocError)?;
        node.prot.set(prot);
        Ok(node)
    }
}

impl Segment for Vma {
    type Args = Slab;
    type Flags = u8;
    type Pointer = UnsafeRef<Vma>;

    fn remove(&self, _: &mut Slab) {}

    fn shrink(&self, _start: usize, _end: usize, _: &mut Slab) {}

    fn split(&self, pos: usize, slab: &mut Slab) -> UnsafeRef<Vma> {
        self.try_split(pos, slab).expect("slab exhausted")
    }

    /// A kernel cannot wait for memory under its address-space lock: an
    /// empty slab refuses the split, and the map refuses the operation.
    fn try_split(&self, _pos: usize, slab: &mut Slab) -> Result<UnsafeRef<Vma>, AllocError> {
        slab.take(self.prot.get())
    }

    fn modify(&self, prot: u8, _: &mut Slab) {
        self.prot.set(prot);
    }

    fn try_merge(&self, next: &Vma, _: &mut Slab) -> bool {
        self.prot.get() == next.prot.get()
    }

    /// Every node leaving the map comes back here.
    fn release(node: UnsafeRef<Vma>, slab: &mut Slab) {
        slab.free.push(node);
    }
}

const PAGE: usize = 0x1000;
const NODES: usize = 4;

fn show(step: &str, map: &RangeActionMap<VmaAdapter>) {
    let areas: Vec<String> = map
        .iter()
        .map(|v| {
            format!(
                "{:#x}..{:#x} prot {}",
                v.link.start(),
                v.link.end(),
                v.prot.get()
            )
        })
        .collect();
    println!(
        "{step:<37} free nodes {}  [{}]",
        map.args().free.len(),
        areas.join(", ")
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut map = RangeActionMap::<VmaAdapter>::new(Slab::with_capacity(NODES));
    show("boot", &map);

    let node = map.args_mut().take(3)?;
    map.mmap_fixed(0x10 * PAGE, 0x20 * PAGE, || node)?;
    show("mmap [0x10000, 0x20000) rw", &map);

    map.mprotect(0x14 * PAGE, 0x18 * PAGE, 1)?;
    show("mprotect the middle read-only", &map);

    map.mprotect(0x14 * PAGE, 0x18 * PAGE, 3)?;
    show("mprotect it back: the pieces merge", &map);

    map.unmap(0x12 * PAGE, 0x14 * PAGE)?;
    map.unmap(0x16 * PAGE, 0x17 * PAGE)?;
    map.unmap(0x19 * PAGE, 0x1a * PAGE)?;
    show("three holes", &map);

    let refused = map.unmap(0x1b * PAGE, 0x1c * PAGE);
    assert_eq!(refused, Err(MapError::SplitFailed { pos: 0x1c * PAGE }));
    show("a fourth: the slab is empty, refused", &map);

    map.unmap(0x10 * PAGE, 0x20 * PAGE)?;
    show("unmap everything", &map);
    assert_eq!(map.args().free.len(), NODES, "every node came back");

    // Teardown: the slab's nodes were boxed at boot; a kernel keeps them.
    let Slab { free } = std::mem::replace(map.args_mut(), Slab { free: Vec::new() });
    for node in free {
        // SAFETY: each node came from `UnsafeRef::from_box` at boot, is in no
        // map (the map is empty), and is freed once.
        drop(unsafe { UnsafeRef::into_box(node) });
    }
    Ok(())
}
