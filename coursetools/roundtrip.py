"""The nbgrader round trip that proves an assignment works, used by `make release` and the tests.

For one assignment, in a scratch course directory: regenerate the release and compare it
with the committed one, look for leaks, autograde two submissions (the release with the
reference solutions filled in, and the untouched release; tests may add more students to the
same batch), and render feedback. Every broken invariant becomes a line in ``RoundTrip.problems``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat

from .grading.feedback import html_text
from .stated_answers import stated_answers

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
REFERENCE, BLANK = "reference", "blank"


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def assignments(root: Path | None = None) -> list[str]:
    """Every folder under source/ that holds a notebook, in order."""
    root = root or repo_root()
    return sorted(p.name for p in (root / "source").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def nbgrader(root: Path, *args: str, fast: bool = True, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the stock nbgrader CLI on the course directory ``root``; raise with its log on failure."""
    # The grading kernel's environment is set by coursetools.grading, as for any instructor; here
    # only fast mode, and models beside the notebooks (not in a test's scratch folder).
    env = {k: v for k, v in os.environ.items() if k != "COURSE_ARTIFACTS"}
    env = dict(env, COURSE_FAST="1" if fast else os.environ.get("COURSE_FAST", ""),
               # nbgrader runs `alembic` from PATH: use this environment's.
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
               **(extra_env or {}))
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root}"]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


VERSION_FILE = Path("release") / "VERSION"   # the term's release tag, when it is pinned (make release VERSION=...)


def release_version(root: Path) -> str:
    """The course version the release is pinned to ("" when it follows main)."""
    path = root / VERSION_FILE
    return path.read_text().strip() if path.is_file() else ""


def generate_release(root: Path, name: str) -> Path:
    """``nbgrader generate_assignment`` for one assignment inside course directory ``root``, pinned to
    the version in ``release/VERSION`` when there is one (see :func:`coursetools.setup_cell.pin`)."""
    nbgrader(root, "generate_assignment", name, "--force", "--log-level=WARN")
    version = release_version(root)
    if version:
        from .setup_cell import pin

        for path in sorted((root / "release" / name).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            pin(nb, Path("source") / name / path.name, version)
            nbformat.write(nb, path)
    return root / "release" / name


def scratch_course(root: Path, name: str, repo: Path | None = None) -> Path:
    """A course directory ``root`` with the repository's configuration and assignment ``name``, released.

    Returns the release folder. Saved models in source/ are left out (they would be graded).
    """
    repo = repo or repo_root()
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(repo / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(repo / "source" / name, root / "source" / name,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "artifacts"))
    if release_version(repo):
        (root / VERSION_FILE).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / VERSION_FILE, root / VERSION_FILE)
    return generate_release(root, name)


# ----------------------------------------------------------------------------- notebooks

def _between(text: str, begin: str, end: str) -> list[str]:
    out, inside = [], False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith(begin):
            inside = True
        elif s.startswith(end):
            inside = False
        elif inside:
            out.append(line)
    return out


def _distinctive(lines: list[str]) -> set[str]:
    """Lines long and specific enough that finding one elsewhere means a leak."""
    return {s for s in (l.strip() for l in lines) if len(s) >= 20 and not s.startswith("#")}


def solution_lines(nb) -> set[str]:
    return _distinctive([l for c in nb.cells for l in _between(c.source, MARKERS[0], MARKERS[1])])


def hidden_test_lines(nb) -> set[str]:
    return _distinctive([l for c in nb.cells for l in _between(c.source, MARKERS[2], MARKERS[3])])


def text_outside(nb, pairs=((MARKERS[0], MARKERS[1]), (MARKERS[2], MARKERS[3]))) -> str:
    """What the notebook has outside the given (begin, end) regions. The feedback check uses it
    with the hidden-test markers: feedback shows the student's own code, so a hidden-test line that
    the solution also contains (06's ``torch.manual_seed(4)``) is no secret there. The release's
    leak check stays strict, as the course check is: a solution line must not appear anywhere in
    the release, so a solution that repeats a provided line is written differently."""
    begins, ends = tuple(b for b, _ in pairs), tuple(e for _, e in pairs)
    shown = []
    for c in nb.cells:
        inside = False
        for line in c.source.splitlines():
            stripped = line.strip()
            if stripped.startswith(begins):
                inside = True
            elif stripped.startswith(ends):
                inside = False
            elif not inside:
                shown.append(line)
    return "\n".join(shown)


def uses_artifacts(source_nb) -> bool:
    """The notebook trains models that grading loads (``helpers.fit_or_load``)."""
    return "fit_or_load" in "".join(c.source for c in source_nb.cells)


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def fill_in(release_nb, source_nb):
    """The release notebook with every solution cell replaced by the reference solution."""
    reference = {grade_id(c): c for c in source_nb.cells if grade_id(c)}
    nb = nbformat.from_dict(release_nb)  # a deep copy
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and grade_id(cell) in reference:
            lines = reference[grade_id(cell)].source.splitlines()
            cell.source = "\n".join(l for l in lines if l.strip() not in (MARKERS[0], MARKERS[1]))
    return nb


def blocks(nb, begin: str, end: str) -> list[str]:
    """The text between ``begin`` and ``end`` markers, one string per cell that has them."""
    return ["\n".join(_between(c.source, begin, end)) for c in nb.cells if begin in c.source]


def leaks(release_nb, source_nb) -> list[str]:
    """Markers, outputs, reference-solution or hidden-test lines left in a release notebook, and
    the hidden tests' expected numbers stated anywhere in it (:mod:`coursetools.stated_answers`)."""
    found = stated_answers(release_nb, blocks(source_nb, *MARKERS[2:]), blocks(source_nb, *MARKERS[:2]))
    secret = solution_lines(source_nb) | hidden_test_lines(source_nb)
    for i, cell in enumerate(release_nb.cells):
        found += [f"cell {i} contains {m!r}" for m in MARKERS if m in cell.source]
        if cell.get("outputs"):
            found.append(f"cell {i} has outputs")
        found += [f"cell {i} leaks {line[:60]!r}" for line in secret if line in cell.source]
    return found


def _same_tree(a: Path, b: Path) -> list[str]:
    """Differences between two folders' files (names and bytes)."""
    files = lambda d: {p.relative_to(d) for p in d.rglob("*") if p.is_file()} if d.is_dir() else set()
    fa, fb = files(a), files(b)
    diff = [f"only in regenerated release: {p}" for p in sorted(fa - fb)]
    diff += [f"only in committed release: {p}" for p in sorted(fb - fa)]
    diff += [f"differs from regenerated: {p}" for p in sorted(fa & fb) if (a / p).read_bytes() != (b / p).read_bytes()]
    return diff


# ----------------------------------------------------------------------------- the round trip

@dataclass
class CellScore:
    grade_id: str
    max_score: float
    reference: float | None
    blank: float | None


@dataclass
class RoundTrip:
    name: str
    cells: list[CellScore] = field(default_factory=list)
    release_diff: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    feedback_problems: list[str] = field(default_factory=list)
    reference_errors: list[str] = field(default_factory=list)
    extra_scores: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    seconds: float = 0.0
    manual_points: float = 0.0
    workdir: Path | None = None
    reference_models: str = "-"

    @property
    def score_problems(self) -> list[str]:
        out = [f"reference scores {c.reference} of {c.max_score} on {c.grade_id}"
               for c in self.cells if c.reference != c.max_score]
        out += [f"blank release scores {c.blank} of {c.max_score} on {c.grade_id}"
                for c in self.cells if c.blank not in (0, None)]
        return out + ([] if self.cells else ["no autograded cells found"])

    @property
    def problems(self) -> list[str]:
        return [f"{self.name}: {p}" for p in
                self.release_diff + self.leaks + self.score_problems + self.feedback_problems
                + self.reference_errors]

    @property
    def points(self) -> float:
        return sum(c.max_score for c in self.cells)

    def score(self, student: str) -> float:
        return sum(getattr(c, student) or 0.0 for c in self.cells)


def _scores(root: Path, name: str, students) -> tuple[dict[str, dict[str, tuple[float, float | None]]], float]:
    """{student: {grade_id: (max_score, auto_score)}} for autograded cells, and manual points."""
    from nbgrader.api import Gradebook

    out: dict[str, dict[str, tuple[float, float | None]]] = {}
    manual = 0.0
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for student in students:
            sub = gb.find_submission(name, student)
            out[student] = {}
            for nb in sub.notebooks:
                for g in nb.grades:
                    if g.cell.cell_type == "markdown" or g.auto_score is None and g.needs_manual_grade:
                        if student == REFERENCE:
                            manual += g.max_score
                        continue
                    out[student][g.name] = (g.max_score, g.auto_score)
    return out, manual


def errors_in(nb) -> list[str]:
    """One line per executed code cell that ended in an error (cells tagged raises-exception aside)."""
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "raises-exception" in cell.metadata.get("tags", []):
            continue
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                out.append(f"cell {i} ({grade_id(cell) or cell.source[:40]!r}) raised {o.get('ename')}: "
                           f"{str(o.get('evalue'))[:200]}")
    return out


FAST_MODELS = "fast-models"   # in a round trip's course folder: the reference's models, trained in fast mode


def train_fast(submission: Path, artifacts: Path) -> list[str]:
    """Run each notebook of ``submission`` (a filled-in reference) top to bottom in fast mode, outside
    grading, as a student would, in a scratch copy; its models go to ``artifacts``. Returns errors.

    Grading never trains, so this is how a round trip gets models for the reference; it also
    proves that the source notebook runs.
    """
    from .execute import execute, student_env

    scratch = artifacts.parent / f"{artifacts.name}-run"
    shutil.copytree(submission, scratch)
    errors = []
    for path in sorted(scratch.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        # the test runner's thread limit stays: two workers each training on two threads would crawl
        threads = os.environ.get("OMP_NUM_THREADS")
        error = execute(nb, scratch, student_env(artifacts, fast=True, threads=int(threads) if threads else None))
        if error:
            errors.append(f"fast-mode run of the reference {path.name}: {error}")
    shutil.rmtree(scratch, ignore_errors=True)
    return errors


def _excluding(students) -> str:
    """The nbgrader option that leaves ``students`` out of a command (``--student`` takes one id)."""
    return f"--CourseDirectory.student_id_exclude={','.join(students)}"


# Adds students to the batch: called with (released folder, course directory), writes
# submitted/<student>/<assignment>/ and returns the student ids it wrote. Those in its attribute
# ``as_reference`` (if any) are graded as the reference is, against the same targets; its attribute
# ``feedback_for`` (if any) lists the students whose feedback is rendered besides the reference's
# and the blank release's; its ``cell_timeouts`` (if any), {student: seconds}, the students graded
# in a run of their own with that cell time limit.
ExtraStudents = Callable[[Path, Path], list[str]]


def run_round_trip(name: str, workdir: Path, repo: Path | None = None,
                   extra: ExtraStudents | None = None, cell_timeout: int | None = None) -> RoundTrip:
    """Prove one assignment in a scratch course directory ``workdir`` (created, then kept).

    Every cell of the reference must run without an error (not only the graded ones), so this
    also proves what executing the source notebook would. ``cell_timeout`` (seconds) replaces
    the configured cell time limit for this batch (an infinite loop among the bad submissions
    then costs that long, not the instructor's two minutes; the extra's ``cell_timeouts`` grades
    such a student apart, with a limit of its own).
    """
    repo = repo or repo_root()
    start = time.perf_counter()
    rt = RoundTrip(name, workdir=workdir)
    released = scratch_course(workdir, name, repo)
    rt.release_diff = _same_tree(released, repo / "release" / name)

    sources = {p.name: nbformat.read(p, as_version=4) for p in sorted((workdir / "source" / name).glob("*.ipynb"))}
    for student in (REFERENCE, BLANK):
        dest = workdir / "submitted" / student / name
        shutil.copytree(released, dest)
        if student == REFERENCE:
            for nb_name, source_nb in sources.items():
                nbformat.write(fill_in(nbformat.read(dest / nb_name, as_version=4), source_nb), dest / nb_name)
    for nb_name, source_nb in sources.items():
        rt.leaks += [f"release/{name}/{nb_name}: {x}"
                     for x in leaks(nbformat.read(released / nb_name, as_version=4), source_nb)]

    fallback = False
    if any(uses_artifacts(nb) for nb in sources.values()):
        from .full_run import fresh_models
        from helpers.artifacts import FAST_MODELS_ENV

        fast_models = workdir / FAST_MODELS / name
        rt.reference_errors += train_fast(workdir / "submitted" / REFERENCE / name, fast_models)
        full_models = fresh_models(repo, name)
        fallback = full_models is None
        shutil.copytree(full_models or fast_models, workdir / "submitted" / REFERENCE / name / "artifacts")
        rt.reference_models = "full mode" if full_models else "FAST (fallback)"
    others = extra(released, workdir) if extra else []
    everyone = (REFERENCE, BLANK, *others)

    def autograde(students, timeout=cell_timeout, env=None):
        """One ``nbgrader autograde`` of ``students`` (the others excluded)."""
        left_out = [s for s in everyone if s not in students]
        nbgrader(workdir, "autograde", name, "--force", "--log-level=WARN",
                 *([f"--Execute.timeout={timeout}"] if timeout else []),
                 *([_excluding(left_out)] if left_out else []), extra_env=env)

    # Students whose cells must be cut short (an infinite loop) are graded in a run of their own
    # with a shorter cell time limit (the extra's ``cell_timeouts``): the batch's limit must let
    # its slowest honest cell finish, and a loop would otherwise wait all of it, a core idle.
    own = dict(getattr(extra, "cell_timeouts", None) or {})
    batch = [s for s in everyone if s not in own]
    if fallback:
        # No current full-mode models (make full): the reference (and the extra students graded as
        # it is: other correct answers) is graded with fast-mode models against the fast-mode
        # targets, by the grader's CI switch; every other student without it.
        like_reference = [REFERENCE, *getattr(extra, "as_reference", ())]
        autograde([s for s in batch if s not in like_reference])
        autograde([s for s in batch if s in like_reference], env={FAST_MODELS_ENV: "1"})
    else:
        autograde(batch)
    for student, seconds in own.items():
        autograde([student], timeout=seconds)
    scores, rt.manual_points = _scores(workdir, name, (REFERENCE, BLANK, *others))
    rt.extra_scores = {s: {g: (m, a or 0.0) for g, (m, a) in scores[s].items()} for s in others}
    for nb_name in sources:
        rt.reference_errors += [f"reference {nb_name}: {e}" for e in
                                errors_in(nbformat.read(workdir / "autograded" / REFERENCE / name / nb_name, as_version=4))]
    for gid, (max_score, ref) in sorted(scores[REFERENCE].items()):
        blank = scores[BLANK].get(gid, (max_score, None))[1]
        rt.cells.append(CellScore(gid, max_score, ref, blank))

    # Feedback for the reference and the blank release, and for the students the extra names
    # (``feedback_for``; all of them when it names none): rendering a page per bad submission of
    # every assignment costs a second each and proves nothing new.
    feedback_for = getattr(extra, "feedback_for", None)
    skip = [s for s in others if feedback_for is not None and s not in feedback_for]
    nbgrader(workdir, "generate_feedback", name, "--force", "--log-level=WARN", *([_excluding(skip)] if skip else []))
    # hidden lines that the notebook also has outside its hidden tests (a solution's
    # ``torch.manual_seed(4)``) are no secret when the feedback shows them
    hidden = set().union(*({l for l in hidden_test_lines(nb) if l not in text_outside(nb, [MARKERS[2:]])}
                           for nb in sources.values()))
    for student in (REFERENCE, BLANK):
        pages = sorted((workdir / "feedback" / student / name).glob("*.html"))
        if len(pages) != len(sources):
            rt.feedback_problems.append(f"{len(pages)} feedback page(s) for {student}, expected {len(sources)}")
        for page in pages:
            text = html_text(page.read_text(encoding="utf-8"))
            rt.feedback_problems += [f"feedback for {student} shows hidden test line {line[:60]!r}"
                                     for line in hidden if line in text]
    rt.seconds = time.perf_counter() - start
    return rt


def table(results: list[RoundTrip]) -> str:
    """The release table: assignment, points possible, reference score, blank score, manual points,
    which models the reference was graded with (full mode from models/, or the fast-mode fallback
    held to fast-mode targets), seconds."""
    rows = [("assignment", "points", "reference", "blank", "manual", "models", "seconds", "status")]
    for r in results:
        rows.append((r.name, f"{r.points:g}", f"{r.score(REFERENCE):g}", f"{r.score(BLANK):g}",
                     f"{r.manual_points:g}", r.reference_models, f"{r.seconds:.0f}", "ok" if not r.problems else "FAILED"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
