"""Every notebook starts with the one canonical setup cell, and both its branches work."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from coursetools.roundtrip import release_version
from coursetools.setup_cell import SETUP_CELL, badge_path, colab_badge, pin, unpinned

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted([*ROOT.glob("source/*/*.ipynb"), *ROOT.glob("release/*/*.ipynb"), *ROOT.glob("notebooks/*.ipynb")])


def test_there_are_notebooks():
    assert any(p.parts[-3] == "source" for p in NOTEBOOKS) and any(p.parts[-2] == "notebooks" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_carries_exactly_the_setup_cell(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    mentions = [c for c in code if "google.colab" in c.source]
    assert len(mentions) == 1, f"{path.name}: {len(mentions)} setup cells"
    assert code[0] is mentions[0], "the setup cell is the first code cell"
    version = release_version(ROOT) if "release" in path.parts else ""
    assert unpinned(code[0].source) == SETUP_CELL, "setup cell differs from coursetools/setup_cell.py: run `make sync`"
    assert code[0].source == SETUP_CELL.replace('COURSE_VERSION = ""', f'COURSE_VERSION = "{version}"'), \
        "the release is not pinned to release/VERSION: run `make release`"
    if "source" in path.parts or "release" in path.parts:
        assert code[0].metadata["nbgrader"]["locked"] is True
    first = nb.cells[0]
    twin = path if "release" not in path.parts else ROOT / "source" / path.parts[-2] / path.name
    assert first.cell_type == "markdown" and first.source.startswith(colab_badge(badge_path(twin), version)), \
        "the first cell starts with the Colab badge"


def run_setup_cell(cwd: Path, env: dict) -> subprocess.CompletedProcess:
    code = SETUP_CELL + "\nprint('HELPERS_FROM', helpers.__file__)\nprint('DEVICE', DEVICE)\n"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_local_branch_finds_helpers_from_an_assignment_folder():
    env = dict(os.environ)
    proc = run_setup_cell(ROOT / "source" / "01_filters", env)
    assert proc.returncode == 0, proc.stderr
    assert "DEVICE cpu" in proc.stdout or "DEVICE cuda" in proc.stdout


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs git and a git checkout")
def test_colab_branch_clones_installs_and_imports(tmp_path):
    """The Colab branch, offline: a fake google.colab module, a clone from this repository's
    path, and a pip install that finds everything already satisfied."""
    fake = tmp_path / "fake_colab"
    (fake / "google" / "colab").mkdir(parents=True)
    (fake / "google" / "__init__.py").write_text("")
    (fake / "google" / "colab" / "__init__.py").write_text("")
    clone = tmp_path / "content" / "cnn-course"
    env = dict(os.environ, PYTHONPATH=str(fake), COURSE_REPO=str(ROOT), COURSE_DIR=str(clone), PIP_NO_INDEX="1")
    workdir = tmp_path / "content"
    workdir.mkdir(exist_ok=True)
    proc = run_setup_cell(workdir, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (clone / "helpers" / "__init__.py").is_file(), "the repository was cloned"
    assert f"HELPERS_FROM {clone / 'helpers' / '__init__.py'}" in proc.stdout, proc.stdout
    # A second run reuses the clone instead of cloning again.
    again = run_setup_cell(workdir, env)
    assert again.returncode == 0, again.stderr


def test_colab_requirements_never_reinstall_torch():
    lines = [l.split("#")[0].strip() for l in (ROOT / "requirements-colab.txt").read_text().splitlines()]
    names = {l.split(">")[0].split("=")[0].split("<")[0].strip().lower() for l in lines if l}
    assert names and not names & {"torch", "torchvision", "numpy", "matplotlib"}


def test_the_readme_student_table_is_generated_from_the_notebooks():
    from coursetools.setup_cell import TABLE_BEGIN, TABLE_END, student_table

    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index(TABLE_BEGIN) + len(TABLE_BEGIN):readme.index(TABLE_END)].strip()
    assert table == student_table(ROOT), "README's student table is stale: run `make sync`"
    assert table.count("colab-badge") == len([p for p in NOTEBOOKS if "release" not in p.parts])


def test_make_sync_rewrites_a_stale_table(tmp_path):
    from coursetools.setup_cell import student_table, sync_readme

    for sub in ("source/01_filters", "notebooks"):
        (tmp_path / sub).mkdir(parents=True)
    shutil.copy2(ROOT / "source/01_filters/filters.ipynb", tmp_path / "source/01_filters/filters.ipynb")
    nb = nbformat.read(ROOT / "notebooks/filter_playground.ipynb", as_version=4)
    nb.metadata.course["summary"] = "a new summary"
    nbformat.write(nb, tmp_path / "notebooks/filter_playground.ipynb")
    readme = (ROOT / "README.md").read_text()
    (tmp_path / "README.md").write_text(readme)
    assert sync_readme(tmp_path) and not sync_readme(tmp_path)
    text = (tmp_path / "README.md").read_text()
    assert "| filter playground | a new summary |" in text and "02 CNN arithmetic" not in text
    assert text.startswith(readme[:readme.index("<!-- student table")]), "the rest of the README is kept"
    assert student_table(tmp_path).count("\n") == 3


def test_pin_stamps_the_setup_cell_and_badge_and_refuses_bad_tags():
    path = ROOT / "source" / "01_filters" / "filters.ipynb"
    nb = nbformat.read(path, as_version=4)
    pin(nb, path.relative_to(ROOT), "2027-spring")
    cell = next(c for c in nb.cells if c.cell_type == "code")
    assert 'COURSE_VERSION = "2027-spring"' in cell.source and unpinned(cell.source) == SETUP_CELL
    assert "/blob/2027-spring/release/01_filters/filters.ipynb" in nb.cells[0].source
    with pytest.raises(ValueError, match="git tag"):
        pin(nb, path.relative_to(ROOT), "spring term; rm -rf")


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs git and a git checkout")
def test_a_pinned_notebook_clones_its_tag_while_main_moves_on(tmp_path):
    """Offline, as in Colab: a course repository tagged 2027-spring, then a commit on main that
    breaks helpers. The pinned setup cell clones the tag and works; an unpinned one gets main."""
    repo = tmp_path / "repo"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(repo)], check=True)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "tag", "2027-spring"], check=True)
    (repo / "helpers" / "__init__.py").write_text('raise ImportError("main moved on mid-term")\n')
    subprocess.run([*git, "commit", "--quiet", "-am", "a change on main mid-term"], check=True)
    fake = tmp_path / "fake_colab"
    (fake / "google" / "colab").mkdir(parents=True)
    (fake / "google" / "__init__.py").write_text("")
    (fake / "google" / "colab" / "__init__.py").write_text("")
    results = {}
    for version in ("2027-spring", ""):
        clone = tmp_path / f"content-{version or 'main'}" / "cnn-course"
        env = dict(os.environ, PYTHONPATH=str(fake), COURSE_REPO=str(repo), COURSE_DIR=str(clone), PIP_NO_INDEX="1")
        code = SETUP_CELL.replace('COURSE_VERSION = ""', f'COURSE_VERSION = "{version}"') + "\nprint('HELPERS_FROM', helpers.__file__)\n"
        clone.parent.mkdir()
        results[version] = subprocess.run([sys.executable, "-c", code], cwd=clone.parent, env=env,
                                          capture_output=True, text=True, timeout=300)
    assert results["2027-spring"].returncode == 0, results["2027-spring"].stderr
    assert "HELPERS_FROM" in results["2027-spring"].stdout
    assert "main moved on mid-term" in results[""].stderr, "the unpinned notebook follows main"
