"""RestoreLockedCells puts the instructor's locked cells back where the release has them.

The round trip grades whole damaged submissions (tests/test_bad_submissions.py); these tests
pin down where each cell lands, on a five-cell notebook and a real nbgrader gradebook.
"""
from __future__ import annotations

import os
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.utils import compute_checksum
from traitlets.config import Config

from coursetools.grading.sanitize import RestoreLockedCells

# (grade id, cell type, locked, points or None, source)
CELLS = [("setup", "code", True, None, "import math"),
         ("task", "markdown", True, None, "Write `double`."),
         ("double", "code", False, None, "def double(x):\n    return 2 * x"),
         ("test_double", "code", True, 2, "assert double(2) == 4"),
         ("test_double_more", "code", True, 1, "assert double(-1) == -2")]


def cell(grade_id, kind, locked, points, source):
    c = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    c.metadata.nbgrader = {"grade_id": grade_id, "locked": locked, "grade": points is not None,
                           "solution": not locked, "schema_version": 3, **({"points": points} if points else {})}
    c.metadata.nbgrader["checksum"] = compute_checksum(c)
    return c


@pytest.fixture
def course(tmp_path, monkeypatch):
    # nbgrader creates a gradebook with the `alembic` command of this environment
    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title (no grade id)")]
                                      + [cell(*spec) for spec in CELLS])
    (tmp_path / "source" / "a1").mkdir(parents=True)
    nbformat.write(source, tmp_path / "source" / "a1" / "nb.ipynb")
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(db) as gb:
        gb.add_assignment("a1")
        gb.add_notebook("nb", "a1")
        for c in source.cells[1:]:
            m = c.metadata.nbgrader
            gb.add_source_cell(m["grade_id"], "nb", "a1", cell_type=c.cell_type, locked=m["locked"],
                               source=c.source, checksum=m["checksum"])
            if m["grade"]:
                gb.add_grade_cell(m["grade_id"], "nb", "a1", max_score=m["points"], cell_type=c.cell_type)
    config = Config()
    config.CourseDirectory.root = str(tmp_path)
    return source, {"nbgrader": {"notebook": "nb", "assignment": "a1", "db_url": db, "student": "s"}}, config


def restore(course, change):
    source, resources, config = course
    nb = nbformat.from_dict(source)
    change(nb)
    out, _ = RestoreLockedCells(config=config).preprocess(nb, resources)
    return out


def layout(nb):
    """Grade ids in order, with "NOTE" for the grader's notes and "-" for other cells."""
    return [c.metadata.get("nbgrader", {}).get("grade_id")
            or ("NOTE" if c.source.startswith("**Restored by the grader") else "-") for c in nb.cells]


def test_an_intact_submission_is_left_alone(course):
    assert layout(restore(course, lambda nb: None)) == ["-", "setup", "task", "double", "test_double", "test_double_more"]


def test_a_deleted_test_comes_back_after_the_cell_it_follows_with_its_points(course):
    nb = restore(course, lambda nb: nb.cells.pop(4))
    assert layout(nb) == ["-", "setup", "task", "double", "NOTE", "test_double", "test_double_more"]
    back = nb.cells[5]
    assert back.source == "assert double(2) == 4" and back.metadata.nbgrader["points"] == 2
    assert back.metadata.nbgrader["locked"] and back.metadata.editable is False
    assert compute_checksum(back) == back.metadata.nbgrader["checksum"], "restored exactly as released"
    assert "was missing from the submission" in nb.cells[4].source


def test_consecutive_deleted_cells_keep_their_order(course):
    nb = restore(course, lambda nb: [nb.cells.pop(5), nb.cells.pop(4)])
    assert layout(nb) == ["-", "setup", "task", "double", "NOTE", "test_double", "NOTE", "test_double_more"]


def test_a_deleted_setup_cell_comes_back_first(course):
    nb = restore(course, lambda nb: nb.cells.pop(1))
    assert layout(nb) == ["NOTE", "setup", "-", "task", "double", "test_double", "test_double_more"]
    assert "grade" in nb.cells[1].metadata.nbgrader and not nb.cells[1].metadata.nbgrader["grade"]


def test_a_test_moved_above_its_solution_is_moved_back(course):
    nb = restore(course, lambda nb: nb.cells.insert(0, nb.cells.pop(4)))
    assert layout(nb) == ["-", "setup", "task", "double", "NOTE", "test_double", "test_double_more"]
    assert "moved above `double`" in nb.cells[4].source


def test_two_tests_moved_to_the_top_go_back_in_order(course):
    nb = restore(course, lambda nb: [nb.cells.insert(0, nb.cells.pop(5)), nb.cells.insert(0, nb.cells.pop(5))])
    assert layout(nb) == ["-", "setup", "task", "double", "NOTE", "test_double", "NOTE", "test_double_more"]


def test_student_cells_and_a_test_moved_further_down_stay(course):
    def change(nb):
        nb.cells.insert(4, nbformat.v4.new_code_cell("print(double(3))"))   # the student's own check
        nb.cells.append(nb.cells.pop(5))                                     # a test moved to the end
    assert layout(restore(course, change)) == ["-", "setup", "task", "double", "-", "test_double_more", "test_double"]


def test_a_deleted_solution_is_not_restored(course):
    """The student's work is the student's: only locked cells come back."""
    nb = restore(course, lambda nb: nb.cells.pop(3))
    assert "double" not in layout(nb) and layout(nb).count("NOTE") == 0


def test_without_the_source_notebook_the_release_gives_the_order(course, tmp_path):
    release = tmp_path / "release" / "a1"
    release.mkdir(parents=True)
    (tmp_path / "source" / "a1" / "nb.ipynb").rename(release / "nb.ipynb")
    assert layout(restore(course, lambda nb: nb.cells.pop(4)))[3:6] == ["double", "NOTE", "test_double"]


def test_without_source_or_release_nothing_is_moved(course, tmp_path):
    """The gradebook keeps no order: guessing a place could break a correct notebook, so nothing moves."""
    (tmp_path / "source" / "a1" / "nb.ipynb").unlink()
    assert "NOTE" not in layout(restore(course, lambda nb: nb.cells.pop(4)))
