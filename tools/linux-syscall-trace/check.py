#!/usr/bin/env python3
"""Replay the linux-syscall-trace captures through a model of Linux's memory
system calls and report where the model and the kernel disagree.

    python3 tools/linux-syscall-trace/check.py tests/data/linux_syscalls/*.txt

The model is the rule set written up in NOTES.md (Linux 6.18, x86-64,
4-level paging, top-down layout, no ASLR).  For every recorded call it
predicts the kernel's answer (address, 0, -errno, the break, the value a
memory read returns, or the signal), compares it with the answer recorded,
then applies what the kernel actually did, so that one miss cannot cascade.
Every maps snapshot is compared with the model's VMAs: boundaries (so every
split and merge), permissions, file offset, path, and the VmFlags the model
tracks.  Placement of non-fixed requests comes from the search in
tools/linux-mmap-trace/check_model.py, with the file and mremap rules of
NOTES.md on top.

Not replayed: the `maxmap` child of errno.txt (65 506 mappings made by one
bulk record; its counts are checked against the rule instead) and the exec'ed
children of exec.txt (their layout is checked by check_exec()).
realloc.txt + realloc.strace: the calls between the two madvise markers are
replayed from the `initial` snapshot and compared with the `final` one.

Exit status: 0 if everything agrees.
"""
import collections
import copy
import importlib.util
import itertools
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import trace_format  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "check_model", os.path.join(HERE, "..", "linux-mmap-trace", "check_model.py"))
check_model = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_model)

PAGE = 0x1000
PMD = 0x200000
TASK_SIZE = 0x7FFFFFFFF000
MMAP_MIN_ADDR = 0x10000
STACK_GUARD_GAP = 256 * PAGE
MAX_MAP_COUNT = 65530
ELF_ET_DYN_BASE = TASK_SIZE // 3 * 2
RLIM_INFINITY = (1 << 64) - 1

PROT_READ, PROT_WRITE, PROT_EXEC, PROT_SEM = 1, 2, 4, 8
PROT_GROWSDOWN, PROT_GROWSUP = 0x01000000, 0x02000000
MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE, MAP_DROPPABLE = 1, 2, 3, 8
MAP_TYPE = 0xF
MAP_FIXED, MAP_ANONYMOUS, MAP_32BIT = 0x10, 0x20, 0x40
MAP_GROWSDOWN, MAP_DENYWRITE, MAP_EXECUTABLE, MAP_LOCKED = 0x100, 0x800, 0x1000, 0x2000
MAP_NORESERVE, MAP_POPULATE, MAP_NONBLOCK, MAP_STACK = 0x4000, 0x8000, 0x10000, 0x20000
MAP_HUGETLB, MAP_SYNC, MAP_FIXED_NOREPLACE, MAP_UNINITIALIZED = 0x40000, 0x80000, 0x100000, 0x4000000
LEGACY_MAP_MASK = (MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_DENYWRITE
                   | MAP_EXECUTABLE | MAP_UNINITIALIZED | MAP_GROWSDOWN | MAP_LOCKED
                   | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB)
MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP = 1, 2, 4
MADV = {0: "NORMAL", 1: "RANDOM", 2: "SEQUENTIAL", 4: "DONTNEED", 10: "DONTFORK",
        11: "DOFORK", 14: "HUGEPAGE", 15: "NOHUGEPAGE", 18: "WIPEONFORK", 19: "KEEPONFORK"}
F_SEAL_WRITE, F_SEAL_FUTURE_WRITE = 0x8, 0x10
O_ACCMODE, O_WRONLY, O_RDWR, O_APPEND, O_DIRECTORY = 3, 1, 2, 0x400, 0x10000

EINVAL, ENOMEM, EEXIST, EFAULT, EACCES = "-EINVAL", "-ENOMEM", "-EEXIST", "-EFAULT", "-EACCES"
EPERM, EBADF, ENODEV, EOVERFLOW, EAGAIN = "-EPERM", "-EBADF", "-ENODEV", "-EOVERFLOW", "-EAGAIN"
EOPNOTSUPP, EBUSY = "-EOPNOTSUPP", "-EBUSY"

# VmFlags the model tracks (everything else is carried over from the
# snapshot for VMAs that were already there, and never set on new ones).
# rd wr ex sh come from prot and MAP_SHARED; the rest from the calls.
MODELLED = {"rd", "wr", "ex", "sh", "mr", "mw", "me", "ms", "gd", "ac", "nr", "nh", "hg",
            "dc", "wf", "rr", "sr", "lo", "dd", "dp"}
SPECIAL = {"io", "pf", "dd", "mm", "de"}   # VM_SPECIAL (+ VM_DONTDUMP-only VMAs are fine)

# Ablations (--ablate=a,b): deliberately wrong variants of single rules, to
# show that the captures exercise each rule (each must cause mismatches).
ABLATIONS = {
    "no-file-thp": "file mappings are not 2 MiB aligned to their offset",
    "file-thp-hint-unpadded": "a hint is taken if len (not len + 2 MiB) fits there",
    "no-anon-thp": "no THP alignment of anonymous 2 MiB multiples",
    "merge-by-inode": "VMAs of one file merge whatever struct file maps them",
    "no-anon-pgoff": "anonymous VMAs merge without contiguous vm_pgoff",
    "moved-pgoff-follows": "mremap gives a moved VMA vm_pgoff = new address, even if written",
    "no-anon-vma-rule": "anon_vma never prevents a merge",
    "account-sticky": "mprotect never drops VM_ACCOUNT",
    "ro-shared-is-vm-shared": "MAP_SHARED of a read-only fd is VM_SHARED",
    "mprotect-all-or-nothing": "mprotect over a hole changes nothing",
    "mprotect-skips-holes": "mprotect changes every mapped part of the range",
    "madvise-stops-at-hole": "MADV_DONTNEED stops at the first hole",
    "brk-no-gap-page": "brk may grow right up to the next VMA",
    "brk-merges-below": "the first brk growth expands the VMA ending at start_brk",
    "mremap-same-len-checks-range": "mremap with equal lengths fails if the range is not one VMA",
    "no-overcommit-check": "no commit charge check (overcommit heuristic)",
}
ABL = set()


def page_align(x):
    return (x + PAGE - 1) & ~(PAGE - 1)


def is_err(x):
    return isinstance(x, str)


def fmt(x):
    return x if isinstance(x, str) else hex(x)


# ============================================================ files and inodes

class Inode:
    """File contents: word at byte offset o is tag<<56|o below `size` (bytes
    past size read as 0), overridden by `writes` (offset -> value)."""
    ids = itertools.count(1)

    def __init__(self, kind, path, tag=0, size=0):
        self.kind, self.path, self.tag, self.size = kind, path, tag, size
        self.writes = {}
        self.seals = 0
        self.ident = next(Inode.ids)

    def read(self, off, writes=None):
        writes = self.writes if writes is None else writes
        if off in writes:
            return writes[off]
        if self.kind in ("shmem-anon", "devzero"):
            return 0
        word = self.tag << 56 | off
        if off + 8 <= self.size:
            return word
        if off >= self.size:
            return 0
        return word & ((1 << (8 * (self.size - off))) - 1)

    def npages(self):
        return (self.size + PAGE - 1) // PAGE


class OpenFile:
    """A struct file: VMAs merge only if they map the same one."""
    ids = itertools.count(1)

    def __init__(self, inode, mode, append=False):
        self.inode, self.mode, self.append = inode, mode, append
        self.ident = next(OpenFile.ids)

    @property
    def readable(self):
        return self.mode in ("r", "rw")

    @property
    def writable(self):
        return self.mode in ("w", "rw")


# ==================================================================== VMAs

class Vma:
    def __init__(self, start, end, prot, shared, file, pgoff, flags, anon=None, path=""):
        self.start, self.end, self.prot, self.shared = start, end, prot, shared
        self.shared = shared      # VM_MAYSHARE: 's' in maps; "sh" (VM_SHARED) is in flags
        self.file = file          # OpenFile or None (anonymous)
        self.pgoff = pgoff        # in pages; anonymous VMAs have one too
        self.flags = set(flags)   # VmFlags tokens other than rd/wr/ex (prot)
        self.anon = anon          # anon_vma identity or None
        self.path = path          # for VMAs from a snapshot or special kinds
        self.initial = False

    def pages(self):
        return (self.end - self.start) // PAGE

    def vmflags(self):
        f = set(self.flags)
        for bit, tok in ((PROT_READ, "rd"), (PROT_WRITE, "wr"), (PROT_EXEC, "ex")):
            if self.prot & bit:
                f.add(tok)
        return f

    def perms(self):
        return "%s%s%s%s" % ("r" if self.prot & PROT_READ else "-",
                             "w" if self.prot & PROT_WRITE else "-",
                             "x" if self.prot & PROT_EXEC else "-",
                             "s" if self.shared else "p")

    def is_anonymous(self):
        return self.file is None or (self.file.inode.kind == "devzero" and not self.shared)

    def piece(self, start, end):
        v = copy.copy(self)
        v.flags = set(self.flags)
        v.pgoff = self.pgoff + (start - self.start) // PAGE
        v.start, v.end = start, end
        return v

    def __repr__(self):
        return "%x-%x %s pgoff=%x %s anon=%s %s" % (
            self.start, self.end, self.perms(), self.pgoff,
            self.file.inode.path if self.file else self.path, self.anon,
            " ".join(sorted(self.flags)))


ANON_IDS = itertools.count(1)


class Process:
    def __init__(self):
        self.vmas = []
        self.pages = {}            # private page address -> Page
        self.fds = {}
        self.start_brk = self.brk = 0
        self.start_data = self.end_data = 0
        self.start_stack = 0
        self.rlimits = {"RLIMIT_STACK": 8 << 20, "RLIMIT_AS": RLIM_INFINITY,
                        "RLIMIT_DATA": RLIM_INFINITY, "RLIMIT_MEMLOCK": 8 << 20}
        self.privileged = True
        self.meminfo = {"MemTotal": 1 << 62, "SwapTotal": 0}
        self.mmap_base = check_model.mmap_base(8 << 20)
        self.legacy_base = check_model.mmap_legacy_base()

    def enough_memory(self, pages):
        """__vm_enough_memory(), vm.overcommit_memory = 0 (heuristic): a
        charge fails only if it exceeds all of RAM + swap on its own."""
        return "no-overcommit-check" in ABL or pages * PAGE <= self.meminfo["MemTotal"] + self.meminfo["SwapTotal"]

    # ------------------------------------------------------------ lookup
    def find_vma(self, addr):
        """the lowest VMA with end > addr (find_vma)"""
        for v in self.vmas:
            if v.end > addr:
                return v
        return None

    def vma_at(self, addr):
        v = self.find_vma(addr)
        return v if v is not None and v.start <= addr else None

    def overlapping(self, s, e):
        return [v for v in self.vmas if v.start < e and v.end > s]

    def index(self, v):
        return next(i for i, x in enumerate(self.vmas) if x is v)

    def total_vm(self):
        return sum(v.pages() for v in self.vmas)

    def data_vm(self):
        # is_data_mapping(): VM_WRITE, not VM_SHARED, not VM_STACK (== VM_GROWSDOWN)
        return sum(v.pages() for v in self.vmas
                   if v.prot & PROT_WRITE and not {"sh", "gd"} & v.flags)

    # ------------------------------------------------------------ changes
    def split_at(self, addr):
        """__split_vma: make addr a VMA boundary (no-op if it already is)."""
        v = self.vma_at(addr)
        if v is None or v.start == addr:
            return
        i = self.index(v)
        self.vmas[i:i + 1] = [v.piece(v.start, addr), v.piece(addr, v.end)]

    def unmap(self, s, e):
        self.split_at(s)
        self.split_at(e)
        self.vmas = [v for v in self.vmas if v.end <= s or v.start >= e]
        for a in range(s, e, PAGE):
            self.pages.pop(a, None)

    def insert(self, v):
        self.vmas.append(v)
        self.vmas.sort(key=lambda x: x.start)

    # ------------------------------------------------------------ merging
    @staticmethod
    def mergeable(a, b):
        """a directly below b; is_mergeable_vma() + pgoff + anon_vma (pairwise)"""
        if a.end != b.start or a.initial and a.path.startswith("[") and a.path != "[heap]":
            return False
        if (a.vmflags() | b.vmflags()) & SPECIAL:
            return False
        if a.vmflags() != b.vmflags() or a.shared != b.shared:
            return False
        ident = (lambda f: f.inode.ident) if "merge-by-inode" in ABL else (lambda f: f.ident)
        if (ident(a.file) if a.file else None) != (ident(b.file) if b.file else None):
            return False
        if a.file is None and (a.path != b.path):       # /dev/zero private vs anon
            return False
        if b.pgoff != a.pgoff + a.pages() and not ("no-anon-pgoff" in ABL and a.file is None):
            return False
        return (a.anon is None or b.anon is None or a.anon == b.anon
                or "no-anon-vma-rule" in ABL)

    def merge_around(self, v):
        """vma_merge_new_range / vma_merge_existing_range: merge v with the
        VMA below and/or above it.  Merging with both also needs the
        two neighbours' anon_vmas to be compatible (can_vma_merge_right)."""
        i = self.index(v)
        prev = self.vmas[i - 1] if i > 0 else None
        nxt = self.vmas[i + 1] if i + 1 < len(self.vmas) else None
        left = prev is not None and self.mergeable(prev, v)
        right = nxt is not None and self.mergeable(v, nxt)
        if left and right and not (prev.anon is None or nxt.anon is None or prev.anon == nxt.anon
                                   or "no-anon-vma-rule" in ABL):
            right = False
        if right:
            v.end = nxt.end
            v.anon = v.anon or nxt.anon
            self.vmas.remove(nxt)
        if left:
            prev.end = v.end
            prev.anon = prev.anon or v.anon
            self.vmas.remove(v)
            return prev
        return v

    # ------------------------------------------------------------ memory
    def page_for_read(self, addr):
        v = self.vma_at(addr)
        if v is None or v.prot == 0:            # x86: any of r, w, x reads
            return None, "SIGSEGV"
        return v, None

    def file_offset(self, v, addr):
        return v.pgoff * PAGE + (addr - v.start)

    def peek(self, addr):
        v, sig = self.page_for_read(addr)
        if sig:
            return sig
        pa, off = addr & ~(PAGE - 1), addr & (PAGE - 1)
        if not v.shared and pa in self.pages:
            return self.pages[pa].read(off)
        if v.file is None or v.is_anonymous():
            return 0
        ino = v.file.inode
        fo = self.file_offset(v, pa)
        if ino.kind not in ("shmem-anon",) and fo // PAGE >= ino.npages():
            return "SIGBUS"
        return ino.read(fo + off)

    def poke(self, addr, val):
        v = self.vma_at(addr)
        if v is None or not v.prot & PROT_WRITE:
            return "SIGSEGV"
        pa, off = addr & ~(PAGE - 1), addr & (PAGE - 1)
        if v.shared:
            ino = v.file.inode
            fo = self.file_offset(v, pa)
            if ino.kind != "shmem-anon" and fo // PAGE >= ino.npages():
                return "SIGBUS"
            ino.writes[fo + off] = val
            return 0
        if pa not in self.pages:
            if v.file is not None and not v.is_anonymous():
                ino = v.file.inode
                fo = self.file_offset(v, pa)
                if fo // PAGE >= ino.npages():
                    return "SIGBUS"
                self.pages[pa] = Page(ino, fo, dict(ino.writes))
            else:
                self.pages[pa] = Page()
            self.anon_vma_prepare(v)
        self.pages[pa].writes[off] = val
        return 0

    def anon_vma_prepare(self, v):
        """find_mergeable_anon_vma(): reuse a neighbour's anon_vma if the
        neighbour could merge with v apart from the access bits."""
        if v.anon is not None:
            return
        i = self.index(v)
        for j in (i - 1, i + 1):
            if 0 <= j < len(self.vmas):
                n = self.vmas[j]
                a, b = (n, v) if j < i else (v, n)
                if (n.anon is not None and a.end == b.start and a.file is b.file
                        and a.flags == b.flags and a.shared == b.shared
                        and b.pgoff == a.pgoff + a.pages()):
                    v.anon = n.anon
                    return
        v.anon = next(ANON_IDS)


class Page:
    """A private page: a copy of a file page (inode, offset, the file's
    writes at copy time) or zero-filled, plus the program's own writes."""

    def __init__(self, inode=None, fileoff=0, base_writes=None):
        self.inode, self.fileoff, self.base_writes = inode, fileoff, base_writes
        self.writes = {}

    def read(self, off):
        if off in self.writes:
            return self.writes[off]
        if self.inode is None:
            return 0
        return self.inode.read(self.fileoff + off, self.base_writes)


# =============================================================== placement

class Placer:
    """Address search: check_model.Space (top-down, bottom-up fallback,
    guard gaps) over the current VMAs, and the get_unmapped_area variants."""

    def __init__(self, proc):
        self.p = proc
        sp = check_model.Space(MMAP_MIN_ADDR, proc.mmap_base, proc.legacy_base)
        for v in proc.vmas:
            sp.insert(v.start, v.end, "gd" in v.flags)
        self.sp = sp

    def topdown(self, addr, length):
        return self.sp.arch_get_unmapped_area_topdown(addr, length)

    def thp(self, addr, length, off):
        """__thp_get_unmapped_area (size = PMD_SIZE) + the unpadded retry"""
        off_end, off_align = off + length, (off + PMD - 1) & ~(PMD - 1)
        if off_end <= off_align or off_end - off_align < PMD:
            return self.topdown(addr, length)
        if "file-thp-hint-unpadded" in ABL and addr and self.topdown(addr, length) == addr:
            return addr
        ret = self.topdown(addr, length + PMD)
        if is_err(ret):
            return self.topdown(addr, length)
        if ret == addr:
            return addr
        off_sub = (off - ret) & (PMD - 1)
        if off_sub == 0:
            return ret + PMD
        return ret + off_sub

    def get_unmapped_area(self, file, addr, length, pgoff, flags):
        """mm/mmap.c __get_unmapped_area() for this machine's file systems"""
        if length > TASK_SIZE:
            return ENOMEM
        if flags & MAP_FIXED:
            addr_ = addr
        elif flags & MAP_32BIT:
            addr_ = self.sp.unmapped_area(length, 0x40000000, 0x80000000)
        elif file is not None and file.inode.kind == "ext4" and "no-file-thp" not in ABL:
            addr_ = self.thp(addr, length, pgoff * PAGE)       # ext4: thp_get_unmapped_area
        elif file is not None or flags & MAP_SHARED:
            addr_ = self.topdown(addr, length)                  # shmem: huge=never, no alignment
        elif addr == 0 and length % PMD == 0 and "no-anon-thp" not in ABL:
            addr_ = self.thp(0, length, 0)                      # anonymous THP rule
        else:
            addr_ = self.topdown(addr, length)
        if is_err(addr_):
            return addr_
        if addr_ > TASK_SIZE - length:
            return ENOMEM
        if addr_ & (PAGE - 1):
            return EINVAL
        if addr_ < 0x1000 and not self.p.privileged:          # cap_mmap_addr, dac_mmap_min_addr
            return EPERM
        return addr_


# =================================================================== calls

class Model:
    def __init__(self, label):
        self.label = label
        self.p = Process()
        self.stats = collections.Counter()
        self.misses = []

    # -------------------------------------------------------------- setup
    def load_snapshot(self, snap):
        p = self.p
        p.vmas = []
        for m in snap.vmas:
            if m.start >= TASK_SIZE:
                continue
            prot = ((PROT_READ if m.perms[0] == "r" else 0) | (PROT_WRITE if m.perms[1] == "w" else 0)
                    | (PROT_EXEC if m.perms[2] == "x" else 0))
            flags = set(m.vmflags or ()) - {"rd", "wr", "ex"}
            file = None
            if m.inode and not m.path.startswith("["):
                file = OpenFile(Inode("initial", m.path, size=1 << 62), "r")
            v = Vma(m.start, m.end, prot, m.perms[3] == "s", file,
                    m.offset // PAGE if file else m.start // PAGE, flags,
                    anon=next(ANON_IDS) if prot & PROT_WRITE and file is None else None,
                    path=m.path)
            v.initial = True
            p.vmas.append(v)

    def header(self, key, value):
        p = self.p
        if key == "rlimit-stack":
            p.rlimits["RLIMIT_STACK"] = int(value, 16)
            p.mmap_base = check_model.mmap_base(int(value, 16))
        elif key == "stat":
            f = value[value.rindex(")") + 2:].split()
            field = lambda n: int(f[n - 3])          # proc(5) numbering
            p.start_stack = field(28)
            p.start_data, p.end_data, p.start_brk = field(45), field(46), field(47)
            p.brk = p.start_brk
        elif key == "meminfo":
            k, kb = value.split()
            p.meminfo[k] = int(kb) * 1024
        elif key == "status":
            k, kb = value.split()
            got = {"VmSize": p.total_vm(), "VmData": p.data_vm()}.get(k)
            if got is not None:
                self.compare("status " + k, got * 4, int(kb))

    # ----------------------------------------------------------- compare
    def compare(self, what, model, kernel, line=None):
        self.stats["predicted"] += 1
        if model == kernel:
            self.stats["agree"] += 1
        else:
            self.misses.append("%s: %s: kernel %s, model %s" % (
                line or "", what, fmt(kernel), fmt(model)))

    def compare_snapshot(self, snap):
        p = self.p
        lo, hi = (snap.lo, snap.hi) if snap.hi else (0, TASK_SIZE)
        kernel = [m for m in snap.vmas if m.start < hi and m.end > lo and m.start < TASK_SIZE]
        model = [v for v in p.vmas if v.start < hi and v.end > lo]
        self.stats["snapshots"] += 1
        bad = []
        for i in range(max(len(kernel), len(model))):
            k = kernel[i] if i < len(kernel) else None
            v = model[i] if i < len(model) else None
            if k is None or v is None:
                bad.append("kernel %r / model %r" % (k, v))
                continue
            want = (k.start, k.end, k.perms, k.offset, k.path)
            got = (v.start, v.end, v.perms(), v.pgoff * PAGE if v.file else 0, self.path_of(v))
            if want != got:
                bad.append("kernel %r / model %r" % (k, v))
                continue
            if k.vmflags is not None:
                kf = set(k.vmflags) & MODELLED
                mf = v.vmflags() & MODELLED
                if kf != mf:
                    bad.append("VmFlags of %x-%x: kernel %s, model %s" % (
                        k.start, k.end, " ".join(sorted(kf)), " ".join(sorted(mf))))
        if bad:
            self.misses.append("line %d: snapshot %s differs:\n      %s" % (
                snap.lineno, snap.tag, "\n      ".join(bad)))
        else:
            self.stats["snapshots-agree"] += 1

    def path_of(self, v):
        p = self.p
        if v.file is not None:
            ino = v.file.inode
            if ino.kind == "shmem-anon":
                return "/dev/zero (deleted)"
            if ino.kind == "memfd":
                return "/memfd:%s (deleted)" % ino.path
            return ino.path
        if v.start <= p.start_stack <= v.end and "gd" in v.flags and v.path == "[stack]":
            return "[stack]"
        if v.start < p.brk and v.end > p.start_brk and not v.path:
            return "[heap]"
        return v.path if v.path != "[heap]" else ""

    # ------------------------------------------------------------- mmap
    def mmap(self, a):
        p = self.p
        addr, length, prot, flags, fd, off = (a["addr"], a["len"], a["prot"], a["flags"],
                                              a["fd"], a["off"])
        if off & (PAGE - 1):                                   # x86 sys_mmap
            return EINVAL, None
        file = None
        if not flags & MAP_ANONYMOUS:
            file = p.fds.get(fd)
            if file is None:
                return EBADF, None
        if flags & MAP_HUGETLB and file is None:
            return ENOMEM, None                                # no huge pages reserved
        pgoff = off // PAGE
        if length == 0:
            return EINVAL, None
        if flags & MAP_FIXED_NOREPLACE:
            flags |= MAP_FIXED
        if not flags & MAP_FIXED:                              # round_hint_to_min
            addr &= ~(PAGE - 1)
            if addr and addr < MMAP_MIN_ADDR:
                addr = MMAP_MIN_ADDR
        length = page_align(length)
        if length == 0 or length >= 1 << 64:
            return ENOMEM, None
        if len(p.vmas) > MAX_MAP_COUNT:
            return ENOMEM, None
        mtype = flags & MAP_TYPE
        private_zero = file is not None and file.inode.kind == "devzero" and mtype == MAP_PRIVATE
        res = Placer(p).get_unmapped_area(
            None if private_zero else file, addr, length, pgoff,
            flags | (MAP_SHARED if mtype in (MAP_SHARED, MAP_SHARED_VALIDATE) else 0))
        if is_err(res):
            return res, None
        addr = res
        if flags & MAP_FIXED_NOREPLACE and p.overlapping(addr, addr + length):
            return EEXIST, None
        vmflags = {"mr", "mw", "me"}
        shared = False
        if file is not None:
            if mtype in (MAP_SHARED, MAP_SHARED_VALIDATE):
                if mtype == MAP_SHARED_VALIDATE and flags & ~(LEGACY_MAP_MASK | MAP_SYNC | MAP_FIXED_NOREPLACE):
                    return EOPNOTSUPP, None
                if prot & PROT_WRITE and not file.writable:
                    return EACCES, None
                if not file.writable:
                    vmflags.discard("mw")          # and VM_SHARED: only VM_MAYSHARE stays
                if file.writable or "ro-shared-is-vm-shared" in ABL:
                    vmflags.add("sh")
                shared = True
                vmflags.add("ms")
            elif mtype != MAP_PRIVATE:
                return EINVAL, None
            if not file.readable:
                return EACCES, None
            if file.inode.kind in ("dir", "pipe"):
                return ENODEV, None
            if mtype == MAP_SHARED_VALIDATE and flags & MAP_SYNC:
                return EOPNOTSUPP, None                        # ext4 without DAX
            # file_mmap_ok(): offsets up to MAX_LFS_FILESIZE
            maxsize = (1 << 63) - 1 - length
            if pgoff > maxsize >> 12:
                return EOVERFLOW, None
        else:
            if mtype == MAP_SHARED:
                shared = True
                vmflags |= {"ms", "sh"}
            elif mtype == MAP_DROPPABLE:
                vmflags |= {"wf", "dd", "dp", "nr"}
            elif mtype != MAP_PRIVATE:
                return EINVAL, None
        if flags & MAP_GROWSDOWN:
            vmflags.add("gd")
        if flags & MAP_STACK:
            vmflags.add("nh")
        if flags & MAP_NORESERVE:
            vmflags.add("nr")
        if flags & MAP_LOCKED:
            vmflags.add("lo")
            if not p.privileged and length > p.rlimits["RLIMIT_MEMLOCK"]:
                return EAGAIN, None                            # mlock_future_ok
        if not shared and prot & PROT_WRITE and "nr" not in vmflags:
            vmflags.add("ac")                                  # accountable_mapping
        # may_expand_vm(): RLIMIT_AS, and RLIMIT_DATA for private writable
        npages = length // PAGE
        unmapped = sum(min(v.end, addr + length) - max(v.start, addr)
                       for v in p.overlapping(addr, addr + length)) // PAGE if flags & MAP_FIXED else 0
        if (p.total_vm() - unmapped + npages) * PAGE > p.rlimits["RLIMIT_AS"]:
            return ENOMEM, None
        if (prot & PROT_WRITE and not shared and "gd" not in vmflags
                and (p.data_vm() + npages) * PAGE > p.rlimits["RLIMIT_DATA"]):
            return ENOMEM, None
        if "ac" in vmflags and not p.enough_memory(npages):
            return ENOMEM, None
        if file is not None and shared and prot & PROT_WRITE and \
                file.inode.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE):
            return EPERM, None
        if file is not None and shared and file.inode.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE):
            vmflags.discard("mw")
        return addr, (length, prot, shared, file, pgoff, vmflags, mtype)

    def apply_mmap(self, addr, info):
        p = self.p
        length, prot, shared, file, pgoff, vmflags, mtype = info
        p.unmap(addr, addr + length)
        path = ""
        if file is not None and file.inode.kind == "devzero":
            if shared:
                vmflags.add("sh")
                file = OpenFile(Inode("shmem-anon", "/dev/zero"), "rw")
            else:
                path, file = "/dev/zero", None
        elif file is None and shared:
            file = OpenFile(Inode("shmem-anon", "/dev/zero"), "rw")
            pgoff = 0
        if file is None:
            pgoff = addr // PAGE
        v = Vma(addr, addr + length, prot, shared, file, pgoff, vmflags, path=path)
        p.insert(v)
        if file is None or not shared or file.inode.kind != "shmem-anon":
            p.merge_around(v)

    # ----------------------------------------------------------- munmap
    def munmap(self, a):
        """do_vmi_munmap: the result (the caller applies the unmap)"""
        s, length = a["addr"], a["len"]
        if s & (PAGE - 1) or s > TASK_SIZE or length > TASK_SIZE - s:
            return EINVAL
        length = page_align(length)
        if length == 0:
            return EINVAL
        e = s + length
        p = self.p
        first = p.vma_at(s)
        if first is not None and first.start < s and e < first.end and len(p.vmas) >= MAX_MAP_COUNT:
            return ENOMEM
        return 0

    # --------------------------------------------------------- mprotect
    def new_flags(self, v, prot):
        f = set(v.flags)
        if prot & PROT_WRITE:
            if not (("ac" in f) or v.prot & PROT_WRITE or v.shared or "nr" in f):
                f.add("ac")
        elif "ac" in f and v.is_anonymous() and v.anon is None and "account-sticky" not in ABL:
            f.discard("ac")
        return f

    def mprotect(self, a, apply):
        p = self.p
        start, length, prot = a["addr"], a["len"], a["prot"]
        grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP)
        prot &= ~grows
        if grows == PROT_GROWSDOWN | PROT_GROWSUP:
            return EINVAL
        if start & (PAGE - 1):
            return EINVAL
        if length == 0:
            return 0
        length = page_align(length)
        end = start + length
        if end <= start or end >= 1 << 64:
            return ENOMEM
        if prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM):
            return EINVAL
        prot &= PROT_READ | PROT_WRITE | PROT_EXEC
        vs = p.overlapping(start, end)
        if not vs:
            return ENOMEM
        v = vs[0]
        if grows & PROT_GROWSDOWN:
            start = v.start
            if "gd" not in v.flags:
                return EINVAL
        else:
            if v.start > start:
                return ENOMEM
            if grows & PROT_GROWSUP:
                return EINVAL
        tmp = v.start
        err = 0
        if "mprotect-all-or-nothing" in ABL and (
                sum(min(x.end, end) - max(x.start, start) for x in vs) < end - start):
            return ENOMEM
        for v in list(vs):
            if v.start != tmp and "mprotect-skips-holes" not in ABL:
                err = ENOMEM
                break
            mays = {PROT_READ: "mr", PROT_WRITE: "mw", PROT_EXEC: "me"}
            if any(prot & bit and tok not in v.flags for bit, tok in mays.items()):
                err = EACCES
                break
            s, e = max(start, v.start), min(end, v.end)
            if "ac" in self.new_flags(v, prot) - v.flags and not p.enough_memory((e - s) // PAGE):
                err = ENOMEM
                break
            tmp = e
            if apply:
                self.modify(v, s, e, prot, self.new_flags(v, prot))
        if not err and (tmp < end or sum(min(x.end, end) - max(x.start, start) for x in vs)
                        < end - start):
            err = ENOMEM
        return err

    def modify(self, v, s, e, prot, flags):
        """vma_modify_flags(): split off [s, e), change it, merge around it"""
        p = self.p
        if prot == v.prot and flags == v.flags:
            return
        p.split_at(s)
        p.split_at(e)
        w = p.vma_at(s)
        w.prot, w.flags = prot, flags
        p.merge_around(w)

    # ---------------------------------------------------------- madvise
    def madvise(self, a, apply):
        p = self.p
        start, length, adv = a["addr"], a["len"], a["advice"]
        if adv not in MADV:
            return EINVAL
        if start & (PAGE - 1):
            return EINVAL
        alen = page_align(length)
        if length and not alen:
            return EINVAL
        end = start + alen
        if end < start:
            return EINVAL
        if end == start:
            return 0
        vs = p.overlapping(start, end)
        name = MADV[adv]
        if name == "DONTNEED" and any("lo" in v.flags for v in vs):
            return EINVAL
        covered = sum(min(v.end, end) - max(v.start, start) for v in vs)
        if "madvise-stops-at-hole" in ABL:
            run = []
            for v in vs:
                if v.start > (run[-1].end if run else start):
                    break
                run.append(v)
            vs = run
        if apply:
            for v in vs:
                s, e = max(start, v.start), min(end, v.end)
                if name == "DONTNEED":
                    for pa in range(s, e, PAGE):
                        p.pages.pop(pa, None)
                    continue
                f = set(v.flags)
                if name == "DONTFORK":
                    f.add("dc")
                elif name == "DOFORK":
                    f.discard("dc")
                elif name == "HUGEPAGE":
                    f.discard("nh")
                    f.add("hg")
                elif name == "NOHUGEPAGE":
                    f.discard("hg")
                    f.add("nh")
                elif name == "NORMAL":
                    f -= {"rr", "sr"}
                elif name == "RANDOM":
                    f.discard("sr")
                    f.add("rr")
                elif name == "SEQUENTIAL":
                    f.discard("rr")
                    f.add("sr")
                elif name == "WIPEONFORK":
                    f.add("wf")
                elif name == "KEEPONFORK":
                    f.discard("wf")
                self.modify(v, s, e, v.prot, f)
        return ENOMEM if covered < end - start else 0

    # ------------------------------------------------------------ mlock
    def mlock(self, a, lock, apply):
        p = self.p
        start, length = a["addr"], a["len"]
        end = page_align(start + length)
        start &= ~(PAGE - 1)
        if lock and not p.privileged:
            lim = p.rlimits["RLIMIT_MEMLOCK"]
            if lim == 0:
                return EPERM
            locked = sum(min(v.end, end) - max(v.start, start)
                         for v in p.vmas if "lo" in v.flags and v.start < end and v.end > start)
            if end - start + sum(v.end - v.start for v in p.vmas if "lo" in v.flags) - locked > lim:
                return ENOMEM
        vs = p.overlapping(start, end)
        if apply:
            for v in vs:
                f = set(v.flags)
                (f.add if lock else f.discard)("lo")
                self.modify(v, max(start, v.start), min(end, v.end), v.prot, f)
        return 0 if sum(min(v.end, end) - max(v.start, start) for v in vs) == end - start else ENOMEM

    # -------------------------------------------------------------- brk
    def brk(self, a, apply):
        """SYSCALL_DEFINE1(brk) of mm/mmap.c"""
        p = self.p
        if not apply:
            saved = (p.vmas, p.brk, p.pages)
            p.vmas = [x.piece(x.start, x.end) for x in p.vmas]
            p.pages = dict(p.pages)
            try:
                return self.brk(a, True)
            finally:
                p.vmas, p.brk, p.pages = saved
        brk = a["addr"]
        if brk < p.start_brk:
            return p.brk
        lim = p.rlimits["RLIMIT_DATA"]
        if lim != RLIM_INFINITY and (brk - p.start_brk) + (p.end_data - p.start_data) > lim:
            return p.brk
        newbrk, oldbrk = page_align(brk), page_align(p.brk)
        if oldbrk == newbrk:
            p.brk = brk
            return brk
        if brk <= p.brk:
            v = p.find_vma(newbrk)
            if v is None or v.start >= oldbrk:
                return p.brk
            p.unmap(newbrk, oldbrk)
            p.brk = brk
            return brk
        nxt = p.find_vma(oldbrk)
        if nxt is not None and nxt.start < newbrk + PAGE + STACK_GUARD_GAP:
            gap = nxt.start - STACK_GUARD_GAP if "gd" in nxt.flags else nxt.start
            if newbrk + (0 if "brk-no-gap-page" in ABL else PAGE) > gap:
                return p.brk
        if len(p.vmas) > MAX_MAP_COUNT:
            return p.brk
        npages = (newbrk - oldbrk) // PAGE
        if (p.total_vm() + npages) * PAGE > p.rlimits["RLIMIT_AS"]:
            return p.brk
        if (p.data_vm() + npages) * PAGE > lim:
            return p.brk
        if not p.enough_memory(npages):
            return p.brk
        prev = p.find_vma(oldbrk - 1)
        flags = {"mr", "mw", "me", "ac"}
        if (prev is not None and prev.end == oldbrk
                and (prev.start >= p.start_brk or "brk-merges-below" in ABL)
                and prev.file is None and prev.prot == PROT_READ | PROT_WRITE
                and prev.flags == flags and not prev.shared):
            prev.end = newbrk                           # do_brk_flags: vma_expand
        else:
            p.insert(Vma(oldbrk, newbrk, PROT_READ | PROT_WRITE, False, None,
                         oldbrk // PAGE, flags))
        p.brk = brk
        return brk

    # ----------------------------------------------------------- mremap
    def mremap(self, a):
        """mm/mremap.c (6.18).  Returns (result, action) where action is
        applied only if the kernel's result agrees in kind."""
        p = self.p
        addr, old_len, new_len, flags, new_addr = (a["addr"], a["old_len"], a["new_len"],
                                                   a["flags"], a["new_addr"])
        if flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP):
            return EINVAL, None
        if flags & MREMAP_FIXED and not flags & MREMAP_MAYMOVE:
            return EINVAL, None
        if flags & MREMAP_DONTUNMAP and not flags & MREMAP_MAYMOVE:
            return EINVAL, None
        if addr & (PAGE - 1):
            return EINVAL, None
        old_len, new_len = page_align(old_len) % (1 << 64), page_align(new_len) % (1 << 64)
        if new_len == 0:
            return EINVAL, None
        if flags & MREMAP_DONTUNMAP and old_len != new_len:
            return EINVAL, None
        if new_len > TASK_SIZE:
            return EINVAL, None
        if flags & MREMAP_FIXED:
            if new_addr & (PAGE - 1):
                return EINVAL, None
            if new_addr > TASK_SIZE - new_len:
                return EINVAL, None
            if new_addr < addr + max(old_len, new_len) and addr < new_addr + new_len:
                return EINVAL, None
        v = p.vma_at(addr)
        if v is None:
            return EFAULT, None
        if old_len == 0 and not v.shared:
            return EINVAL, None
        if flags & MREMAP_FIXED:
            return self.mremap_to(v, addr, old_len, new_len, flags, new_addr)
        if old_len == new_len and not flags & MREMAP_DONTUNMAP:
            if "mremap-same-len-checks-range" in ABL and addr + old_len > v.end:
                return EFAULT, None
            return addr, None
        if new_len < old_len:
            return addr, ("unmap", addr + new_len, addr + old_len)
        if addr + old_len > v.end:
            return EFAULT, None
        npages = (new_len - old_len) // PAGE
        if (p.total_vm() + npages) * PAGE > p.rlimits["RLIMIT_AS"]:
            return ENOMEM, None
        if "ac" in v.flags and not p.enough_memory(npages):
            return ENOMEM, None
        if not flags & MREMAP_DONTUNMAP and old_len and addr + old_len == v.end:
            if not p.overlapping(v.end, addr + new_len) and addr + new_len <= TASK_SIZE:
                return addr, ("expand", v, addr + new_len)
        if not flags & MREMAP_MAYMOVE:
            return ENOMEM, None
        if len(p.vmas) >= MAX_MAP_COUNT - 3:
            return ENOMEM, None
        file = v.file if v.file is not None and not v.is_anonymous() else None
        pgoff = v.pgoff + (addr - v.start) // PAGE
        res = Placer(p).get_unmapped_area(file, 0, new_len, pgoff if file else 0,
                                          MAP_SHARED if v.shared else 0)
        if is_err(res):
            return res, None
        return res, ("move", addr, old_len, new_len, flags)

    def mremap_to(self, v, addr, old_len, new_len, flags, new_addr):
        p = self.p
        if len(p.vmas) + 2 >= MAX_MAP_COUNT - 3:
            return ENOMEM, None
        vs = p.overlapping(addr, addr + old_len)
        multi = len(vs) > 1 or vs[0].end < addr + old_len
        if multi and old_len != new_len:
            return EFAULT, None
        if not multi and new_len > old_len and addr + old_len > v.end:
            return EFAULT, None
        return new_addr, ("move", addr, old_len, new_len, flags)

    def apply_mremap(self, action, result):
        p = self.p
        kind = action[0]
        if kind == "unmap":
            p.unmap(action[1], action[2])
        elif kind == "expand":
            v, end = action[1], action[2]
            v.end = end
            p.merge_around(v)
        elif kind == "move":
            _, addr, old_len, new_len, flags = action
            new = result
            if flags & MREMAP_FIXED:
                p.unmap(new, new + new_len)
                if old_len > new_len and not flags & MREMAP_DONTUNMAP:
                    p.unmap(addr + new_len, addr + old_len)
                    old_len = new_len
            dup = old_len == 0
            span = max(old_len, PAGE)
            pieces = [(w, max(w.start, addr), min(w.end, addr + span))
                      for w in p.overlapping(addr, addr + span)]
            moved_pages = {}
            if not dup and not (flags & MREMAP_DONTUNMAP and pieces[0][0].shared):
                for pa in range(addr, addr + old_len, PAGE):
                    if pa in p.pages:
                        moved_pages[pa - addr + new] = p.pages.pop(pa)
            news = []
            for w, s, e in pieces:
                n = w.piece(s, e)
                n.start, n.end = s - addr + new, e - addr + new
                if len(pieces) == 1:
                    n.end = new + new_len
                if n.is_anonymous() and n.file is None and (w.anon is None
                                                             or "moved-pgoff-follows" in ABL):
                    n.pgoff = n.start // PAGE          # copy_vma: unfaulted anon follows the move
                news.append(n)
            if not dup and not flags & MREMAP_DONTUNMAP:
                p.unmap(addr, addr + old_len)
            for n in news:
                p.insert(n)
                p.merge_around(n)
            p.pages.update(moved_pages)

    # ------------------------------------------------------ fork / files
    def fork(self):
        child = copy.copy(self)
        c = child.p = copy.copy(self.p)
        c.vmas = []
        c.pages = {}
        remap = {}
        for v in self.p.vmas:
            if "dc" in v.flags:
                continue
            n = v.piece(v.start, v.end)
            n.pgoff = v.pgoff
            if v.anon is not None:
                n.anon = remap.setdefault(v.anon, next(ANON_IDS))
            if "wf" in v.flags:
                n.anon = None
            else:
                for pa in range(v.start, v.end, PAGE):
                    if pa in self.p.pages:
                        old = self.p.pages[pa]
                        new = Page(old.inode, old.fileoff, old.base_writes)
                        new.writes = dict(old.writes)
                        c.pages[pa] = new
            c.vmas.append(n)
        c.fds = dict(self.p.fds)
        c.rlimits = dict(self.p.rlimits)
        child.label = self.label + "/child"
        child.stats = collections.Counter()
        child.misses = []
        return child

    def open(self, a, res):
        path, flags = a["path"], a["flags"]
        if is_err(res):
            return
        mode = {0: "r", O_WRONLY: "w", O_RDWR: "rw"}[flags & O_ACCMODE]
        if flags & O_DIRECTORY:
            ino = Inode("dir", path)
        elif path == "/dev/zero":
            ino = Inode("devzero", path)
        else:
            ino = INODES.get(path)
            if ino is None or flags & 0x200:               # O_TRUNC: a new file for us
                kind = "tmpfs" if path.startswith("/dev/shm/") else "ext4"
                ino = INODES[path] = Inode(kind, path)
        self.p.fds[res] = OpenFile(ino, mode, bool(flags & O_APPEND))


INODES = {}


def replay(path, records, model=None, depth=0):
    """Replay records[i:] until the end or the matching child-end."""
    m = model or Model(os.path.basename(path))
    i = 0
    while i < len(records):
        r = records[i]
        i += 1
        if r.kind == "header":
            m.header(r.key, r.value)
        elif r.kind == "maps":
            if r.tag == "initial" and m.p.vmas == []:
                m.load_snapshot(r)
            else:
                m.compare_snapshot(r)
        elif r.kind == "child-begin":
            j = i
            d = 1
            while d:
                if records[j].kind == "child-begin":
                    d += 1
                elif records[j].kind == "child-end":
                    d -= 1
                j += 1
            body = records[i:j - 1]
            if r.label == "fork" or r.label == "unprivileged":
                child = m.fork()
                replay(path, body, child, depth + 1)
                m.stats.update(child.stats)
                m.misses.extend(child.misses)
            i = j
        elif r.kind == "call":
            step(m, r)
    return m


def step(m, r):
    p, a, res = m.p, r.args, r.result
    where = r.lineno if isinstance(r.lineno, str) else "line %d #%d %s" % (r.lineno, r.seq, r.name)
    if r.name == "mmap":
        pred, info = m.mmap(a)
        m.compare("mmap", pred, res, where)
        if not is_err(res):
            if info is None:
                _, info = m.mmap(dict(a, flags=a["flags"] | MAP_FIXED, addr=res))
            if info is not None:
                m.apply_mmap(res, info)
    elif r.name == "munmap":
        m.compare("munmap", m.munmap(a), res, where)
        if res == 0:
            p.unmap(a["addr"], a["addr"] + page_align(a["len"]))
    elif r.name == "mprotect":
        pred = m.mprotect(a, apply=False)
        m.compare("mprotect", pred, res, where)
        if pred == res:
            m.mprotect(a, apply=True)
    elif r.name == "madvise":
        pred = m.madvise(a, apply=False)
        m.compare("madvise", pred, res, where)
        if pred == res or res == ENOMEM:
            m.madvise(a, apply=True)
    elif r.name in ("mlock", "munlock"):
        pred = m.mlock(a, r.name == "mlock", apply=False)
        m.compare(r.name, pred, res, where)
        if res == 0:
            m.mlock(a, r.name == "mlock", apply=True)
    elif r.name == "brk":
        pred = m.brk(a, apply=False)
        m.compare("brk", pred, res, where)
        if pred == res:
            m.brk(a, apply=True)
        else:
            p.brk = res
    elif r.name == "mremap":
        pred, action = m.mremap(a)
        m.compare("mremap", pred, res, where)
        if not is_err(res) and action is not None:
            m.apply_mremap(action, res)         # at the kernel's address
    elif r.name == "peek":
        m.compare("peek", p.peek(a["addr"]), res, where)
    elif r.name == "poke":
        pred = p.poke(a["addr"], a["val"])
        m.compare("poke", pred, res, where)
    elif r.name == "open":
        m.open(a, res)
    elif r.name == "pipe":
        p.fds[res] = OpenFile(Inode("pipe", "pipe:"), "r")
    elif r.name == "memfd_create":
        p.fds[res] = OpenFile(Inode("memfd", a["name"]), "rw")
    elif r.name == "fill":
        ino = p.fds[a["fd"]].inode
        ino.size, ino.tag, ino.writes = a["len"], a["tag"], {}
    elif r.name == "pread":
        ino = p.fds[a["fd"]].inode
        m.compare("pread", ino.read(a["off"]), res, where)
    elif r.name == "add_seals":
        ino = p.fds[a["fd"]].inode
        shared_w = any(v.file is not None and v.file.inode is ino and v.shared
                       and "mw" in v.flags for v in p.vmas)
        pred = EBUSY if a["seals"] & F_SEAL_WRITE and shared_w else 0
        m.compare("add_seals", pred, res, where)
        if res == 0:
            ino.seals |= a["seals"]
    elif r.name == "setrlimit":
        p.rlimits[a["resource"]] = a["cur"]
    elif r.name == "setresuid":
        p.privileged = False


# ==================================================================== exec

def check_exec(path, records):
    """Layout rules of a fresh exec (see NOTES.md, "exec"): mmap_base from
    RLIMIT_STACK, ld.so at the top (or at the legacy base), vdso below it,
    PIE at ELF_ET_DYN_BASE, the stack at TASK_SIZE, the initial break."""
    out = collections.Counter()
    misses = []
    blocks = []
    cur = None
    for r in records:
        if r.kind == "child-begin":
            cur = {"attrs": r.attrs, "auxv": {}, "stat": None, "maps": None, "brk": None}
        elif r.kind == "child-end":
            blocks.append(cur)
            cur = None
        elif cur is not None:
            if r.kind == "header" and r.key == "auxv":
                kv = trace_format.kv(r.value)
                if "name" in kv:
                    cur["auxv"][kv["name"]] = kv["val"]
            elif r.kind == "header" and r.key == "stat":
                cur["stat"] = r.value[r.value.rindex(")") + 2:].split()
            elif r.kind == "maps":
                cur["maps"] = r.vmas
            elif r.kind == "call" and r.name == "brk":
                cur["brk"] = r.result

    def expect(what, got, want, label):
        out["predicted"] += 1
        if got == want:
            out["agree"] += 1
        else:
            misses.append("exec %s: %s: kernel %s, model %s" % (label, what, fmt(got), fmt(want)))

    for b in blocks:
        at = b["attrs"]
        label = "%s/%s" % (os.path.basename(at["binary"]), at["case"])
        legacy = at["personality-add"] & 0x0200000
        base = (check_model.mmap_legacy_base() if legacy
                else check_model.mmap_base(at["rlimit-stack"]))
        maps = [v for v in b["maps"] if v.start < TASK_SIZE]
        stack = [v for v in maps if v.path == "[stack]"][0]
        expect("[stack] end", stack.end, TASK_SIZE, label)
        vdso = [v for v in maps if v.path == "[vdso]"][0]
        vvar = [v for v in maps if v.path.startswith("[vvar")]
        expect("vvar+vvar_vclock+vdso contiguous, 8 pages", (vvar[0].start, vdso.end - vvar[0].start),
               (vdso.end - 8 * PAGE, 8 * PAGE), label)
        field = lambda n: int(b["stat"][n - 3])
        start_brk = field(47)
        binary = os.path.basename(at["binary"])
        if binary == "trace":            # PIE with an interpreter
            ld = [v for v in maps if "ld-linux" in v.path]
            pie = [v for v in maps if v.path.endswith("/trace")]
            expect("PIE load address", pie[0].start, ELF_ET_DYN_BASE & ~(PAGE - 1), label)
            if legacy:
                expect("ld.so start (legacy base)", ld[0].start, base, label)
                expect("vdso right above ld.so", vvar[0].start, ld[-1].end, label)
            else:
                expect("ld.so end == mmap_base", ld[-1].end, base, label)
                expect("vdso right below ld.so", vdso.end, ld[0].start, label)
            bss = [v for v in maps if v.start == pie[-1].end]
            expect("start_brk == end of the bss VMA", start_brk, bss[0].end, label)
            expect("brk(0) at main", b["brk"], start_brk, label)
        elif binary == "trace-static":   # ET_EXEC, no interpreter
            expect("vdso top == mmap_base" if not legacy else "vvar at the legacy base",
                   vdso.end if not legacy else vvar[0].start, base, label)
            img = [v for v in maps if v.path.endswith("/trace-static")]
            expect("ET_EXEC at its link address", img[0].start, 0x400000, label)
            heap = [v for v in maps if v.path == "[heap]"][0]
            expect("start_brk == [heap] start", start_brk, heap.start, label)
            expect("[heap] right after the bss VMA", [v.end for v in maps if v.end == heap.start],
                   [heap.start], label)
        else:                            # static PIE: no interpreter, ET_DYN
            img = [v for v in maps if v.path.endswith("/trace-static-pie")]
            expect("static-pie start 2 MiB aligned", img[0].start % PMD, 0, label)
            expect("start_brk == PAGE_ALIGN(ELF_ET_DYN_BASE)", start_brk,
                   page_align(ELF_ET_DYN_BASE), label)
            if not legacy:
                expect("vdso top == mmap_base", vdso.end, base, label)
            else:
                expect("vvar at the legacy base", vvar[0].start, base, label)
    return out, misses


# ================================================================= realloc

def replay_strace(txt, strace):
    records = trace_format.parse(txt)
    snaps = {r.tag: r for r in records if r.kind == "maps"}
    m = Model(os.path.basename(strace))
    m.load_snapshot(snaps["initial"])
    for v in m.p.vmas:                  # no VmFlags in this capture: derive them
        v.flags = {"mr", "mw", "me"}
        if v.prot & PROT_WRITE and not v.shared:
            v.flags.add("ac")
        if v.path == "[stack]":
            v.flags.add("gd")
        if v.path.startswith("[v"):
            v.flags |= {"de"}
    calls = trace_format.parse_strace(strace)
    marks = [i for i, c in enumerate(calls) if c[0] == "madvise" and c[1][:2] == [0, 0]]
    heap = [v for v in snaps["initial"].vmas if v.path == "[heap]"]
    brk0 = [c for c in calls[:marks[0]] if c[0] == "brk"]
    m.p.start_brk = [c[2] for c in calls if c[0] == "brk" and c[1][0] == 0][0]
    m.p.brk = brk0[-1][2] if brk0 else m.p.start_brk
    if heap and brk0:
        m.p.start_brk = heap[0].start
    flagnames = {"PROT_READ": 1, "PROT_WRITE": 2, "PROT_EXEC": 4, "PROT_NONE": 0,
                 "MAP_PRIVATE": MAP_PRIVATE, "MAP_SHARED": MAP_SHARED, "MAP_ANONYMOUS": MAP_ANONYMOUS,
                 "MAP_FIXED": MAP_FIXED, "MREMAP_MAYMOVE": MREMAP_MAYMOVE, "MREMAP_FIXED": MREMAP_FIXED}

    def bits(x):
        if isinstance(x, int):
            return x
        return sum(flagnames[t] for t in x.split("|"))

    for n, (name, args, res) in enumerate(calls[marks[0] + 1:marks[1]]):
        where = "%s call %d %s%r" % (os.path.basename(strace), marks[0] + 2 + n, name, tuple(args))
        if name == "mmap":
            step(m, FakeCall(where, name, dict(addr=args[0], len=args[1], prot=bits(args[2]),
                                               flags=bits(args[3]), fd=args[4], off=args[5]), res))
        elif name == "munmap":
            step(m, FakeCall(where, name, dict(addr=args[0], len=args[1]), res))
        elif name == "mremap":
            step(m, FakeCall(where, name, dict(addr=args[0], old_len=args[1], new_len=args[2],
                                               flags=bits(args[3]),
                                               new_addr=args[4] if len(args) > 4 else 0), res))
        elif name == "brk":
            step(m, FakeCall(where, name, dict(addr=args[0]), res))
        elif name == "mprotect":
            step(m, FakeCall(where, name, dict(addr=args[0], len=args[1], prot=bits(args[2])), res))
    m.compare_snapshot(snaps["final"])          # no VmFlags in this capture
    return m


class FakeCall:
    def __init__(self, where, name, args, result):
        self.lineno, self.seq, self.name, self.args, self.result = where, 0, name, args, result


# =================================================================== main

def main():
    paths = sys.argv[1:]
    verbose = "-v" in paths
    quiet = "-q" in paths
    paths = [x for x in paths if x not in ("-v", "-q")]
    while paths and paths[0].startswith("--ablate="):
        for a in paths.pop(0).partition("=")[2].split(","):
            if a not in ABLATIONS:
                sys.exit("unknown ablation %r; known:\n  %s" % (
                    a, "\n  ".join("%s: %s" % kv for kv in ABLATIONS.items())))
            ABL.add(a)
    total = collections.Counter()
    ok = True
    for path in paths:
        name = os.path.basename(path)
        if path.endswith(".strace"):
            continue
        records = trace_format.parse(path)
        if name == "exec.txt":
            st, misses = check_exec(path, records)
        elif name == "realloc.txt":
            strace = os.path.join(os.path.dirname(path), "realloc.strace")
            mm = replay_strace(path, strace)
            st, misses = mm.stats, mm.misses
        else:
            INODES.clear()
            mm = replay(path, records)
            st, misses = mm.stats, mm.misses
        total.update(st)
        print("%-14s results %4d/%-4d snapshots %3d/%-3d" % (
            name, st["agree"], st["predicted"], st["snapshots-agree"], st["snapshots"]))
        for x in misses[:0 if quiet else 40 if not verbose else None]:
            print("   ", x)
        ok &= not misses
    print("TOTAL: %d/%d results predicted, %d/%d snapshots agree" % (
        total["agree"], total["predicted"], total["snapshots-agree"], total["snapshots"]))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
