"""Run every visible test of an assignment notebook and print a per-question summary.

Students call ``helpers.self_check()`` from their notebook (Jupyter or Colab; save first in
Jupyter), with no nbgrader extension: the saved notebook runs top to bottom in a fresh kernel,
the way the grader runs it (fast mode, submitted models loaded, see ``helpers.artifacts``),
and each test cell is reported with its points and the first line of its failure.

Instructors run the same check from a shell; unlike ``nbgrader validate`` it exits non-zero
when a test fails::

    python -m helpers.selfcheck release/01_filters/filters.ipynb [more notebooks]
"""
from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

SELF_CHECK_ENV = "COURSE_SELF_CHECK"  # set inside the checking kernel, so a self_check() cell does not recurse
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class TestResult:
    """One graded test cell after running the notebook."""

    grade_id: str
    points: float
    passed: bool
    message: str = ""


def _error_line(cell) -> str | None:
    """Why nbgrader would score this executed test cell zero: an error, or stderr it does not ignore."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return ANSI.sub("", f"{out.get('ename')}: {out.get('evalue')}").strip()
    from coursetools.grading import IGNORED_STDERR  # the grader's rule for stderr that does not count

    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stderr" \
                and not re.search(IGNORED_STDERR, out.get("text", "")):
            first = next((line for line in out.get("text", "").splitlines() if line.strip()), "")
            return f"the cell wrote to stderr, which the grader scores as a failure: {first.strip()}"
    return None


def run_tests(path: str | Path, timeout: int = 300, kernel: str = "python3") -> list[TestResult]:
    """Execute the notebook at ``path`` in a fresh kernel (in its folder) and grade each test cell."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    env = dict(COURSE_FAST=os.environ.get("COURSE_FAST", "1"), COURSE_GRADING="1", COURSE_QUIET="1",
               **{SELF_CHECK_ENV: "1"})
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=True,
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    saved = dict(os.environ)
    os.environ.update(env)  # the kernel inherits the environment of this process
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    results = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade"):
            continue
        error = _error_line(cell)
        if error is None and not cell.get("execution_count"):
            error = "the cell did not run (an earlier cell timed out or the kernel died)"
        results.append(TestResult(meta.get("grade_id", "?"), float(meta.get("points", 0)), error is None,
                                  error or ""))
    return results


def summary(results: list[TestResult]) -> str:
    """A table: one row per test cell, then the total of the visible tests."""
    width = max([len(r.grade_id) for r in results] + [8])
    lines = [f"{'question'.ljust(width)}  points  result"]
    for r in results:
        mark = "passed" if r.passed else f"FAILED  {r.message[:110]}"
        lines.append(f"{r.grade_id.ljust(width)}  {r.points:6g}  {mark}")
    got = sum(r.points for r in results if r.passed)
    total = sum(r.points for r in results)
    lines.append(f"{'total'.ljust(width)}  {got:g} / {total:g} points from the visible tests "
                 "(the grader also runs hidden tests; written answers are graded by a person)")
    return "\n".join(lines)


def _current_notebook() -> Path:
    """The notebook this kernel belongs to: Colab's live copy, or Jupyter's saved file."""
    try:
        from google.colab import _message  # type: ignore
    except ImportError:
        _message = None
    if _message is not None:
        nb = _message.blocking_request("get_ipynb", request="", timeout_sec=60)["ipynb"]
        # run it where the notebook's files (artifacts/) are: Colab's working folder
        target = Path.cwd() / ".selfcheck.ipynb"
        target.write_text(json.dumps(nb))
        return target
    session = os.environ.get("JPY_SESSION_NAME")
    if session and Path(session).suffix == ".ipynb" and Path(session).is_file():
        return Path(session)
    found = sorted(Path.cwd().glob("*.ipynb"))
    if len(found) == 1:
        return found[0]
    raise FileNotFoundError("Cannot tell which notebook to check: call self_check('name.ipynb').")


def self_check(path: str | Path | None = None) -> list[TestResult]:
    """Run the saved notebook's visible tests in a fresh kernel and print a per-question summary.

    In Jupyter, save the notebook first (Ctrl+S): the check reads the file, not the screen.
    """
    if os.environ.get(SELF_CHECK_ENV):
        print("(self_check skipped: this kernel is already running a self-check)")
        return []
    path = Path(path) if path else _current_notebook()
    print(f"checking {path.name} in a fresh kernel, as the grader will (this takes a minute) ...", flush=True)
    results = run_tests(path)
    print(summary(results))
    return results


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    failed = 0
    for name in argv:
        results = run_tests(name)
        print(f"== {name}\n{summary(results)}\n")
        failed += sum(not r.passed for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
