"""`python -m coursetools.new NN_name "Title"`: a new assignment that already releases, grades and round-trips.

Creates ``source/NN_name/name.ipynb`` with the Colab badge and the canonical setup cell (from
:mod:`coursetools.setup_cell`), the header the course design asks for (title, learning goals,
time on CPU and GPU, how it is graded), one example exercise with its solution, a test cell with
visible and hidden tests, a written question and a summary, and ``metadata.course`` for the
README's student table. Then it regenerates the README table (``make sync``). Replace the example
with your own exercises; ``docs/adding-an-assignment.md`` says what to keep and how to check it.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from .setup_cell import colab_badge, badge_path, make_setup_cell, sync_readme


def _graded(cell, grade_id: str, *, solution: bool, points: float | None = None):
    """nbgrader's metadata: a solution cell, a locked test cell with points, or a written answer."""
    cell.metadata["nbgrader"] = {"grade": points is not None, "grade_id": grade_id, "locked": not solution,
                                 "schema_version": 3, "solution": solution, "task": False,
                                 **({"points": points} if points is not None else {})}
    cell.id = grade_id.replace("_", "-")
    return cell


def notebook(folder: str, title: str) -> nbformat.NotebookNode:
    number = folder.split("_", 1)[0]
    stem = folder.split("_", 1)[1]
    path = Path("source") / folder / f"{stem}.ipynb"
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    header = md(f"""{colab_badge(badge_path(path))}

# Assignment {int(number)}: {title}

One paragraph: what this assignment is about and why it matters for CNNs.

**You will be able to**
- state the first learning goal as something a student can do;
- state the second one.

**Time**: about N minutes of work. The whole notebook runs in under N seconds on a 2-core laptop
CPU; a Colab GPU is not needed (say what it speeds up if it is).

**How this is graded**: cells that say `YOUR CODE HERE` are yours. Each exercise is followed by a
test cell: run it and fix your code until it prints a check mark. The grader runs these visible
tests plus hidden ones on other inputs. Written answers are read by a person.""")
    header.id = "header"
    setup = make_setup_cell(graded=True)
    setup.id = "setup"
    imports = code("import numpy as np\n\nfrom helpers import check_close, passed")
    imports.id = "imports"
    explain = md("""## 1. An example exercise

Replace this section with your own. The pattern: explain, ask for a function, test it.

### Exercise 1.1: scale to [0, 1]

Write `rescale(x)`, which maps the smallest value of an array to 0 and the largest to 1, linearly.
A constant array has no range: return zeros of its shape.""")
    explain.id = "exercise-1-1"
    solution = _graded(code('''def rescale(x: np.ndarray) -> np.ndarray:
    """x mapped linearly onto [0, 1] (zeros when x is constant)."""
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=float)
    span = x.max() - x.min()
    return np.zeros_like(x) if span == 0 else (x - x.min()) / span
    ### END SOLUTION'''), "rescale", solution=True)
    test = _graded(code('''check_close(rescale(np.array([2.0, 4.0, 6.0])), [0.0, 0.5, 1.0], "rescale([2, 4, 6])")
check_close(rescale(np.array([[1.0, -1.0], [0.0, 3.0]])), [[0.5, 0.0], [0.25, 1.0]], "rescale of a 2-D array")
passed("rescale maps the range onto [0, 1]")
### BEGIN HIDDEN TESTS
check_close(rescale(np.full(4, 7.0)), np.zeros(4), "rescale of a constant array")
_x = np.random.default_rng(1).normal(size=(5, 6))
check_close(rescale(_x), (_x - _x.min()) / (_x.max() - _x.min()), "rescale of random values")
### END HIDDEN TESTS'''), "test_rescale", solution=False, points=2)
    question = _graded(md("""**Question.** Why might a network's input be rescaled before training? Name one thing that goes
wrong without it. (Two or three sentences.)

### BEGIN SOLUTION
Inputs on very different scales give the first layer's weights gradients of very different sizes,
so one learning rate is too large for some and too small for others; rescaling puts every input
on the same footing. A reference answer for the person who grades goes here.
### END SOLUTION"""), "written_rescale", solution=True, points=2)
    summary = md("""## Summary

One paragraph: what the student built and measured, with the numbers the notebook printed.""")
    summary.id = "summary"
    nb = nbformat.v4.new_notebook(cells=[header, setup, imports, explain, solution, test, question, summary])
    nb.metadata.update(kernelspec={"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                       language_info={"name": "python"},
                       course={"title": f"{number} {title}", "summary": "one line for the README's table: what it teaches"})
    return nb


def create(root: Path, folder: str, title: str) -> Path:
    """Write the new assignment's source notebook and refresh the README table; return its path."""
    if not re.fullmatch(r"\d{2}_[a-z0-9]+(?:_[a-z0-9]+)*", folder):
        raise SystemExit(f"{folder!r}: name it NN_words_in_lower_case, like 10_attention")
    target = root / "source" / folder / f"{folder.split('_', 1)[1]}.ipynb"
    if (root / "source" / folder).exists():
        raise SystemExit(f"source/{folder} exists already; nothing was written")
    target.parent.mkdir(parents=True)
    nbformat.write(notebook(folder, title), target)
    try:
        sync_readme(root)
    except (OSError, ValueError):  # no README with the table's markers (a scratch course)
        pass
    return target


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the assignment's folder, NN_name (e.g. 10_attention)")
    parser.add_argument("title", help='its title, e.g. "Attention, from scratch"')
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    path = create(args.root, args.name, args.title)
    print(f"created {path.relative_to(args.root)}; next: edit it, then `make release` and commit "
          f"source/{args.name} and release/{args.name} (docs/adding-an-assignment.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
