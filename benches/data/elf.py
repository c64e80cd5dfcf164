#!/usr/bin/env python3
"""Capture what `execve` reads of every program the traces exec: the ELF
type, the `PT_LOAD` program headers and the interpreter (`PT_INTERP`), of
each program and of its interpreter, into `elf.txt` (format `ram-elf v1`,
see README.md). The replay test (`tests/linux_strace_replay.rs`) builds
each exec'd address space from it, so it needs none of these binaries.

Usage:  elf.py [TRACE.txt ...] > elf.txt      (default: every *.txt here
                                               but elf.txt)

Each path is read where the trace says it was exec'd (symlinks followed),
with `readelf -hlW` (binutils). Run it on the machine the traces were
taken on, with the same program versions.
"""

import glob
import os
import re
import subprocess
import sys

LOAD = re.compile(
    r"^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+"
    r"(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+([RWE ]+?)\s+(0x[0-9a-f]+)$"
)
INTERP = re.compile(r"\[Requesting program interpreter: (.*)\]")
TYPE = re.compile(r"^\s*Type:\s+(EXEC|DYN)\b", re.M)


def headers(path):
    """The `E` and `L` lines of one ELF file, and its interpreter."""
    out = subprocess.run(
        ["readelf", "-hlW", os.path.realpath(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    kind = TYPE.search(out).group(1).lower()
    interp = INTERP.search(out)
    interp = interp.group(1) if interp else None
    loads = []
    for line in out.splitlines():
        m = LOAD.match(line)
        if m:
            off, vaddr, filesz, memsz, flg, align = m.groups()
            prot = "".join(c for c in "rwx" if c.upper() in flg.replace("E", "X"))
            loads.append(f"L {vaddr} {off} {filesz} {memsz} {prot or '-'} {align}")
    if not loads:
        sys.exit(f"{path}: no PT_LOAD")
    head = f"E {kind} {interp or '-'} {path}"
    return [head] + loads, interp


def main(traces):
    paths = []
    for trace in traces:
        with open(trace) as f:
            for line in f:
                if line.startswith("X "):
                    path = line.rstrip("\n").split(" ", 3)[3]
                    if path not in paths:
                        paths.append(path)
    print("# ram-elf v1: PT_LOAD headers of the programs the traces exec")
    print("# and of their interpreters, from benches/data/elf.py")
    done = set()
    while paths:
        path = paths.pop(0)
        if path in done:
            continue
        done.add(path)
        lines, interp = headers(path)
        print("\n".join(lines))
        if interp and interp not in done:
            paths.append(interp)


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    default = sorted(
        p
        for p in glob.glob(os.path.join(here, "*.txt"))
        if os.path.basename(p) != "elf.txt"
    )
    main(sys.argv[1:] or default)
