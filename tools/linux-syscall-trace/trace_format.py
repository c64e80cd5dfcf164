"""Parser for the linux-syscall-trace v1 format (tests/data/linux_syscalls/README.md).

    records = parse("tests/data/linux_syscalls/brk.txt")

gives a list of records, in file order, each a `Record` with a `kind`:

    header    key, value              (program, uname, rlimit-stack, personality,
                                       stat, fs, data-size, rlimit-memlock,
                                       vma-count, status, exec, auxv, sp, argv, envp)
    section   name
    note      text
    call      seq, name, args (dict: str -> int or str), result (int, "-EXXX" or "SIGxxx")
    maps      tag, at, lo, hi (None for a full snapshot), vmas (list of MapsVma)
    child-begin / child-end   label, attrs (dict)

Parsing is strict: an unknown line raises ParseError with the file and line
number, so that the format stays what the README says it is.
"""
import re

CALL_RE = re.compile(r"^(\d+) ([a-z_0-9-]+)((?: [a-z_-]+=\S+)*) -> (\S+)$")
MAPS_RE = re.compile(
    r"^([0-9a-f]+)-([0-9a-f]+) ([r-][w-][x-][ps]) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)\s*(.*)$")
HEADER_KEYS = {
    "program", "uname", "rlimit-stack", "personality", "stat", "fs", "data-size",
    "rlimit-memlock", "vma-count", "status", "exec", "auxv", "sp", "argv", "envp",
    "meminfo", "sysctl",
}


class ParseError(Exception):
    pass


class Record:
    def __init__(self, kind, lineno, **kw):
        self.kind = kind
        self.lineno = lineno
        self.__dict__.update(kw)

    def __repr__(self):
        return "Record(%s)" % ", ".join("%s=%r" % kv for kv in sorted(self.__dict__.items()))


class MapsVma:
    """One VMA of a snapshot: the /proc/self/maps fields and its VmFlags."""

    def __init__(self, start, end, perms, offset, dev, inode, path):
        self.start, self.end, self.perms = start, end, perms
        self.offset, self.dev, self.inode, self.path = offset, dev, inode, path
        self.vmflags = None

    def __repr__(self):
        return "%x-%x %s %x %s %s" % (self.start, self.end, self.perms, self.offset,
                                      self.inode, self.path)


def value(s):
    """"0x.." -> int, decimal -> int, anything else (names, lists) -> str"""
    if re.fullmatch(r"0x[0-9a-f]+", s):
        return int(s, 16)
    if re.fullmatch(r"-?\d+", s):
        return int(s)
    return s


def kv(text):
    out = {}
    for item in text.split():
        k, sep, v = item.partition("=")
        if not sep:
            raise ValueError(item)
        out[k] = value(v)
    return out


def parse(path):
    records = []
    snap = None
    with open(path) as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for lineno, line in enumerate(lines, 1):
        def fail(why):
            raise ParseError("%s:%d: %s: %r" % (path, lineno, why, line))

        if snap is not None:
            if line.startswith("maps-end "):
                if line.split()[1] != snap.tag:
                    fail("maps-end does not match maps-begin %s" % snap.tag)
                records.append(snap)
                snap = None
                continue
            if line.startswith("VmFlags:"):
                if not snap.vmas or snap.vmas[-1].vmflags is not None:
                    fail("VmFlags without a VMA")
                snap.vmas[-1].vmflags = frozenset(line.split()[1:])
                continue
            m = MAPS_RE.match(line)
            if not m:
                fail("not a maps line")
            snap.vmas.append(MapsVma(int(m.group(1), 16), int(m.group(2), 16), m.group(3),
                                     int(m.group(4), 16), m.group(5), int(m.group(6)),
                                     m.group(7).strip()))
            continue
        if line.startswith("#"):
            continue
        if line.startswith("maps-begin "):
            parts = line.split()
            attrs = kv(" ".join(parts[2:]))
            snap = Record("maps", lineno, tag=parts[1], at=attrs.get("at"), lo=attrs.get("lo"),
                          hi=attrs.get("hi"), vmas=[])
            continue
        m = CALL_RE.match(line)
        if m:
            res = m.group(4)
            records.append(Record("call", lineno, seq=int(m.group(1)), name=m.group(2),
                                  args=kv(m.group(3)),
                                  result=res if res.startswith(("-E", "SIG")) else value(res)))
            continue
        word, _, rest = line.partition(" ")
        if word == "section":
            records.append(Record("section", lineno, name=rest))
        elif word == "note":
            records.append(Record("note", lineno, text=rest))
        elif word in ("child-begin", "child-end"):
            label, _, attrs = rest.partition(" ")
            records.append(Record(word, lineno, label=label, attrs=kv(attrs)))
        elif word in HEADER_KEYS:
            records.append(Record("header", lineno, key=word, value=rest))
        else:
            fail("unknown record")
    if snap is not None:
        raise ParseError("%s: maps-begin %s without maps-end" % (path, snap.tag))
    return records


def check_sequence(path, records):
    """Call numbers count up by one in file order, from 0 or (exec children)
    from the number passed in."""
    want = None
    for r in records:
        if r.kind != "call":
            continue
        if want is not None and r.seq != want:
            raise ParseError("%s:%d: call number %d, expected %d" % (path, r.lineno, r.seq, want))
        want = r.seq + 1


STRACE_RE = re.compile(r"^(\d+) +([a-z_0-9]+)\((.*)\) += (-?\w+)(?: (E[A-Z]+) \(.*\))?$")


def parse_strace(path):
    """strace -f lines "PID name(args) = result": (name, [args], result) where
    numbers are ints and symbolic arguments are strings; result is an int or
    "-EXXX".  Lines that are not calls (exit notices) are skipped."""
    out = []
    with open(path) as f:
        for line in f:
            m = STRACE_RE.match(line.rstrip("\n"))
            if not m:
                continue
            args = []
            for a in split_args(m.group(3)):
                if a == "NULL":
                    args.append(0)
                elif re.fullmatch(r"0x[0-9a-f]+", a):
                    args.append(int(a, 16))
                elif re.fullmatch(r"-?\d+", a):
                    args.append(int(a))
                else:
                    args.append(a)
            res = m.group(4)
            if m.group(5):
                res = "-" + m.group(5)
            else:
                res = int(res, 16) if res.startswith("0x") else int(res)
            out.append((m.group(2), args, res))
    return out


def split_args(s):
    out, depth, cur, quote = [], 0, "", False
    for c in s:
        if quote:
            cur += c
            if c == '"':
                quote = False
            continue
        if c == '"':
            quote = True
        elif c in "[{(":
            depth += 1
        elif c in "]})":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += c
    if cur.strip():
        out.append(cur.strip())
    return out
