#!/usr/bin/env python3
"""Replay captured Linux mmap traces through a model of the kernel's
placement policy and report how often the model predicts the kernel's answer.

    python3 tools/linux-mmap-trace/check_model.py tests/data/linux_mmap/seed-*.txt

The model is the algorithm written up in tools/linux-mmap-trace/NOTES.md
(x86-64, 4-level paging, top-down layout, ASLR off, Linux 6.18). It is kept
deliberately close to the kernel's own code structure (function names in
comments) so that each step can be checked against the source.

Every call is predicted from the model state, then the state is updated
with what the kernel *actually* did, so one misprediction cannot cascade.
At the end the model's occupied ranges are compared with the final
/proc/self/maps snapshot.

Exit status: 0 if every prediction matched and the final snapshot agrees.
"""
import bisect
import re
import sys

PAGE = 0x1000
PMD_SIZE = 0x200000
TASK_SIZE = 0x7FFFFFFFF000          # 47-bit: TASK_SIZE_MAX == DEFAULT_MAP_WINDOW
DEFAULT_MAP_WINDOW = TASK_SIZE
STACK_GUARD_GAP = 256 * PAGE        # stack_guard_gap default (1 MiB)
SIZE_128M = 128 << 20

MAP_FIXED = 0x10
MAP_GROWSDOWN = 0x100
MAP_FIXED_NOREPLACE = 0x100000

ENOMEM, EINVAL, EEXIST, EPERM = "-ENOMEM", "-EINVAL", "-EEXIST", "-EPERM"

# Ablations (--ablate=a,b,...): deliberately wrong variants of the model, to
# show that the captured data actually exercises each rule (each one must
# produce mismatches).
ABLATIONS = {
    "no-thp": "never apply the THP alignment rule",
    "thp-6.7": "6.7..6.12 rule: THP-align every anonymous len >= 2 MiB, hinted or not",
    "thp-roundup": "pre-6.8 rule: round the padded result up to 2 MiB, no +2 MiB top-down fix",
    "no-guard-gap": "ignore stack_guard_gap below VM_GROWSDOWN mappings",
    "guard-gap-union": "treat a VM_GROWSDOWN vma as occupying [start - gap, end) everywhere",
    "hint-no-gap": "hint check ignores the guard gap (uses vm_start, not vm_start_gap)",
    "no-fallback": "no bottom-up fallback when the top-down search fails",
    "legacy-base-is-mmap-base": "bottom-up fallback starts at mmap_base instead of TASK_SIZE/3",
    "min-addr-4k": "use the sysctl value 4096 as mmap_min_addr",
}
ABL = set()


def page_align(x):
    return (x + PAGE - 1) & ~(PAGE - 1)


def is_err(x):
    return isinstance(x, str)


def mmap_base(rlimit_stack, task_size=TASK_SIZE, rnd=0):
    """arch/x86/mm/mmap.c: mmap_base() with stack_maxrandom_size() == 0
    (PF_RANDOMIZE is clear under `setarch -R`)."""
    gap = rlimit_stack
    pad = 0 + STACK_GUARD_GAP          # stack_maxrandom_size() + stack_guard_gap
    if gap + pad > gap and gap + pad < 1 << 64:
        gap += pad
    gap_min = SIZE_128M
    gap_max = (task_size // 6) * 5
    gap = min(max(gap, gap_min), gap_max)
    return page_align(task_size - gap - rnd)


def mmap_legacy_base(task_size=TASK_SIZE, rnd=0):
    """arch/x86/mm/mmap.c: __TASK_UNMAPPED_BASE(task_size) + rnd."""
    return page_align(task_size // 3) + rnd


class Space:
    """The process's VMAs as a sorted list of [start, end) with a
    VM_GROWSDOWN bit (merging does not matter for placement, so pieces are
    kept as they come)."""

    def __init__(self, mmap_min_addr, mmap_base, legacy_base):
        self.starts = []
        self.vmas = []      # (start, end, growsdown)
        self.mmap_min_addr = mmap_min_addr
        self.mmap_base = mmap_base
        self.legacy_base = legacy_base

    # ------------------------------------------------------------ state
    def insert(self, s, e, gd):
        self.remove(s, e)
        i = bisect.bisect_left(self.starts, s)
        self.starts.insert(i, s)
        self.vmas.insert(i, (s, e, gd))

    def remove(self, s, e):
        out = []
        for (a, b, gd) in self.vmas:
            if b <= s or a >= e:
                out.append((a, b, gd))
                continue
            if a < s:
                out.append((a, s, gd))
            if b > e:
                out.append((e, b, gd))
        out.sort()
        self.vmas = out
        self.starts = [v[0] for v in out]

    def find_vma(self, addr):
        """first VMA with end > addr (mm/mmap.c find_vma)"""
        for v in self.vmas[max(0, bisect.bisect_right(self.starts, addr) - 1):]:
            if v[1] > addr:
                return v
        return None

    def intersects(self, s, e):
        v = self.find_vma(s)
        return v is not None and v[0] < e

    @staticmethod
    def vm_start_gap(v):
        """include/linux/mm.h vm_start_gap(): VM_GROWSDOWN VMAs reserve
        stack_guard_gap below themselves (VM_SHADOW_STACK: one page)."""
        if v[2] and "no-guard-gap" not in ABL:
            s = v[0] - STACK_GUARD_GAP
            return 0 if s > v[0] else max(s, 0)
        return v[0]

    def holes(self):
        """(hole_start, hole_end, next_vma) for every maximal free range,
        bottom to top, including below the first and above the last VMA."""
        prev_end = 0
        for v in self.vmas:
            vs = v[0]
            if "guard-gap-union" in ABL and v[2]:
                vs = max(prev_end, v[0] - STACK_GUARD_GAP)
            if vs > prev_end:
                yield (prev_end, vs, v)
            prev_end = max(prev_end, v[1])
        yield (prev_end, 1 << 64, None)

    # --------------------------------------------------- mm/vma.c search
    def unmapped_area_topdown(self, length, low, high):
        low = max(low, self.mmap_min_addr)
        while True:
            # vma_iter_area_highest(): highest hole that still has `length`
            # bytes once clipped to [low, high)
            found = None
            for (hs, he, nxt) in reversed(list(self.holes())):
                cs, ce = max(hs, low), min(he, high)
                if ce > cs and ce - cs >= length:
                    found = (ce, nxt)
                    break
            if found is None:
                return ENOMEM
            gap_end, nxt = found
            gap = gap_end - length
            if nxt is not None and nxt[2]:       # VM_STARTGAP_FLAGS
                if self.vm_start_gap(nxt) < gap_end:
                    high = self.vm_start_gap(nxt)
                    continue
            # (else: vma_prev()/vm_end_gap() check only matters for
            # VM_GROWSUP, which x86 does not have)
            return gap

    def unmapped_area(self, length, low, high):
        low = max(low, self.mmap_min_addr)
        while True:
            found = None
            for (hs, he, nxt) in self.holes():
                cs, ce = max(hs, low), min(he, high)
                if ce > cs and ce - cs >= length:
                    found = (cs, nxt)
                    break
            if found is None:
                return ENOMEM
            gap, nxt = found
            if nxt is not None and nxt[2]:
                if self.vm_start_gap(nxt) < gap + length - 1:
                    low = nxt[1]
                    continue
            return gap

    # ------------------------------------------- arch/x86/mm/sys_x86_64.c
    @staticmethod
    def mmap_address_hint_valid(addr, length):
        if TASK_SIZE - length < addr:
            return False
        return (addr > DEFAULT_MAP_WINDOW) == (addr + length > DEFAULT_MAP_WINDOW)

    def arch_get_unmapped_area(self, addr, length):
        """bottom-up (only reached as the fallback of the top-down one)"""
        begin, end = self.legacy_base, TASK_SIZE     # find_start_end()
        if length > end:
            return ENOMEM
        if addr:
            addr = page_align(addr)
            v = self.find_vma(addr)
            if end - length >= addr and (v is None or addr + length <= self.vm_start_gap(v)):
                return addr
        return self.unmapped_area(length, begin, end)

    def arch_get_unmapped_area_topdown(self, addr0, length):
        addr = addr0
        if length > TASK_SIZE:
            return ENOMEM
        if addr:
            addr &= ~(PAGE - 1)
            if self.mmap_address_hint_valid(addr, length):
                v = self.find_vma(addr)
                if v is None or addr + length <= (
                        v[0] if "hint-no-gap" in ABL else self.vm_start_gap(v)):
                    return addr
        high = self.mmap_base
        # (addr > DEFAULT_MAP_WINDOW would add TASK_SIZE_MAX -
        #  DEFAULT_MAP_WINDOW == 0 with 4-level paging)
        r = self.unmapped_area_topdown(length, PAGE, high)
        if not is_err(r) or "no-fallback" in ABL:
            return r
        return self.arch_get_unmapped_area(addr0, length)

    # ------------------------------------------------ mm/huge_memory.c
    def thp_get_unmapped_area(self, length, addr=0):
        """__thp_get_unmapped_area(off = 0, size = PMD_SIZE), then the
        unpadded fallback of thp_get_unmapped_area_vmflags()."""
        len_pad = length + PMD_SIZE
        ret = self.arch_get_unmapped_area_topdown(addr, len_pad)
        if is_err(ret):
            return self.arch_get_unmapped_area_topdown(addr, length)
        if addr and ret == addr:         # only reachable in "thp-6.7"
            return addr
        off_sub = (0 - ret) & (PMD_SIZE - 1)
        if off_sub == 0 and "thp-roundup" not in ABL:   # MMF_TOPDOWN
            return ret + PMD_SIZE
        return ret + off_sub

    # ---------------------------------------------- mm/mmap.c do_mmap()
    def predict_mmap(self, hint, length, flags):
        if length == 0:
            return EINVAL
        if flags & MAP_FIXED_NOREPLACE:
            flags |= MAP_FIXED
        if not flags & MAP_FIXED:
            # round_hint_to_min()
            hint &= ~(PAGE - 1)
            if hint and hint < self.mmap_min_addr:
                hint = page_align(self.mmap_min_addr)
        length = page_align(length)
        if length == 0 or length >= 1 << 64:
            return ENOMEM
        # __get_unmapped_area()
        if length > TASK_SIZE:
            return ENOMEM
        if flags & MAP_FIXED:
            addr = hint
        elif "no-thp" in ABL:
            addr = self.arch_get_unmapped_area_topdown(hint, length)
        elif "thp-6.7" in ABL and length >= PMD_SIZE:
            addr = self.thp_get_unmapped_area(length, hint)
        elif hint == 0 and length % PMD_SIZE == 0:
            addr = self.thp_get_unmapped_area(length)
        else:
            addr = self.arch_get_unmapped_area_topdown(hint, length)
        if is_err(addr):
            return addr
        if addr > TASK_SIZE - length:
            return ENOMEM
        if addr & (PAGE - 1):
            return EINVAL
        # security_mmap_addr(): addr < mmap_min_addr needs CAP_SYS_RAWIO
        if flags & MAP_FIXED_NOREPLACE and self.intersects(addr, addr + length):
            return EEXIST
        return addr


# ------------------------------------------------------------------ parsing

MAPS_RE = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$")
CALL_RE = re.compile(r"^(\d+) (mmap|munmap|mprotect) (.*) -> (\S+)$")


def parse(path):
    hdr, maps, calls = {}, {}, []
    cur = None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#") or not line:
                continue
            if line.startswith("maps-begin "):
                cur = line.split()[1]
                maps[cur] = []
                continue
            if line.startswith("maps-end "):
                cur = None
                continue
            if cur is not None:
                m = MAPS_RE.match(line)
                maps[cur].append((int(m.group(1), 16), int(m.group(2), 16),
                                  m.group(3), m.group(4).strip()))
                continue
            m = CALL_RE.match(line)
            if m:
                calls.append((int(m.group(1)), m.group(2), m.group(3), m.group(4)))
                continue
            k, _, v = line.partition(" ")
            hdr[k] = v
    return hdr, maps, calls


def parse_result(s):
    return s if s.startswith("-") else int(s, 16 if s.startswith("0x") else 10)


def occupied(ranges):
    """union of [s, e) ranges as a list of merged ranges"""
    out = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


QUIET = [False]


def check(path, mmap_min_addr, verbose):
    hdr, maps, calls = parse(path)
    rlim = int(hdr["rlimit-stack"], 16)
    base = mmap_base(rlim)
    legacy = base if "legacy-base-is-mmap-base" in ABL else mmap_legacy_base()
    sp = Space(mmap_min_addr, base, legacy)
    for (s, e, perms, name) in maps["initial"]:
        if s >= TASK_SIZE:          # [vsyscall]: gate area, not a VMA
            continue
        sp.insert(s, e, name == "[stack]")
    # The highest mapping below the stack is ld.so, mapped first by the ELF
    # loader at mmap_base - size: check the derived mmap_base against it.
    below = [e for (s, e, p, n) in maps["initial"] if e <= base + PAGE and n != "[stack]"]
    base_seen = max(below) if below else None

    stats = {"mmap": 0, "ok": 0, "bad": 0}
    kinds = {}
    bad = []
    for (seq, op, args, res) in calls:
        r = parse_result(res)
        if op == "mmap":
            a = dict(kv.split("=", 1) for kv in args.split())
            hint, length = int(a["hint"], 16), int(a["len"], 16)
            flags, why = int(a["flags"], 16), a["why"]
            pred = sp.predict_mmap(hint, length, flags)
            stats["mmap"] += 1
            k = kinds.setdefault(why, [0, 0])
            k[0] += 1
            if pred == r:
                stats["ok"] += 1
                k[1] += 1
            else:
                stats["bad"] += 1
                bad.append((seq, args, res, pred if is_err(pred) else hex(pred)))
            if not is_err(r):
                sp.insert(r, r + page_align(length), bool(flags & MAP_GROWSDOWN))
        elif op == "munmap":
            s, length = (int(x, 16) for x in args.split())
            if r == 0:
                sp.remove(s, s + page_align(length))
        # mprotect changes no placement-relevant state (VM_GROWSDOWN stays)

    final = occupied((s, e) for (s, e, p, n) in maps["final"] if s < TASK_SIZE)
    model = occupied((s, e) for (s, e, g) in sp.vmas)
    final_ok = final == model

    print(f"{path}: rlimit-stack={rlim:#x} mmap_base={base:#x} "
          f"(highest initial mapping end below it: {base_seen:#x}) "
          f"mmap calls={stats['mmap']} matched={stats['ok']} "
          f"({100.0 * stats['ok'] / max(1, stats['mmap']):.2f}%) "
          f"final-maps-agree={final_ok}")
    if verbose:
        for why, (n, ok) in sorted(kinds.items()):
            print(f"    {why:18s} {ok}/{n}")
    for b in bad[:5] if QUIET[0] else bad:
        print(f"  MISMATCH #{b[0]} {b[1]} -> kernel {b[2]}, model {b[3]}")
    if not final_ok:
        fs, ms = set(map(tuple, final)), set(map(tuple, model))
        for x in sorted(fs - ms):
            print(f"  final maps only: {x[0]:#x}-{x[1]:#x}")
        for x in sorted(ms - fs):
            print(f"  model only:      {x[0]:#x}-{x[1]:#x}")
    return stats, final_ok


def main():
    args = sys.argv[1:]
    verbose = "-v" in args
    args = [a for a in args if a != "-v"]
    # effective mmap_min_addr = max(vm.mmap_min_addr sysctl (4096 here),
    # CONFIG_LSM_MMAP_MIN_ADDR (65536)) because CONFIG_SECURITY=y
    mmap_min_addr = 0x10000
    quiet = "-q" in args
    args = [a for a in args if a != "-q"]
    while args and args[0].startswith("--"):
        opt, _, val = args.pop(0).partition("=")
        if opt == "--mmap-min-addr":
            mmap_min_addr = int(val, 0)
        elif opt == "--ablate":
            for a in val.split(","):
                if a not in ABLATIONS:
                    sys.exit("unknown ablation %r; known: %s" % (a, ", ".join(ABLATIONS)))
                ABL.add(a)
        else:
            sys.exit("unknown option " + opt)
    if "min-addr-4k" in ABL:
        mmap_min_addr = 0x1000
    QUIET[0] = quiet
    tot = ok = 0
    all_final = True
    for p in args:
        st, fo = check(p, mmap_min_addr, verbose)
        tot += st["mmap"]
        ok += st["ok"]
        all_final &= fo
    print(f"TOTAL: {ok}/{tot} mmap placements/results predicted "
          f"({100.0 * ok / max(1, tot):.2f}%), final snapshots agree: {all_final}")
    sys.exit(0 if ok == tot and all_final else 1)


if __name__ == "__main__":
    main()
