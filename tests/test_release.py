"""`make release` fails, naming the files, when the release it regenerates differs from git's commit."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from coursetools import release


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                   capture_output=True)


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A git checkout with one committed assignment; the round trip itself is stubbed out (it has its own tests)."""
    (tmp_path / "source" / "01_x").mkdir(parents=True)
    (tmp_path / "source" / "01_x" / "x.ipynb").write_text("{}")
    (tmp_path / "release" / "01_x").mkdir(parents=True)
    (tmp_path / "release" / "01_x" / "x.ipynb").write_text("committed")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "release")
    regenerated = {"x.ipynb": "committed"}

    def generate(root, name):
        folder = root / "release" / name
        for f in folder.iterdir():
            f.unlink()
        for file, text in regenerated.items():
            (folder / file).write_text(text)
        return folder

    class Passed:
        problems: list[str] = []

    monkeypatch.setattr(release, "repo_root", lambda: tmp_path)
    monkeypatch.setattr(release, "generate_release", generate)
    monkeypatch.setattr(release, "run_round_trip", lambda name, workdir, root: Passed())
    monkeypatch.setattr(release, "table", lambda results: "table")
    return tmp_path, regenerated


def test_an_unchanged_release_passes(course, capsys):
    assert release.main([]) == 0
    assert "differs" not in capsys.readouterr().out


@pytest.mark.parametrize("change, named", [
    ({"x.ipynb": "edited in source"}, ["release/01_x/x.ipynb"]),                       # changed
    ({"x.ipynb": "committed", "data.csv": "new"}, ["release/01_x/data.csv"]),          # new file
    ({}, ["release/01_x/x.ipynb"]),                                                     # deleted
])
def test_a_release_that_differs_from_the_commit_fails_and_names_the_files(course, capsys, change, named):
    root, regenerated = course
    regenerated.clear()
    regenerated.update(change)
    assert release.main([]) == 1
    out = capsys.readouterr().out
    assert "differs from what is committed" in out and "git diff release/" in out
    for path in named:
        assert path in out


def test_outside_git_it_says_nothing_could_be_compared(course, capsys):
    root, _ = course
    import shutil
    shutil.rmtree(root / ".git")
    assert release.uncommitted(root, ["01_x"]) is None
    assert release.main([]) == 0
    assert "not a git checkout" in capsys.readouterr().out


def test_a_pinned_release_is_regenerated_pinned(tmp_path):
    """release/VERSION pins every regenerated notebook, in the repository and in a round trip's scratch copy."""
    import shutil

    import nbformat

    from coursetools.roundtrip import VERSION_FILE, repo_root, scratch_course

    repo = tmp_path / "repo"
    (repo / "release").mkdir(parents=True)
    shutil.copy2(repo_root() / "nbgrader_config.py", repo)
    shutil.copytree(repo_root() / "source" / "01_filters", repo / "source" / "01_filters")
    (repo / VERSION_FILE).write_text("2027-spring\n")
    nb = nbformat.read(scratch_course(tmp_path / "scratch", "01_filters", repo) / "filters.ipynb", as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert 'COURSE_VERSION = "2027-spring"' in setup.source
    assert "/blob/2027-spring/release/01_filters/filters.ipynb" in nb.cells[0].source


def test_version_flags_write_and_remove_the_pin(course, capsys):
    root, _ = course
    assert release.main(["--version", "2027-spring"]) == 1, "release/VERSION is new: not committed yet"
    assert (root / "release" / "VERSION").read_text() == "2027-spring\n"
    assert "git tag 2027-spring" in capsys.readouterr().out
    with pytest.raises(ValueError, match="git tag"):
        release.main(["--version", "bad tag"])
    release.main(["--unpin"])
    assert not (root / "release" / "VERSION").exists()
