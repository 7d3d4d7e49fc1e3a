"""How this course grades, in one place; ``nbgrader_config.py`` only switches these parts on.

A submission is graded by the stock ``nbgrader autograde`` (from the command line, from
``coursetools.grade_folder``, from the formgrader's Autograde button or from the round trip),
with four parts of this package plugged in through the configuration:

* :mod:`.sanitize` -- before execution: a copied graded cell is dropped, not fatal.
* :mod:`.kernel` -- execution: every submission runs in a kernel inside a bubblewrap sandbox
  (:mod:`.sandbox`) that sees only its own folder, the system and the course's Python, has no
  network and has limits on memory, processes, file sizes and output. The same kernel manager
  sets the grading environment (:func:`kernel_environment`), so grading never depends on how
  nbgrader was started. Without a working sandbox autograding refuses to run any student code.
* :data:`IGNORED_STDERR` -- nbgrader scores a test cell that writes to stderr as failed; its
  ``IgnorePattern`` drops the noise that libraries print on their own (``helpers.self_check``
  applies the same rule on a student's machine).
* :mod:`.feedback` -- after grading: feedback pages never show hidden-test code, not even when
  a submission prints it.

This module itself imports nothing heavy: ``helpers.selfcheck`` reads :data:`IGNORED_STDERR`.
"""
from __future__ import annotations

import os
from pathlib import Path

# Warnings and progress bars that libraries write to stderr on their own.
IGNORED_STDERR = r"(?i)warning|warn\(|\d+it/s|\d+%\||s/it\]"

# What every grading kernel sees: grading mode (submitted models are loaded, the guard is on),
# the sandbox's mark (the setup cell then imports only the course's own helpers), quiet training
# loops and progress bars, no download attempts.
GRADING_VARIABLES = {"COURSE_GRADING": "1", "COURSE_SANDBOX": "1", "COURSE_QUIET": "1", "TQDM_DISABLE": "1", "COURSE_OFFLINE": "1"}
# Variables passed through from the grader's environment (anything else, tokens and keys
# included, stays outside the sandbox).
PASSED_THROUGH = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                  "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "MPLBACKEND", "COURSE_DATA_PATH", "COURSE_DATA_DIR",
                  "NBGRADER_EXECUTION", "PYTHONHASHSEED", "CUDA_VISIBLE_DEVICES",
                  # CI only: the round trip grades its reference with fast-mode models (helpers.artifacts)
                  "COURSE_ACCEPT_FAST_MODELS")


def kernel_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a grading kernel: a short allow-list of ``base`` plus grading mode.

    Fast mode is on unless the grader's environment sets ``COURSE_FAST`` explicitly.
    """
    base = dict(os.environ if base is None else base)
    env = {k: base[k] for k in PASSED_THROUGH if k in base}
    # The sandbox mounts data folders at their real paths (links and ".." resolved, see
    # sandbox.data_dirs): name them the same way, or a path like ../shared/data under a private
    # /tmp, or through a link, points at nothing inside and grading silently falls back to other data.
    for key in ("COURSE_DATA_PATH", "COURSE_DATA_DIR"):
        if env.get(key):
            env[key] = os.pathsep.join(str(Path(p).expanduser().resolve()) for p in env[key].split(os.pathsep) if p)
    env.update(GRADING_VARIABLES, COURSE_FAST=base.get("COURSE_FAST", "1") or "1")
    env.update(PATH=os.pathsep.join(["/usr/local/bin", "/usr/bin", "/bin"]), HOME="/tmp",
               MPLCONFIGDIR="/tmp/matplotlib", XDG_CACHE_HOME="/tmp/.cache")
    return env
