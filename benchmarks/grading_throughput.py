"""Students graded per second, one after another and in parallel on a local Dask cluster.

Usage: python benchmarks/grading_throughput.py [--students 16] [--jobs 2] [--repeat 2] [--slowest 04_edge_detection]

A scratch course gets N submissions of 01_filters (the reference, the untouched release, wrong
answers, cheating, an exception, a syntax error, in turn); they are graded with ``--jobs 1``
(one ``nbgrader autograde`` run, today's path) and with ``--jobs J`` (coursetools.parallel) in
the same run, alternately, ``--repeat`` times each on fresh copies of the course (a shared
machine's load comes and goes: each mode's best run is compared, and every run is printed), and
the seconds per student, the speed-up and the merge time per student are printed. Then the reference of the slowest assignment to grade is graded alone, for its time
per student.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from coursetools import parallel  # noqa: E402
from coursetools.badsubmissions import cheat, damaged, wrong  # noqa: E402
from coursetools.roundtrip import fill_in, nbgrader, scratch_course  # noqa: E402


def course(root: Path, name: str, students: int) -> list[str]:
    released = scratch_course(root, name)
    nb_name = next(released.glob("*.ipynb")).name
    release = nbformat.read(released / nb_name, as_version=4)
    source = nbformat.read(root / "source" / name / nb_name, as_version=4)
    kinds = [fill_in(release, source), release, wrong(release), cheat(release)]
    if name == "01_filters":
        bad = damaged(release, source)
        kinds += [bad["exception"][0], bad["syntax_error"][0]]
    ids = []
    for i in range(students):
        sid = f"student{i:02d}"
        (root / "submitted" / sid / name).mkdir(parents=True)
        nbformat.write(kinds[i % len(kinds)], root / "submitted" / sid / name / nb_name)
        ids.append(sid)
    return ids


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each mode, alternating")
    parser.add_argument("--slowest", default="04_edge_detection", help="assignment whose time per student is printed")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    n = args.students
    with tempfile.TemporaryDirectory(prefix="throughput-") as tmp:
        template = Path(tmp) / "template"
        ids = course(template, "01_filters", n)
        sequential, parallel_runs, merges = [], [], []
        for run in range(args.repeat):
            seq, par = Path(tmp) / f"sequential{run}", Path(tmp) / f"parallel{run}"
            shutil.copytree(template, seq)
            shutil.copytree(template, par)
            start = time.perf_counter()
            nbgrader(seq, "autograde", "01_filters", "--force", "--log-level=ERROR")
            sequential.append(time.perf_counter() - start)
            start = time.perf_counter()
            outcome = parallel.autograde(par, "01_filters", ids, jobs=args.jobs, progress=False)
            parallel_runs.append(time.perf_counter() - start)
            merges.append(outcome.merge_seconds / max(len(outcome.graded), 1))
            print(f"run {run + 1}: --jobs 1 {sequential[-1]:.1f} s, --jobs {args.jobs} {parallel_runs[-1]:.1f} s, "
                  f"{len(outcome.graded)} graded, {len(outcome.failed)} failed", flush=True)
        t1, tj = min(sequential), min(parallel_runs)
        print(f"01_filters, {n} submissions, {os.cpu_count()} cores, best of {args.repeat} runs each")
        print(f"  --jobs 1          {t1:7.1f} s  ({t1 / n:.2f} s per student)")
        print(f"  --jobs {args.jobs:<10d} {tj:7.1f} s  ({tj / n:.2f} s per student, cluster start included)")
        print(f"  speed-up          {t1 / tj:.2f}x (run by run: "
              f"{', '.join(f'{a / b:.2f}x' for a, b in zip(sequential, parallel_runs))})")
        print(f"  merge             {max(merges):.3f} s per student (the slowest run's)")
        slow = Path(tmp) / "slowest"
        course(slow, args.slowest, 1)
        start = time.perf_counter()
        nbgrader(slow, "autograde", args.slowest, "--force", "--log-level=ERROR")
        print(f"{args.slowest}: {time.perf_counter() - start:.1f} s for one student (the reference), --jobs 1")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
