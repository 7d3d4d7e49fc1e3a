"""Grading a class in parallel on a local Dask cluster gives what grading it student after student gives.

Two copies of one course get the same four submissions of ``01_filters`` (the reference, wrong
answers with cheating, an attacker and a notebook that is not JSON; the untouched release or plain
wrong answers would add a graded run to each copy and nothing that cheating lacks: full marks and
zero marks are both there). One
copy is graded by the stock ``nbgrader autograde``; the other by
``coursetools.parallel`` on a 2-worker Dask cluster that the test starts and stops, reached by its
scheduler's address as a cluster on other machines would be. Scores,
``grades.csv`` and feedback must agree; the broken notebook is tried twice, reported by name and
does not stop the others. A job that runs past its time limit is stopped and says why.
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from coursetools import parallel
from coursetools.attacks import Attacks
from coursetools.badsubmissions import cheat
from coursetools.roundtrip import fill_in, nbgrader, scratch_course

pytestmark = pytest.mark.xdist_group("parallel")  # one worker grades both courses, once
NAME, NB = "01_filters", "filters.ipynb"
GOOD = ["cheat", "intruder", "reference"]


def make_course(root):
    released = scratch_course(root, NAME)
    release = nbformat.read(released / NB, as_version=4)
    source = nbformat.read(root / "source" / NAME / NB, as_version=4)
    books = {"reference": fill_in(release, source), "cheat": cheat(release),
             "intruder": Attacks().notebooks(release, source)["intruder"]}
    for student, nb in books.items():
        (root / "submitted" / student / NAME).mkdir(parents=True)
        nbformat.write(nb, root / "submitted" / student / NAME / NB)
    (root / "submitted" / "broken" / NAME).mkdir(parents=True)
    (root / "submitted" / "broken" / NAME / NB).write_text("{this is not a notebook")


def scores(root) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {s: {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade)
                    for nb in gb.find_submission(NAME, s).notebooks for g in nb.grades} for s in GOOD}


def feedback_text(root, student) -> str:
    page = (root / "feedback" / student / NAME / "filters.html").read_text()
    text = re.sub(r"\d+(\.\d+)?", "#", re.sub(r"<[^>]+>", "", page))  # timings and ids aside
    return re.sub(r"\s+", " ", text)  # and how two executions happened to split their printed output


def rows(root) -> dict[str, dict]:
    with open(root / "grades.csv", newline="") as f:
        return {r["student_id"]: r for r in csv.DictReader(f) if r["student_id"] in GOOD}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("parallel")
    seq, par = base / "sequential", base / "parallel"
    make_course(seq)
    shutil.copytree(seq, par)
    # the stock command, as an instructor runs it (it exits non-zero because of the broken notebook)
    subprocess.run([sys.executable, "-m", "nbgrader", "autograde", NAME, "--force", f"--CourseDirectory.root={seq}"],
                   cwd=seq, capture_output=True)
    from distributed import LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        # as on several machines: the jobs go to a running scheduler, by its address
        outcome = parallel.autograde(par, NAME, sorted(GOOD + ["broken"]), scheduler=cluster.scheduler_address,
                                     progress=False)
    for root in (seq, par):  # the broken notebook has nothing to give feedback on
        nbgrader(root, "generate_feedback", NAME, "--CourseDirectory.student_id_exclude=broken", "--force",
                 "--log-level=ERROR")
        nbgrader(root, "export", "--log-level=ERROR")
    return seq, par, outcome


def test_the_broken_notebook_is_reported_and_the_others_graded(graded):
    _, _, outcome = graded
    print(f"jobs: {', '.join(f'{s} {t:.1f} s' for s, t in sorted(outcome.graded.items()))}; "
          f"merging {outcome.merge_seconds / len(outcome.graded):.2f} s per student")
    assert sorted(outcome.graded) == GOOD
    assert list(outcome.failed) == ["broken"] and "not appear to be JSON" in outcome.failed["broken"]
    # retried once: two jobs for the broken notebook, both reasons kept; one job for everyone else
    assert outcome.attempts == {**{s: 1 for s in GOOD}, "broken": 2}
    assert outcome.failed["broken"].count("not appear to be JSON") == 2


def test_a_job_over_its_time_limit_is_stopped_with_a_message(tmp_path):
    import psutil

    released = scratch_course(tmp_path, NAME)
    nb = nbformat.read(released / NB, as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell("import time\nwhile True:\n    time.sleep(1)"))
    folder = tmp_path / "sleeper"
    folder.mkdir()
    nbformat.write(nb, folder / NB)
    before = {c.pid for c in psutil.Process().children(recursive=True)}
    with pytest.raises(parallel.GradingFailed, match="longer than its limit of 5 s"):
        parallel.grade_job("sleeper", NAME, parallel.grading_inputs(tmp_path, NAME), parallel.files_of(folder), limit=5)
    assert {c.pid for c in psutil.Process().children(recursive=True)} <= before  # its kernel is gone
    assert "NBGRADER_EXECUTION" not in os.environ  # nbgrader leaves it set when execution raises


def test_scores_are_those_of_the_sequential_run(graded):
    seq, par, _ = graded
    expected, got = scores(seq), scores(par)
    assert got == expected
    assert sum(v[0] or 0 for v in got["reference"].values()) > 0
    assert all((v[0] or 0) == 0 for v in got["cheat"].values() if v[0] is not None)


def test_grades_csv_and_feedback_are_those_of_the_sequential_run(graded):
    seq, par, _ = graded
    assert rows(par) == rows(seq)
    for student in GOOD:
        assert feedback_text(par, student) == feedback_text(seq, student), student


def test_an_attacker_graded_on_a_worker_is_still_sandboxed(graded):
    _, par, _ = graded
    text = (par / "autograded" / "intruder" / NAME / NB).read_text()
    assert text.count("ATTACK ") >= 9 and ": landed" not in text
