#!/usr/bin/env python3
"""Convert an `strace -f` log of memory-map system calls into the compact
`ram-trace v1` line format read by `testkit/src/trace.rs`.

Usage:  convert.py INPUT.strace[.xz|.gz] OUTPUT.txt [--title TEXT]
        convert.py --self-test

The input must have been captured with `strace -f -o FILE` (every line starts
with the pid) and with at least
`-e trace=mmap,munmap,mprotect,brk,mremap,clone,clone3,fork,vfork,execve`.
The format is documented in README.md next to this script; in short:

    X <as> <pid> <path>            exec: fresh address space
    F <as> <parent-as> <pid>       fork: address space copied from <parent-as>
    m <as> <hint> <len> <prot> <flags> <fd> <off> <result>
    u <as> <addr> <len> <result>
    p <as> <addr> <len> <prot> <result>
    b <as> <addr> <result>
    r <as> <old> <old-len> <new-len> <flags> <new-addr> <result>

The converter is strict: any strace line it does not understand aborts the
conversion, so a new capture cannot silently lose events.
"""

import errno
import gzip
import lzma
import re
import sys

# ---------------------------------------------------------------- tables ---

PROT_LETTERS = {
    "PROT_READ": "r",
    "PROT_WRITE": "w",
    "PROT_EXEC": "x",
    "PROT_SEM": "s",
    "PROT_GROWSDOWN": "d",
    "PROT_GROWSUP": "u",
}
PROT_ORDER = "rwxsdu"

# mmap flags -> letter. Sharing type first (exactly one of p/s/v), then
# modifiers in the order of this table.
MAP_TYPE = {"MAP_PRIVATE": "p", "MAP_SHARED": "s", "MAP_SHARED_VALIDATE": "v"}
MAP_LETTERS = {
    "MAP_ANONYMOUS": "a",
    "MAP_FIXED": "F",
    "MAP_FIXED_NOREPLACE": "N",
    "MAP_GROWSDOWN": "g",
    "MAP_STACK": "S",
    "MAP_NORESERVE": "n",
    "MAP_POPULATE": "P",
    "MAP_DENYWRITE": "D",
    "MAP_EXECUTABLE": "E",
    "MAP_LOCKED": "L",
    "MAP_NONBLOCK": "B",
    "MAP_HUGETLB": "h",
    "MAP_32BIT": "3",
    "MAP_SYNC": "Y",
    "MAP_UNINITIALIZED": "U",
}
MAP_ORDER = "aFNgSnPDELBh3YU"

MREMAP_LETTERS = {
    "MREMAP_MAYMOVE": "M",
    "MREMAP_FIXED": "F",
    "MREMAP_DONTUNMAP": "D",
}
MREMAP_ORDER = "MFD"

CLONE_VM = "CLONE_VM"

# ------------------------------------------------------------- helpers ---


def die(msg, lineno=None, line=None):
    where = f" (input line {lineno}: {line!r})" if lineno is not None else ""
    sys.exit(f"convert.py: {msg}{where}")


def split_args(s):
    """Split a top-level comma-separated argument list (respects {} [] "")."""
    out, depth, cur, in_str, esc = [], 0, [], False, False
    for ch in s:
        if in_str:
            cur.append(ch)
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if cur or out:
        out.append("".join(cur).strip())
    return out


def num(s):
    s = s.strip()
    if s == "NULL":
        return 0
    return int(s, 0)


def hexs(v):
    return f"{v:#x}"


def prot_code(s):
    if s.strip() == "PROT_NONE":
        return "-"
    letters = set()
    for name in s.split("|"):
        name = name.strip()
        if name not in PROT_LETTERS:
            raise ValueError(f"unknown prot {name!r}")
        letters.add(PROT_LETTERS[name])
    return "".join(c for c in PROT_ORDER if c in letters)


def map_flags_code(s):
    typ, letters = None, set()
    for name in s.split("|"):
        name = name.strip()
        if name in MAP_TYPE:
            if typ is not None:
                raise ValueError("two sharing types")
            typ = MAP_TYPE[name]
        elif name in MAP_LETTERS:
            letters.add(MAP_LETTERS[name])
        else:
            raise ValueError(f"unknown mmap flag {name!r}")
    if typ is None:
        raise ValueError("no sharing type")
    return typ + "".join(c for c in MAP_ORDER if c in letters)


def mremap_flags_code(s):
    if s.strip() == "0":
        return "-"
    letters = set()
    for name in s.split("|"):
        name = name.strip()
        if name not in MREMAP_LETTERS:
            raise ValueError(f"unknown mremap flag {name!r}")
        letters.add(MREMAP_LETTERS[name])
    return "".join(c for c in MREMAP_ORDER if c in letters)


RESULT_RE = re.compile(r"^(?P<body>.*\))\s+=\s+(?P<ret>\S+)(?:\s+(?P<err>E[A-Z0-9]+)\b.*)?$")


def parse_result(ret, err):
    """Return ('ok', value) | ('err', errno_number) | ('unknown', None)."""
    if ret == "?":
        return ("unknown", None)
    v = int(ret, 0)
    if v == -1 and err:
        code = getattr(errno, err, None)
        if code is None:
            raise ValueError(f"unknown errno {err}")
        return ("err", code)
    if v < 0:
        raise ValueError(f"negative result without errno: {ret}")
    return ("ok", v)


def fmt_result(res, as_hex=True):
    kind, v = res
    if kind == "err":
        return f"-{v}"
    return hexs(v) if as_hex else str(v)


# ----------------------------------------------------------- converter ---

LINE_RE = re.compile(r"^(?P<pid>\d+)\s+(?P<rest>.*)$")
UNFINISHED = " <unfinished ...>"
RESUMED_RE = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>(?P<tail>.*)$")
CALL_RE = re.compile(r"^(?P<name>\w+)\((?P<args>.*)$")

MEM_CALLS = {"mmap", "munmap", "mprotect", "brk", "mremap"}
PROC_CALLS = {"clone", "clone3", "fork", "vfork", "execve", "execveat"}


class Converter:
    def __init__(self):
        self.out = []                # output lines
        self.pid_as = {}             # pid -> address-space id
        self.next_as = 0
        self.unfinished = {}         # pid -> (name, text-before-marker)
        self.pending = {}            # unknown pid -> [completed call texts]
        self.root = None             # pid of the first line
        self.stats = {"dropped_unknown_result": 0, "failed_execve": 0,
                      "threads": 0, "vfork_like": 0, "forks": 0, "execs": 0}

    def new_as(self):
        a = self.next_as
        self.next_as += 1
        return a

    def feed(self, lineno, line):
        line = line.rstrip("\n")
        if not line.strip():
            return
        m = LINE_RE.match(line)
        if not m:
            die("line without pid prefix (capture with -f -o FILE)", lineno, line)
        pid, rest = int(m["pid"]), m["rest"]
        if rest.startswith("+++ ") or rest.startswith("--- "):
            if "superseded by execve" in rest:
                die("multi-threaded execve (superseded) is not supported", lineno, line)
            return
        if rest.endswith(UNFINISHED):
            text = rest[: -len(UNFINISHED)]
            cm = CALL_RE.match(text)
            if not cm:
                die("cannot parse unfinished call", lineno, line)
            if pid in self.unfinished:
                die("two unfinished calls for one pid", lineno, line)
            slot = None
            if cm["name"] == "munmap" and self.pid_as.get(pid) is not None:
                # A removal takes effect somewhere between entry and exit;
                # other threads' results printed in between may already
                # depend on it (an mmap reusing the range), so it is placed
                # at its entry. Placements stay at their exit line.
                slot = len(self.out)
                self.out.append(None)
            self.unfinished[pid] = (cm["name"], text, slot)
            return
        rm = RESUMED_RE.match(rest)
        slot = None
        if rm:
            name, before, slot = self.unfinished.pop(pid, (None, None, None))
            if name != rm["name"]:
                die(f"resumed {rm['name']} without matching unfinished call", lineno, line)
            # strace writes "<... mmap resumed>)  = 0x..": the unfinished
            # half ended just before the closing parenthesis.
            rest = before + rm["tail"]
        self.call(pid, rest, lineno, line, slot)

    def call(self, pid, text, lineno, line, slot=None):
        cm = CALL_RE.match(text)
        if not cm:
            die("cannot parse call", lineno, line)
        name = cm["name"]
        if name not in MEM_CALLS and name not in PROC_CALLS:
            die(f"unexpected syscall {name}", lineno, line)
        if self.root is None:
            self.root = pid          # the traced program; it starts with execve
            self.pid_as[pid] = None
        if pid not in self.pid_as:
            # A new task that strace reports before its creator's clone()
            # has returned (a vfork child typically runs up to and past its
            # execve first): hold its events, in order, until the clone
            # result tells us which address space it starts in.
            self.pending.setdefault(pid, []).append((text, lineno, line))
            return
        if self.pid_as[pid] is None and name not in ("execve", "execveat"):
            die("memory call before the first execve", lineno, line)
        try:
            rec = self.emit(pid, name, text)
        except (ValueError, KeyError, IndexError) as e:
            die(f"{type(e).__name__}: {e}", lineno, line)
        if slot is not None:
            self.out[slot] = rec
        elif rec is not None:
            self.out.append(rec)

    def emit(self, pid, name, text):
        rm = RESULT_RE.match(text)
        if not rm:
            raise ValueError("no result")
        body = rm["body"]
        args = split_args(body[len(name) + 1: -1])
        res = parse_result(rm["ret"], rm["err"])

        if name in ("execve", "execveat"):
            if res[0] != "ok":
                if res[0] == "err":
                    self.stats["failed_execve"] += 1
                    return
                raise ValueError("execve with unknown result")
            path = args[0] if name == "execve" else args[1]
            path = path.strip('"')
            a = self.new_as()
            self.pid_as[pid] = a
            self.stats["execs"] += 1
            self.out.append(f"X {a} {pid} {path}")
            return

        a = self.pid_as[pid]
        if name in ("clone", "clone3", "fork", "vfork"):
            if res[0] != "ok":
                return  # failed clone: no child
            child = res[1]
            if name == "fork":
                flags = ""
            elif name == "vfork":
                flags = "CLONE_VM|CLONE_VFORK"
            else:
                fm = re.search(r"flags=([A-Z0-9_|]+)", body)
                flags = fm.group(1) if fm else ""
            names = set(flags.split("|"))
            if CLONE_VM in names:
                # thread, or vfork/posix_spawn child: shares the address
                # space until it execs.
                self.pid_as[child] = a
                key = "threads" if "CLONE_THREAD" in names else "vfork_like"
                self.stats[key] += 1
            else:
                b = self.new_as()
                self.pid_as[child] = b
                self.stats["forks"] += 1
                self.out.append(f"F {b} {a} {child}")
            self.flush_pending(child)
            return

        if res[0] == "unknown":
            self.stats["dropped_unknown_result"] += 1
            return None

        if name == "mmap":
            hint, length, prot, flags, fd, off = args
            fdv = int(fd)
            fds = "-" if fdv < 0 else str(fdv)
            return (
                f"m {a} {hexs(num(hint))} {num(length)} {prot_code(prot)} "
                f"{map_flags_code(flags)} {fds} {hexs(num(off))} {fmt_result(res)}")
        elif name == "munmap":
            addr, length = args
            return (f"u {a} {hexs(num(addr))} {num(length)} {fmt_result(res, False)}")
        elif name == "mprotect":
            addr, length, prot = args
            return (
                f"p {a} {hexs(num(addr))} {num(length)} {prot_code(prot)} {fmt_result(res, False)}")
        elif name == "brk":
            (addr,) = args
            return (f"b {a} {hexs(num(addr))} {fmt_result(res)}")
        elif name == "mremap":
            old, old_len, new_len, flags = args[:4]
            new_addr = hexs(num(args[4])) if len(args) > 4 else "-"
            return (
                f"r {a} {hexs(num(old))} {num(old_len)} {num(new_len)} "
                f"{mremap_flags_code(flags)} {new_addr} {fmt_result(res)}")

    def flush_pending(self, pid):
        for text, lineno, line in self.pending.pop(pid, []):
            self.call(pid, text, lineno, line)

    def finish(self):
        if self.pending:
            die(f"events of pids never created: {sorted(self.pending)}")
        # Calls still unfinished at the end (task killed mid-call) are
        # dropped, like calls whose result is "?".
        self.stats["dropped_unknown_result"] += len(self.unfinished)


def open_any(path):
    if path.endswith(".xz"):
        return lzma.open(path, "rt")
    if path.endswith(".gz"):
        return gzip.open(path, "rt")
    return open(path)


SELF_TEST_IN = """\
10  execve("/bin/prog", ["prog"], 0x7ffc /* 3 vars */) = 0
10  brk(NULL)                         = 0x555555559000
10  clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, child_tid=0x7f}, 88 <unfinished ...>
11  mmap(NULL, 5000, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK, -1, 0 <unfinished ...>
10  <... clone3 resumed> => {parent_tid=[11]}, 88) = 11
10  munmap(0x7ffff7000000, 8192 <unfinished ...>
11  <... mmap resumed>)               = 0x7ffff7000000
10  <... munmap resumed>)             = 0
11  mprotect(0x7ffff7000000, 4096, PROT_NONE) = 0
10  vfork( <unfinished ...>
12  execve("/nope/sh", ["sh"], 0x7ffc /* 3 vars */) = -1 ENOENT (No such file or directory)
12  execve("/bin/sh", ["sh"], 0x7ffc /* 3 vars */) = 0
12  mmap(0x7ffff7ff0000, 4096, PROT_READ, MAP_PRIVATE|MAP_FIXED_NOREPLACE, 3, 0x2000) = -1 EEXIST (File exists)
10  <... vfork resumed>)              = 12
12  +++ exited with 0 +++
10  --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=12} ---
10  clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = 13
13  brk(0x55555557a000)               = 0x55555557a000
10  mremap(0x7ffff7100000, 8192, 16384, MREMAP_MAYMOVE|MREMAP_FIXED, 0x7ffff7200000) = 0x7ffff7200000
10  mmap(NULL, 4096, PROT_READ, MAP_SHARED, 5, 0 <unfinished ...>
10  +++ killed by SIGKILL +++
"""

SELF_TEST_OUT = [
    "X 0 10 /bin/prog",
    "b 0 0x0 0x555555559000",
    # the munmap is placed at its entry line, before the thread's mmap
    # that reused the range completed
    "u 0 0x7ffff7000000 8192 0",
    "m 0 0x0 5000 rw paS - 0x0 0x7ffff7000000",
    "p 0 0x7ffff7000000 4096 - 0",
    "X 1 12 /bin/sh",
    "m 1 0x7ffff7ff0000 4096 r pN 3 0x2000 -17",
    "F 2 0 13",
    "b 2 0x55555557a000 0x55555557a000",
    "r 0 0x7ffff7100000 8192 16384 MF 0x7ffff7200000 0x7ffff7200000",
]


def self_test():
    c = Converter()
    for n, line in enumerate(SELF_TEST_IN.splitlines(), 1):
        c.feed(n, line)
    c.finish()
    got = [l for l in c.out if l is not None]
    assert got == SELF_TEST_OUT, "\n".join(got)
    assert c.stats == {"dropped_unknown_result": 1, "failed_execve": 1, "threads": 1,
                       "vfork_like": 1, "forks": 1, "execs": 2}, c.stats
    print("self-test ok")


def main():
    argv = sys.argv[1:]
    if argv == ["--self-test"]:
        return self_test()
    title = None
    if "--title" in argv:
        i = argv.index("--title")
        title = argv[i + 1]
        del argv[i: i + 2]
    if len(argv) != 2:
        sys.exit(__doc__)
    src, dst = argv
    c = Converter()
    with open_any(src) as f:
        for n, line in enumerate(f, 1):
            c.feed(n, line)
    c.finish()
    with open(dst, "w") as f:
        f.write("# ram-trace v1\n")
        if title:
            f.write(f"# {title}\n")
        f.write(f"# converted from {src.split('/')[-1]} by convert.py: "
                + ", ".join(f"{k}={v}" for k, v in c.stats.items()) + "\n")
        for l in c.out:
            if l is not None:
                f.write(l + "\n")
    print(f"{dst}: {sum(l is not None for l in c.out)} lines, {c.next_as} address spaces, {c.stats}")


if __name__ == "__main__":
    main()
