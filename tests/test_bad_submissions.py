"""Bad submissions are graded, not crashed on, and cheating does not pay.

Submissions are made from each release notebook: the reference solutions filled in and then
damaged, or wrong answers with and without attempts to patch what the tests compare with.
Every assignment's submissions are autograded in one nbgrader batch, and each student's
per-cell scores are checked against what that damage should cost.

* Every assignment: ``cheat`` (each exercise function returns 0, plus monkeypatching of
  np.allclose, torch.allclose, the check helpers, builtins...) must score nothing: cheating buys
  nothing. In ``01_filters`` the same wrong answers without the patches (``wrong``) are graded
  too, and score nothing either. Assignments with trained models also get
  students with a garbage model file, without their models (one ``broken_models`` student for
  both where there are several models) and with models trained in fast mode.
* ``01_filters`` (fast to grade) gets the full list: an exception, a syntax error, an infinite
  loop, deleted and edited cells, a duplicated cell, a changed cell type, a "Copy of" file
  name, warnings on stderr and huge output.
"""
from __future__ import annotations

import nbformat
import pytest

from coursetools import alternatives
from coursetools.badsubmissions import FULL_SUITE, OUT_OF_FAST_REACH, uses_artifacts
from coursetools.roundtrip import assignments, repo_root

REPO = repo_root()
NAMES = assignments()


def batch(round_trips, name: str):
    """The graded bad submissions of one assignment: (course folder, notebook name, scores, expectations)."""
    rt = round_trips.get(name)
    nb_name = next((rt.workdir / "release" / name).glob("*.ipynb")).name
    return rt.workdir, nb_name, rt.extra_scores, round_trips.bad(name).expectations


def each(names):  # in the xdist group of the round trip, whose batch grades these submissions
    return pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xdist_group(f"roundtrip-{n}"))
                                            for n in names])


@each(NAMES)
def test_wrong_answers_with_cheating_score_nothing(name, round_trips):
    # Stricter than "no more than the same wrong answers without the patches": every answer is
    # wrong (0), so any point it earns was earned by patching what the tests compare with.
    _, _, scores, _ = batch(round_trips, name)
    cheat_ = scores["cheat"]
    print(f"{name}: wrong answers + cheating {sum(v[1] for v in cheat_.values()):g} of {sum(v[0] for v in cheat_.values()):g}")
    earned = {g: v for g, v in cheat_.items() if v[1] > 0}
    assert cheat_ and not earned, f"patching the test tools earned points (max, score): {earned}"
    if "wrong" in scores:
        assert not {g: v for g, v in scores["wrong"].items() if v[1] > 0}, "wrong answers earn points"


TRAINS = [n for n in NAMES
          if any(uses_artifacts(nbformat.read(p, as_version=4)) for p in (REPO / "source" / n).glob("*.ipynb"))]


@each(TRAINS)
def test_a_corrupt_artifact_fails_only_the_tests_that_read_it(name, round_trips):
    root, nb_name, scores, expectations = batch(round_trips, name)
    student = round_trips.bad(name).model_student("corrupt")
    got = scores[student]
    full = sum(v[0] for v in got.values())
    score = sum(v[1] for v in got.values())
    print(f"{name}: {student} ({', '.join(expectations[student]['corrupt'])} garbage) scores {score:g} of {full:g}")
    assert 0 < score < full
    page = (root / "autograded" / student / name / nb_name).read_text()
    assert "not a model saved by helpers.save_model" in page


MODEL_LOADERS = ("load_checked(", "load_model(", "load_arrays(", "artifact_path(")


def loads_a_model(cell) -> bool:
    visible = cell.source.split("### BEGIN HIDDEN TESTS")[0]
    return any(f in visible for f in MODEL_LOADERS)


def model_tests(name: str) -> set[str]:
    """Grade ids of the test cells whose visible part loads a saved model."""
    return {c.metadata["nbgrader"]["grade_id"] for p in (REPO / "source" / name).glob("*.ipynb")
            for c in nbformat.read(p, as_version=4).cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade") and loads_a_model(c)}


@each(TRAINS)
def test_a_notebook_handed_in_without_its_models_scores_zero_on_every_test_of_a_model(name, round_trips):
    root, nb_name, scores, _ = batch(round_trips, name)
    student = round_trips.bad(name).model_student("missing")
    got, tests = scores[student], model_tests(name)
    print(f"{name}: {student}, without models {sum(v[1] for v in got.values()):g} of {sum(v[0] for v in got.values()):g}; "
          f"tests of a model: {sorted(tests)}")
    assert tests and all(got[g][1] == 0 for g in tests), {g: got[g] for g in tests}
    assert sum(v[1] for v in got.values()) > 0, "the answers that need no model still earn their points"
    page = (root / "autograded" / student / name / nb_name).read_text()
    assert "was handed in, so this model cannot be graded" in page, "the graded notebook names the missing file"


def test_fast_models_are_tried_where_the_full_runs_say_they_miss_a_full_target():
    from coursetools.full_run import fast_misses, load

    missing = {n: fast_misses(e) for n, e in load(REPO).items()}
    assert {n for n, m in missing.items() if m} == set(OUT_OF_FAST_REACH), missing
    for name, measured in missing.items():   # a measurement named after its test cell is listed
        assert {m for m in measured if m.startswith("test_")} <= OUT_OF_FAST_REACH.get(name, set()), (name, measured)


@each(sorted(OUT_OF_FAST_REACH))
def test_models_trained_in_fast_mode_are_held_to_the_full_targets(name, round_trips):
    from helpers.data import has_full_training_set

    _, _, scores, _ = batch(round_trips, name)
    got, ref = scores["fast_models"], round_trips.get(name)
    reference = {c.grade_id: c.reference for c in ref.cells}
    gained = {g: v for g, v in got.items() if v[1] > (reference.get(g) or 0)}
    assert not gained, f"fast-mode models scored more than the reference: {gained}"
    if not has_full_training_set("MNIST"):
        pytest.skip("the full targets apply only where the grader has full MNIST (COURSE_DATA_PATH)")
    missed = OUT_OF_FAST_REACH[name]
    assert all(got[g][1] == 0 for g in missed), {g: got[g] for g in missed}
    print(f"{name}: fast-mode models {sum(v[1] for v in got.values()):g} of {sum(v[0] for v in got.values()):g} "
          f"(reference graded with {ref.reference_models} models)")


FULL_CASES = ["exception", "syntax_error", "infinite_loop", "deleted_test", "two_deleted_tests", "deleted_setup",
              "moved_test", "deleted_solution", "edited_test",
              "duplicated_cell", "type_changed", "warnings", "huge_output", "ana_filtersen_88"]


@pytest.mark.xdist_group(f"roundtrip-{FULL_SUITE}")
@pytest.mark.parametrize("student", FULL_CASES)
def test_damaged_submission_gets_the_expected_score(student, round_trips):
    root, nb_name, scores, expectations = batch(round_trips, FULL_SUITE)
    got, expect = scores[student], expectations[student]
    full = {g: v[0] for g, v in got.items()}
    print(f"{student}: {sum(v[1] for v in got.values()):g} of {sum(full.values()):g}")
    if expect.get("all_full"):
        lost = {g: v for g, v in got.items() if v[1] != v[0]}
        assert not lost, f"{student} should keep full marks, lost: {lost}"
    for g in expect.get("zero", ()):
        assert got[g][1] == 0, f"{student}: {g} depends on the damaged cell and should score 0, got {got[g]}"
    for g in expect.get("full", ()):
        assert got[g][1] == got[g][0], f"{student}: {g} should keep full marks, got {got[g]}"
    if expect.get("restored"):
        graded = (root / "autograded" / student / FULL_SUITE / nb_name).read_text()
        assert "Restored by the grader" in graded, f"{student}: the graded notebook does not say what was put back"
    if expect.get("timeout"):  # stopped by its own cell time limit, in a run of its own
        graded = (root / "autograded" / student / FULL_SUITE / nb_name).read_text()
        assert "TimeoutError" in graded, f"{student}: the graded notebook does not say the cell ran out of time"
    if expect.get("small_output"):
        size = (root / "autograded" / student / FULL_SUITE / nb_name).stat().st_size
        assert size < 2_000_000, f"the graded notebook kept {size} bytes of output"


ALTERNATIVES = sorted(set(alternatives.CORRECT) | set(alternatives.WRONG))


@each(ALTERNATIVES)
def test_other_correct_answers_score_full_marks(name, round_trips):
    _, _, scores, expectations = batch(round_trips, name)
    for student in [s for s in expectations if s.startswith("alternative_")]:
        lost = {g: v for g, v in scores[student].items() if v[1] != v[0]}
        print(f"{name} {student}: {sum(v[1] for v in scores[student].values()):g} of "
              f"{sum(v[0] for v in scores[student].values()):g}")
        assert not lost, f"{name}: a correct answer lost points ({student}): {lost}"


@each([n for n in ALTERNATIVES if alternatives.WRONG.get(n)])
def test_plausible_mistakes_lose_points_in_their_cell_with_a_helpful_message(name, round_trips):
    root, nb_name, scores, expectations = batch(round_trips, name)
    got = scores["plausible_wrong"]
    mistakes = expectations["plausible_wrong"]["mistakes"]
    failing = {m.fails for m in mistakes} | {c for m in mistakes for c in m.also}
    assert {g for g, v in got.items() if v[1] < v[0]} == failing, got
    graded = nbformat.read(root / "autograded" / "plausible_wrong" / name / nb_name, as_version=4)
    said = {c.metadata["nbgrader"]["grade_id"]: " ".join(o.get("evalue", "") + o.get("text", "") for o in c.get("outputs", []))
            for c in graded.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")}
    for m in mistakes:
        assert m.message in said[m.fails], (m.why, said[m.fails])
    print(f"{name}: " + "; ".join(f"{m.why}: {m.fails} {got[m.fails][1]:g} of {got[m.fails][0]:g}" for m in mistakes))


def test_answers_replace_the_definitions_of_the_same_name():
    src = "import numpy as np\n\n\ndef f():\n    return 1\n\n\nq = 2\nr = f() + q\n"
    out = alternatives.replace_definitions(src, "def f():\n    return 10\nq = 20\n")
    scope = {}
    exec(out, scope)
    assert scope["r"] == 30 and out.startswith("import numpy")
    with pytest.raises(KeyError, match="none of"):
        alternatives.replace_definitions(src, "def g():\n    pass\n")
    pair = alternatives.replace_definitions("a, b = 1, 2\nc = a + b\n", "a, b = (10,\n        20)\n")
    exec(pair, scope)
    assert scope["c"] == 30, pair                       # a tuple assignment is replaced once, whole
    loop = "acc = {}\n### BEGIN SOLUTION\nfor k in 'ab':\n    acc[k] = 1\n### END SOLUTION\nprint(acc)\n"
    out = alternatives.replace_solution(loop, "acc.update(a=2, b=3)\n")
    assert out == "acc = {}\n### BEGIN SOLUTION\nacc.update(a=2, b=3)\n### END SOLUTION\nprint(acc)\n", out
    with pytest.raises(KeyError, match="SOLUTION"):
        alternatives.replace_solution("x = 1\n", "x = 2\n")
    groups = alternatives.rounds(alternatives.CORRECT["01_filters"])
    assert all(len({a.cell for a in g}) == len(g) for g in groups) and sum(map(len, groups)) == 3
