"""Grade a whole class in parallel: one sandboxed job per student, on a local or remote Dask cluster.

nbgrader grades one student after another. Here each student's grading is a job that needs
nothing but bytes: the assignment's grading inputs (``nbgrader_config.py``, ``source/<a>/``, a
copy of the gradebook) and the student's submitted files. :func:`grade_job` rebuilds a scratch
course from them, autogrades that one student there (in the sandbox, as any autograde does) and
returns the graded notebooks as bytes. Jobs run on Dask workers: a local cluster of N processes,
or an existing scheduler that an instructor started on other machines.

The course's own ``gradebook.db`` has one writer, the coordinator: :func:`merger` runs nbgrader's
autograde once more per student (after the jobs on a local cluster, as they come from a remote one) with :class:`Replay` in place of execution, which hands it the
notebook the job sanitized and executed, so nbgrader itself records the same scores and comments
as a sequential run would (stderr rules, output limits, late penalties).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Unicode


def files_of(folder: Path) -> dict[str, bytes]:
    """{relative path: bytes} of every regular file under ``folder`` (links are not followed)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink()}


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        target = (folder / rel).resolve()
        if folder.resolve() not in target.parents:
            raise ValueError(f"refusing to write outside {folder}: {rel}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def grading_inputs(root: Path, assignment: str) -> dict[str, object]:
    """What every job of ``assignment`` needs from the course, as bytes (taken once, before the jobs)."""
    return {"config": (root / "nbgrader_config.py").read_bytes(), "gradebook": (root / "gradebook.db").read_bytes(),
            "source": files_of(root / "source" / assignment)}


def _api(root: Path, adjust=None):
    """nbgrader's API (what the formgrader uses) on course ``root``, with its nbgrader_config.py."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    if adjust is not None:
        adjust(config)
    return NbGraderAPI(coursedir=CourseDirectory(root=str(root), config=config), config=config)


class GradingFailed(RuntimeError):
    """nbgrader could not grade a submission (Dask retries the job once on this)."""


def why(result: dict) -> str:
    """The lines of an nbgrader API result that say what went wrong."""
    text = "\n".join([result.get("log", ""), result.get("error", "")])
    lines = [l.strip() for l in text.splitlines() if "ERROR" in l or "Error:" in l or "Exception:" in l]
    return " | ".join(dict.fromkeys(lines))[-1500:] or text[-1500:]


def _stop_kernels_after(seconds: float, before: set[int], stopped: threading.Event) -> threading.Timer:
    """A timer that, after ``seconds``, kills the processes this process started since ``before``
    (the grading kernels and their sandboxes): nbgrader then finds its kernel dead and stops."""
    import psutil

    def stop():
        stopped.set()
        for child in psutil.Process().children(recursive=True):
            if child.pid not in before:
                with contextlib.suppress(psutil.Error):
                    child.kill()

    timer = threading.Timer(seconds, stop)
    timer.daemon = True
    return timer


@contextlib.contextmanager
def _environment_kept():
    """Undo what nbgrader leaves in ``os.environ``: its ``setenv`` does not restore
    ``NBGRADER_EXECUTION`` when execution raises (a stopped kernel), and a worker, or the process
    that called :func:`grade_job`, would then believe it is grading."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for key in set(os.environ) - set(saved):
            del os.environ[key]
        os.environ.update(saved)


def grade_job(student: str, assignment: str, inputs: dict, submission: dict[str, bytes],
              limit: float | None = None) -> dict[str, object]:
    """Autograde one student in a scratch course; return {"autograded": files, "seconds", "log"}.

    Runs on a Dask worker (or here): everything comes in and goes out as bytes. ``limit``: seconds
    the whole grading may take (the per-cell limit of nbgrader_config.py still applies to each
    cell); past it the kernels are stopped and the job fails with a message that says so.
    """
    import psutil

    start = time.perf_counter()
    stopped = threading.Event()
    timer = None
    if limit:
        timer = _stop_kernels_after(limit, {c.pid for c in psutil.Process().children(recursive=True)}, stopped)
        timer.start()
    try:
        with tempfile.TemporaryDirectory(prefix=f"grade-{student}-") as tmp:
            root = Path(tmp)
            (root / "nbgrader_config.py").write_bytes(inputs["config"])
            (root / "gradebook.db").write_bytes(inputs["gradebook"])
            write_files(root / "source" / assignment, inputs["source"])
            write_files(root / "submitted" / student / assignment, submission)
            with _environment_kept():
                result = _api(root).autograde(assignment, student)
            if stopped.is_set():
                raise GradingFailed(f"grading took longer than its limit of {limit:g} s and was stopped")
            graded = root / "autograded" / student / assignment
            if not result.get("success") or not graded.is_dir():
                raise GradingFailed(why(result))
            return {"autograded": {rel: data for rel, data in files_of(graded).items() if rel.endswith(".ipynb")},
                    "seconds": time.perf_counter() - start, "log": result.get("log", "")}
    finally:
        if timer is not None:
            timer.cancel()


class Replay(Preprocessor):
    """In place of execution: the notebook becomes the one the student's job sanitized and executed."""

    enabled = Bool(True)  # nbconvert skips a preprocessor that is not enabled: the notebook would pass unexecuted
    folder = Unicode("", help="staged graded notebooks: <folder>/<student>/<notebook>.ipynb").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        staged = Path(self.folder) / info["student"] / f"{info['notebook']}.ipynb"
        executed = nbformat.v4.reads(staged.read_text(encoding="utf-8"))  # written by nbgrader: not validated again
        nb.cells, nb.metadata = executed.cells, executed.metadata
        return nb, resources


def merger(root: Path, staged: Path):
    """nbgrader's API on the course with :class:`Replay` for execution: ``merger(...).autograde(a, student)``
    records a student's job in the gradebook (nbgrader's own scoring, one writer)."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import CheckCellMetadata, Execute

    def adjust(config):
        # The course's own grading steps, with Replay for execution. The job already sanitized the
        # notebook and checked its metadata, so neither is repeated here (nbgrader's check
        # re-validates its JSON schema on every cell: most of a merge's time otherwise).
        listed = config.Autograde.get("autograde_preprocessors") or \
            Autograde.class_traits()["autograde_preprocessors"].default_value
        config.Autograde.sanitize_preprocessors = []
        config.Autograde.autograde_preprocessors = [Replay if isinstance(p, type) and issubclass(p, Execute) else p
                                                    for p in listed if p is not CheckCellMetadata]
        config.Replay.folder = str(staged)

    return _api(root, adjust)


@contextlib.contextmanager
def one_engine_per_database():
    """While merging, nbgrader's every ``Gradebook(...)`` reuses one SQLAlchemy engine per database.

    nbgrader opens the gradebook several times per notebook and makes a new engine each time, so
    SQLAlchemy compiles every statement again (its cache of compiled statements is per engine):
    a fifth of a merge's time. ``Gradebook.close`` disposes of the engine's connections, after
    which the same engine simply opens new ones.
    """
    import functools

    import nbgrader.api

    original = nbgrader.api.create_engine
    nbgrader.api.create_engine = functools.lru_cache(maxsize=None)(original)
    try:
        yield
    finally:
        nbgrader.api.create_engine = original


@dataclass
class Outcome:
    graded: dict[str, float] = field(default_factory=dict)      # student: seconds of its (last) job
    failed: dict[str, str] = field(default_factory=dict)        # student: why, every attempt
    attempts: dict[str, int] = field(default_factory=dict)      # student: jobs run (2 after a retry)
    merge_seconds: float = 0.0                                  # recording results in gradebook.db


DEFAULT_LIMIT = 1800.0  # seconds one student's whole grading may take (each cell has its own limit too)


def autograde(root: Path, assignment: str, students: list[str], jobs: int | None = None,
              scheduler: str | None = None, progress: bool = True, limit: float | None = DEFAULT_LIMIT) -> Outcome:
    """Grade ``students`` of ``assignment`` in course ``root`` on Dask; record the results in its gradebook.

    ``jobs``: worker processes of a local cluster (default: the number of cores); ``scheduler``:
    the address of a running Dask scheduler instead (``tcp://host:8786``). ``limit``: seconds one
    student's grading may take. A job that fails (a crash, the limit) is run once more; a student
    whose second job fails too is reported in ``Outcome.failed`` with both reasons, and the others
    are graded all the same.

    Results are recorded one at a time by this process alone. With a local cluster they are
    recorded after the last job, since the workers use every core until then; with a remote
    scheduler, as they come.
    """
    from distributed import Client, LocalCluster, as_completed
    from tqdm.auto import tqdm

    inputs = grading_inputs(root, assignment)
    outcome = Outcome()
    staged = Path(tempfile.mkdtemp(prefix="graded-jobs-"))
    api = merger(root, staged)
    waiting: list[str] = []
    cluster = None

    def record(student: str) -> None:
        start = time.perf_counter()
        merged = api.autograde(assignment, student)
        outcome.merge_seconds += time.perf_counter() - start
        if not merged.get("success"):
            del outcome.graded[student]
            outcome.failed[student] = f"GradingFailed: recording the result failed: {why(merged)}"[:1000]

    try:
        if scheduler:
            client = Client(scheduler)
        else:
            cluster = LocalCluster(n_workers=jobs or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", env={"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
            client = Client(cluster)
        with client, one_engine_per_database():
            def submit(student: str):
                outcome.attempts[student] = outcome.attempts.get(student, 0) + 1
                attempt = outcome.attempts[student]
                future = client.submit(grade_job, student, assignment, inputs,
                                       files_of(root / "submitted" / student / assignment), limit,
                                       key=f"grade-{assignment}-{student}-{attempt}", pure=False)
                futures[future] = student
                return future

            futures: dict = {}
            queue = as_completed([submit(s) for s in students])
            bar = tqdm(total=len(students), unit="student", desc=f"grading {assignment}", disable=not progress)
            for future in queue:
                student = futures.pop(future)
                try:
                    result = future.result()
                except Exception as err:  # reported by name; the others go on
                    reason = f"{type(err).__name__}: {str(err).strip()[:500]}"
                    outcome.failed[student] = "; ".join(filter(None, [outcome.failed.get(student), reason]))
                    if outcome.attempts[student] < 2:
                        bar.write(f"{student}: grading failed, trying once more ({reason[:200]})")
                        queue.add(submit(student))
                        continue
                    bar.write(f"FAILED {student} (tried twice): {reason[:200]}")
                else:
                    outcome.failed.pop(student, None)
                    outcome.graded[student] = result["seconds"]
                    write_files(staged / student, result["autograded"])
                    if scheduler:
                        record(student)
                    else:
                        waiting.append(student)
                bar.update(1)
            bar.close()
            for student in tqdm(waiting, unit="student", desc="recording in gradebook.db",
                                disable=not progress or not waiting):
                record(student)
    finally:
        if cluster is not None:
            cluster.close()
        shutil.rmtree(staged, ignore_errors=True)
    return outcome
