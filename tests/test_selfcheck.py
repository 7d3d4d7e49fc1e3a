"""helpers.selfcheck: the student's per-question summary and the instructor's failing exit code."""
import subprocess
import sys

import nbformat
import pytest

from helpers.selfcheck import main, run_tests, summary


def _graded(source: str, gid: str, points: float, grade: bool, solution: bool):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": grade, "grade_id": gid, "locked": not solution, "points": points,
                                 "schema_version": 3, "solution": solution, "task": False}
    return cell


def notebook(tmp_path, body: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _graded(f"def double(x):\n    {body}", "double", 0, False, True),
        _graded("assert double(2) == 4, f'double(2) should be 4, got {double(2)}'\nprint('ok')", "test_double", 2,
                True, False),
        _graded("import os\nassert os.environ['COURSE_GRADING'] == '1'", "test_graded_mode", 1, True, False),
        _graded("assert double(3) == 6\nimport sys; print('a warning', file=sys.stderr)", "test_three", 1, True, False),
        _graded("import sys\nif double(1) != 2:\n    print('debug: double(1) =', double(1), file=sys.stderr)", "test_quiet",
                1, True, False),
        nbformat.v4.new_code_cell("import helpers\nhelpers.self_check()"),  # must not recurse
    ]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


def test_summary_reports_each_question_with_points_and_the_failure(tmp_path):
    results = run_tests(notebook(tmp_path, "return x + x"))
    assert [(r.grade_id, r.points, r.passed) for r in results] == [
        ("test_double", 2, True), ("test_graded_mode", 1, True), ("test_three", 1, True), ("test_quiet", 1, True)]
    wrong = run_tests(notebook(tmp_path, "return x * 3"))
    assert [r.passed for r in wrong] == [False, True, False, False]
    assert "AssertionError: double(2) should be 4, got 6" in wrong[0].message
    assert "wrote to stderr" in wrong[3].message and "debug: double(1) = 3" in wrong[3].message
    table = summary(wrong)
    assert "test_double" in table and "FAILED" in table and "1 / 5 points" in table
    stub = run_tests(notebook(tmp_path, "raise NotImplementedError()"))
    assert "NotImplementedError" in stub[0].message


def test_instructor_command_exits_nonzero_when_a_test_fails(tmp_path, capsys):
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir(), bad.mkdir()
    assert main([str(notebook(good, "return 2 * x"))]) == 0
    assert main([str(notebook(bad, "return x"))]) == 1
    assert "FAILED" in capsys.readouterr().out
    proc = subprocess.run([sys.executable, "-m", "helpers.selfcheck"], capture_output=True, text=True)
    assert proc.returncode == 2 and "python -m helpers.selfcheck" in proc.stdout
