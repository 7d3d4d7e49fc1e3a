"""Run a notebook top to bottom as a student's Jupyter would: a real kernel, no cell timeout.

Used by the full-mode run (``coursetools.full_run``) and by the round trip, which trains the
reference's models in fast mode this way before grading (grading itself never trains).
"""
from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path
from typing import Callable

# What a student's own Jupyter does not have: grading mode, the sandbox's mark, test runners' flags.
NOT_A_STUDENT = {"COURSE_GRADING", "COURSE_SANDBOX", "NBGRADER_EXECUTION", "COURSE_QUIET", "CI",
                 "PYTEST_CURRENT_TEST", "PYTHONWARNINGS", "OMP_NUM_THREADS", "COURSE_ACCEPT_FAST_MODELS"}


def student_env(artifacts: Path, fast: bool, measure: Path | None = None, threads: int | None = None) -> dict[str, str]:
    """A student's environment in full or fast mode, with where models (and measured numbers) go.

    ``threads`` limits torch's thread pool (None: torch's default, one per core).
    """
    env = {k: v for k, v in os.environ.items() if k not in NOT_A_STUDENT}
    env.update(COURSE_FAST="1" if fast else "0", COURSE_ARTIFACTS=str(artifacts), MPLBACKEND="Agg",
               COURSE_QUIET="1", TQDM_DISABLE="1")
    if measure is not None:
        env["COURSE_MEASURE"] = str(measure)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def first_line(source: str) -> str:
    """The first line of a cell that is not a comment, shortened, to name the cell."""
    line = next((s.strip() for s in source.splitlines() if s.strip() and not s.strip().startswith("#")),
                source.strip().splitlines()[0] if source.strip() else "")
    return line[:70] + ("..." if len(line) > 70 else "")


def execute(nb, cwd: Path, env: dict[str, str],
            on_cell: Callable[[int, str, float], None] | None = None) -> str | None:
    """Execute ``nb`` in place in a fresh kernel started in ``cwd``; stop at the first error.

    ``on_cell(index, source, seconds)`` is called after each cell. Returns None, or the error as
    "cell N: ExceptionName: message" (or why the kernel failed).
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    started: dict[int, float] = {}

    def on_start(cell, cell_index):
        started[cell_index] = time.perf_counter()

    def on_done(cell, cell_index, execute_reply):
        if on_cell is not None:
            on_cell(cell_index, cell.source, time.perf_counter() - started.get(cell_index, time.perf_counter()))

    from jupyter_client.manager import KernelManager

    with tempfile.TemporaryDirectory(prefix="kernel-") as sockets:   # a short path: sockets have a length limit
        # Local sockets (not TCP on loopback) between this process and the kernel.
        km = KernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "k"))
        client = NotebookClient(nb, km=km, timeout=None, allow_errors=False,
                                resources={"metadata": {"path": str(cwd)}},
                                on_cell_execute=on_start, on_cell_executed=on_done)
        try:
            client.execute(env=env)
        except CellExecutionError as exc:
            text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()   # no terminal colours
            return f"cell {max(started) if started else '?'}: {text[-1] if text else type(exc).__name__}"
        except Exception as exc:  # the kernel died, or could not start
            return f"{type(exc).__name__}: {exc}"
        finally:  # nbclient shuts down only the kernels it created itself
            if km.has_kernel:
                km.shutdown_kernel(now=True)
    return None
