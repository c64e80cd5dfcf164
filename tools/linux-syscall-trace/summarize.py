#!/usr/bin/env python3
"""Check that capture files parse, and print the tables of call counts used
in tests/data/linux_syscalls/README.md.

    python3 tools/linux-syscall-trace/summarize.py tests/data/linux_syscalls/*.txt \
        [tests/data/linux_syscalls/realloc.strace]

Exit status 1 if a file does not parse (trace_format.ParseError).
"""
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trace_format  # noqa: E402

# Calls the kernel answers that change or probe the address space, in table order.
MEMORY_CALLS = ["mmap", "munmap", "mprotect", "mremap", "brk", "madvise", "mlock", "munlock"]


def outcome(result, name=None, args=None):
    """ok, ENAME, SIGxxx; brk: "query" for brk(0), "refused" when the break
    returned is not the one asked for (brk never returns an errno)"""
    if isinstance(result, str):
        return result.lstrip("-")
    if name == "brk" and args is not None:
        if args[0] == 0:
            return "query"
        return "ok" if result == args[0] else "refused"
    return "ok"


def table(counts, rows, title):
    first = {"ok": 0, "query": 1, "refused": 2}
    cols = sorted({c for r in rows for c in counts[r]}, key=lambda c: (first.get(c, 3), c))
    print("| %s | %s | total |" % (title, " | ".join(cols)))
    print("| --- |" + " --- |" * (len(cols) + 1))
    for r in rows:
        if not counts[r]:
            continue
        cells = [str(counts[r][c]) if counts[r][c] else "" for c in cols]
        print("| `%s` | %s | %d |" % (r, " | ".join(cells), sum(counts[r].values())))
    totals = [str(sum(counts[r][c] for r in rows)) for c in cols]
    print("| **all** | %s | **%d** |" % (" | ".join(totals),
                                         sum(sum(counts[r].values()) for r in rows)))


def main():
    counts = collections.defaultdict(collections.Counter)
    per_file = collections.OrderedDict()
    strace = collections.defaultdict(collections.Counter)
    for path in sys.argv[1:]:
        name = os.path.basename(path)
        if path.endswith(".strace"):
            for call, _args, res in trace_format.parse_strace(path):
                strace[call][outcome(res, call, _args)] += 1
            continue
        records = trace_format.parse(path)
        trace_format.check_sequence(path, records)
        c = collections.Counter()
        snaps = 0
        for r in records:
            if r.kind == "call":
                counts[r.name][outcome(r.result, r.name,
                                       [r.args.get("addr")] if r.name == "brk" else None)] += 1
                c[r.name] += 1
            elif r.kind == "maps":
                snaps += 1
        per_file[name] = (c, snaps, os.path.getsize(path))

    print("Per file (memory calls; other records; snapshots; size):\n")
    print("| file | mmap | munmap | mprotect | mremap | brk | madvise | other calls | snapshots | bytes |")
    print("| --- |" + " --- |" * 9)
    for name, (c, snaps, size) in per_file.items():
        mem = [str(c[k]) if c[k] else "" for k in MEMORY_CALLS[:6]]
        other = sum(v for k, v in c.items() if k not in MEMORY_CALLS[:6])
        print("| `%s` | %s | %d | %d | %d |" % (name, " | ".join(mem), other, snaps, size))
    print("\nOutcomes of the memory system calls (ok = success):\n")
    table(counts, MEMORY_CALLS, "call")
    others = sorted(k for k in counts if k not in MEMORY_CALLS)
    print("\nOther records (file set-up, memory reads and writes, rlimits):\n")
    table(counts, others, "record")
    if strace:
        print("\nThe strace log:\n")
        table(strace, sorted(strace), "call")


if __name__ == "__main__":
    try:
        main()
    except trace_format.ParseError as e:
        print("parse error:", e, file=sys.stderr)
        sys.exit(1)
