"""Grade a folder of notebooks downloaded from an LMS: one file per student, any file names.

Usage: python -m coursetools.grade_folder ASSIGNMENT FOLDER [--root COURSE_DIR] [--jobs N | --scheduler ADDRESS]

Each notebook becomes ``submitted/<student>/<ASSIGNMENT>/<the release notebook's name>``, so
a file saved as "Copy of filters.ipynb" or "Jane Doe_4711_assignsubmission_file_filters (1).ipynb"
is graded like the original. The student id is taken from the file name (LMS prefixes kept,
the notebook's own name and "Copy of" dropped). Then the stock nbgrader commands run:
``autograde``, ``generate_feedback`` and ``export``; feedback pages land in
``feedback/<student>/<ASSIGNMENT>/`` and the grades in ``grades.csv``.
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import sys
from pathlib import Path

from .roundtrip import generate_release, nbgrader, repo_root


def student_id(filename: str, notebook_stem: str) -> str:
    """A gradebook-safe student id from an uploaded file's name."""
    stem = Path(filename).stem
    slug = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_")
    noise = ["copy_of", "assignsubmission_file", "onlinetext", re.sub(r"[^a-z0-9]+", "_", notebook_stem.lower())]
    short = slug
    for token in noise:
        short = short.replace(token, "_")
    short = re.sub(r"_\d{1,2}$", "", re.sub(r"_+", "_", short).strip("_"))  # "(1)" copies
    return short or slug or "student"


def collect(assignment: str, folder: Path, root: Path) -> dict[str, Path]:
    """Copy every notebook in ``folder`` into ``root/submitted``; return {student: original file}."""
    release = root / "release" / assignment
    names = sorted(p.name for p in release.glob("*.ipynb"))
    if len(names) != 1:
        raise SystemExit(f"{release} has {len(names)} notebooks; grade_folder handles one-notebook assignments")
    target = names[0]
    taken: dict[str, Path] = {}
    for upload in sorted(folder.glob("*.ipynb")):
        sid = student_id(upload.name, Path(target).stem)
        base, n = sid, 2
        while sid in taken:
            sid, n = f"{base}_{n}", n + 1
        dest = root / "submitted" / sid / assignment
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        shutil.copy2(upload, dest / target)
        taken[sid] = upload
    if not taken:
        raise SystemExit(f"no .ipynb files in {folder}")
    return taken


def grade(assignment: str, folder: Path, root: Path | None = None, jobs: int = 1,
          scheduler: str | None = None) -> list[dict[str, str]]:
    """Collect, autograde, write feedback and grades.csv; return the CSV rows of this assignment.

    ``jobs=1`` grades with one ``nbgrader autograde`` run, student after student; more jobs, or a
    Dask ``scheduler`` address, grade students in parallel (:mod:`coursetools.parallel`).
    """
    root = root or repo_root()
    generate_release(root, assignment)  # registers the assignment in the gradebook (release unchanged)
    students = collect(assignment, folder, root)
    failed: dict[str, str] = {}
    if jobs == 1 and not scheduler:
        nbgrader(root, "autograde", assignment, "--force", "--log-level=WARN")
    else:
        from .parallel import autograde
        outcome = autograde(root, assignment, sorted(students), jobs=jobs, scheduler=scheduler)
        failed = outcome.failed
        print(f"graded {len(outcome.graded)} of {len(students)} students; merging took "
              f"{outcome.merge_seconds / max(len(outcome.graded), 1):.2f} s per student")
    nbgrader(root, "generate_feedback", assignment, "--force", "--log-level=WARN")
    nbgrader(root, "export", "--log-level=WARN")
    with open(root / "grades.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["assignment"] == assignment and r["student_id"] in students]
    width = max(len(s) for s in students)
    for r in sorted(rows, key=lambda r: r["student_id"]):
        note = f"   NOT GRADED: {failed[r['student_id']][:300]}" if r["student_id"] in failed else ""
        print(f"{r['student_id'].ljust(width)}  {float(r['score']):g} / {float(r['max_score']):g}  "
              f"(from {students[r['student_id']].name}){note}")
    missing = sorted(set(failed) - {r["student_id"] for r in rows})
    for sid in missing:
        print(f"{sid.ljust(width)}  NOT GRADED (from {students[sid].name}): {failed[sid][:300]}")
    print(f"feedback: {root / 'feedback'}/<student>/{assignment}/   grades: {root / 'grades.csv'}")
    warning = data_warning(root, assignment)
    if warning:
        print(warning)
    return rows


def data_warning(root: Path, assignment: str) -> str | None:
    """A loud line when this grading machine lacks the full MNIST training set and the
    assignment's tests may apply their lower offline targets; None otherwise."""
    from helpers.data import has_full_training_set

    source = "".join(p.read_text(encoding="utf-8") for p in (root / "source" / assignment).glob("*.ipynb"))
    if "subset=" not in source or has_full_training_set("MNIST"):
        return None
    return ("WARNING: this machine has only the offline MNIST subset, so saved models were held to the LOWER "
            "offline targets (each such test says LOWER TARGET). Put the full MNIST files in a folder named in "
            "COURSE_DATA_PATH and grade again to apply the real targets.")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--root", type=Path, default=None, help="course directory (default: this repository)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="students graded at once on a local Dask cluster (default: the number of cores; "
                             "1: one nbgrader run, student after student)")
    parser.add_argument("--scheduler", default=None,
                        help="grade on a running Dask cluster instead, e.g. tcp://HOST:8786")
    args = parser.parse_args(argv)
    grade(args.assignment, args.folder, args.root, jobs=args.jobs, scheduler=args.scheduler)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
