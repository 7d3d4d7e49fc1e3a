"""`make release`: regenerate release/ from source/, then prove every assignment by a round trip.

Usage: python -m coursetools.release [ASSIGNMENT ...]
Prints one table (assignment, points, reference score, blank score, seconds) and exits
non-zero if any invariant breaks.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from .roundtrip import assignments, generate_release, repo_root, run_round_trip, table


def main(argv: list[str]) -> int:
    root = repo_root()
    names = argv or assignments(root)
    if not names:
        print("no assignments under source/")
        return 1
    stray = sorted(str(p.relative_to(root)) for n in names for p in (root / "source" / n).glob("artifacts"))
    if stray:
        print("Trained models found in source/ (from running a notebook there): " + ", ".join(stray)
              + ". Delete them: nbgrader would copy them into the release and over students' files at grading.")
        return 1
    for name in names:
        generate_release(root, name)
        print(f"regenerated release/{name}")
    results = []
    with tempfile.TemporaryDirectory(prefix="course-roundtrip-") as tmp:
        for name in names:
            print(f"round trip: {name} ...", flush=True)
            try:
                results.append(run_round_trip(name, Path(tmp) / name, root))
            except RuntimeError as exc:
                print(f"{name}: {exc}")
                return 1
    print()
    print(table(results))
    problems = [p for r in results for p in r.problems]
    for p in problems:
        print("PROBLEM:", p)
    print(f"\n{len(results)} assignment(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
