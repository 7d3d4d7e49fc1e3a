"""`make release`: regenerate release/ from source/, then prove every assignment by a round trip.

Usage: python -m coursetools.release [ASSIGNMENT ...] [--version TAG | --unpin]
Prints one table (assignment, points, reference score, blank score, seconds) and exits
non-zero if any invariant breaks, or if the regenerated release differs from what git has
committed (the files are named: review them with `git diff release/` and commit them).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from .roundtrip import VERSION_FILE, assignments, generate_release, release_version, repo_root, run_round_trip, table
from .setup_cell import SETUP_CELL, pin


def uncommitted(root: Path, names: list[str]) -> list[str] | None:
    """Files under release/NAME, and release/VERSION, that differ from git's last commit (changed, new or deleted).

    None when ``root`` is not a git checkout (or git is missing): then nothing can be compared.
    """
    paths = [f"release/{n}" for n in names] + [str(VERSION_FILE)]
    try:
        proc = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", *paths],
                              cwd=root, capture_output=True, text=True)
    except FileNotFoundError:
        return None
    if proc.returncode != 0:
        return None
    return sorted(line[3:].strip('"') for line in proc.stdout.splitlines() if line.strip())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="regenerate release/ from source/ and prove it")
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--version", default=None,
                        help="pin the release to this git tag (e.g. 2027-spring): Colab clones that tag and the "
                             "badges open it; kept in release/VERSION until --unpin")
    parser.add_argument("--unpin", action="store_true", help="follow main again")
    args = parser.parse_args(argv)
    root = repo_root()
    if args.version:
        pin(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(""), nbformat.v4.new_code_cell(SETUP_CELL)]),
            Path("source/x/x.ipynb"), args.version)  # refuses a name git cannot tag before anything is written
        (root / VERSION_FILE).write_text(args.version + "\n")
    elif args.unpin:
        (root / VERSION_FILE).unlink(missing_ok=True)
    version = release_version(root)
    print(f"release pinned to {version}: tag the commit with `git tag {version}` and push the tag"
          if version else "release follows main (make release VERSION=<tag> pins a term's release)")
    names = args.assignments or assignments(root)
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
    changed = uncommitted(root, names)
    if changed is None:
        print("not a git checkout: the regenerated release cannot be compared with a committed one")
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
    if changed:
        problems.append(f"the regenerated release differs from what is committed ({len(changed)} file(s)):\n    "
                        + "\n    ".join(changed) + "\n  students would get something else than git has: review "
                        "`git diff release/` and commit it (or fix source/)")
        print("PROBLEM:", problems[-1])
    print(f"\n{len(results)} assignment(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
