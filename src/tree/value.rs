//! The store behind [`boxed`](crate::boxed): value segments in boxed nodes,
//! mutated in place by the seed's `&mut self` callbacks.
//!
//! The map calls a segment's callbacks through `&self` and hands out `&S`
//! from shared borrows, while the seed's callbacks want `&mut S`. So the
//! value sits in an `UnsafeCell`, and this module is the one place that
//! makes references into it. It lives here, in the unsafe room, because
//! its soundness rests on who can reach a node, which only this module
//! controls:
//!
//! - a [`ValueNode`] is reachable only through the map inside a
//!   [`ValueMap`], which never lends that map out shared: a `&ValueNode`
//!   would let anyone call its [`Segment`](crate::Segment) methods, which
//!   write the value, while a `&S` from [`ValueMap::find`] is alive;
//! - `&S` comes from `&ValueMap`, `&mut S` from `&mut ValueMap` or from a
//!   callback, which the map runs only under [`ValueMap::map_mut`]'s
//!   `&mut` borrow, when no `&S` can be alive.

use alloc::boxed::Box;
use core::cell::UnsafeCell;
use core::ops::Range;

use intrusive_collections::intrusive_adapter;

use crate::boxed::{ArgsType, IdentType, Segment};
use crate::{MapResult, Placement, RangeActionMap, RangeLink};

/// A boxed value segment with its link.
///
/// # Invariants
///
/// `value` is referenced only by this module: shared through a shared
/// borrow of the [`ValueMap`] holding the node, mutably through a mutable
/// borrow of it or inside the node's own callbacks.
pub(crate) struct ValueNode<S> {
    link: RangeLink,
    value: UnsafeCell<S>,
}

intrusive_adapter!(pub(crate) ValueAdapter<S> = Box<ValueNode<S>>: ValueNode<S> { link: RangeLink });

impl<S> ValueNode<S> {
    /// A new, unlinked node.
    pub(crate) fn new(value: S) -> Box<ValueNode<S>> {
        Box::new(ValueNode {
            link: RangeLink::new(),
            value: UnsafeCell::new(value),
        })
    }

    /// The value, shared, for as long as the node is borrowed.
    ///
    /// Private: callers reach it through a shared borrow of the
    /// [`ValueMap`], which excludes every `&mut` to the value.
    fn get(&self) -> &S {
        // SAFETY: no `&mut S` is alive (type invariant: those need `&mut`
        // of the map, or run inside a callback, where no `&S` reaches).
        unsafe { &*self.value.get() }
    }

    /// The value, mutably.
    ///
    /// Private: called only with the map borrowed mutably (`find_mut`,
    /// `iter_mut`) or from a callback the map runs under that borrow.
    #[allow(clippy::mut_from_ref)]
    fn get_mut(&self) -> &mut S {
        // SAFETY: by the type invariant no other reference to the value is
        // alive, and the value does not overlap the link the tree reads.
        unsafe { &mut *self.value.get() }
    }
}

impl<S: Segment> crate::Segment for ValueNode<S> {
    type Args = ArgsType;
    type Flags = IdentType;
    type Pointer = Box<ValueNode<S>>;

    fn remove(&self, args: &mut ArgsType) {
        self.get_mut().remove(*args);
    }

    fn shrink(&self, start: usize, end: usize, args: &mut ArgsType) {
        if start > self.link.start() {
            self.get_mut().shrink_to_right(start, *args);
        } else {
            self.get_mut().shrink_to_left(end, *args);
        }
    }

    fn split(&self, pos: usize, args: &mut ArgsType) -> Box<ValueNode<S>> {
        ValueNode::new(self.get_mut().split(pos, *args))
    }

    fn modify(&self, flags: IdentType, args: &mut ArgsType) {
        self.get_mut().modify(flags, *args);
    }
}

/// The map of value nodes, lent out only mutably (see the module docs).
pub(crate) struct ValueMap<S: Segment> {
    map: RangeActionMap<ValueAdapter<S>>,
}

impl<S: Segment> ValueMap<S> {
    /// An empty map; `args` is handed to every callback.
    pub(crate) fn new(args: ArgsType) -> Self {
        ValueMap {
            map: RangeActionMap::new(args),
        }
    }

    /// The map, for its operations. Only mutably: with the map borrowed
    /// mutably no `&S` is alive, so the callbacks its operations run may
    /// write the values.
    pub(crate) fn map_mut(&mut self) -> &mut RangeActionMap<ValueAdapter<S>> {
        &mut self.map
    }

    /// Number of segments.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The segment containing `pos`.
    pub(crate) fn find(&self, pos: usize) -> Option<&S> {
        self.map.find(pos).map(ValueNode::get)
    }

    /// The segment containing `pos`, mutably.
    pub(crate) fn find_mut(&mut self, pos: usize) -> Option<&mut S> {
        self.map.find(pos).map(ValueNode::get_mut)
    }

    /// The segments with their ranges, in address order.
    pub(crate) fn iter(
        &self,
    ) -> impl DoubleEndedIterator<Item = (Range<usize>, &S)> + ExactSizeIterator {
        self.map.iter().map(|n| (n.link.range(), n.get()))
    }

    /// The segments in address order, mutably: each node's value once.
    pub(crate) fn iter_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut S> + ExactSizeIterator {
        self.map.iter().map(ValueNode::get_mut)
    }

    /// Where `placement` would go ([`RangeActionMap::find_free_area`]).
    pub(crate) fn find_free_area(&self, placement: &Placement) -> MapResult<usize> {
        self.map.find_free_area(placement)
    }

    /// [`RangeActionMap::assert_valid`].
    #[track_caller]
    pub(crate) fn assert_valid(&self) {
        self.map.assert_valid();
    }
}
