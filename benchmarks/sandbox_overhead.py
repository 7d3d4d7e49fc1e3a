"""What the grading sandbox costs: the same batch autograded with and without it.

Usage: python benchmarks/sandbox_overhead.py [ASSIGNMENT] [--students N] [--rounds R]

A scratch course gets N submissions of ASSIGNMENT (default 01_filters; the reference solutions
and the untouched release, alternately); ``nbgrader autograde`` grades them all R times with the
sandbox and R times with ``SandboxedKernelManager.unsafe_no_sandbox`` (alternating, so both see
the same machine), and the best time of each is compared per submission.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from coursetools.roundtrip import fill_in, nbgrader, scratch_course  # noqa: E402


def course(name: str, students: int, root: Path) -> None:
    released = scratch_course(root, name)
    for nb_path in released.glob("*.ipynb"):
        release = nbformat.read(nb_path, as_version=4)
        source = nbformat.read(root / "source" / name / nb_path.name, as_version=4)
        for i in range(students):
            dest = root / "submitted" / f"student{i:02d}" / name
            dest.mkdir(parents=True, exist_ok=True)
            nbformat.write(fill_in(release, source) if i % 2 == 0 else release, dest / nb_path.name)


def grade(root: Path, name: str, sandboxed: bool) -> float:
    extra = [] if sandboxed else ["--SandboxedKernelManager.unsafe_no_sandbox=True"]
    start = time.perf_counter()
    nbgrader(root, "autograde", name, "--force", "--log-level=ERROR", *extra)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment", nargs="?", default="01_filters")
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        root = Path(tmp)
        course(args.assignment, args.students, root)
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.rounds):
            for sandboxed in (False, True):
                times[sandboxed].append(grade(root, args.assignment, sandboxed))
    n = args.students
    plain, boxed = min(times[False]), min(times[True])
    print(f"{args.assignment}: {n} submissions, best of {args.rounds} rounds, {os.cpu_count()} cores")
    print(f"  without sandbox  {plain:7.1f} s  ({plain / n:.2f} s per submission)")
    print(f"  with sandbox     {boxed:7.1f} s  ({boxed / n:.2f} s per submission)")
    print(f"  overhead         {(boxed - plain) / n:+.2f} s per submission ({100 * (boxed / plain - 1):+.1f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
