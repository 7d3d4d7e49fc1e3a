"""The nbgrader round trip for every assignment in source/ (new assignments need no new code).

Each assignment is released, filled in with the reference solutions, autograded next to the
untouched release, and given feedback, once per test session, in a scratch course directory.
"""
from functools import lru_cache
from pathlib import Path
import tempfile

import pytest

from coursetools.roundtrip import RoundTrip, assignments, run_round_trip

NAMES = assignments()


@lru_cache(maxsize=None)
def round_trip(name: str) -> RoundTrip:
    return run_round_trip(name, Path(tempfile.mkdtemp(prefix=f"roundtrip-{name}-")))


def each_assignment(test):
    return pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xdist_group(f"roundtrip-{n}"))
                                            for n in NAMES])(test)


def test_assignments_found():
    assert "01_filters" in NAMES


@each_assignment
def test_release_is_reproduced_exactly(name):
    assert round_trip(name).release_diff == [], "release/ is stale: run `make release`"


@each_assignment
def test_release_has_no_solutions_hidden_tests_or_outputs(name):
    assert round_trip(name).leaks == []


@each_assignment
def test_reference_scores_full_marks(name):
    rt = round_trip(name)
    print(f"{name}: reference {rt.score('reference'):g} / {rt.points:g}")
    assert rt.points > 0
    missing = [c for c in rt.cells if c.reference != c.max_score]
    assert not missing, f"reference loses points: {missing}"


@each_assignment
def test_blank_release_scores_zero(name):
    rt = round_trip(name)
    scored = [c for c in rt.cells if c.blank not in (0, None)]
    assert not scored, f"the untouched release earns points: {scored}"


@each_assignment
def test_feedback_is_generated_without_hidden_tests(name):
    rt = round_trip(name)
    assert rt.feedback_problems == []
    pages = list((rt.workdir / "feedback").rglob("*.html"))
    assert pages and all("hidden tests ran here" in p.read_text() for p in pages)
