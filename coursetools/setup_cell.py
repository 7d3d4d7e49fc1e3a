"""The one setup cell that every notebook starts with, defined here and nowhere else.

``python -m coursetools.setup_cell`` (``make sync``) writes it into every notebook under ``source/``
and ``notebooks/``, with the Colab badge, and regenerates the README's table for students from
each notebook's ``metadata.course`` (title, summary); tests check that both are current.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

REPO_URL = "https://github.com/cnn-course-pack/cnn-course-pack"
SETUP_GRADE_ID = "setup"

SETUP_CELL = f'''# @title Setup: run this cell first. It is the same in every notebook of the course. {{ display-mode: "form" }}
# In Colab it downloads the course (for the `helpers` package) and installs the few
# packages Colab lacks; in Jupyter it only finds `helpers`. Then it seeds every random
# number generator and picks the device (GPU if there is one, else CPU).
import os, subprocess, sys
from pathlib import Path

COURSE_REPO = os.environ.get("COURSE_REPO", "{REPO_URL}")
COURSE_VERSION = ""  # the course release (a git tag) this notebook belongs to; "" follows main
try:
    import google.colab  # noqa: F401  (importable only inside Colab)
    IN_COLAB = True
except ImportError:
    IN_COLAB = False

if IN_COLAB:
    COURSE_DIR = Path(os.environ.get("COURSE_DIR", "/content/cnn-course"))
    if not (COURSE_DIR / "helpers").is_dir():
        pinned = ["--branch", COURSE_VERSION] if COURSE_VERSION else []
        subprocess.run(["git", "clone", "--quiet", "--depth", "1", *pinned, COURSE_REPO, str(COURSE_DIR)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-r",
                    str(COURSE_DIR / "requirements-colab.txt")], check=True)
elif os.environ.get("COURSE_SANDBOX"):  # graded: the course's helpers, never a copy handed in with the notebook
    COURSE_DIR = None
else:
    COURSE_DIR = next((p for p in [Path.cwd(), *Path.cwd().parents] if (p / "helpers" / "__init__.py").is_file()),
                      None)
if COURSE_DIR is not None and str(COURSE_DIR) not in sys.path:
    sys.path.insert(0, str(COURSE_DIR))
try:
    import helpers
except ImportError as err:
    raise ImportError("Cannot import the course's `helpers` package. Open this notebook from inside the "
                      "course folder, or run `pip install -e .` in the course folder.") from err
DEVICE = helpers.setup()'''


VERSION_LINE = 'COURSE_VERSION = ""'


def colab_badge(path: str, version: str = "") -> str:
    """Markdown for an "Open in Colab" badge for a notebook at ``path`` in the repository (at tag ``version``)."""
    gh = REPO_URL.removeprefix("https://github.com/")
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{gh}/blob/{version or 'main'}/{path})")


def pin(nb: nbformat.NotebookNode, path: Path, version: str) -> None:
    """Stamp a release notebook (whose source is at ``path``, e.g. source/01_filters/filters.ipynb) with the course version ``version`` (a git tag): its setup cell clones
    that tag in Colab and its badge opens the notebook at that tag, whatever ``main`` becomes."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", version):
        raise ValueError(f"{version!r} is not a usable git tag (letters, digits, '.', '_', '-')")
    cell = setup_cell(nb)
    cell.source = cell.source.replace(VERSION_LINE, f'COURSE_VERSION = "{version}"', 1)
    first, badge = nb.cells[0], colab_badge(badge_path(path))
    if first.cell_type == "markdown" and first.source.startswith(badge):
        first.source = colab_badge(badge_path(path), version) + first.source[len(badge):]


def unpinned(source: str) -> str:
    """A setup cell's source with any stamped version taken out again."""
    return re.sub(r'^COURSE_VERSION = "[^"\n]*"', VERSION_LINE, source, count=1, flags=re.M)


def badge_path(path: Path) -> str:
    """Where students open a notebook: the release twin of a source notebook."""
    parts = path.parts
    if parts[-3] == "source":
        return f"release/{parts[-2]}/{parts[-1]}"
    return f"notebooks/{parts[-1]}"


def setup_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    """The notebook's setup cell (the first code cell that mentions google.colab), or None."""
    return next((c for c in nb.cells if c.cell_type == "code" and "google.colab" in c.source), None)


def make_setup_cell(graded: bool) -> nbformat.NotebookNode:
    """A new setup cell; in assignments it is a locked nbgrader cell, so edits are undone at grading."""
    cell = nbformat.v4.new_code_cell(SETUP_CELL)
    cell.metadata["cellView"] = "form"
    if graded:
        cell.metadata["nbgrader"] = {"grade": False, "grade_id": SETUP_GRADE_ID, "locked": True,
                                     "schema_version": 3, "solution": False, "task": False}
    return cell


def sync_notebook(nb: nbformat.NotebookNode, path: Path) -> None:
    """Put the canonical setup cell (and, if the notebook has one, the badge) into ``nb``."""
    first = nb.cells[0] if nb.cells else None
    if first is not None and first.cell_type == "markdown" and "colab-badge" in first.source.split("\n")[0]:
        first.source = "\n".join([colab_badge(badge_path(path)), *first.source.split("\n")[1:]])
    cell = setup_cell(nb)
    if cell is None:
        position = 1 if first is not None and first.cell_type == "markdown" else 0
        nb.cells.insert(position, make_setup_cell(graded=path.parts[-3] == "source"))
    else:
        cell.source = SETUP_CELL


def sync(root: Path) -> list[Path]:
    """Rewrite the setup cell of every notebook under source/ and notebooks/; return those changed."""
    changed = []
    for path in sorted([*root.glob("source/*/*.ipynb"), *root.glob("notebooks/*.ipynb")]):
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        sync_notebook(nb, path)
        if nbformat.writes(nb) != before:
            nbformat.write(nb, path)
            changed.append(path)
    return changed


TABLE_BEGIN = "<!-- student table: generated by `make sync` from each notebook's metadata.course; do not edit -->"
TABLE_END = "<!-- end of the student table -->"


def student_table(root: Path) -> str:
    """The README's table for students: one row per notebook with ``metadata.course`` (title, summary)."""
    rows = []
    for path in [*root.glob("source/*/*.ipynb"), *root.glob("notebooks/*.ipynb")]:
        course = nbformat.read(path, as_version=4).metadata.get("course")
        if course:
            rows.append((course["title"], course["summary"], colab_badge(badge_path(path))))
    lines = ["| assignment | lesson | open |", "| --- | --- | --- |"]
    lines += [f"| {title} | {summary} | {badge} |" for title, summary, badge in sorted(rows)]
    return "\n".join(lines)


def sync_readme(root: Path) -> bool:
    """Rewrite the student table between the README's markers; True if it changed."""
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(TABLE_BEGIN) + len(TABLE_BEGIN), text.index(TABLE_END)
    new = text[:start] + "\n" + student_table(root) + "\n" + text[end:]
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    for p in sync(root):
        print(f"updated setup cell: {p.relative_to(root)}")
    if sync_readme(root):
        print("updated the student table in README.md")
