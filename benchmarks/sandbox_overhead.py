"""What the grading sandbox costs: the same batch autograded with and without it.

Usage: python benchmarks/sandbox_overhead.py [ASSIGNMENT] [--students N] [--rounds R]

A scratch course gets N submissions of ASSIGNMENT (default 01_filters; the reference solutions
and the untouched release, alternately); ``nbgrader autograde`` grades them all R times with the
sandbox and R times with ``SandboxedKernelManager.unsafe_no_sandbox`` (alternating, so both see
the same machine), and the best time of each is compared per submission. Then one sandboxed
kernel's life is timed: start to ready, ``import torch``, and stop (the part a graded notebook
waits for after its last cell).
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


async def _lifecycle(folder: Path) -> tuple[float, float, float]:
    from coursetools.grading.kernel import SandboxedKernelManager

    km = SandboxedKernelManager(kernel_name="python3")
    start = time.perf_counter()
    await km.start_kernel(cwd=str(folder))
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=60)
    ready = time.perf_counter()
    await kc.execute_interactive("import torch", timeout=60)
    imported = time.perf_counter()
    kc.stop_channels()
    await km.shutdown_kernel()
    return ready - start, imported - ready, time.perf_counter() - imported


def lifecycle(rounds: int) -> tuple[float, float, float]:
    """Best of ``rounds``: seconds to a ready kernel, to import torch, and to stop it."""
    import asyncio

    with tempfile.TemporaryDirectory(prefix="kernel-bench-") as tmp:
        os.chmod(tmp, 0o777)  # the kernel's user (nobody, when grading as root) works there
        runs = [asyncio.run(_lifecycle(Path(tmp))) for _ in range(rounds)]
    return tuple(min(r[i] for r in runs) for i in range(3))


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
    ready, imported, stopped = lifecycle(max(args.rounds, 3))
    print(f"  one sandboxed kernel: ready in {ready:.2f} s, import torch {imported:.2f} s, stopped in {stopped:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
