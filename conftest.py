"""Pytest settings for the whole repository (tests/ and the nbval runs over notebooks), and what
test modules share: the round trip of each assignment, graded once per test process.

One nbgrader batch per assignment grades the reference, the untouched release and the bad
submissions of ``coursetools.badsubmissions`` (for 01, also the attackers of ``coursetools.attacks``); ``tests/test_roundtrip.py`` and
``tests/test_bad_submissions.py`` read the same batch through the ``round_trips`` fixture (their
tests of one assignment share an xdist group, so they run in the same worker).
"""
from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from pathlib import Path

import pytest

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# Models trained while nbval runs notebooks go to a scratch folder, never into source/: files
# there are copied into the release and over students' files at grading.
os.environ.setdefault("COURSE_ARTIFACTS", tempfile.mkdtemp(prefix="course-artifacts-"))


from coursetools.attacks import ASSIGNMENT as ATTACKED, Attacks  # noqa: E402  (after the environment is set)
from coursetools.badsubmissions import FULL_SUITE, BadSubmissions  # noqa: E402
from coursetools.roundtrip import RoundTrip, run_round_trip  # noqa: E402


FULL_SUITE_CELL_TIMEOUT = 30  # seconds; the course's configured limit is 120. The hog attacker's cells (a disk filler, 8 MiB
# of output) need more than 15 s on a loaded 2-core machine; 01's own slowest cell takes 1 s.


class _Both:
    """The bad submissions and the attackers in one batch; what the round trip asks of the extra
    students besides their ids (``cell_timeouts``, ``feedback_for``...) the bad submissions answer."""

    def __init__(self, bad: BadSubmissions, attacks: Attacks):
        self.bad, self.attacks = bad, attacks

    def __call__(self, released: Path, root: Path) -> list[str]:
        return [*self.bad(released, root), *self.attacks(released, root)]

    def __getattr__(self, name: str):
        return getattr(self.bad, name)


class RoundTrips:
    """``get(name)`` runs an assignment's round trip the first time and remembers it (or its error)."""

    @lru_cache(maxsize=None)
    def bad(self, name: str) -> BadSubmissions:
        return BadSubmissions(name)

    @lru_cache(maxsize=None)
    def attacks(self) -> Attacks:
        """The attackers of tests/test_sandbox.py, graded in the batch of ``coursetools.attacks.ASSIGNMENT``."""
        return Attacks()

    def _extra(self, name: str):
        if name != ATTACKED:
            return self.bad(name)
        return _Both(self.bad(name), self.attacks())

    @lru_cache(maxsize=None)
    def _run(self, name: str) -> tuple[RoundTrip | None, Exception | None]:
        try:
            # 01's cells take well under a second; its infinite loop is graded apart, with a shorter limit
            # (coursetools.badsubmissions.LOOP_TIMEOUT), and the rest need not wait the full two minutes.
            timeout = FULL_SUITE_CELL_TIMEOUT if name == FULL_SUITE else None
            return run_round_trip(name, Path(tempfile.mkdtemp(prefix=f"roundtrip-{name}-")), extra=self._extra(name),
                                  cell_timeout=timeout), None
        except Exception as error:  # the other tests of this assignment fail with it, without a rerun
            return None, error

    def get(self, name: str) -> RoundTrip:
        rt, error = self._run(name)
        if error is not None:
            raise error
        return rt


@pytest.fixture(scope="session")
def round_trips() -> RoundTrips:
    return RoundTrips()
