#!/usr/bin/env python3
"""Sanity-check `ram-trace v1` files (see README.md) by replaying every
address space against a trivial sorted-list model of the mappings.

Usage:  check.py [FILE.txt ...]     (default: every *.txt next to this script)

For each file and each address space it reports the number of ops, the
number of failed calls, the maximum number of live mappings, and every
successful non-MAP_FIXED placement (mmap result, mremap move, brk growth)
that overlaps a mapping the model believes is live. A correct capture and
conversion gives none: the kernel never hands out an address that is in use.

Model rules
 * `X` starts an empty model. The mappings the kernel creates inside execve
   (the executable's segments, the dynamic loader, stack, vdso, vvar) are
   not visible to strace, so they are missing; ops that touch them are
   counted as "ops on unmodelled ranges", not as errors.
 * `F` copies the parent's model as it is at that point of the file.
 * mmap: the returned range (length rounded up to 4096) replaces whatever
   it covers when MAP_FIXED; otherwise it is first checked for overlap.
   MAP_FIXED_NOREPLACE and hinted mmaps count as non-fixed.
 * munmap removes; mprotect splits and re-protects the covered pieces.
 * brk: the heap is one mapping [first brk result, page_align(brk)).
 * mremap: in place (grow/shrink the tail) or moved (old range removed
   unless MREMAP_DONTUNMAP, new range placed; MREMAP_FIXED replaces).
 * Failed calls (result -errno; brk returning something other than the
   requested address) change nothing.
"Live mappings" counts model pieces with no merging (every mmap and every
mprotect/munmap split makes its own piece); "merged" additionally joins
touching pieces with equal protection, an upper bound on what Linux merges.
"""

import bisect
import glob
import os
import sys

PAGE = 4096


def align_up(x):
    return (x + PAGE - 1) & ~(PAGE - 1)


class Space:
    """Sorted, disjoint list of [start, end, prot, tag]."""

    def __init__(self, other=None):
        if other is None:
            self.maps = []
            self.brk_start = None
            self.brk_cur = None
        else:
            self.maps = [list(m) for m in other.maps]
            self.brk_start = other.brk_start
            self.brk_cur = other.brk_cur

    def _first_overlap(self, s):
        # index of the first piece with end > s
        starts = [m[0] for m in self.maps]
        i = bisect.bisect_right(starts, s) - 1
        if i >= 0 and self.maps[i][1] > s:
            return i
        return i + 1

    def overlapping(self, s, e):
        i = self._first_overlap(s)
        out = []
        while i < len(self.maps) and self.maps[i][0] < e:
            out.append(self.maps[i])
            i += 1
        return out

    def covered(self, s, e):
        return sum(min(e, m[1]) - max(s, m[0]) for m in self.overlapping(s, e))

    def split_at(self, a):
        i = self._first_overlap(a)
        if i < len(self.maps) and self.maps[i][0] < a < self.maps[i][1]:
            m = self.maps[i]
            self.maps.insert(i + 1, [a, m[1], m[2], m[3]])
            m[1] = a

    def remove(self, s, e):
        self.split_at(s)
        self.split_at(e)
        self.maps = [m for m in self.maps if not (m[0] >= s and m[1] <= e)]

    def insert(self, s, e, prot, tag):
        self.remove(s, e)
        starts = [m[0] for m in self.maps]
        self.maps.insert(bisect.bisect_left(starts, s), [s, e, prot, tag])

    def protect(self, s, e, prot):
        self.split_at(s)
        self.split_at(e)
        for m in self.overlapping(s, e):
            m[2] = prot

    def prot_at(self, a):
        o = self.overlapping(a, a + 1)
        return o[0][2] if o else "?"

    def merged_count(self):
        n, prev = 0, None
        for m in self.maps:
            if prev is None or prev[1] != m[0] or prev[2] != m[2]:
                n += 1
            prev = m
        return n


class Stats:
    def __init__(self, asid, origin):
        self.asid, self.origin = asid, origin
        self.ops = 0
        self.kinds = {}
        self.failed = 0
        self.max_live = 0
        self.max_merged = 0
        self.overlaps = []
        self.unmodelled = 0
        self.hinted = 0
        self.hint_honoured = 0


def parse_res(s):
    if s.startswith("-"):
        return None, int(s[1:])
    return int(s, 0), None


def check_file(path):
    spaces, stats = {}, {}

    def note_overlap(st, sp, s, e, what):
        hit = sp.overlapping(s, e)
        if hit:
            st.overlaps.append(
                f"{what} [{s:#x},{e:#x}) overlaps "
                + ", ".join(f"[{m[0]:#x},{m[1]:#x}) {m[2]} {m[3]}" for m in hit[:3]))

    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            if line.startswith("#") or not line.strip():
                continue
            t = line.split()
            k = t[0]
            if k == "X":
                a = int(t[1])
                spaces[a] = Space()
                stats[a] = Stats(a, "exec " + " ".join(t[3:]))
                continue
            if k == "F":
                a, parent = int(t[1]), int(t[2])
                spaces[a] = Space(spaces[parent])
                stats[a] = Stats(a, f"fork of {parent}")
                continue
            a = int(t[1])
            sp, st = spaces[a], stats[a]
            st.ops += 1
            st.kinds[k] = st.kinds.get(k, 0) + 1
            if k == "m":
                hint, ln, prot, flags = int(t[2], 0), int(t[3]), t[4], t[5]
                r, err = parse_res(t[8])
                if err is not None:
                    st.failed += 1
                    continue
                e = r + align_up(ln)
                if "F" in flags:
                    sp.insert(r, e, prot, "mmap")
                else:
                    if hint:
                        st.hinted += 1
                        st.hint_honoured += hint == r
                    note_overlap(st, sp, r, e, f"line {lineno}: mmap ->")
                    sp.insert(r, e, prot, "mmap")
            elif k == "u":
                addr, ln = int(t[2], 0), align_up(int(t[3]))
                r, err = parse_res(t[4])
                if err is not None:
                    st.failed += 1
                    continue
                if sp.covered(addr, addr + ln) < ln:
                    st.unmodelled += 1
                sp.remove(addr, addr + ln)
            elif k == "p":
                addr, ln, prot = int(t[2], 0), align_up(int(t[3])), t[4]
                r, err = parse_res(t[5])
                if err is not None:
                    st.failed += 1
                    continue
                if sp.covered(addr, addr + ln) < ln:
                    st.unmodelled += 1
                sp.protect(addr, addr + ln, prot)
            elif k == "b":
                addr, r = int(t[2], 0), int(t[3], 0)
                if sp.brk_start is None:
                    sp.brk_start = sp.brk_cur = r
                if addr == 0:
                    continue
                if r != addr:
                    st.failed += 1
                    continue
                old_end, new_end = align_up(sp.brk_cur), align_up(r)
                if new_end > old_end:
                    note_overlap(st, sp, old_end, new_end, f"line {lineno}: brk growth")
                    sp.insert(old_end, new_end, "rw", "heap")
                elif new_end < old_end:
                    sp.remove(new_end, old_end)
                sp.brk_cur = r
            elif k == "r":
                old, ol, nl, flags = int(t[2], 0), align_up(int(t[3])), align_up(int(t[4])), t[5]
                r, err = parse_res(t[7])
                if err is not None:
                    st.failed += 1
                    continue
                prot = sp.prot_at(old)
                if prot == "?":
                    st.unmodelled += 1
                if r == old:
                    if nl > ol:
                        note_overlap(st, sp, old + ol, old + nl, f"line {lineno}: mremap grow")
                        sp.insert(old + ol, old + nl, prot, "mremap")
                    else:
                        sp.remove(old + nl, old + ol)
                else:
                    if "D" not in flags:
                        sp.remove(old, old + ol)
                    if "F" not in flags:
                        note_overlap(st, sp, r, r + nl, f"line {lineno}: mremap move ->")
                    sp.insert(r, r + nl, prot, "mremap")
            else:
                raise SystemExit(f"{path}:{lineno}: unknown record {k!r}")
            st.max_live = max(st.max_live, len(sp.maps))
            st.max_merged = max(st.max_merged, sp.merged_count())
    return stats


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    files = sys.argv[1:] or sorted(glob.glob(os.path.join(here, "*.txt")))
    total_overlaps = 0
    for path in files:
        stats = check_file(path)
        ops = sum(s.ops for s in stats.values())
        failed = sum(s.failed for s in stats.values())
        kinds = {}
        for s in stats.values():
            for k, v in s.kinds.items():
                kinds[k] = kinds.get(k, 0) + v
        print(f"== {os.path.basename(path)}: {len(stats)} address spaces, {ops} ops "
              f"(mmap {kinds.get('m', 0)}, munmap {kinds.get('u', 0)}, mprotect {kinds.get('p', 0)}, "
              f"brk {kinds.get('b', 0)}, mremap {kinds.get('r', 0)}), {failed} failed, "
              f"max live {max((s.max_live for s in stats.values()), default=0)}, "
              f"overlaps {sum(len(s.overlaps) for s in stats.values())}")
        print(f"   {'as':>3} {'ops':>6} {'failed':>6} {'maxlive':>7} {'merged':>6} "
              f"{'unmod':>5} {'hinted':>9} {'overlap':>7}  origin")
        for s in stats.values():
            print(f"   {s.asid:>3} {s.ops:>6} {s.failed:>6} {s.max_live:>7} {s.max_merged:>6} "
                  f"{s.unmodelled:>5} {s.hint_honoured:>4}/{s.hinted:<4} {len(s.overlaps):>7}  {s.origin}")
            for o in s.overlaps[:10]:
                print(f"        OVERLAP {o}")
            total_overlaps += len(s.overlaps)
    print(f"total non-fixed overlaps: {total_overlaps}")


if __name__ == "__main__":
    main()
