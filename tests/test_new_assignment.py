"""`python -m coursetools.new` scaffolds an assignment that releases and round-trips with no edit."""
from __future__ import annotations

import shutil
import subprocess
import sys

import nbformat
import pytest

from coursetools.new import create
from coursetools.roundtrip import generate_release, repo_root, run_round_trip

NAME = "10_scaffold_demo"


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="grading needs bubblewrap")
def test_a_scaffolded_assignment_round_trips_untouched(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy2(repo_root() / "nbgrader_config.py", course / "nbgrader_config.py")
    path = create(course, NAME, "A scaffolded demo")
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.course["title"] == "10 A scaffolded demo"
    generate_release(course, NAME)
    rt = run_round_trip(NAME, tmp_path / "roundtrip", repo=course)
    assert not rt.problems, rt.problems
    assert rt.points == 2 and rt.score("reference") == 2 and rt.score("blank") == 0
    assert rt.manual_points == 2, "the written question is graded by hand"
    check = repo_root().parent / "shared" / "tools" / "course_check.py"
    if check.is_file():  # the course's static invariants, where the shared tools are beside the checkout
        proc = subprocess.run([sys.executable, str(check), str(course)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout


def test_names_are_checked_and_nothing_is_overwritten(tmp_path):
    with pytest.raises(SystemExit, match="NN_words"):
        create(tmp_path, "attention", "Attention")
    create(tmp_path, "10_attention", "Attention")
    with pytest.raises(SystemExit, match="exists already"):
        create(tmp_path, "10_attention", "Attention")


def test_the_readme_table_gets_the_new_row(tmp_path):
    from coursetools.setup_cell import TABLE_BEGIN, TABLE_END

    (tmp_path / "README.md").write_text(f"# x\n{TABLE_BEGIN}\n{TABLE_END}\n")
    create(tmp_path, "10_attention", "Attention")
    assert "| 10 Attention |" in (tmp_path / "README.md").read_text()
