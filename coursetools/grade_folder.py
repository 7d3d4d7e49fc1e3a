"""Grade an LMS download: each student's notebook (and saved models), any file names.

Usage: python -m coursetools.grade_folder ASSIGNMENT DOWNLOAD [--lms auto|canvas|moodle|blackboard|plain]
       [--pattern REGEX] [--root COURSE_DIR] [--jobs N | --scheduler ADDRESS] [--limit SECONDS]

DOWNLOAD is a folder or a .zip as Canvas, Moodle or Blackboard export it (see
:mod:`coursetools.lms`): a student's notebook becomes
``submitted/<student>/<ASSIGNMENT>/<the release notebook's name>``, so "Copy of filters (1).ipynb"
is graded like the original, and their other files (models, a zip from ``helpers.submission_zip``)
go to ``artifacts/`` beside it. An id that cannot be read or that two students would share stops
the run with the list of files. Then the stock nbgrader commands run: ``autograde``,
``generate_feedback`` and ``export``; feedback pages land in ``feedback/<student>/<ASSIGNMENT>/``
and the grades in ``grades.csv``.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

from .lms import PRESETS, Submission, collect_submissions, file_submission
from .roundtrip import generate_release, nbgrader, repo_root


def collect(assignment: str, download: Path, root: Path, lms: str = "auto",
            pattern: str | None = None) -> dict[str, Submission]:
    """File every student's submission of an LMS download under ``root/submitted``; return {student: Submission}.

    See :mod:`coursetools.lms` for the layouts read. A re-run replaces the notebook and the files
    the download brings, and keeps every other file (artifacts put there by hand).
    """
    release = root / "release" / assignment
    names = sorted(p.name for p in release.glob("*.ipynb"))
    if len(names) != 1:
        raise SystemExit(f"{release} has {len(names)} notebooks; grade_folder handles one-notebook assignments")
    target = names[0]
    with tempfile.TemporaryDirectory(prefix="lms-") as scratch:
        subs = collect_submissions(download, Path(target).stem, lms, pattern, Path(scratch))
        if not subs:
            raise SystemExit(f"no submissions in {download}")
        for sid, sub in subs.items():
            file_submission(sub, root / "submitted" / sid / assignment, target)
    return subs


def grade(assignment: str, folder: Path, root: Path | None = None, jobs: int = 1,
          scheduler: str | None = None, lms: str = "auto", pattern: str | None = None,
          limit: float | None = None) -> list[dict[str, str]]:
    """Collect, autograde, write feedback and grades.csv; return the CSV rows of this assignment.

    ``jobs=1`` grades with one ``nbgrader autograde`` run, student after student; more jobs, or a
    Dask ``scheduler`` address, grade students in parallel (:mod:`coursetools.parallel`), each
    within ``limit`` seconds (default ``parallel.DEFAULT_LIMIT``), retried once if it fails.
    """
    root = root or repo_root()
    generate_release(root, assignment)  # registers the assignment in the gradebook (release unchanged)
    students = collect(assignment, folder, root, lms, pattern)
    failed: dict[str, str] = {}
    if jobs == 1 and not scheduler:
        nbgrader(root, "autograde", assignment, "--force", "--log-level=WARN")
    else:
        from .parallel import DEFAULT_LIMIT, autograde
        outcome = autograde(root, assignment, sorted(students), jobs=jobs, scheduler=scheduler,
                            limit=limit or DEFAULT_LIMIT)
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
              f"(from {', '.join(students[r['student_id']].entries)}){note}")
    missing = sorted(set(failed) - {r["student_id"] for r in rows})
    for sid in missing:
        print(f"{sid.ljust(width)}  NOT GRADED (from {', '.join(students[sid].entries)}): {failed[sid][:300]}")
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
    parser.add_argument("folder", type=Path, help="the LMS download: a folder or a .zip")
    parser.add_argument("--lms", default="auto", choices=["auto", *PRESETS, "plain"],
                        help="how the download names students (default: the first layout that reads every entry)")
    parser.add_argument("--pattern", default=None,
                        help="a regular expression for each entry's name instead, with a group (?P<student>...) "
                             "and optionally (?P<file>...)")
    parser.add_argument("--root", type=Path, default=None, help="course directory (default: this repository)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="students graded at once on a local Dask cluster (default: the number of cores; "
                             "1: one nbgrader run, student after student)")
    parser.add_argument("--scheduler", default=None,
                        help="grade on a running Dask cluster instead, e.g. tcp://HOST:8786")
    parser.add_argument("--limit", type=float, default=None,
                        help="seconds one student's grading may take in parallel grading (default 1800); "
                             "a student over it is stopped, tried once more, then reported")
    args = parser.parse_args(argv)
    grade(args.assignment, args.folder, args.root, jobs=args.jobs, scheduler=args.scheduler, lms=args.lms,
          pattern=args.pattern, limit=args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
