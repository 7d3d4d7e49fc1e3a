"""helpers.checks: the messages of the visible tests, and partial credit for independent answers."""
import contextlib
import io

import pytest

from helpers import check_equal, guard
from helpers.checks import Points


def test_each_answer_earns_its_share_and_a_miss_says_why_on_stdout():
    points = Points(3)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert points.award(1, lambda: check_equal(2, 2, "q_a"))
        assert not points.award(1.5, lambda: check_equal(8000, 8080, "q_b", {8000: "The biases are missing."}))
        assert not points.award(0.5, lambda: undefined_name)  # noqa: F821  (a student who never defined it)
        assert points.total() == 1.0
    assert "The biases are missing." in out.getvalue() and "1.5 of 3 points lost" in out.getvalue()
    assert "undefined_name" in out.getvalue() and err.getvalue() == ""  # stderr would cost the whole cell


def test_shares_that_do_not_add_up_are_the_authors_mistake():
    points = Points(2)
    points.award(1, lambda: None)
    with pytest.raises(ValueError, match="add up to 1 points, the cell has 2"):
        points.total()


def test_the_grading_guard_undoes_a_patched_points_class():
    guard.snapshot()
    original = Points.total
    Points.total = lambda self: self.out_of
    try:
        assert "helpers.checks.Points.total" in " ".join(guard.restore({}))
        assert Points.total is original
    finally:
        Points.total = original
