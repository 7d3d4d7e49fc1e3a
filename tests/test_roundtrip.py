"""The nbgrader round trip for every assignment in source/ (new assignments need no new code).

Each assignment is released, filled in with the reference solutions, autograded next to the
untouched release and the bad submissions of tests/test_bad_submissions.py (one nbgrader batch),
and given feedback, once per test session, in a scratch course directory.
"""
import pytest

from coursetools.roundtrip import assignments

NAMES = assignments()


def each_assignment(test):
    return pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xdist_group(f"roundtrip-{n}"))
                                            for n in NAMES])(test)


def test_assignments_found():
    assert "01_filters" in NAMES


@each_assignment
def test_release_is_reproduced_exactly(name, round_trips):
    assert round_trips.get(name).release_diff == [], "release/ is stale: run `make release`"


@each_assignment
def test_release_has_no_solutions_hidden_tests_or_outputs(name, round_trips):
    assert round_trips.get(name).leaks == []


@each_assignment
def test_reference_scores_full_marks(name, round_trips):
    rt = round_trips.get(name)
    print(f"{name}: reference {rt.score('reference'):g} / {rt.points:g}")
    assert rt.points > 0
    missing = [c for c in rt.cells if c.reference != c.max_score]
    assert not missing, f"reference loses points: {missing}"


@each_assignment
def test_reference_runs_every_cell_without_error(name, round_trips):
    assert round_trips.get(name).reference_errors == []


@each_assignment
def test_blank_release_scores_zero(name, round_trips):
    rt = round_trips.get(name)
    scored = [c for c in rt.cells if c.blank not in (0, None)]
    assert not scored, f"the untouched release earns points: {scored}"


@each_assignment
def test_feedback_is_generated_without_hidden_tests(name, round_trips):
    rt = round_trips.get(name)
    assert rt.feedback_problems == []
    pages = list((rt.workdir / "feedback").rglob("*.html"))
    assert pages and all("hidden tests ran here" in p.read_text() for p in pages)
