//! The map and the model side by side: one operation on both, and
//! everything compared (segments, results, and the callbacks with their
//! arguments).

use range_action_map::{Coverage, MapError, Window};

use crate::logging::{fresh_id, reset_ids, Event, Log, Map, Seg};
use crate::model::{Model, ModelSeg, PlacementSpec};
use crate::op::Op;

/// The map and the model side by side.
pub struct Harness {
    /// The map under test.
    pub map: Map,
    /// Its model.
    pub model: Model,
}

/// The model's state next to the map's, as comparable rows.
fn rows(map: &Map) -> Vec<ModelSeg> {
    map.iter()
        .map(|s| ModelSeg {
            start: s.link.start(),
            end: s.link.end(),
            id: s.id,
            prot: s.prot.get(),
        })
        .collect()
}

/// A `Coverage` as the model reports it: `(segments, mapped bytes)`.
pub fn coverage_pair(c: Coverage) -> (usize, usize) {
    (c.segments(), c.mapped_len())
}

impl Harness {
    /// An empty map over `window` and its model; node identities restart
    /// at 0.
    pub fn new(window: Window, merge: bool) -> Self {
        reset_ids();
        let log = Log {
            merge,
            ..Log::default()
        };
        Harness {
            map: Map::with_window(window, log),
            model: Model::new(window, merge),
        }
    }

    /// Runs `op` on both and asserts they agree in every respect.
    pub fn step(&mut self, op: Op) {
        let (map, model) = (&mut self.map, &mut self.model);
        match op {
            // A refused split is always the operation's first: the map must
            // then be exactly as before, which `check` below verifies
            // against the untouched model.
            Op::Unmap(s, e) => {
                let got = map.unmap(s, e).map(coverage_pair);
                if !matches!(got, Err(MapError::SplitFailed { .. })) {
                    assert_eq!(got, model.unmap(s, e), "{op:?}");
                }
            }
            Op::Mprotect(s, e, p) => {
                let got = map.mprotect(s, e, p).map(coverage_pair);
                if !matches!(got, Err(MapError::SplitFailed { .. })) {
                    assert_eq!(got, model.mprotect(s, e, p), "{op:?}");
                }
            }
            Op::MmapFixed(s, e, p) => {
                let got = map
                    .mmap_fixed(s, e, || Seg::boxed(p))
                    .map(|g| (g.id, g.link.range()));
                if !matches!(got, Err(MapError::SplitFailed { .. })) {
                    let want = model.mmap_fixed(s, e, p).map(|m| (m.id, m.start..m.end));
                    assert_eq!(got, want, "{op:?}");
                }
            }
            Op::MmapFixedNoReplace(s, e, p) => {
                let node = Seg::boxed(p);
                let got = map
                    .mmap_fixed_noreplace(s, e, node)
                    .map(|g| (g.id, g.link.range()));
                let got = got.map_err(|rejected| rejected.error);
                let want = model
                    .mmap_fixed_noreplace(s, e, p)
                    .map(|m| (m.id, m.start..m.end));
                if want.is_err() {
                    // The rejected node was handed back and dropped: its
                    // identity was consumed on the map side only.
                    model.next_id += 1;
                }
                assert_eq!(got, want, "{op:?}");
            }
            Op::MmapAnywhere(hint, len, p) => {
                let got = map.mmap_anywhere(hint, len, |_| Seg::boxed(p));
                assert_eq!(
                    got,
                    model.mmap_placed(&PlacementSpec::anywhere(hint, len), p),
                    "{op:?}"
                );
            }
            Op::Placed(spec, p) => {
                let placement = spec.to_placement();
                assert_eq!(
                    map.find_free_area(&placement),
                    model.find_free_area(&spec),
                    "{op:?}"
                );
                let got = map.mmap_placed(&placement, |_| Seg::boxed(p));
                assert_eq!(got, model.mmap_placed(&spec, p), "{op:?}");
            }
            Op::Find(addr) => {
                let got = map.find(addr).map(|s| s.id);
                assert_eq!(got, model.find(addr).map(|m| m.id), "{op:?}");
            }
            Op::Gaps(s, e) => {
                let got: Vec<_> = map.gaps(s, e).map(|g| (g.start, g.end)).collect();
                assert_eq!(got, model.gaps(s, e), "{op:?}");
            }
            Op::FailNextSplit => map.args_mut().fail_next_split = true,
            Op::RemoveAt(addr) => {
                let start = model.find(addr).map(|m| m.start);
                let removed = start
                    .and_then(|s| map.cursor_mut_at(s))
                    .and_then(|mut c| c.remove_current())
                    .map(|node| node.id);
                let want = model
                    .index_containing(addr)
                    .map(|i| model.segs.remove(i).id);
                assert_eq!(removed, want, "{op:?}");
            }
            Op::Clear => {
                map.clear();
                let mut removed: Vec<_> = model
                    .segs
                    .drain(..)
                    .map(|s| Event::Remove {
                        id: s.id,
                        start: s.start,
                        end: s.end,
                    })
                    .collect();
                let at = model.events.len();
                let mut got = map.args().events[at..].to_vec();
                removed.sort();
                got.sort();
                assert_eq!(got, removed, "{op:?}");
                model.events.extend(removed);
                let events = &mut map.args_mut().events;
                events.truncate(at);
                events.extend(model.events[at..].iter().copied());
            }
        }
        self.check();
    }

    /// Map and model agree, and the map's invariants hold.
    /// Callbacks already compared are then dropped from both logs, so a
    /// step costs the same however long the run.
    pub fn check(&mut self) {
        self.map.assert_valid();
        assert_eq!(rows(&self.map), self.model.segs);
        assert_eq!(self.map.args().events, self.model.events);
        assert_eq!(self.map.len(), self.model.segs.len());
        self.map.args_mut().events.clear();
        self.model.events.clear();
    }

    /// Makes the model adopt the map's state, after a crash-test panic left
    /// the map somewhere the model cannot predict. Both sides skip one
    /// node identity (reading the next one uses it up).
    pub fn resync(&mut self) {
        self.model.segs = rows(&self.map);
        self.model.events.clone_from(&self.map.args().events);
        self.model.next_id = fresh_id() + 1;
    }
}
