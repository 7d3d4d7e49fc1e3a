"""Bad submissions for an assignment, graded in the same nbgrader batch as its round trip.

Built from the release notebook: the reference solutions filled in and then damaged, or wrong
answers with and without attempts to patch what the tests compare with. ``tests/
test_bad_submissions.py`` states what each must score; an instructor can run the same checks on
a new assignment by adding it to ``source/``.

* Every assignment: ``cheat`` (each exercise function returns 0, plus monkeypatching of
  np.allclose, torch.allclose, the check helpers, builtins...), which must score nothing at all:
  a stricter check than "no more than the same wrong answers without the patches", so those
  (``wrong``) are graded only in ``01_filters``, where the sandbox's attackers are compared with them.
  Assignments with trained models also get ``corrupt_artifact`` (the reference with garbage
  model files), ``no_models`` (the reference notebook without its models) and, where fast-mode
  models miss a full target (:data:`OUT_OF_FAST_REACH`), ``fast_models`` (the reference with
  models trained in fast mode, which grading holds to the full targets);
  where an assignment saves several models, one ``broken_models`` student stands for the first
  two (its first model file is garbage, the others are missing), a whole graded run saved.
* ``01_filters`` (fast to grade) gets the full list: an exception, a syntax error, an infinite
  loop, deleted and edited cells (a deleted or moved locked cell is put back: full marks), a
  duplicated cell, a changed cell type, a "Copy of" file
  name collected from an LMS folder, warnings on stderr and huge output.
* Assignments listed in :mod:`coursetools.alternatives`: other correct answers (full marks) and
  plausible wrong ones (each loses its test cell, with a message that says what is wrong).
"""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat

import shutil

from . import alternatives
from .grade_folder import collect
from .roundtrip import FAST_MODELS, REFERENCE, fill_in, grade_id, uses_artifacts

FULL_SUITE = "01_filters"
# The infinite loop's cell time limit, in a run of its own (the round trip's ``cell_timeouts``):
# long enough for 01's honest cells on a loaded machine (its slowest, the setup, about 3 s).
LOOP_TIMEOUT = 10
BROKEN = "broken_models"   # an assignment with several models: one file garbage, the others missing
# Tests whose full-mode target a fast-mode model misses (the fast runs of docs/full-mode.json against
# the full targets, coursetools.full_run.fast_misses): a ``fast_models`` student must score zero on
# them. Elsewhere (04) fast-mode models already reach every full target, so such a student could
# only score what the reference scores.
OUT_OF_FAST_REACH = {
    "02_cnn_arithmetic": {"test_conv_vs_dense"},   # measured as "conv model test accuracy"
    "05_mnist_depth_width": {"test_budget_100", "test_budget_200", "test_budget_1000", "test_small_cnn",
                             "test_classic_cnn_accuracy"},
    "06_mnist_experiments": {"test_shallow", "test_small_classic", "test_sum_direct", "test_sum_digits"},
    "08_interpretability": {"test_digit_cnn"},
    "09_numpy_softmax": {"test_trained_model"},
}

CHEAT = '''
import builtins, numpy, torch, helpers, helpers.checks
numpy.allclose = lambda *a, **k: True
numpy.array_equal = lambda *a, **k: True
numpy.isclose = lambda a, b, *r, **k: numpy.ones(numpy.broadcast(numpy.asarray(a), numpy.asarray(b)).shape, bool)
numpy.testing.assert_allclose = lambda *a, **k: None
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
torch.Tensor.allclose = lambda *a, **k: True
helpers.check_close = helpers.checks.check_close = lambda *a, **k: None
helpers.checks.Points.total = lambda self: self.out_of
helpers.checks.Points.award = lambda self, points, check: True
helpers.check_equal = helpers.checks.check_equal = lambda *a, **k: None
check_close = check_equal = lambda *a, **k: None
import helpers.gradcheck
helpers.gradcheck.check_gradient = check_gradient = lambda *a, **k: 0.0
helpers.gradcheck.rel_error = rel_error = lambda *a, **k: 0.0
builtins.all = lambda *a, **k: True
builtins.abs = lambda x: 0
'''


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _is_solution(cell) -> bool:
    return cell.cell_type == "code" and _meta(cell).get("solution", False)


def _is_test(cell) -> bool:
    return cell.cell_type == "code" and _meta(cell).get("grade", False) and not _meta(cell).get("solution")


def _functions(source: str) -> list[str]:
    try:
        return [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    except SyntaxError:
        return []


def wrong(release):
    """Every stubbed function returns 0 instead of raising: wrong answers that run."""
    nb = nbformat.from_dict(release)
    for cell in nb.cells:
        if _is_solution(cell):
            cell.source = "\n".join(l.replace("raise NotImplementedError()", "return 0") if l.startswith(" ") else l
                                    for l in cell.source.splitlines())
    return nb


def cheat(release):
    nb = wrong(release)
    for cell in nb.cells:
        if _is_solution(cell):
            cell.source += "\n" + CHEAT
    return nb


def damaged(release, source) -> dict[str, tuple[object, dict]]:
    """{student: (notebook, expectations)} for the full list of damages, built on the reference."""
    ref = fill_in(release, source)
    cells = ref.cells
    sols = [i for i, c in enumerate(cells) if _is_solution(c) and _functions(c.source)]
    tests = [i for i, c in enumerate(cells) if _is_test(c)]
    first, last = sols[0], sols[-1]
    after = lambda i: grade_id(cells[next(t for t in tests if t > i)])  # the test right after cell i
    before = lambda i: {grade_id(cells[t]) for t in tests if t < i}
    out = {}

    def variant(name, change, **expect):
        nb = nbformat.from_dict(ref)
        change(nb)
        out[name] = (nb, expect)

    mid = sols[len(sols) // 2]  # later exercises may call its functions, earlier ones cannot
    variant("exception", lambda nb: setattr(nb.cells[mid], "source", 'raise RuntimeError("student bug")\n'
                                            + nb.cells[mid].source),
            zero={after(mid)}, full=before(mid))
    variant("syntax_error", lambda nb: setattr(nb.cells[last], "source", "def broken(:\n" + nb.cells[last].source),
            zero={after(last)}, full=before(last))
    # a cell that never ends; it sleeps rather than spins, so that waiting for its timeout does
    # not take a core from the other test worker (the timeout is the same either way)
    variant("infinite_loop", lambda nb: setattr(nb.cells[last], "source", "import time\nwhile True:\n    time.sleep(0.05)\n"
                                                + nb.cells[last].source),
            zero={after(last)}, full=before(last), timeout=LOOP_TIMEOUT)
    # Locked cells are the instructor's: deleted or moved, they are put back and the work keeps its points.
    variant("deleted_test", lambda nb: nb.cells.pop(tests[0]), all_full=True, restored=True)
    variant("two_deleted_tests", lambda nb: [nb.cells.pop(i) for i in sorted(tests[:2], reverse=True)],
            all_full=True, restored=True)
    setup = next(i for i, c in enumerate(cells) if c.cell_type == "code" and _meta(c).get("locked")
                 and not _meta(c).get("grade"))
    variant("deleted_setup", lambda nb: nb.cells.pop(setup), all_full=True, restored=True)
    variant("moved_test", lambda nb: nb.cells.insert(0, nb.cells.pop(tests[-1])), all_full=True, restored=True)
    variant("deleted_solution", lambda nb: nb.cells.pop(first), zero={after(first)}, full=before(first))
    variant("edited_test", lambda nb: setattr(nb.cells[tests[0]], "source", 'raise AssertionError("edited")'),
            all_full=True)
    def duplicate(nb):  # as a copy and paste in Jupyter does: same metadata and grade id, a new cell id
        copy = nbformat.from_dict(nb.cells[tests[0]])
        copy.id = f"{copy.id}-copy"
        nb.cells.insert(tests[0], copy)

    variant("duplicated_cell", duplicate, all_full=True)
    variant("type_changed", lambda nb: setattr(nb.cells[tests[0]], "cell_type", "markdown") or
            [nb.cells[tests[0]].pop(k, None) for k in ("outputs", "execution_count")], all_full=True)
    name = _functions(cells[first].source)[0]
    variant("warnings", lambda nb: setattr(nb.cells[first], "source", nb.cells[first].source + f"""
import functools, warnings
def _noisy(f):
    @functools.wraps(f)
    def g(*a, **k):
        warnings.warn("this is a slow reference path", UserWarning)
        return f(*a, **k)
    return g
{name} = _noisy({name})
print("a progress note on stderr", file=__import__("sys").stderr)
"""), all_full=True)
    variant("huge_output", lambda nb: setattr(nb.cells[first], "source", nb.cells[first].source
                                              + "\nfor _i in range(200_000):\n    print('line', _i)\n"),
            all_full=True, small_output=True)
    return out



class BadSubmissions:
    """The round trip's extra students for one assignment; ``expectations`` says what each must score."""

    def __init__(self, name: str):
        self.name = name
        self.expectations: dict[str, dict] = {}

    def __call__(self, released: Path, root: Path) -> list[str]:
        name = self.name
        nb_name = next(released.glob("*.ipynb")).name
        release = nbformat.read(released / nb_name, as_version=4)
        source = nbformat.read(root / "source" / name / nb_name, as_version=4)
        students: dict[str, tuple[object, dict]] = {"cheat": (cheat(release), {})}
        if name == FULL_SUITE:
            students["wrong"] = (wrong(release), {})
        if uses_artifacts(source):
            models = sorted(artifact_names(source))
            if len(models) > 1:  # one student for both: the first model garbage, the others missing
                students[BROKEN] = (fill_in(release, source), {"corrupt": models[:1]})
            else:
                students["corrupt_artifact"] = (fill_in(release, source), {"corrupt": models})
                students["no_models"] = (fill_in(release, source), {})           # the notebook alone
            if name in OUT_OF_FAST_REACH:  # models trained in fast mode, held to the full targets
                students["fast_models"] = (fill_in(release, source), {"fast": True})
        if name == FULL_SUITE:
            students.update(damaged(release, source))
        students.update(alternatives.students(fill_in(release, source), name, source))
        for student, (nb, expect) in students.items():
            dest = root / "submitted" / student / name
            dest.mkdir(parents=True)
            nbformat.write(nb, dest / nb_name)
            if expect.get("fast"):
                shutil.copytree(root / FAST_MODELS / name, dest / "artifacts")
            if expect.get("as_reference") and (root / "submitted" / REFERENCE / name / "artifacts").is_dir():
                shutil.copytree(root / "submitted" / REFERENCE / name / "artifacts", dest / "artifacts")
            if expect.get("corrupt"):
                (dest / "artifacts").mkdir()
                for token in expect["corrupt"]:
                    (dest / "artifacts" / token).write_bytes(b"not a model")
            self.expectations[student] = expect
        if name == FULL_SUITE:  # saved by Colab as "Copy of ... (1)", collected from a Moodle download
            lms = root / "lms"
            lms.mkdir()
            nbformat.write(fill_in(release, source), lms / f"Ana Filtersen_88_assignsubmission_file_Copy of "
                                                             f"{Path(nb_name).stem} (1).ipynb")
            for sid in collect(name, lms, root):
                self.expectations[sid] = {"all_full": True}
        return list(self.expectations)

    @property
    def feedback_for(self) -> list[str] | None:
        """Whose feedback the round trip renders besides the reference's: every student of the
        full list (odd notebooks must not break feedback), none of the others."""
        return None if self.name == FULL_SUITE else []

    def model_student(self, damage: str) -> str:
        """Who was handed in with a "corrupt" model file, or with "missing" ones."""
        if BROKEN in self.expectations:
            return BROKEN
        return {"corrupt": "corrupt_artifact", "missing": "no_models"}[damage]

    @property
    def cell_timeouts(self) -> dict[str, int]:
        """Students graded in a run of their own, with this cell time limit (seconds)."""
        return {s: e["timeout"] for s, e in self.expectations.items() if e.get("timeout")}

    @property
    def as_reference(self) -> list[str]:
        """Students the round trip grades as it grades the reference (models and targets alike)."""
        return [s for s, e in self.expectations.items() if e.get("as_reference")]


def artifact_names(source_nb) -> set[str]:
    """The model file names ("....pt" string literals) the source notebook mentions."""
    return {token for cell in source_nb.cells for token in cell.source.split('"') if token.endswith(".pt")}
